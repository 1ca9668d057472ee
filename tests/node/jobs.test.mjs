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
