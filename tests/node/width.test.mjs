// Workflows with a width (`sequential`, `parallel`) at scale: each task's end admits the next best
// ready task from a pool the core keeps as tasks change, not from a scan of the workflow (a scan
// per task made 10,000 sequential tasks take half a second; 100,000 would take a minute).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "../../pkg/node.js";

test("a parallel workflow of 20,000 tasks keeps to its width and starts the best priority first", async () => {
  const n = 20_000;
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  const started = [];
  let running = 0;
  let peak = 0;
  orch.registerAgent({
    id: "w",
    handler: async (i) => {
      started.push(i);
      peak = Math.max(peak, ++running);
      await null;
      running--;
    },
  });
  orch.startAgent("w");
  let s = 7;
  const tasks = Array.from({ length: n }, (_, i) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return { id: `t${i}`, agent: "w", input: i, priority: 1 + (s % 9) };
  });
  const result = await orch.runWorkflow({ pattern: "parallel", width: 4, tasks });
  orch.close();
  assert.equal(result.status, "Completed");
  assert.equal(peak, 4);
  // Every task is ready from the start, so the starts follow (priority, position) exactly.
  const expected = tasks.map((t, i) => [t.priority, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i);
  assert.deepEqual(started, expected);
});

test("a sequential workflow with dependencies runs one task at a time, each after its dependencies", async () => {
  const orch = new Orchestrator({ seed: 2, clock: "virtual" });
  const order = [];
  let running = 0;
  orch.registerAgent({
    id: "w",
    handler: async (i) => {
      assert.equal(++running, 1, "one at a time");
      order.push(i);
      await null;
      running--;
    },
  });
  orch.startAgent("w");
  // Task i depends on task i - 3 (if any) and has priority 3 - (i % 3): later tasks of each
  // round of three are better, but never before their dependency.
  const tasks = Array.from({ length: 3_000 }, (_, i) => ({
    id: `t${i}`, agent: "w", input: i, priority: 3 - (i % 3), dependsOn: i >= 3 ? [`t${i - 3}`] : [],
  }));
  const result = await orch.runWorkflow({ pattern: "sequential", tasks });
  orch.close();
  assert.equal(result.status, "Completed");
  assert.equal(order.length, tasks.length);
  const at = new Map(order.map((i, k) => [i, k]));
  for (let i = 3; i < tasks.length; i++) assert.ok(at.get(i - 3) < at.get(i), `t${i} after t${i - 3}`);
  assert.deepEqual(order.slice(0, 6), [2, 5, 8, 11, 14, 17], "the best ready task first: t2's chain runs ahead");
});

test("waiting on one task of a running workflow resolves when it ends; on an ended one, at once", async () => {
  // Task ends are reported by the core only while something waits on a task: the first wait()
  // turns them on, the last woken waiter off again.
  const orch = new Orchestrator({ seed: 3, clock: "virtual" });
  orch.registerAgent({ id: "w", handler: async (i, ctx) => { await ctx.sleep(10 * (i + 1)); return i * 2; } });
  orch.startAgent("w");
  const tasks = Array.from({ length: 50 }, (_, i) => ({ id: `t${i}`, agent: "w", input: i, dependsOn: i ? [`t${i - 1}`] : [] }));
  const id = orch.submitWorkflow({ id: "chain", tasks });
  const done = orch.waitWorkflow(id);
  const first = await orch.wait("chain/t3");
  assert.deepEqual([first.status, first.output], ["Completed", 6]);
  // t3 ended; t0 long before: this wait resolves at once.
  assert.equal((await orch.wait("chain/t0")).status, "Completed");
  const later = await Promise.all([orch.wait("chain/t40"), orch.wait("chain/t40"), orch.wait("chain/t49")]);
  assert.deepEqual(later.map((t) => [t.id, t.status, t.output]), [
    ["chain/t40", "Completed", 80], ["chain/t40", "Completed", 80], ["chain/t49", "Completed", 98],
  ]);
  assert.equal((await done).status, "Completed");
  orch.close();
});

test("cancelling a workflow calls none of its waiting tasks: only the running calls see an abort", async () => {
  for (const shape of [{ concurrency: 2 }, { width: 2 }]) {
    const orch = new Orchestrator({ seed: 3, clock: "virtual" });
    const called = [];
    const aborted = [];
    orch.registerAgent({
      id: "slow",
      concurrency: shape.concurrency,
      handler: (i, ctx) => {
        called.push(i);
        return new Promise((_, reject) => ctx.signal.addEventListener("abort", () => { aborted.push(i); reject(new Error("aborted")); }));
      },
    });
    orch.startAgent("slow");
    const tasks = Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, agent: "slow", input: i }));
    const wf = orch.submitWorkflow({ failurePolicy: "continue", ...(shape.width ? { pattern: "parallel", width: 2 } : {}), tasks });
    for (let i = 0; called.length < 2 && i < 2000; i++) await new Promise((r) => setTimeout(r, 1));
    assert.equal(called.length, 2, "two calls started");
    orch.cancelWorkflow(wf, "stop");
    const result = await orch.waitWorkflow(wf);
    await new Promise((r) => setTimeout(r, 5));
    orch.close();
    assert.equal(result.status, "Cancelled", JSON.stringify(shape));
    assert.deepEqual(called, [0, 1], JSON.stringify(shape));
    assert.deepEqual(aborted.sort(), [0, 1]);
  }
});
