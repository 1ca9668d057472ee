// Agents' answers that arrive in the same turn go to the core together, with one pump for the
// lot; these tests pin what that must not change: the journal's order and what methods see.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "../../pkg/node.js";

async function run(maxConcurrency) {
  const answered = [];
  const orch = new Orchestrator({ seed: 7, clock: "virtual", maxConcurrency });
  orch.registerAgent({
    id: "a",
    handler: async (i) => {
      for (let k = 0; k < (i * 7) % 5; k++) await null; // answers out of submission order
      answered.push(i);
      return { i };
    },
  });
  orch.startAgent("a");
  const tasks = Array.from({ length: 40 }, (_, i) => ({ id: `t${i}`, agent: "a", input: i }));
  const result = await orch.runWorkflow({ id: "w", tasks });
  const journal = orch.journalText();
  orch.close();
  return { result, answered, journal };
}

test("answers in one turn are journaled in the order the agents gave them", async () => {
  const { result, answered, journal } = await run(16);
  assert.equal(result.status, "Completed");
  assert.deepEqual(result.outputs.t13, { i: 13 });
  const completed = journal.trim().split("\n").map((l) => JSON.parse(l)).filter((r) => r.type === "task.completed");
  assert.equal(completed.length, 40);
  const ids = completed.map((r) => Number(r.data.task.split("/").pop().slice(1)));
  assert.deepEqual(ids, answered);
  assert.notDeepEqual(answered, [...answered].sort((x, y) => x - y), "the test needs answers out of order");
  // The same inputs give the same journal, byte for byte.
  assert.equal((await run(16)).journal, journal);
});

test("a method called after an agent answered sees the answer, even within the same turn", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  const resolvers = [];
  orch.registerAgent({ id: "a", handler: () => new Promise((resolve) => resolvers.push(resolve)) });
  orch.startAgent("a");
  const first = orch.submit({ agent: "a", input: 1 });
  const second = orch.submit({ agent: "a", input: 2 });
  await null;
  assert.equal(resolvers.length, 2);
  resolvers[0]("done");
  await null; // the answer has arrived; the turn has not ended
  assert.equal(orch.status(first), "Completed");
  assert.equal(orch.status(second), "Running");
  assert.throws(() => orch.cancel(first), (e) => typeof e.code === "string");
  resolvers[1]("also");
  assert.equal((await orch.wait(second)).status, "Completed");
  orch.close();
});

test("an answer and a failure in the same turn keep their order", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  const settle = [];
  orch.registerAgent({ id: "a", handler: (x) => new Promise((resolve, reject) => settle.push(() => (x === "bad" ? reject(new Error("no")) : resolve(x)))) });
  orch.startAgent("a");
  const ok = orch.submit({ agent: "a", input: "good", retry: { maxAttempts: 1 } });
  const bad = orch.submit({ agent: "a", input: "bad", retry: { maxAttempts: 1 } });
  const late = orch.submit({ agent: "a", input: "late", retry: { maxAttempts: 1 } });
  await null;
  settle[0]();
  settle[1]();
  settle[2]();
  await Promise.all([orch.wait(ok), orch.wait(bad), orch.wait(late)]);
  const ends = orch.journal().filter((r) => ["task.completed", "task.attempt_failed"].includes(r.type)).map((r) => r.data.task);
  assert.deepEqual(ends, [ok, bad, late]);
  orch.close();
});

test("a call that runs while hundreds of later calls start and end keeps its answer and its signal", async () => {
  // The driver files calls in flight by id modulo a table size; a long call is lapped by later
  // ids that want its slot, and 300 calls in flight at once make the table grow past them.
  const orch = new Orchestrator({ seed: 3, clock: "virtual" });
  let openSlow;
  const slowGate = new Promise((r) => (openSlow = r));
  const signals = [];
  orch.registerAgent({
    id: "slow",
    handler: async (x, ctx) => {
      signals.push(ctx.signal);
      await slowGate;
      return { slow: x };
    },
  });
  let openWide;
  const wideGate = new Promise((r) => (openWide = r));
  orch.registerAgent({ id: "fast", handler: async (x) => x * 2 });
  orch.registerAgent({ id: "wide", handler: async (x) => { await wideGate; return x + 1; } });
  for (const a of ["slow", "fast", "wide"]) orch.startAgent(a);
  const kept = orch.submit({ agent: "slow", input: 1 });
  const cancelled = orch.submit({ agent: "slow", input: 2 });
  for (let i = 0; i < 500; i++) assert.equal((await orch.wait(orch.submit({ agent: "fast", input: i }))).output, 2 * i);
  const wide = Array.from({ length: 300 }, (_, i) => orch.submit({ agent: "wide", input: i }));
  await null;
  orch.cancel(cancelled);
  assert.equal(signals.length, 2);
  assert.equal(signals[1].aborted, true, "the lapped call's signal fired on cancel");
  assert.equal(signals[0].aborted, false);
  openWide();
  for (let i = 0; i < wide.length; i++) assert.equal((await orch.wait(wide[i])).output, i + 1);
  openSlow();
  const t = await orch.wait(kept);
  assert.equal(t.status, "Completed");
  assert.deepEqual(t.output, { slow: 1 });
  assert.equal(orch.status(cancelled), "Cancelled");
  orch.close();
});

test("a wait begun after close() within a handler rejects with `closed` rather than never settling", async () => {
  const orch = new Orchestrator({ seed: 5, clock: "virtual" });
  let waited;
  orch.registerAgent({
    id: "closer",
    handler: (_input, ctx) => {
      orch.close();
      waited = orch.wait(ctx.taskId);
      waited.catch(() => {}); // handled below, a turn later
      return null;
    },
  });
  orch.startAgent("closer");
  orch.submit({ agent: "closer" });
  await new Promise((r) => setImmediate(r));
  assert.ok(waited, "the handler ran");
  const hung = new Promise((_, reject) => setTimeout(() => reject(new Error("the wait never settled")), 2000).unref());
  await assert.rejects(Promise.race([waited, hung]), { code: "closed" });
});

test("events(): after the loop is left every next() is done; close() ends a waiting next()", async () => {
  const settles = (p) => Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error("next() never settled")), 2000).unref())]);
  const orch = new Orchestrator({ seed: 6, clock: "virtual" });
  orch.registerAgent({ id: "a", handler: async (x) => x });
  orch.startAgent("a");
  const it = orch.events("task.*");
  orch.submit({ agent: "a", input: 1 });
  let seen = 0;
  for await (const e of it) {
    assert.match(e.type, /^task\./);
    if (++seen === 2) break;
  }
  assert.deepEqual(await settles(it.next()), { value: undefined, done: true }, "left: done");

  const open = orch.events();
  const first = open.next();
  orch.emit("note.one", { n: 1 });
  assert.equal((await settles(first)).value.type, "note.one");
  const waiting = open.next();
  const buffered = orch.events("note.*");
  orch.emit("note.two", { n: 2 });
  orch.close();
  const delivered = await settles(waiting);
  assert.deepEqual([delivered.done, delivered.value.type, delivered.value.data], [false, "note.two", { n: 2 }], "delivered to the waiting next()");
  assert.deepEqual(await settles(open.next()), { value: undefined, done: true }, "closed: done");
  const kept = await settles(buffered.next());
  assert.equal(kept.value.type, "note.two", "what was buffered before the close is still read");
  assert.deepEqual(await settles(buffered.next()), { value: undefined, done: true }, "then done");
});

test("an agent that throws a plain object with a message fails its task with that message and class", async () => {
  const orch = new Orchestrator({ seed: 8, clock: "virtual" });
  orch.registerAgent({ id: "a", handler: async () => { throw { class: "validation", message: "the input is not a ticker" }; } });
  orch.startAgent("a");
  const t = await orch.wait(orch.submit({ agent: "a" }));
  orch.close();
  assert.equal(t.status, "Failed");
  assert.deepEqual([t.error.class, t.error.message], ["validation", "the input is not a ticker"]);
});

test("an agent that throws with retryAfterMs is not retried sooner, and the wait is journaled", async () => {
  const orch = new Orchestrator({ seed: 7, clock: "virtual" });
  const starts = [];
  orch.registerAgent({
    id: "busy",
    retry: { maxAttempts: 3, backoff: { initialMs: 10 } },
    handler: async (_input, ctx) => {
      starts.push(orch.now());
      if (ctx.attempt === 1) throw { class: "rate_limit", message: "slow down", retryAfterMs: 5_000 };
      return "ok";
    },
  });
  orch.startAgent("busy");
  const task = await orch.wait(orch.submit({ agent: "busy" }));
  assert.equal(task.output, "ok");
  assert.ok(starts[1] - starts[0] >= 5_000, `waited ${starts[1] - starts[0]} ms`);
  const failed = orch.journal().find((r) => r.type === "task.attempt_failed");
  assert.equal(failed.data.error.retryAfterMs, 5_000);
  assert.equal(orch.journal().find((r) => r.type === "task.retrying").data.delayMs, 5_000);
  assert.ok(orch.verifyReplay().ok);
  orch.close();
});

test("ids that are not strings are refused with a code (they reached wasm as garbage); a bad thenable fails its task", async () => {
  const orch = new Orchestrator({ seed: 7, clock: "virtual" });
  for (const bad of [5, {}, null, undefined]) {
    assert.throws(() => orch.getTask(bad), (e) => e.code === "invalid_argument", String(bad));
    assert.throws(() => orch.status(bad), (e) => e.code === "invalid_argument");
    assert.throws(() => orch.getWorkflow(bad), (e) => e.code === "invalid_argument");
    await assert.rejects(orch.wait(bad), (e) => e.code === "invalid_argument");
  }
  orch.registerAgent({ id: "b", handler: () => ({ then() { throw new Error("boom"); } }) });
  orch.startAgent("b");
  const task = await orch.wait(orch.submit({ agent: "b" }));
  assert.deepEqual([task.status, task.error.message], ["Failed", "boom"]);
  // One that answers and then throws is settled once, by its answer.
  orch.registerAgent({ id: "c", handler: () => ({ then(ok) { ok(1); throw new Error("after"); } }) });
  orch.startAgent("c");
  assert.equal((await orch.wait(orch.submit({ agent: "c" }))).output, 1);
  assert.ok(!orch.journal().some((r) => r.type === "call.ignored"), "no second settle");
  // A sleep past the clock's exact range is refused; a manual task's end frees its slot.
  orch.registerAgent({ id: "z", handler: async (ms, ctx) => ctx.sleep(ms) });
  orch.registerAgent({ id: "m", concurrency: 1, handler: async (x) => x });
  orch.startAgent("z");
  orch.startAgent("m");
  const far = await orch.wait(orch.submit({ agent: "z", input: 1e20 }));
  assert.equal(far.status, "Failed");
  const manual = orch.createTask("m", "by hand");
  orch.startTask(manual);
  const queued = orch.submit({ agent: "m", input: 1 });
  orch.completeTask(manual, "done");
  assert.equal((await orch.wait(queued)).output, 1);
  orch.close();
});

test("a deadline nothing waits for (an attempt that ended before its timeout, a cancelled sleep) does not move the virtual clock", async () => {
  const run = async (idle) => {
    const orch = new Orchestrator({ seed: 3, clock: "virtual" });
    orch.registerAgent({ id: "a", handler: async (x, ctx) => { await ctx.sleep(10); return x; } });
    orch.startAgent("a");
    await orch.wait(orch.submit({ agent: "a", input: 1, timeoutMs: 60_000 }));
    if (idle) await new Promise((r) => setTimeout(r, 5));
    await orch.wait(orch.submit({ agent: "a", input: 2 }));
    const out = [orch.now(), orch.journalDigest()];
    orch.close();
    return out;
  };
  const [quiet, idle] = [await run(false), await run(true)];
  assert.ok(idle[0] < 1_000, `the clock stayed near the work: ${idle[0]}`);
  assert.deepEqual(idle, quiet, "an idle moment changes nothing");
  // A sleep in a call that is cancelled rejects, and its timer goes with it.
  const orch = new Orchestrator({ seed: 3, clock: "virtual" });
  let id;
  orch.registerAgent({ id: "s", handler: async (_x, ctx) => { await ctx.sleep(100_000); return "late"; } });
  orch.registerAgent({ id: "c", handler: async (_x, ctx) => { await ctx.sleep(10); orch.cancel(id); } });
  orch.startAgent("s");
  orch.startAgent("c");
  id = orch.submit({ agent: "s" });
  await orch.wait(orch.submit({ agent: "c" }));
  assert.equal(orch.status(id), "Cancelled");
  await new Promise((r) => setTimeout(r, 5));
  assert.ok(orch.now() < 100_000, `now ${orch.now()}`);
  orch.close();
});

test("an error whose getters throw still fails its task (the driver threw and left it Running)", async () => {
  const orch = new Orchestrator({ seed: 3, clock: "virtual" });
  orch.registerAgent({ id: "p", handler: async () => { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); throw proxy; } });
  orch.startAgent("p");
  const task = await orch.wait(orch.submit({ agent: "p" }));
  assert.deepEqual([task.status, task.error.message], ["Failed", "the agent failed with a value that cannot be read"]);
  orch.close();
});
