// A call that is over (timed out, cancelled, or answered) speaks for no attempt any more: what
// its handler, still running, asks of its context is refused with a code, and changes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "../../pkg/node.js";

const realTick = (ms) => new Promise((r) => setTimeout(r, ms));

test("a handler that outlives its timeout can no longer call tools, send or emit; its retry gets the tool", async () => {
  const orch = new Orchestrator({ seed: 3, clock: "real" });
  let charges = 0;
  orch.registerTool("charge", async () => ++charges, { rateLimit: { perMinute: 1 } });
  const refused = [];
  orch.registerAgent({
    id: "payer",
    timeoutMs: 50,
    retry: { maxAttempts: 2, backoff: { initialMs: 1 } },
    handler: async (input, ctx) => {
      if (ctx.attempt === 1) {
        await realTick(150); // real I/O that ignores the signal, past the timeout
        assert.equal(ctx.signal.aborted, true);
        for (const act of [() => ctx.callTool("charge", {}), async () => ctx.send("b", "late"), async () => ctx.emit("late.note", 1)]) {
          await act().then(() => refused.push("allowed"), (e) => refused.push(`${e.name} ${e.code}`));
        }
        return "late";
      }
      return ctx.callTool("charge", {});
    },
  });
  orch.registerAgent({ id: "b", handler: async () => "b" });
  orch.grantTools("payer", ["charge"]);
  orch.startAgent("payer");
  const id = orch.submit({ agent: "payer", input: 1 });
  const task = await orch.wait(id);
  await realTick(200); // the first attempt's handler has run to its end
  assert.equal(task.status, "Completed");
  assert.equal(task.output, 1, "the retry was charged, once");
  assert.deepEqual(refused, ["BatonError timeout", "BatonError timeout", "BatonError timeout"]);
  assert.equal(charges, 1);
  const topics = orch.journal().map((r) => r.type);
  assert.ok(!topics.includes("message.sent") && !topics.includes("late.note"), topics.join(" "));
  assert.equal(topics.filter((t) => t === "tool.called").length, 1);
  orch.close();
});

test("after a call answered, its context refuses with invalid_state; a cancelled one with cancelled", async () => {
  const orch = new Orchestrator({ seed: 4, clock: "virtual" });
  let kept;
  orch.registerAgent({ id: "a", handler: async (input, ctx) => { kept = ctx; return input; } });
  orch.registerAgent({ id: "b", handler: async () => "b" });
  orch.startAgent("a");
  await orch.wait(orch.submit({ agent: "a", input: 1 }));
  assert.throws(() => kept.send("b", "after"), (e) => e.code === "invalid_state" && /already answered/.test(e.message));
  await assert.rejects(kept.callTool("x", {}), (e) => e.code === "invalid_state");

  let started;
  const running = new Promise((r) => { started = r; });
  orch.registerAgent({ id: "slow", handler: (input, ctx) => { kept = ctx; started(); return new Promise(() => {}); } });
  orch.startAgent("slow");
  const id = orch.submit({ agent: "slow", input: 1 });
  await running;
  orch.cancel(id);
  assert.throws(() => kept.emit("after.cancel", 1), (e) => e.code === "cancelled");
  assert.throws(() => kept.inbox(), (e) => e.code === "cancelled");
  orch.close();
});

test("a tool's rate-limit refusal says when its next token comes; uncaught, the task's retry waits for it", async () => {
  const orch = new Orchestrator({ seed: 4, clock: "virtual" });
  let searches = 0;
  orch.registerTool("search", async () => ++searches, { rateLimit: { perMinute: 6, burst: 1 } });
  const starts = [];
  let refusal;
  orch.registerAgent({
    id: "researcher",
    tools: ["search"],
    retry: { maxAttempts: 3, backoff: { initialMs: 1 } },
    handler: async (_input, ctx) => {
      starts.push(orch.now());
      await ctx.callTool("search", {});
      try {
        return await ctx.callTool("search", {}); // the bucket holds one token: refused
      } catch (e) {
        refusal ??= e;
        throw e;
      }
    },
  });
  orch.startAgent("researcher");
  const task = await orch.wait(orch.submit({ agent: "researcher" }));
  assert.equal(refusal.code, "rate_limit");
  assert.equal(refusal.retryAfterMs, 10_000, "one token every 10 s");
  assert.match(refusal.message, /retry after 10 s/);
  // Every attempt is refused its second search, each retry 10 s after the one before.
  assert.equal(task.status, "Failed");
  assert.equal(task.error.class, "rate_limit");
  assert.deepEqual(starts, [0, 10_000, 20_000]);
  assert.equal(searches, 3);
  assert.ok(orch.verifyReplay().ok);
  orch.close();
});

// A timer set for a deadline that is gone (the call answered inside its timeout, the retry was
// cancelled) is cleared: a script whose work is done exits then, not when the timer would fire.
test("a deadline that no longer stands does not hold the process open", async () => {
  const { execFileSync } = await import("node:child_process");
  const pkg = new URL("../../pkg/node.js", import.meta.url).href;
  const script = `
    import { Orchestrator } from ${JSON.stringify(pkg)};
    const o = new Orchestrator({ clock: "real" });
    o.registerAgent({ id: "a", handler: async (x) => { if (x === "fail") throw new Error("no"); return x; } });
    o.startAgent("a");
    await o.wait(o.submit({ agent: "a", input: "ok", timeoutMs: 5000 }));
    const id = o.submit({ agent: "a", input: "fail", retry: { maxAttempts: 3, backoff: { initialMs: 5000 } } });
    while (o.getTask(id).status !== "Retrying") await new Promise((r) => setTimeout(r, 5));
    o.cancel(id);
    await o.wait(id);
  `;
  const started = Date.now();
  execFileSync(process.execPath, ["--input-type=module", "-e", script], { stdio: "inherit", timeout: 20_000 });
  const took = Date.now() - started;
  assert.ok(took < 3000, `the process exited after ${took} ms (a 5 s timer held it)`);
});
