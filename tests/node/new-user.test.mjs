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
