// What a new user writes from the issues, DESIGN.md and the seeds, and got wrong before: a
// restored run's clock, a cancelled workflow's reason, the seeds' names, a pattern's error class.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator, MemoryStore } from "../../pkg/node.js";

test("a restored or reopened virtual run goes on on the virtual clock, its jobs with it", async () => {
  const store = new MemoryStore();
  const orch = new Orchestrator({ seed: 1, clock: "virtual", store });
  const runs = [];
  const hourly = async () => runs.push(orch.now());
  orch.registerAgent({ id: "reporter", handler: hourly });
  orch.startAgent("reporter");
  orch.schedule({ everyMs: 3_600_000 }, { agent: "reporter" });
  await orch.runUntil(2 * 3_600_000);
  const snap = orch.snapshot();
  await orch.flush();
  orch.close();

  const restored = Orchestrator.restore(snap, { agents: { reporter: async () => restored.now() } });
  assert.equal(restored.now(), 2 * 3_600_000, "the clock stands where the run left it");
  await restored.runUntil(5 * 3_600_000);
  assert.equal(restored.tasks({ status: "Completed" }).length, 5, "hours 1 to 5, on virtual time");
  restored.close();

  const reopened = await Orchestrator.open(store, { agents: { reporter: async () => 0 } });
  assert.ok(reopened.now() < 86_400_000, `virtual, not wall time: ${reopened.now()}`);
  await reopened.runUntil(4 * 3_600_000);
  reopened.close();
  // Given, a clock still applies.
  const real = Orchestrator.restore(snap, { clock: "real", agents: { reporter: async () => 0 } });
  assert.ok(real.now() > 1e12);
  real.close();
});

test("cancelling a failFast workflow gives every task the reason given", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  orch.registerAgent({ id: "s", handler: async (_i, ctx) => { await ctx.sleep(1_000); return 1; } });
  orch.startAgent("s");
  const w = orch.submitWorkflow({ id: "w", tasks: [{ id: "x", agent: "s" }, { id: "y", agent: "s", dependsOn: ["x"] }, { id: "q", agent: "s" }] });
  orch.cancelWorkflow(w, "shutting down");
  const result = await orch.waitWorkflow(w);
  assert.equal(result.status, "Cancelled");
  for (const task of Object.values(result.tasks)) assert.deepEqual([task.status, task.error.message], ["Cancelled", "shutting down"]);
  assert.ok(orch.verifyReplay().ok);
  orch.close();
});

test("the seeds' names: data_analyst templates, execute handlers, submit callbacks", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  orch.createAgentFromTemplate("data_analyst", { id: "analyst", execute: async (x) => `analysed ${x}` });
  orch.registerAgent({ id: "worker", execute: async (x) => x * 2 });
  orch.startAgent("analyst");
  orch.startAgent("worker");
  const ended = [];
  const done = new Promise((resolve) => {
    orch.submit({ agent: "worker", input: 21, callback: (task) => { ended.push(task); resolve(); } });
  });
  await done;
  assert.deepEqual([ended[0].status, ended[0].output], ["Completed", 42]);
  assert.equal((await orch.wait(orch.submit({ agent: "analyst", input: "sales" }))).output, "analysed sales");
  // A function under a name Baton does not know is refused, not dropped without a word.
  assert.throws(() => orch.submit({ agent: "worker", onDone: () => {} }), (e) => e.code === "invalid_argument" && /'onDone' is a function/.test(e.message));
  assert.throws(() => orch.registerAgent({ id: "w2", run: async () => 1 }), (e) => e.code === "invalid_argument" && /'run'/.test(e.message));
  assert.throws(() => orch.submit({ agent: "worker", callback: 5 }), (e) => e.code === "invalid_argument");
  assert.throws(() => orch.registerAgent({ id: "w3", handler: async () => 1, execute: async () => 2 }), (e) => e.code === "invalid_argument");
  orch.close();
});

test("a pattern that fails on an answer's shape rejects with class validation", async () => {
  const orch = new Orchestrator({ seed: 3, clock: "virtual" });
  orch.registerAgent({ id: "v", handler: async () => ({ vote: "maybe" }) });
  orch.startAgent("v");
  await assert.rejects(orch.consensus("ship it?", ["v"]), (e) => e.code === "pattern_failed" && e.class === "validation");
  orch.close();
});

test("snapshots() lists every snapshot kept; tools() leaves out a burst never given", () => {
  const orch = new Orchestrator({ seed: 3, clock: "virtual" });
  for (let i = 0; i < 12; i++) orch.snapshot();
  assert.equal(orch.snapshots().length, 12);
  assert.equal(orch.snapshots(3).length, 3);
  orch.registerTool("search", async () => 1, { rateLimit: { perMinute: 2 } });
  assert.deepEqual(orch.tools()[0].rateLimit, { perMinute: 2 });
  orch.close();
});

test("bad arguments are coded errors: a reason that is not a string, a partial wildcard; a missing message has a default", async () => {
  const orch = new Orchestrator({ seed: 3, clock: "virtual" });
  orch.registerAgent({ id: "a", handler: async () => 1 });
  const id = orch.submit({ agent: "a" }); // waits: the agent is not started
  const seq = orch.journal().length;
  assert.throws(() => orch.cancel(id, 5), (e) => e.code === "invalid_argument");
  assert.throws(() => orch.cancelAgentTasks("a", {}), (e) => e.code === "invalid_argument");
  assert.throws(() => orch.reportError("a", 5), (e) => e.code === "invalid_argument");
  assert.throws(() => orch.on("task.**.x**", () => {}), (e) => e.code === "invalid_argument" && /'x\*\*'/.test(e.message));
  assert.equal(orch.journal().length, seq, "nothing recorded");
  orch.reportError("a");
  assert.equal(orch.journal().at(-1).data.message, "an error reported by the caller");
  const manual = orch.createTask("a", "by hand");
  orch.startTask(manual);
  orch.failTask(manual);
  assert.equal(orch.getTask(manual).error.message, "failed by the caller");
  orch.close();
});

test("a function given as an input is the agent's, and the journal says it could not record it", async () => {
  const orch = new Orchestrator({ seed: 3, clock: "virtual" });
  orch.registerAgent({ id: "caller", handler: async (fn) => fn() });
  orch.startAgent("caller");
  const warned = [];
  const warn = console.warn;
  console.warn = (m) => warned.push(m);
  try {
    assert.equal((await orch.wait(orch.submit({ agent: "caller", input: () => 7 }))).output, 7);
    const created = orch.journal().find((r) => r.type === "task.created");
    assert.match(created.data.input.$unrecorded, /function is not JSON/);
  } finally {
    console.warn = warn;
  }
  assert.equal(warned.length, 1);
  orch.close();
});

test("submitWorkflow takes the supervisor and collaborative patterns (seed 001); their run's id waits like a workflow's", async () => {
  const orch = new Orchestrator({ seed: 5, clock: "virtual" });
  orch.registerAgent({
    id: "lead",
    handler: async (input) => (input.results.length > 0 ? { final: input.results.map((r) => r.output).join("+") } : { delegations: [{ agent: "w", input: "a" }, { agent: "w", input: "b" }] }),
  });
  orch.registerAgent({ id: "w", handler: async (x) => x.toUpperCase() });
  orch.registerAgent({ id: "writer", handler: async (input) => ({ document: `${input.document ?? ""}!`, done: true }) });
  for (const id of ["lead", "w", "writer"]) orch.startAgent(id);
  const run = orch.submitWorkflow({ task: "report" }, { pattern: "SUPERVISOR", supervisor: "lead", agents: ["w"] });
  assert.match(run, /^run-/);
  const result = await orch.waitWorkflow(run);
  assert.deepEqual([result.status, result.answer], ["answered", "A+B"], JSON.stringify(result));
  assert.equal(orch.getWorkflow(run).status, "Completed");
  const doc = orch.submitWorkflow({ pattern: "collaborative", task: "draft", agents: ["writer"] });
  const written = await orch.wait(doc);
  assert.deepEqual([written.status, written.doneBy], ["done", "writer"], JSON.stringify(written));
  await assert.rejects(orch.waitWorkflow("run-99"), (e) => e.code === "unknown_workflow");
  orch.close();
});

test("a listed snapshot's summary handed to restore says how to get the snapshot whole", () => {
  const orch = new Orchestrator({ clock: "virtual" });
  orch.snapshot();
  const [summary] = orch.snapshots();
  assert.throws(() => Orchestrator.restore(summary), (e) => e.code === "decode_error" && e.message.includes(`getSnapshot('${summary.id}')`));
  const again = Orchestrator.restore(orch.getSnapshot(summary.id));
  assert.deepEqual(again.statistics(), orch.statistics());
  again.close();
  orch.close();
});

test("a workflow's failedTask is a key of its tasks; a capability-routed task shows its capability", async () => {
  const orch = new Orchestrator({ clock: "virtual" });
  orch.registerAgent({ id: "a", capabilities: ["analyze"], handler: async (x) => { if (x === "bad") throw new Error("no"); return x; } });
  orch.startAgent("a");
  const r = await orch.runWorkflow({ id: "FF", tasks: [{ id: "x", agent: "a", input: "bad" }, { id: "y", agent: "a", input: "ok", dependsOn: ["x"] }] });
  assert.equal(r.failedTask, "x");
  assert.equal(r.tasks[r.failedTask].status, "Failed");
  assert.equal(orch.getTask(r.tasks[r.failedTask].id).status, "Failed");
  const id = orch.submit({ capability: "analyze", input: "ok" });
  await orch.wait(id);
  assert.deepEqual([orch.getTask(id).agent, orch.getTask(id).capability], ["a", "analyze"]);
  assert.equal(orch.getTask(r.tasks.y.id).capability, undefined, "a task given its agent has none");
  orch.close();
});

test("seed 001's research pipeline: tasks named, dependencies keyed by name or given per task", async () => {
  const orch = new Orchestrator({ clock: "virtual" });
  for (const id of ["researcher", "analyst", "writer"]) {
    orch.registerAgent({ id, handler: async (input, ctx) => `${id}(${Object.values(ctx.upstream ?? {}).join(",")})` });
    orch.startAgent(id);
  }
  const r = await orch.runWorkflow({
    name: "Research Pipeline",
    tasks: [
      { name: "Gather Sources", agent: "researcher" },
      { name: "Analyze Sources", agent: "analyst", dependencies: ["Gather Sources"] },
      { name: "Write Report", agent: "writer" },
    ],
    dependencies: { "Write Report": ["Analyze Sources"] },
  });
  assert.equal(r.status, "Completed");
  assert.equal(r.outputs["Write Report"], "writer(analyst(researcher()))");
  assert.deepEqual(r.tasks["Analyze Sources"].dependsOn, ["Gather Sources"]);
  await assert.rejects(orch.runWorkflow({ tasks: [{ agent: "writer" }] }), (e) => e.code === "invalid_argument" && /task #0 needs an id/.test(e.message));
  orch.close();
});

test("far times: a job past 2^50 ms is refused, and runUntil past it stops the clock there", async () => {
  const orch = new Orchestrator({ clock: "virtual" });
  orch.registerAgent({ id: "a", handler: async () => "ok" });
  orch.startAgent("a");
  assert.throws(() => orch.schedule({ at: 2 ** 53 }, { agent: "a" }), (e) => e.code === "invalid_argument" && /2\^50/.test(e.message));
  assert.throws(() => orch.schedule({ at: -1 }, { agent: "a" }), (e) => e.code === "invalid_argument" && /before 1970/.test(e.message));
  orch.schedule({ at: 2 ** 50 }, { agent: "a" });
  await orch.runUntil(1e17);
  assert.equal(orch.now(), 2 ** 50);
  assert.equal(orch.jobs()[0].runs, 1, "the job at 2^50 ran");
  orch.close();
});

test("a fork from before an agent was registered takes its handler for when it is; a name never registered is refused", async () => {
  const orch = new Orchestrator({ clock: "virtual" });
  orch.registerAgent({ id: "a", handler: async () => "old" });
  orch.startAgent("a");
  await orch.wait(orch.submit({ agent: "a" }));
  const text = orch.journalText();
  orch.close();
  const fork = Orchestrator.replay(text, { uptoSeq: 1, live: true, agents: { a: async () => "new" } });
  assert.deepEqual(Object.keys(fork.agentsStatus()), []);
  assert.throws(() => Orchestrator.replay(text, { uptoSeq: 1, live: true, agents: { typo: async () => 0 } }), (e) => e.code === "unknown_agent");
  fork.registerAgent({ id: "a" });
  fork.startAgent("a");
  const id = fork.submit({ agent: "a" });
  assert.equal((await fork.wait(id)).output, "new");
  fork.close();
});

test("an agent reads the run's seed from its context, to simulate by it", async () => {
  const seen = [];
  for (const seed of [1, 2]) {
    const orch = new Orchestrator({ seed, clock: "virtual" });
    orch.registerAgent({ id: "sim", handler: async (input, ctx) => seen.push(ctx.seed) });
    orch.startAgent("sim");
    await orch.wait(orch.submit({ agent: "sim" }));
    assert.equal(seen.at(-1), orch.seed);
    orch.close();
  }
  assert.deepEqual(seen, [1, 2]);
});

test("the dashboard's demo agents fail by the run's seed: another seed, another run", async () => {
  const { handlers, registerDemoAgents } = await import("../../www/demo.js");
  const failures = async (seed) => {
    const orch = new Orchestrator({ seed, clock: "virtual" });
    registerDemoAgents(orch, handlers("demo", 1));
    await orch.runWorkflow({ tasks: Array.from({ length: 40 }, (_, i) => ({ id: `t${i}`, agent: "researcher" })) });
    const failed = orch.journal().filter((r) => r.type === "task.attempt_failed").map((r) => `${r.data.task}#${r.data.attempt}`);
    orch.close();
    return failed.join(",");
  };
  const [a, again, b] = [await failures(1), await failures(1), await failures(2)];
  assert.equal(a, again, "the same seed, the same failures");
  assert.notEqual(a, b, "another seed, other failures");
});

test("a template's every bad field is named, a number that is not finite among them", () => {
  const orch = new Orchestrator({ clock: "virtual" });
  assert.throws(() => orch.defineTemplate({ name: "Bad Name", temperature: NaN, version: 0 }), (e) =>
    e.code === "invalid_argument" && /temperature/.test(e.message) && /name/.test(e.message) && /version/.test(e.message));
  orch.close();
});

test("time travel to before a snapshot, from that snapshot, says the state is not in it", async () => {
  const orch = new Orchestrator({ clock: "virtual" });
  orch.registerAgent({ id: "a", handler: async () => 1 });
  orch.startAgent("a");
  await orch.wait(orch.submit({ agent: "a" }));
  const snap = orch.snapshot();
  await orch.wait(orch.submit({ agent: "a" }));
  const tail = orch.journal().filter((r) => r.seq > snap.seq);
  assert.throws(() => Orchestrator.replay(tail, { snapshot: snap, uptoSeq: 2 }), (e) => e.code === "invalid_argument" && /before the snapshot/.test(e.message));
  const at = Orchestrator.replay(tail, { snapshot: snap, uptoSeq: snap.seq + 1 });
  assert.equal(at.journal().at(-1)?.seq ?? snap.seq + 1, snap.seq + 1);
  orch.close();
});

test("ctx.sleep takes its abort listener off when it ends; agentsStatus lists agents as registered; no metadata, no key", async () => {
  const { getEventListeners } = await import("node:events");
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  let left;
  orch.registerAgent({ id: "poller", handler: async (_, ctx) => {
    for (let i = 0; i < 12; i++) await ctx.sleep(10); // 11 listeners left would warn (MaxListenersExceeded)
    left = getEventListeners(ctx.signal, "abort").length;
    return "done";
  } });
  for (const id of ["market_oracle", "risk_manager", "executor"]) orch.registerAgent({ id, handler: async () => null });
  orch.startAgent("poller");
  const task = await orch.wait(orch.submit({ agent: "poller" }));
  assert.equal(task.output, "done");
  assert.equal(left, 0, "no listener left behind by the sleeps that ended");
  assert.deepEqual(Object.keys(orch.agentsStatus()), ["poller", "market_oracle", "risk_manager", "executor"]);
  assert.equal("metadata" in task, false);
  assert.equal("metadata" in orch.getTask(task.id), false);
  const tagged = await orch.wait(orch.submit({ agent: "poller", metadata: { by: "me" } }));
  assert.deepEqual(tagged.metadata, { by: "me" });
  orch.close();
});

test("a text over its limit is refused with its start and its length quoted, as long ids are", () => {
  const orch = new Orchestrator({ seed: 1 });
  orch.registerAgent({ id: "a" });
  const task = orch.submit({ agent: "a" });
  const quoted = (e, start, bytes) => e.code === "invalid_argument" && e.message.includes(`'${start}`) && e.message.includes(`(${bytes} bytes)`);
  assert.throws(() => orch.cancel(task, "r".repeat(1030)), (e) => quoted(e, "rrrr", 1030));
  assert.throws(() => orch.reportError("a", "m".repeat(17_000)), (e) => quoted(e, "mmmm", 17_000));
  assert.throws(() => orch.registerAgent({ id: "n", name: "x".repeat(300) }), (e) => quoted(e, "xxxx", 300));
  assert.throws(() => orch.defineTemplate({ name: "t", instructions: "i".repeat(66_000) }), (e) => quoted(e, "iiii", 66_000));
  orch.close();
});

test("one id, one thing: a task, a workflow and a pattern run never share an id, so wait(id) is never the wrong one", async () => {
  const o = new Orchestrator({ seed: 1, clock: "virtual" });
  o.registerAgent({ id: "e", handler: async (x) => x });
  o.startAgent("e");
  o.submit({ agent: "e", id: "workflow-1", input: "T" });
  // The generated workflow id passes over the one a task has.
  const wf = o.submitWorkflow({ tasks: [{ id: "a", agent: "e", input: "W" }] });
  assert.equal(wf, "workflow-2");
  assert.deepEqual((await o.wait(wf)).outputs, { a: "W" });
  assert.equal((await o.wait("workflow-1")).output, "T");
  // A task may not take a workflow's id or a pattern run's form; a workflow may not take a
  // task's id or a generated task id's form.
  const refused = (f) => { try { f(); return "made"; } catch (e) { return e.code; } };
  assert.equal(refused(() => o.submit({ agent: "e", id: wf })), "duplicate_id");
  assert.equal(refused(() => o.submit({ agent: "e", id: "run-1" })), "invalid_argument");
  assert.equal(refused(() => o.submitWorkflow({ id: "workflow-1", tasks: [{ id: "a", agent: "e" }] })), "duplicate_id");
  assert.equal(refused(() => o.submitWorkflow({ id: "task-9", tasks: [{ id: "a", agent: "e" }] })), "invalid_argument");
  o.close();
});

test("a scheduled task without an agent or capability is refused as submit refuses it; a long cycle is named by its ends", () => {
  const o = new Orchestrator({ clock: "virtual" });
  o.registerAgent({ id: "e", handler: async (x) => x });
  const codeOf = (f) => { try { f(); return "made"; } catch (e) { return [e.code, e.message]; } };
  assert.deepEqual(codeOf(() => o.submit({ input: 1 })), codeOf(() => o.schedule({ everyMs: 5 }, { input: 1 })));
  const n = 100_000;
  const tasks = Array.from({ length: n }, (_, i) => ({ id: `t${i}`, agent: "e", dependsOn: [`t${(i + 1) % n}`] }));
  const [code, message] = codeOf(() => o.submitWorkflow({ id: "big", tasks }));
  assert.equal(code, "cycle");
  assert.ok(message.length < 300, `${message.length} characters`);
  assert.match(message, /^workflow 'big' has a dependency cycle: (t\d+) -> t\d+ -> t\d+ -> t\d+ -> … -> t\d+ -> t\d+ -> t\d+ -> \1 \(100000 tasks\)$/);
  o.close();
});

test("a journal whose failed workflow names another's task is refused by replay and by verifyReplay", async () => {
  const o = new Orchestrator({ seed: 1, clock: "virtual" });
  o.registerAgent({ id: "a", handler: async (i) => { if (i === "bad") throw new Error("boom"); return i; } });
  o.startAgent("a");
  await o.wait(o.submit({ agent: "a", input: "x" }));
  await o.runWorkflow({ id: "w1", failurePolicy: "continue", tasks: [{ id: "ok", agent: "a", input: 1 }, { id: "bad", agent: "a", input: "bad" }] });
  const journal = o.journal();
  o.close();
  const at = journal.findIndex((r) => r.type === "workflow.failed");
  assert.equal(journal[at].data.task, "w1/bad");
  for (const forged of ["task-1", "w1/ok"]) {
    const edited = structuredClone(journal);
    edited[at].data.task = forged;
    let verdict;
    try {
      verdict = Orchestrator.verifyReplay(edited).ok;
    } catch (e) {
      verdict = e.code;
    }
    assert.ok(verdict === false || verdict === "decode_error", `${forged}: ${verdict}`);
  }
  const other = structuredClone(journal);
  other[at].data.task = "task-1";
  assert.throws(() => Orchestrator.replay(other), { code: "decode_error", message: /names task 'task-1', not one of its own/ });
});

test("a terminated orchestrator's jobs say they will not fire again", async () => {
  const o = new Orchestrator({ clock: "virtual" });
  o.registerAgent({ id: "a", handler: async () => 1 });
  o.startAgent("a");
  const every = o.schedule({ everyMs: 100 }, { agent: "a" });
  const paused = o.schedule({ cron: "0 9 * * MON" }, { agent: "a" });
  o.pauseJob(paused);
  o.terminate("shutdown");
  await o.runFor(1000);
  assert.deepEqual(o.jobs().map((j) => [j.id, j.status, j.nextRun ?? null, j.runs]), [[every, "done", null, 0], [paused, "done", null, 0]]);
  assert.equal(o.tasks().length, 0);
  o.close();
});
