// A workflow's result: its `tasks` and `outputs` are built only when read (from copies taken when the workflow
// ended), so the result reads the same as a plain object, before and after close().
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "../../pkg/node.js";

function orchestrator(handler) {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  orch.registerAgent({ id: "a", handler });
  orch.startAgent("a");
  return orch;
}

test("a completed workflow's result, read after close(), equals its plain JSON copy", async () => {
  const orch = orchestrator(async (x) => x * 2);
  const result = await orch.runWorkflow({
    id: "w",
    tasks: [
      { id: "x", agent: "a", input: 1 },
      { id: "y", agent: "a", input: 2, dependsOn: ["x"] },
    ],
  });
  orch.close();
  assert.deepEqual(result.outputs, { x: 2, y: 4 });
  assert.deepEqual(result.tasks, {
    x: { id: "w/x", agent: "a", status: "Completed", dependsOn: [] },
    y: { id: "w/y", agent: "a", status: "Completed", dependsOn: ["x"] },
  });
  const plain = JSON.parse(JSON.stringify(result));
  assert.deepStrictEqual(result, plain);
  assert.deepStrictEqual({ ...result }, plain);
  assert.deepStrictEqual(structuredClone(result), plain);
  result.tasks = {}; // still ordinary, writable properties
  assert.deepEqual(result.tasks, {});
  result.outputs = null;
  assert.equal(result.outputs, null);
});

test("outputs: every completed task has its key (undefined when it returned nothing or null); values are the agents' own objects", async () => {
  const shared = { big: [1, 2, 3] };
  const orch = orchestrator(async (x) => (x === 1 ? undefined : x === 2 ? shared : null));
  const result = await orch.runWorkflow({
    tasks: [
      { id: "none", agent: "a", input: 1 },
      { id: "same", agent: "a", input: 2 },
      { id: "nil", agent: "a", input: 3, dependsOn: ["none"] },
    ],
  });
  orch.close();
  assert.deepEqual(Object.keys(result.outputs).sort(), ["nil", "none", "same"]);
  assert.equal(result.outputs.nil, undefined);
  assert.equal(result.outputs.same, shared);
  assert.equal(result.status, "Completed");
  assert.equal(result.outputs, result.outputs); // built once
});

test("a plain workflow with a repeated id or an unknown agent is refused and changes nothing", async () => {
  const orch = orchestrator(async (x) => x);
  const seq = orch.journal().length;
  assert.throws(() => orch.submitWorkflow({ tasks: [{ id: "t", agent: "a", input: 1 }, { id: "t", agent: "a", input: 2 }] }),
    (e) => e.code === "duplicate_id" && /\/t/.test(e.message));
  assert.throws(() => orch.submitWorkflow({ tasks: [{ id: "t", agent: "nobody" }] }), (e) => e.code === "unknown_agent");
  assert.equal(orch.journal().length, seq);
  const ok = await orch.runWorkflow({ tasks: [{ id: "t", agent: "a", input: 5 }] });
  assert.deepEqual(ok.outputs, { t: 5 });
  orch.close();
});

test("a failed workflow's result names the failure in its tasks", async () => {
  const orch = orchestrator(async (x) => {
    if (x === 2) throw new Error("no");
    return x;
  });
  const result = await orch.runWorkflow({
    tasks: [
      { id: "x", agent: "a", input: 1 },
      { id: "y", agent: "a", input: 2, dependsOn: ["x"], retry: { maxAttempts: 1 } },
    ],
  });
  orch.close();
  assert.equal(result.status, "Failed");
  assert.equal(result.tasks.x.status, "Completed");
  assert.equal(result.tasks.y.status, "Failed");
  assert.match(result.tasks.y.error.message, /no/);
  assert.deepEqual(result.outputs, { x: 1 });
});

test("100,000 prioritized tasks run in priority order, then submission order", async () => {
  const order = [];
  const orch = new Orchestrator({ seed: 1, clock: "virtual", maxConcurrency: 1 });
  orch.registerAgent({ id: "a", handler: async (i) => { order.push(i); } });
  orch.startAgent("a");
  const n = 100_000;
  const priority = (i) => 1 + ((i * 7919) % 10);
  const tasks = Array.from({ length: n }, (_, i) => ({ id: `t${i}`, agent: "a", input: i, priority: priority(i) }));
  const result = await orch.runWorkflow({ tasks });
  orch.close();
  assert.equal(result.status, "Completed");
  assert.equal(order.length, n);
  const expected = [...order].sort((a, b) => priority(a) - priority(b) || a - b);
  assert.deepEqual(order, expected);
  assert.equal(Object.keys(result.tasks).length, n);
});

test("getSnapshot: an automatic snapshot (a workflow's end) is restorable whole, as it was then", async () => {
  const orch = new Orchestrator({ seed: 4, clock: "virtual" });
  orch.registerAgent({ id: "a", handler: async (x) => x * 2 });
  orch.startAgent("a");
  await orch.runWorkflow({ id: "first", tasks: [{ id: "x", agent: "a", input: 1 }] });
  await orch.wait(orch.submit({ agent: "a", input: 5 })); // after the snapshot
  const auto = orch.snapshots(10).find((s) => s.reason === "workflow.completed");
  const snap = orch.getSnapshot(auto.id);
  assert.equal(snap.id, auto.id);
  const then = Orchestrator.restore(snap, { agents: { a: async (x) => x } });
  assert.equal(then.tasks().length, 1, "the state at the workflow's end");
  assert.equal(then.getTask("first/x").output, 2);
  assert.throws(() => orch.getSnapshot("snapshot-99"), (e) => e.code === "unknown_snapshot");
  then.close();
  orch.close();
});

test("restore and replay keep the run's recorded seed and limits: a differing one is refused, not ignored", () => {
  const orch = new Orchestrator({ seed: 5, clock: "virtual", maxConcurrency: 2 });
  const snap = orch.snapshot();
  Orchestrator.restore(snap, { seed: 5, clock: "virtual" }).close();
  assert.throws(() => Orchestrator.restore(snap, { seed: 6 }), (e) => e.code === "invalid_argument" && /keeps the run's seed \(5\)/.test(e.message));
  assert.throws(() => Orchestrator.restore(snap, { maxConcurrency: 1 }), (e) => e.code === "invalid_argument" && /'maxConcurrency'/.test(e.message));
  assert.throws(() => Orchestrator.replay(orch.journal(), { timeoutMs: 5 }), (e) => e.code === "invalid_argument" && /'timeoutMs'/.test(e.message));
  orch.close();
});
