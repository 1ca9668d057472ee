// A live replay (a fork) goes on from the end of the command its last record belongs to: from the
// middle of one it would rest in a state no run rests in, and wait for ever.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "../../pkg/node.js";

const within = (p, ms, what) => Promise.race([p, new Promise((_, no) => setTimeout(() => no(new Error(`${what} did not settle in ${ms} ms`)), ms))]);

test("a fork at a failed attempt goes on with its retry; an automatic snapshot restores to a live state", async () => {
  const flaky = async (x, ctx) => {
    await ctx.sleep(10);
    if (ctx.attempt === 1) throw new Error("first attempt fails");
    return x * 2;
  };
  const orch = new Orchestrator({ seed: 9, clock: "virtual" });
  orch.registerAgent({ id: "a", maxErrors: 1, retry: { maxAttempts: 2, backoff: { initialMs: 100 } }, handler: flaky });
  orch.startAgent("a");
  const id = orch.submit({ agent: "a", input: 21 });
  // The failure puts the agent in Error (maxErrors 1): recovered, it runs the retry.
  await within(new Promise((resolve) => orch.on("snapshot.created", resolve)), 5_000, "the agent's snapshot");
  orch.recoverAgent("a");
  orch.startAgent("a");
  await within(orch.wait(id), 5_000, "the first run");
  const journal = orch.journalText();
  const failed = orch.journal().find((r) => r.type === "task.attempt_failed");
  const types = orch.journal().map((r) => r.type);
  // The agent's automatic snapshot comes after the failure's retry decision.
  assert.ok(types.indexOf("task.retrying") < types.indexOf("snapshot.created"), types.join(" "));
  const auto = orch.snapshots().find((s) => s.reason === "agent.error");
  const snap = orch.getSnapshot(auto.id);
  orch.close();

  const fork = Orchestrator.replay(journal, { uptoSeq: failed.seq, live: true, agents: { a: flaky } });
  fork.recoverAgent("a");
  fork.startAgent("a");
  const t = await within(fork.wait(id), 5_000, "the fork's task");
  assert.deepEqual([t.status, t.output, t.attempts], ["Completed", 42, 2]);
  fork.close();

  const restored = Orchestrator.restore(snap, { clock: "virtual", agents: { a: flaky } });
  restored.recoverAgent("a");
  restored.startAgent("a");
  const r = await within(restored.wait(id), 5_000, "the restored task");
  assert.deepEqual([r.status, r.output], ["Completed", 42]);
  restored.close();
});
