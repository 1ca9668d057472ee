// Behaviour of the JS API, written once and run everywhere: by wasm-bindgen-test in Node and in
// headless Chrome (tests/js_api.rs), and by node --test against the built package. Each scenario
// takes `{ Orchestrator, BatonError }` and throws on failure.

import { assert, eq, throwsCode, rejectsCode } from "./check.js";

// The digest every runtime must produce for `tradingRun` (Node, Chrome, the native core agree).
export const TRADING_DIGEST = "00eb3bb8722b6bcba7332be9579b9b9d00a9e408896d9186f0585b1c79167842";

/** The first seed's trading cycle, on the virtual clock, with agents of different latencies. */
export async function tradingRun({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 2024, clock: "virtual", maxConcurrency: 4 });
  const latency = { market_oracle: 120, risk_manager: 45, sentiment: 70, executor: 80 };
  for (const [id, ms] of Object.entries(latency)) {
    orch.registerAgent({
      id,
      name: id.replace("_", " "),
      concurrency: id === "risk_manager" ? 1 : 2,
      handler: async (input, ctx) => {
        await ctx.sleep(ms);
        if (input && input.fail) throw new Error(`${id} refused ${input.symbol}`);
        return { by: id, at: ctx.taskId, attempt: ctx.attempt, upstream: ctx.upstream, input };
      },
    });
    orch.startAgent(id);
  }
  const seen = [];
  orch.on("task.completed", (e) => seen.push(e.data.task));
  const run = await orch.runWorkflow({
    id: "cycle-1",
    name: "Trading cycle",
    tasks: [
      { id: "analyze", agent: "market_oracle", input: { symbol: "BTC", window: [1, 2, 3] } },
      { id: "risk", agent: "risk_manager", input: { limit: 0.3 } },
      { id: "mood", agent: "sentiment", input: { sources: ["news", "social"] } },
      { id: "execute", agent: "executor", input: { side: "buy", size: 1.25 } },
    ],
    dependencies: { risk: ["analyze"], mood: ["analyze"], execute: ["risk", "mood"] },
  });
  eq(run.status, "Completed", "workflow status");
  const ids = [];
  for (let i = 0; i < 6; i++) {
    ids.push(orch.submit({ agent: i % 2 ? "risk_manager" : "market_oracle", input: { symbol: `S${i}`, fail: i === 3 }, priority: 1 + (i % 3) }));
  }
  const tasks = await Promise.all(ids.map((id) => orch.wait(id)));
  eq(tasks.map((t) => t.status), ["Completed", "Completed", "Completed", "Failed", "Completed", "Completed"], "task statuses");
  orch.emit("cycle.done", { completed: seen.length });
  return { digest: orch.journalDigest(), journal: orch.journalText(), run, stats: orch.statistics(), now: orch.now() };
}

export async function determinismHoldsWithinARuntime(baton) {
  const a = await tradingRun(baton);
  const b = await tradingRun(baton);
  eq(a.digest, b.digest, "two runs, one digest");
  assert(a.journal === b.journal, "byte-identical journals");
  eq(a.run.outputs.execute.upstream.risk.by, "risk_manager", "upstream outputs reach the agent");
  eq(a.now, 510, "virtual time advanced only as the agents slept");
  return a.digest;
}

export async function quickStartWorks({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 7, clock: "virtual", maxConcurrency: 16 });
  orch.registerAgent({ id: "oracle", name: "Market Oracle", capabilities: ["analyze"], handler: async (input) => ({ trend: "bullish", symbol: input.symbol }) });
  orch.startAgent("oracle");
  const id = orch.submit({ agent: "oracle", input: { symbol: "X" }, priority: 1 });
  const task = await orch.wait(id);
  eq(task.status, "Completed", "status");
  eq(task.output, { trend: "bullish", symbol: "X" }, "output");
  eq(orch.statistics().tasks_completed, 1, "tasks_completed");
}

export async function lifecycleAndHistory({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  orch.registerAgent({ id: "a" });
  eq(orch.agentStatus("a"), "Created", "registered");
  orch.startAgent("a");
  orch.pauseAgent("a");
  orch.resumeAgent("a");
  orch.stopAgent("a");
  eq(orch.agentHistory("a").map((t) => `${t.from}>${t.to}:${t.reason}`),
    ["Created>Initializing:start", "Initializing>Ready:start", "Ready>Running:start", "Running>Paused:pause", "Paused>Running:resume", "Running>Stopped:stop"],
    "history");
  eq(orch.agentsStatus().a.status, "Stopped", "agentsStatus");
  orch.updateAgent("a", { name: "Agent A", capabilities: ["sum"], concurrency: 2 });
  const a = orch.agentsStatus().a;
  eq([a.name, a.capabilities, a.concurrency, a.status], ["Agent A", ["sum"], 2, "Stopped"], "updated, status unchanged");
  orch.updateAgent("a", { concurrency: null, maxErrors: 3 });
  eq([orch.agentsStatus().a.concurrency, orch.agentsStatus().a.max_errors], [null, 3], "null: unlimited; maxErrors shown");
}

export async function pausedAgentsTakeNoTasksAndPriorityHolds({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  const order = [];
  orch.registerAgent({ id: "w", concurrency: 1, handler: async (input, ctx) => { order.push(input); await ctx.sleep(10); } });
  orch.startAgent("w");
  orch.pauseAgent("w");
  const ids = [5, 1, 3, 1, 2].map((p, i) => orch.submit({ agent: "w", input: `p${p}#${i}`, priority: p }));
  await new Promise((r) => setTimeout(r, 5));
  eq(order, [], "a paused agent took a task");
  eq(orch.status(ids[0]), "Queued", "queued while paused");
  orch.resumeAgent("w");
  await Promise.all(ids.map((id) => orch.wait(id)));
  eq(order, ["p1#1", "p1#3", "p2#4", "p3#2", "p5#0"], "priority, then submission order");
}

export async function concurrencyLimitsHold({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 3, clock: "virtual", maxConcurrency: 3 });
  let running = 0, peak = 0, peakA = 0, runningA = 0;
  const make = (id) => async (_input, ctx) => {
    running++; if (id === "a") runningA++;
    peak = Math.max(peak, running); peakA = Math.max(peakA, runningA);
    await ctx.sleep(5 + (ctx.attempt % 3));
    running--; if (id === "a") runningA--;
  };
  for (const id of ["a", "b"]) {
    orch.registerAgent({ id, concurrency: id === "a" ? 2 : undefined, handler: make(id) });
    orch.startAgent(id);
  }
  const ids = [];
  for (let i = 0; i < 20; i++) ids.push(orch.submit({ agent: i % 2 ? "a" : "b" }));
  await Promise.all(ids.map((id) => orch.wait(id)));
  eq([peak, peakA], [3, 2], "global 3, agent a 2");
}

export async function failuresAreDataAndTheOrchestratorGoesOn({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 4, clock: "virtual" });
  orch.registerAgent({ id: "bad", handler: async (input) => { if (input === "throw") throw new Error("kaput"); if (input === "string") throw "plain string"; if (input === "sync") { throw new TypeError("sync boom"); } return "fine"; } });
  orch.startAgent("bad");
  const ids = ["throw", "string", "sync", "ok"].map((input) => orch.submit({ agent: "bad", input }));
  const tasks = await Promise.all(ids.map((id) => orch.wait(id)));
  eq(tasks.map((t) => t.status), ["Failed", "Failed", "Failed", "Completed"], "statuses");
  eq(tasks.map((t) => t.error && t.error.message), ["kaput", "plain string", "sync boom", undefined], "messages");
  eq(tasks[0].error.class, "agent", "class");
  eq(orch.agentsStatus().bad.error_count, 3, "errors counted");
}

export async function workflowPoliciesAndSkips({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 5, clock: "virtual" });
  orch.registerAgent({ id: "x", handler: async (input, ctx) => { await ctx.sleep(input.ms); if (input.fail) throw new Error("no"); return ctx.taskId; } });
  orch.startAgent("x");
  const spec = (id, failurePolicy) => ({
    id, failurePolicy,
    tasks: [
      { id: "a", agent: "x", input: { ms: 10, fail: true } },
      { id: "b", agent: "x", input: { ms: 5 }, dependsOn: ["a"] },
      { id: "c", agent: "x", input: { ms: 30 } },
    ],
  });
  const ff = await orch.runWorkflow(spec("ff", "failFast"));
  eq([ff.status, ff.tasks.a.status, ff.tasks.b.status, ff.tasks.c.status, ff.failedTask, ff.tasks[ff.failedTask].id], ["Failed", "Failed", "Cancelled", "Cancelled", "a", "ff/a"], "fail fast");
  const co = await orch.runWorkflow(spec("co", "continue"));
  eq([co.status, co.tasks.b.status, co.tasks.c.status, co.outputs.c], ["Failed", "Skipped", "Completed", "co/c"], "continue");
  const snaps = orch.snapshots(5);
  eq(snaps.slice(0, 2).map((s) => [s.reason, s.subject]), [["workflow.failed", "co"], ["workflow.failed", "ff"]], "automatic snapshots");
}

export async function cancellationReachesTheAgent({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 6, clock: "virtual" });
  let aborted = false;
  orch.registerAgent({ id: "slow", handler: (input, ctx) => new Promise((resolve) => {
    ctx.signal.addEventListener("abort", () => { aborted = true; resolve("late"); });
  }) });
  orch.startAgent("slow");
  const id = orch.submit({ agent: "slow" });
  await new Promise((r) => setTimeout(r, 1));
  orch.cancel(id, "not needed");
  const t = await orch.wait(id);
  await new Promise((r) => setTimeout(r, 1));
  eq([t.status, aborted, orch.getTask(id).output], ["Cancelled", true, undefined], "cancelled, aborted, late result ignored");
}

export async function manualTasksAndErrors({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 8, clock: "virtual" });
  orch.registerAgent({ id: "market_oracle", name: "Market Oracle", maxErrors: 2 });
  orch.startAgent("market_oracle");
  const t = orch.createTask("market_oracle", "analyze_market");
  eq(orch.status(t), "Pending", "created");
  orch.startTask(t);
  orch.completeTask(t, { trend: "bullish" });
  eq(orch.getTask(t).output, { trend: "bullish" }, "result");
  orch.reportError("market_oracle", "feed down");
  orch.pauseAgent("market_oracle");
  orch.resumeAgent("market_oracle");
  orch.reportError("market_oracle", "feed down again");
  eq(orch.agentStatus("market_oracle"), "Error", "too many errors");
  eq(orch.snapshots(1)[0].reason, "agent.error", "automatic snapshot");
  const s = orch.statistics();
  eq([s.tasks_completed, s.total_tasks, s.agent_errors], [1, 1, 2], "statistics");
}

export async function eventsReachListenersAndIterators({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 9, clock: "virtual" });
  orch.registerAgent({ id: "e", handler: async () => 1 });
  orch.startAgent("e");
  const exact = [], wild = [];
  const off = orch.on("task.completed", (e) => exact.push(e.type));
  orch.on("task.*", (e) => wild.push(e.type));
  const iter = orch.events("custom.*");
  await orch.wait(orch.submit({ agent: "e" }));
  off();
  await orch.wait(orch.submit({ agent: "e" }));
  orch.emit("custom.hello", { n: 1 });
  const first = await iter.next();
  await iter.return();
  eq(exact, ["task.completed"], "exact topic, unsubscribed after one");
  eq(wild, ["task.created", "task.queued", "task.started", "task.completed", "task.created", "task.queued", "task.started", "task.completed"], "wildcard");
    eq([first.value.type, first.value.topic, first.value.data], ["custom.hello", "custom.hello", { n: 1 }], "async iterator");
}

export async function snapshotRestoreAndReplay({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 10, clock: "virtual" });
  let release;
  orch.registerAgent({ id: "a", handler: async (input, ctx) => { if (ctx.attempt === 1 && input === "hang") await new Promise((r) => { release = r; }); return `${input}@${ctx.attempt}`; } });
  orch.startAgent("a");
  const done = orch.submit({ agent: "a", input: "quick" });
  await orch.wait(done);
  const hung = orch.submit({ agent: "a", input: "hang" });
  await new Promise((r) => setTimeout(r, 1));
  const snap = orch.snapshot();
  eq(snap.format, "baton.snapshot", "format");
  const again = Orchestrator.restore(JSON.parse(JSON.stringify(snap)), { clock: "virtual", agents: { a: async (input, ctx) => `${input}@${ctx.attempt}` } });
  const t = await again.wait(hung);
  eq([t.status, t.output, again.getTask(done).output], ["Completed", "hang@2", "quick@1"], "in-flight call re-issued with the next attempt");
  const replayed = Orchestrator.replay(orch.journal());
  eq(replayed.journalText(), orch.journalText(), "replay reproduces the journal byte for byte");
  eq(replayed.statistics().tasks_completed, 1, "replayed state");
  const early = Orchestrator.replay(orch.journalText(), { uptoSeq: 3 });
  eq(early.statistics().journal_seq, 3, "time travel");
  release?.();
}

export async function badInputIsACodedErrorAndChangesNothing({ Orchestrator, BatonError }) {
  const orch = new Orchestrator({ seed: 11, clock: "virtual" });
  orch.registerAgent({ id: "a", handler: async () => 1 });
  const before = orch.journalText();
  throwsCode(() => orch.startAgent("ghost"), "unknown_agent", "ghost", "unknown agent");
  throwsCode(() => orch.submit({ agent: "ghost" }), "unknown_agent", "ghost", "submit to unknown agent");
  throwsCode(() => orch.pauseAgent("a"), "illegal_transition", "Created to Paused", "illegal transition");
  throwsCode(() => orch.registerAgent({ id: "b", handler: "not a function" }), "invalid_argument", "handler", "non-function handler");
  throwsCode(() => orch.registerAgent({ id: "a" }), "duplicate_id", "'a'", "duplicate agent id");
  throwsCode(() => orch.submitWorkflow({ tasks: [{ id: "x", agent: "a", dependsOn: ["y"] }, { id: "y", agent: "a", dependsOn: ["x"] }] }), "cycle", "x -> y", "cycle");
  throwsCode(() => orch.submitWorkflow({ tasks: [{ id: "x", agent: "a" }, { id: "x", agent: "a" }] }), "duplicate_id", "x", "duplicate task id");
  throwsCode(() => orch.submitWorkflow({ tasks: [{ id: "x", agent: "a", dependsOn: ["nope"] }] }), "unknown_dependency", "nope", "unknown dependency");
  throwsCode(() => orch.submitWorkflow({ tasks: [{ id: "x", agent: "a" }], dependencies: { nope: ["x"] } }), "unknown_dependency", "nope", "unknown task in dependencies");
  throwsCode(() => orch.submitWorkflow({ pattern: "supervisor", task: "t", agents: ["a"] }), "invalid_argument", "supervisor", "a supervisor workflow without its supervisor");
  throwsCode(() => orch.submit({ agent: "a", priority: 0 }), "invalid_argument", "priority", "bad priority");
  throwsCode(() => orch.wait && orch.getTask("task-404"), "unknown_task", "task-404", "unknown task");
  throwsCode(() => new Orchestrator({ clock: "sundial" }), "invalid_argument", "clock", "bad clock");
  throwsCode(() => new Orchestrator({ seed: -1 }), "invalid_argument", "seed", "bad seed");
  throwsCode(() => orch.on("task.*", 42), "invalid_argument", "fn", "non-function listener");
  throwsCode(() => orch.emit("task.completed", {}), "invalid_argument", "built-in", "reserved topic");
  await rejectsCode(orch.runWorkflow({ tasks: [{ id: "x", agent: "a", dependsOn: ["x"] }] }), "cycle", "runWorkflow rejects");
  const e = throwsCode(() => orch.resumeAgent("a"), "illegal_transition", "Created", "resume");
  assert(e instanceof BatonError, "errors from the core are BatonErrors");
  eq(orch.journalText(), before, "nothing changed");
}

export async function replayIsAPictureUntilMadeLive({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 12, clock: "virtual" });
  let calls = 0;
    orch.registerAgent({ id: "a", handler: async (_i, ctx) => { calls++; await ctx.sleep(Infinity); } });
  orch.startAgent("a");
  const id = orch.submit({ agent: "a" });
  await new Promise((r) => setTimeout(r, 1));
  const journal = orch.journal();
  const picture = Orchestrator.replay(journal, { agents: { a: async () => "again" } });
  await new Promise((r) => setTimeout(r, 5));
  eq([picture.status(id), calls], ["Running", 1], "a replay runs nothing by itself");
  const fork = Orchestrator.replay(journal, { live: true, agents: { a: async () => "forked" } });
  const t = await fork.wait(id);
    eq([t.status, t.output, t.attempts], ["Completed", "forked", 2], "live: the run goes on from there");
  orch.close();
  throwsCode(() => orch.submit({ agent: "a" }), "closed", "closed", "a closed orchestrator");
  throwsCode(() => new Orchestrator({ sede: 1 }), "invalid_argument", "sede", "a misspelt option");
}

export async function closeRejectsPendingWaits({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 13, clock: "virtual" });
  orch.registerAgent({ id: "h", handler: () => new Promise(() => {}) });
  orch.startAgent("h");
  const pending = orch.wait(orch.submit({ agent: "h" }));
  orch.close();
  await rejectsCode(pending, "closed", "a pending wait");
}
