// Failure handling through the JS API, on the virtual clock: retries, timeouts, cancellation,
// circuit breakers, rate limits, strategies, replay. Run in Node and Chrome (tests/js_api.rs) and
// against the installed package (tests/node/package.test.mjs).
import { assert, eq, throwsCode } from "./check.js";

const nowMs = () => (typeof performance !== "undefined" ? performance.now() : Date.now());

/** An agent that fails its first `n` calls per task, then answers. */
function flaky(n, answer = "ok") {
  return async (input, ctx) => {
    await ctx.sleep(10);
    if (ctx.attempt <= n) throw new Error(`attempt ${ctx.attempt} failed`);
    return answer;
  };
}

export async function retriesBackOffOnTheVirtualClock({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 21, clock: "virtual" });
  orch.registerAgent({ id: "f", handler: flaky(2), retry: { maxAttempts: 3, backoff: { initialMs: 1000, factor: 2, maxMs: 60000 } } });
  orch.startAgent("f");
  const retrying = [];
  let seen;
  orch.on("task.retrying", (e) => {
    retrying.push([e.data.attempt, e.data.delayMs]);
    seen = seen ?? orch.getTask(e.data.task);
  });
  const t = await orch.wait(orch.submit({ agent: "f" }));
  eq(retrying, [[1, 1000], [2, 2000]], "attempts and delays");
  eq([seen.status, seen.nextAttemptAt], ["Retrying", 1010], "a retrying task shows its next attempt");
  eq([t.status, t.attempts, t.output, orch.now()], ["Completed", 3, "ok", 3030], "third time lucky");
}

export async function aDayOfBackoffsAndBreakerRecoveriesRunsInWellUnderASecond({ Orchestrator }) {
  const started = nowMs();
  const orch = new Orchestrator({ seed: 22, clock: "virtual" });
  let calls = 0;
  orch.registerAgent({
    id: "svc",
    handler: async (_input, ctx) => { calls++; await ctx.sleep(100); if (calls < 40) throw new Error("down"); return calls; },
    retry: { maxAttempts: 60, backoff: { initialMs: 60_000, factor: 2, maxMs: 3_600_000 }, jitter: 0.3 },
    circuitBreaker: { failureThreshold: 3, recoveryMs: 3_600_000, successThreshold: 2 },
  });
  orch.startAgent("svc");
  const breaker = [];
  orch.on("agent.breaker", (e) => breaker.push(e.data.to));
  const tasks = await Promise.all([1, 2, 3].map(() => orch.wait(orch.submit({ agent: "svc" }))));
  const elapsed = nowMs() - started;
  eq(tasks.map((t) => t.status), ["Completed", "Completed", "Completed"], "all recovered");
  assert(orch.now() > 24 * 3_600_000, `a day of virtual time passed (${orch.now()} ms)`);
  assert(elapsed < 1000, `in ${elapsed} ms of real time`);
  assert(breaker.includes("open") && breaker.includes("half-open") && breaker.at(-1) === "closed", `breaker went ${breaker}`);
    eq(orch.agentsStatus().svc.breaker, "closed", "breaker visible in agentsStatus");
  orch.registerAgent({ id: "alias", breaker: { threshold: 2, resetMs: 1000, successes: 1 }, errorPolicy: { tool: "skip" } });
  eq(orch.agentsStatus().alias.breaker, "closed", "other common names for the same options");
}

export async function everyAgentHasABreakerWithTheDefaultsUnlessTurnedOff({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 23, clock: "virtual" });
  let failing = true;
  const handler = async () => { if (failing) throw new Error("down"); return "up"; };
  orch.registerAgent({ id: "plain", handler });
  orch.registerAgent({ id: "off", handler, circuitBreaker: false });
  orch.startAgent("plain");
  orch.startAgent("off");
  const breaker = [];
  orch.on("agent.breaker", (e) => breaker.push([e.data.agent, e.data.to, orch.now()]));
  for (let i = 0; i < 5; i++) {
    await orch.wait(orch.submit({ agent: "plain" }));
    await orch.wait(orch.submit({ agent: "off" }));
  }
  eq(orch.agentsStatus().plain.breaker, "open", "5 consecutive failures open it (the default)");
  eq(orch.agentsStatus().off.breaker, "closed", "circuitBreaker: false keeps it out of the way");
  failing = false;
  const waiting = orch.submit({ agent: "plain" });
  for (let i = 0; i < 2; i++) await orch.wait(orch.submit({ agent: "off" }));
  eq(orch.status(waiting), "Queued", "while open, its tasks wait");
  eq((await orch.wait(waiting)).output, "up", "after the recovery time a trial call goes through");
  const opened = breaker.find(([, to]) => to === "open")[2];
  eq(breaker.find(([, to]) => to === "half-open")[2] - opened, 60_000, "half-open after 60 s");
  for (let i = 0; i < 2; i++) await orch.wait(orch.submit({ agent: "plain" }));
  eq(breaker.map(([a, to]) => `${a}:${to}`), ["plain:open", "plain:half-open", "plain:closed"], "closed after 3 successes");
}

export async function jitterComesFromTheSeed({ Orchestrator }) {
  const delays = async (seed) => {
    const orch = new Orchestrator({ seed, clock: "virtual" });
    orch.registerAgent({ id: "j", handler: flaky(4), retry: { maxAttempts: 5, backoff: { initialMs: 1000 }, jitter: true } });
    orch.startAgent("j");
    const out = [];
    orch.on("task.retrying", (e) => out.push(e.data.delayMs));
    await orch.wait(orch.submit({ agent: "j" }));
    return out;
  };
  const a = await delays(1), b = await delays(1), c = await delays(2);
  eq(a, b, "same seed, same delays");
  assert(JSON.stringify(a) !== JSON.stringify(c), "another seed, other delays");
  assert(a.every((d, i) => d >= 0 && d < 1000 * 2 ** i), `full jitter stays under the backoff: ${a}`);
}

export async function aTimedOutAttemptIsAbortedAndItsLateAnswerIgnored({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 23, clock: "virtual" });
  let reason;
  orch.registerAgent({
    id: "slow",
    timeoutMs: 100,
    handler: async (_input, ctx) => {
      ctx.signal.addEventListener("abort", () => { reason = ctx.signal.reason; });
      await ctx.sleep(500); // answers anyway, late
      return "too late";
    },
  });
  orch.startAgent("slow");
  const ignored = [];
  orch.on("call.ignored", (e) => ignored.push(e.data.reason));
  const t = await orch.wait(orch.submit({ agent: "slow" }));
  eq([t.status, t.error.class, reason && reason.code], ["TimedOut", "timeout", "timeout"], "timed out, signal fired");
  await new Promise((r) => setTimeout(r, 5));
  assert(ignored.length === 1 && ignored[0].startsWith("late"), `the late answer is recorded: ${ignored}`);
  eq(orch.getTask(t.id).output, undefined, "and never applied");
}

export async function aHungAgentNeverBlocksTheOthers({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 24, clock: "virtual", maxConcurrency: 4 });
  orch.registerAgent({ id: "hangs", concurrency: 1, handler: () => new Promise(() => {}) });
  orch.registerAgent({ id: "works", handler: async (n, ctx) => { await ctx.sleep(5); return n * 2; } });
  orch.startAgent("hangs");
  orch.startAgent("works");
  orch.submit({ agent: "hangs" });
  orch.submit({ agent: "hangs" });
  const results = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => orch.wait(orch.submit({ agent: "works", input: n }))));
  eq(results.map((t) => t.output), [2, 4, 6, 8, 10, 12], "the others ran");
  eq(orch.statistics().tasks_running, 1, "one hung call holds one slot only");
}

export async function cancellationReachesRunningAgentsEverywhere({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 25, clock: "virtual" });
  const aborted = [];
  orch.registerAgent({ id: "a", concurrency: 1, handler: (_i, ctx) => new Promise((resolve) => ctx.signal.addEventListener("abort", () => { aborted.push(ctx.taskId); resolve(); })) });
  orch.startAgent("a");
  const wf = orch.submitWorkflow({ id: "w", tasks: [{ id: "x", agent: "a" }, { id: "y", agent: "a", dependsOn: ["x"] }] });
  const q = [orch.submit({ agent: "a" }), orch.submit({ agent: "a" })];
  await new Promise((r) => setTimeout(r, 1));
  orch.cancelWorkflow(wf);
  const result = await orch.waitWorkflow(wf);
  eq([result.status, result.tasks.x.status, result.tasks.y.status], ["Cancelled", "Cancelled", "Cancelled"], "workflow cancelled");
  eq(aborted, ["w/x"], "the running agent saw its signal");
  const n = orch.cancelAgentTasks("a");
  await new Promise((r) => setTimeout(r, 1));
  eq([n, orch.status(q[0]), orch.status(q[1])], [1, "Running", "Cancelled"], "queued tasks cancelled, running call left");
}

export async function rateLimitsHoldOnTheCoreClock({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 26, clock: "virtual" });
  const starts = [];
  orch.registerAgent({ id: "r", rateLimit: { perMinute: 60, burst: 1 }, handler: async (_i, ctx) => { starts.push(orch.now()); await ctx.sleep(1); } });
  orch.startAgent("r");
  await Promise.all([1, 2, 3].map(() => orch.wait(orch.submit({ agent: "r" }))));
  eq(starts, [0, 1000, 2000], "one call a second");
}

export async function strategiesPerErrorClass({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 27, clock: "virtual" });
  const fail = (cls) => async () => { const e = new Error(`${cls} trouble`); e.class = cls; throw e; };
  orch.registerAgent({ id: "backup", handler: async () => "from backup" });
  orch.registerAgent({ id: "primary", handler: fail("tool"), onError: { tool: "fallback" }, fallback: { agent: "backup" } });
  orch.registerAgent({ id: "picky", handler: fail("validation"), onError: { validation: "skip" } });
  orch.registerAgent({ id: "risky", handler: fail("permission"), onError: { permission: "escalate" } });
  for (const id of ["backup", "primary", "picky", "risky"]) orch.startAgent(id);
  const escalations = [];
  orch.on("escalation", (e) => escalations.push(e.data.agent));
  const fb = await orch.wait(orch.submit({ agent: "primary" }));
  eq([fb.status, fb.agent, fb.output], ["Completed", "backup", "from backup"], "fallback");
  const wf = await orch.runWorkflow({ tasks: [{ id: "a", agent: "picky" }, { id: "b", agent: "backup", dependsOn: ["a"] }] });
  eq([wf.status, wf.tasks.a.status, wf.tasks.b.status], ["Completed", "Skipped", "Completed"], "skip lets dependents go on");
  const esc = await orch.wait(orch.submit({ agent: "risky" }));
  eq([esc.status, escalations, orch.agentStatus("risky")], ["Failed", ["risky"], "Error"], "escalate");
  orch.registerAgent({ id: "fatal", handler: fail("internal"), onError: { internal: "terminate" } });
  orch.startAgent("fatal");
  orch.registerAgent({ id: "slowpoke", handler: (_i, ctx) => ctx.sleep(10_000) });
  orch.startAgent("slowpoke");
  const other = orch.submit({ agent: "slowpoke" });
  await orch.wait(orch.submit({ agent: "fatal" }));
  eq([orch.status(other), orch.statistics().terminated], ["Cancelled", true], "terminate cancels everything");
  throwsCode(() => orch.submit({ agent: "backup" }), "terminated", "terminated", "no new work after terminate");
}

export async function theFirstSeedsErrorPattern({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 28, clock: "virtual" });
  orch.registerAgent({ id: "executor", maxErrors: 3, handler: async (input) => { if (input.bad) throw new Error("rejected"); return "filled"; } });
  orch.startAgent("executor");
  orch.reportError("executor", "exchange timeout");
  orch.pauseAgent("executor");
  orch.resumeAgent("executor");
  for (let i = 0; i < 2; i++) await orch.wait(orch.submit({ agent: "executor", input: { bad: true } }));
  eq(orch.agentStatus("executor"), "Error", "too many errors: Error, automatically");
  const waiting = orch.submit({ agent: "executor", input: {} });
  orch.recoverAgent("executor");
  orch.startAgent("executor");
  eq((await orch.wait(waiting)).output, "filled", "recovered");
  eq(orch.agentsStatus().executor.error_count, 0, "recovering starts the count again");
  await orch.wait(orch.submit({ agent: "executor", input: { bad: true } }));
  eq(orch.agentStatus("executor"), "Running", "one error after recovering is one of maxErrors");
}

export async function replayAndVerifyReplay({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 29, clock: "virtual" });
  orch.registerAgent({ id: "f", handler: flaky(1, { deep: [1, 2] }), retry: { maxAttempts: 2, backoff: { initialMs: 50 }, jitter: 0.5 }, timeoutMs: 1000 });
  orch.startAgent("f");
  await Promise.all([1, 2, 3].map(() => orch.wait(orch.submit({ agent: "f", input: { x: 1 } }))));
  const journal = orch.journal();
  const replayed = Orchestrator.replay(journal);
  eq(replayed.statistics(), orch.statistics(), "replay rebuilds the same state without calling agents");
  const report = Orchestrator.verifyReplay(journal);
    eq([report.ok, report.records], [true, journal.length], "this build agrees with its own journal");
  eq(orch.verifyReplay().ok, true, "the instance form checks its own journal");
  const forged = journal.map((r) => (r.type === "task.retrying" ? { ...r, data: { ...r.data, delayMs: r.data.delayMs + 7, nextAttemptAt: r.data.nextAttemptAt + 7 } } : r));
  const bad = Orchestrator.verifyReplay(forged);
  const first = journal.find((r) => r.type === "task.retrying");
  eq([bad.ok, bad.divergence.seq, bad.divergence.actual.data.delayMs, bad.divergence.expected.data.delayMs], [false, first.seq, first.data.delayMs, first.data.delayMs + 7], "first divergence named");
  assert(bad.divergence.message.includes(`seq ${first.seq}`), bad.divergence.message);
}

export async function badPolicyInputIsACodedErrorAndChangesNothing({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 30, clock: "virtual" });
  orch.registerAgent({ id: "ok" });
  const before = orch.journalText();
  const agent = (extra) => () => orch.registerAgent({ id: "x", ...extra });
  throwsCode(agent({ retry: { maxAttempts: 0 } }), "invalid_argument", "maxAttempts", "maxAttempts 0");
  throwsCode(agent({ retry: { maxAttempts: -1 } }), "invalid_argument", "maxAttempts", "negative maxAttempts");
  throwsCode(agent({ retry: { maxAttempts: NaN } }), "invalid_argument", "maxAttempts", "NaN maxAttempts");
  throwsCode(agent({ retry: { maxAttempts: 2, jitter: 1.5 } }), "invalid_argument", "jitter", "jitter over 1");
  throwsCode(agent({ retry: { maxAttempts: 2, backoff: { factor: 0.5 } } }), "invalid_argument", "factor", "shrinking backoff");
  throwsCode(agent({ retry: { maxAttempts: 2, backoff: { initialMs: Infinity } } }), "invalid_argument", "initialMs", "infinite delay");
  throwsCode(agent({ timeoutMs: -5 }), "invalid_argument", "timeoutMs", "negative timeout");
  throwsCode(agent({ timeoutMs: 0 }), "invalid_argument", "timeoutMs", "zero timeout");
  throwsCode(agent({ onError: { agent: "explode" } }), "invalid_argument", "explode", "unknown strategy");
  throwsCode(agent({ onError: { gremlins: "retry" } }), "invalid_argument", "gremlins", "unknown error class");
  throwsCode(agent({ circuitBreaker: { failureThreshold: 0 } }), "invalid_argument", "circuitBreaker", "breaker threshold 0");
  throwsCode(agent({ rateLimit: { perMinute: 0 } }), "invalid_argument", "perMinute", "rate 0");
  throwsCode(agent({ fallback: { agent: "a", capability: "b" } }), "invalid_argument", "fallback", "two fallbacks");
  throwsCode(() => orch.submit({ agent: "ok", timeoutMs: NaN }), "invalid_argument", "timeoutMs", "NaN timeout on a task");
  throwsCode(() => orch.submit({ agent: "ok", retry: { maxAttempts: 1, backoff: { maxMs: -1 } } }), "invalid_argument", "maxMs", "negative maxMs");
  throwsCode(() => new Orchestrator({ retry: { maxAttempts: 0 } }), "invalid_argument", "maxAttempts", "orchestrator default");
  throwsCode(() => orch.cancelAgentTasks("ghost"), "unknown_agent", "ghost", "unknown agent");
  eq(orch.journalText(), before, "nothing changed");
}
