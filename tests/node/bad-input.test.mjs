// Bad input through the JS API is a BatonError with a stable code that names the field at
// fault, and changes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "../../pkg/node.js";

test("bad input names its field and has a code: a NaN deep in a spec, tools without a list, contracts without a session", () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  const seq = orch.journal().length;
  assert.throws(
    () => orch.registerAgent({ id: "a", handler: async () => 1, retry: { maxAttempts: 2, backoff: { initialMs: NaN } } }),
    (e) => e.code === "invalid_argument" && e.message.includes("agent.retry.backoff.initialMs: NaN is not a finite number"),
  );
  orch.registerAgent({ id: "a", handler: async () => 1 });
  for (const call of [() => orch.grantTools("a"), () => orch.grantTools("a", "tool"), () => orch.revokeTools("a", undefined)]) {
    assert.throws(call, (e) => e.code === "invalid_argument" && /names is an array/.test(e.message));
  }
  assert.throws(() => orch.verifyContracts(), (e) => e.code === "invalid_argument" && /needs a session id/.test(e.message));
  assert.equal(orch.journal().length, seq + 1, "only the agent registered");
  orch.close();
});
