// What a long-running service meets: calls that never settle, close() with handlers asleep,
// events() iterators left unread, and runs resumed where a snapshot every N events is due.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator, MemoryStore } from "../../pkg/node.js";

test("close() rejects a handler's ctx.sleep with the close, so its catch and finally run", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "real" });
  const seen = [];
  let asleep;
  const slept = new Promise((r) => { asleep = r; });
  orch.registerAgent({ id: "sleeper", handler: async (_, ctx) => {
    try {
      const nap = ctx.sleep(60_000);
      asleep();
      await nap;
      seen.push("woke");
    } catch (e) {
      seen.push(`rejected ${e.code}`);
    } finally {
      seen.push("finally");
    }
  } });
  orch.startAgent("sleeper");
  orch.submit({ agent: "sleeper" });
  await slept;
  orch.close();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen, ["rejected closed", "finally"]);
});

test("a timed-out call whose handler never settles keeps its signal's reason, and its late answer is ignored", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  const contexts = [];
  let release;
  const late = new Promise((r) => { release = r; });
  orch.registerAgent({ id: "hang", timeoutMs: 100, retry: { maxAttempts: 2 }, handler: (_, ctx) => {
    contexts.push(ctx);
    return contexts.length === 1 ? late : "second";
  } });
  orch.startAgent("hang");
  const task = await orch.wait(orch.submit({ agent: "hang" }));
  assert.deepEqual([task.status, task.output, task.attempts], ["Completed", "second", 2]);
  // Read after the call was forgotten, the first attempt's signal still says why it ended.
  const { signal } = contexts[0];
  assert.equal(signal.aborted, true);
  assert.equal(signal.reason.code, "timeout");
  assert.throws(() => contexts[0].emit("x.y", 1), (e) => e.code === "timeout");
  release("too late");
  await new Promise((r) => setTimeout(r, 0));
  await orch.runUntil(orch.now());
  assert.ok(orch.journal().some((r) => r.type === "call.ignored"), "the late answer is recorded as ignored");
  assert.equal(orch.getTask(task.id).output, "second");
  orch.close();
});

test("an events() iterator that overflowed gives what it buffered, then events_overflow, and listens no more", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual", eventsBufferMax: 5 });
  const it = orch.events("custom.*");
  for (let i = 0; i < 20; i++) orch.emit("custom.n", i);
  const read = [];
  for (let i = 0; i < 5; i++) read.push((await it.next()).value.data);
  assert.deepEqual(read, [0, 1, 2, 3, 4]);
  await assert.rejects(it.next(), (e) => e.code === "events_overflow");
  assert.deepEqual(await it.next(), { value: undefined, done: true });
  orch.close();
});

test("with snapshotEveryEvents, a run restored, forked or reopened at rest takes its next snapshot where the uninterrupted run does", async () => {
  const tail = (o, from) => o.journal().filter((r) => r.seq > from).map((r) => `${r.seq} ${r.type}${r.data?.summary ? ` ${r.data.summary.reason}` : ""}`);
  // The manual snapshot is the 4th event: the count reaches N there.
  const o = new Orchestrator({ seed: 1, clock: "virtual", snapshotEveryEvents: 4 });
  o.emit("custom.fill", {});
  o.emit("custom.fill", {});
  const snap = o.snapshot();
  o.emit("custom.after", {});
  const restored = Orchestrator.restore(snap);
  restored.emit("custom.after", {});
  const fork = Orchestrator.replay(o.journalText(), { uptoSeq: snap.seq, live: true });
  fork.emit("custom.after", {});
  assert.deepEqual(tail(restored, snap.seq), tail(o, snap.seq));
  assert.equal(fork.journalDigest(), o.journalDigest());

  // A late answer (its attempt timed out) brings the count to N: the uninterrupted run and a
  // run reopened right after it take the next snapshot at the same record.
  const store = new MemoryStore();
  const slow = async (_, ctx) => { await ctx.sleep(200); return "late"; };
  const run = (orch) => { orch.registerAgent({ id: "slow", handler: slow, timeoutMs: 100, retry: { maxAttempts: 1 } }); orch.startAgent("slow"); };
  const first = new Orchestrator({ seed: 2, clock: "virtual", snapshotEveryEvents: 12, store });
  const twin = new Orchestrator({ seed: 2, clock: "virtual", snapshotEveryEvents: 12 });
  for (const orch of [first, twin]) {
    run(orch);
    await orch.wait(orch.submit({ agent: "slow" }));
    await orch.runUntil(1000);
  }
  await first.flush();
  const at = first.journal().find((r) => r.type === "call.ignored").seq;
  first.close();
  const reopened = await Orchestrator.open(store, { agents: { slow } });
  for (const orch of [reopened, twin]) orch.emit("custom.next", {});
  // (The reopened run's journal in memory starts at the store's snapshot: compare the lists.)
  const listed = (orch) => orch.snapshots().map((s) => `${s.seq} ${s.reason}`);
  assert.ok(listed(twin).includes(`${at + 1} every`), listed(twin).join());
  assert.deepEqual(listed(reopened), listed(twin));
  assert.equal(reopened.statistics().journal_seq, twin.statistics().journal_seq);
  reopened.close();
  twin.close();
});

test("a handler that cancels a task handed out in the same batch: that task's agent is not called", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  const ran = [];
  orch.registerAgent({ id: "a", handler: async (n, ctx) => {
    ran.push(ctx.taskId);
    if (n === 0) orch.cancel("task-2", "by task-1");
    return n;
  } });
  for (let i = 0; i < 3; i++) orch.submit({ agent: "a", input: i });
  orch.startAgent("a"); // the three calls are handed out together
  const ends = await Promise.all(["task-1", "task-2", "task-3"].map((id) => orch.wait(id)));
  assert.deepEqual(ends.map((t) => t.status), ["Completed", "Cancelled", "Completed"]);
  assert.deepEqual(ran, ["task-1", "task-3"]);
  orch.close();
});

test("with snapshotEveryEvents, every kind of command decides the snapshot at its end, never between its records", async () => {
  const handler = async () => "ok";
  const steps = [
    (o) => o.registerAgent({ id: "a", handler }),
    (o) => o.defineTemplate({ name: "t", instructions: "do" }),
    (o) => o.startAgent("a"),
    (o) => o.schedule({ everyMs: 60_000 }, { agent: "a" }),
    (o) => o.registerTool("add", async () => 1),
    (o) => o.grantTools("a", ["add"]),
    (o) => o.createTask("a", "manual"),
    (o) => o.removeAgent("a"),
  ];
  for (let every = 2; every <= 9; every++) {
    const whole = new Orchestrator({ seed: 3, clock: "virtual", snapshotEveryEvents: every });
    const cuts = [];
    for (const step of steps) { step(whole); cuts.push(whole.statistics().journal_seq); }
    whole.emit("custom.end", {});
    const text = whole.journalText();
    for (const [i, seq] of cuts.entries()) {
      const fork = Orchestrator.replay(text, { uptoSeq: seq, live: true, agents: { a: handler }, tools: { add: async () => 1 } });
      for (const step of steps.slice(i + 1)) step(fork);
      fork.emit("custom.end", {});
      assert.equal(fork.journalText(), text, `every ${every}, forked after step ${i}`);
    }
    // A snapshot never falls inside removeAgent (between the agent's termination and its removal).
    const records = whole.journal().map((r) => r.type);
    const removed = records.indexOf("agent.removed");
    assert.notEqual(records[removed - 1], "snapshot.created", `every ${every}`);
  }
});
