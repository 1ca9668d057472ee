// Schedules as jobs() shows them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "../../pkg/node.js";

test("a job shows its task as it was given, without the fields nobody set", () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  orch.registerAgent({ id: "a", handler: async () => 1 });
  orch.schedule({ everyMs: 1_000 }, { agent: "a", input: { x: 1 }, priority: 3 });
  assert.deepEqual(orch.jobs()[0].task, { agent: "a", priority: 3, input: { x: 1 } });
  orch.close();
});

test("runUntil runs the virtual clock to a time and holds it there: an hourly job over a virtual day", async () => {
  const orch = new Orchestrator({ seed: 4, clock: "virtual" });
  const runs = [];
  orch.registerAgent({ id: "h", handler: async (input, ctx) => { runs.push(orch.now()); await ctx.sleep(60_000); return input; } });
  orch.startAgent("h");
  orch.schedule({ everyMs: 3_600_000 }, { agent: "h", input: "disk" });
  await orch.runUntil(86_400_000);
  assert.equal(runs.length, 24);
  assert.deepEqual([runs[0], runs[23]], [3_600_000, 86_400_000]);
  assert.equal(orch.now(), 86_400_000, "the clock stands at the limit");
  // The last slot's call sleeps past the limit: it waits there, and so does the clock.
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(orch.now(), 86_400_000, "no jump past the limit by itself");
  const last = orch.tasks().at(-1);
  assert.equal(last.status, "Running");
  await orch.runFor(60_000);
  assert.equal(orch.getTask(last.id).status, "Completed");
  assert.equal(orch.now(), 86_460_000);
  // Nothing due at all: the clock still moves to the time asked for.
  const quiet = new Orchestrator({ seed: 1, clock: "virtual" });
  await quiet.runUntil(5_000);
  assert.equal(quiet.now(), 5_000);
  quiet.close();
  const real = new Orchestrator({ seed: 1 });
  await assert.rejects(real.runUntil(1), (e) => e.code === "invalid_state");
  await assert.rejects(orch.runFor(-1), (e) => e.code === "invalid_argument");
  real.close();
  const pending = orch.runUntil(Infinity);
  orch.close();
  await assert.rejects(pending, (e) => e.code === "closed");
});

test("overlapping runUntil calls stop the clock at each time in turn; a time past holds it now", async () => {
  const orch = new Orchestrator({ seed: 2, clock: "virtual" });
  const fired = [];
  orch.registerAgent({ id: "h", handler: async () => { fired.push(orch.now()); } });
  orch.startAgent("h");
  orch.schedule({ everyMs: 100 }, { agent: "h" });
  const seen = [];
  const late = orch.runUntil(1_000).then(() => seen.push(["1000", orch.now()]));
  const early = orch.runUntil(500).then(() => seen.push(["500", orch.now()]));
  await Promise.all([late, early]);
  assert.deepEqual(seen, [["500", 500], ["1000", 1_000]]);
  assert.equal(fired.length, 10);
  // A time already past: what is due now still fires, and the clock stays.
  orch.registerAgent({ id: "s", handler: async (_i, ctx) => { await ctx.sleep(0); return "slept"; } });
  orch.startAgent("s");
  await orch.runUntil(200);
  assert.equal(orch.now(), 1_000);
  const t = orch.submit({ agent: "s" });
  await orch.runUntil(0);
  assert.equal((await orch.wait(t)).output, "slept");
  assert.equal(orch.now(), 1_000);
  orch.close();
});
