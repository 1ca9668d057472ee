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

test("values JSON cannot hold, and values with no string form, are refused with a code, not a TypeError", () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  const seq = orch.journal().length;
  const noString = Object.create(null);
  const throwing = { toString() { throw new Error("the user's own"); } };
  const refusals = [
    () => orch.registerAgent({ id: "b", handler: async () => 1, concurrency: 2n }),
    () => orch.submit({ agent: "a", priority: 1n }),
    () => orch.snapshots(Symbol("x")),
    () => new Orchestrator({ seed: noString }),
    () => new Orchestrator({ seed: 1n }),
    () => orch.registerAgent({ id: Symbol("x"), handler: 1 }),
  ];
  for (const call of refusals) assert.throws(call, (e) => e.code === "invalid_argument", String(call));
  orch.registerAgent({ id: "a", handler: async () => 1 });
  const cyclic = { agent: "a" };
  cyclic.self = cyclic;
  assert.throws(() => orch.submit(cyclic), (e) => e.code === "invalid_argument" && /circular/i.test(e.message));
  // A task created by hand takes only what it uses: a timeout, retry or other agent given would
  // be dropped without a word.
  for (const options of [{ timeoutMs: 5 }, { retry: { maxAttempts: 3 } }, { agent: "zz" }, { capability: "c" }, { input: 5 }]) {
    assert.throws(() => orch.createTask("a", "n", options), (e) => e.code === "invalid_argument" && e.message.includes(`not '${Object.keys(options)[0]}'`));
  }
  // An Invalid Date is named, not read as a missing field; an id with half a surrogate pair too.
  assert.throws(() => orch.schedule({ at: new Date(NaN) }, { agent: "a" }), (e) => e.code === "invalid_argument" && /schedule\.at: an Invalid Date/.test(e.message));
  assert.throws(() => orch.registerAgent({ id: "x\uD800y" }), (e) => e.code === "invalid_argument" && /lone UTF-16 surrogate/.test(e.message));
  const id = orch.createTask("a", "input");
  assert.throws(() => orch.cancel(id, throwing), (e) => e.code === "invalid_argument" && /reason/.test(e.message));
  assert.equal(orch.journal().length, seq + 2, "the agent registered and the task created, nothing more");
  orch.cancel(id, new Error("no longer needed"));
  assert.equal(orch.getTask(id).status, "Cancelled");
  orch.close();
});

test("an Error whose message is not a string fails its task with what it holds, and the run goes on", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  const shapes = [
    () => Object.assign(new Error("x"), { message: 404 }),
    () => Object.assign(new Error("x"), { message: { status: 500 } }),
    () => Object.assign(new Error(""), { name: {} }),
    () => { const e = new Error("x"); Object.defineProperty(e, "message", { get() { throw new Error("no"); } }); return e; },
  ];
  let n = 0;
  orch.registerAgent({ id: "a", handler: async () => { throw shapes[n++](); } });
  orch.startAgent("a");
  const messages = [];
  for (let i = 0; i < shapes.length; i++) {
    const task = await orch.wait(orch.submit({ agent: "a", input: i }));
    assert.equal(task.status, "Failed");
    messages.push(task.error.message);
  }
  assert.deepEqual(messages, ["404", '{"status":500}', "{}", "an error whose message could not be read"]);
  orch.reportError("a", Object.assign(new Error("x"), { message: 7 }));
  const status = orch.agentsStatus().a;
  assert.equal(status.error_count, 5, "four failed tasks and one report");
  assert.equal(status.last_error, "7");
  orch.close();
});
