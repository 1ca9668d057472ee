// The first seed's multi-agent trading system, translated to Baton.
//
// Three agents on the virtual clock (their latencies cost no real time): a market oracle, a risk
// manager and a trade executor. Cycle 1 runs them in the seed's manual style (create, start and
// complete each task yourself); cycle 2 lets Baton run the same steps as a workflow, with each
// agent receiving its upstream outputs. Callbacks print every lifecycle transition and the
// progress; an error is reported and recovered the seed's way (report, pause, recover, resume).
import init, { Orchestrator } from "baton";

await init();
const orch = new Orchestrator({ seed: 7, clock: "virtual", maxConcurrency: 16 });

const analyzeMarket = async (input, ctx) => {
  await ctx.sleep(120); // a slow market-data feed
  return { symbol: input.symbol, trend: "bullish", volatility: 0.18 };
};
const assessRisk = async (_input, ctx) => {
  await ctx.sleep(45);
  const market = ctx.upstream.analyze;
  return { risk: market.volatility + (market.trend === "bullish" ? 0 : 0.2) };
};
const executeTrade = async (input, ctx) => {
  await ctx.sleep(80);
  const { risk } = ctx.upstream.risk;
  return risk < 0.3 ? { filled: true, side: input.side, size: input.size } : { filled: false, reason: "risk too high" };
};

orch.registerAgent({ id: "market_oracle", name: "Market Analysis Agent", capabilities: ["analyze"], handler: analyzeMarket });
orch.registerAgent({ id: "risk_manager", name: "Risk Management Agent", capabilities: ["risk"], handler: assessRisk });
orch.registerAgent({ id: "executor", name: "Trade Execution Agent", capabilities: ["execute"], handler: executeTrade });

orch.on("agent.status", (e) => {
  const { agent, from, to, reason } = e.data;
  console.log(`[t=${String(e.at).padStart(4)}ms] ${agent.padEnd(13)} ${from} -> ${to} (${reason})`);
});
orch.on("task.completed", () => {
  const s = orch.statistics();
  console.log(`             progress: ${s.tasks_completed}/${s.total_tasks} tasks`);
});

for (const id of ["market_oracle", "risk_manager", "executor"]) orch.startAgent(id);

// Cycle 1: the seed's manual style.
console.log("\n-- cycle 1: tasks run by hand --");
const analysis = orch.createTask("market_oracle", "analyze_market");
orch.startTask(analysis);
orch.completeTask(analysis, { trend: "bullish" });
const riskTask = orch.createTask("risk_manager", "assess_risk");
orch.startTask(riskTask);
const riskLevel = 0.2;
orch.completeTask(riskTask, riskLevel);
if (riskLevel < 0.3) {
  const exec = orch.createTask("executor", "execute_trade");
  orch.startTask(exec);
  orch.completeTask(exec, { filled: true });
}

// An error, handled as the seed does: report it, pause, recover, resume.
orch.reportError("executor", "exchange timeout");
orch.pauseAgent("executor");
orch.resumeAgent("executor");

// Cycle 2: the same steps as a workflow that Baton runs.
console.log("\n-- cycle 2: a workflow run by Baton --");
const run = await orch.runWorkflow({
  id: "cycle-2",
  name: "Trading cycle",
  tasks: [
    { id: "analyze", agent: "market_oracle", input: { symbol: "BTC" } },
    { id: "risk", agent: "risk_manager" },
    { id: "execute", agent: "executor", input: { side: "buy", size: 0.5 } },
  ],
  dependencies: { risk: ["analyze"], execute: ["risk"] },
});
console.log(`workflow ${run.id}: ${run.status} at t=${run.finishedAt}ms, trade ${JSON.stringify(run.outputs.execute)}`);

const snapshot = orch.snapshot();
console.log(`\nsnapshot ${snapshot.id} at seq ${snapshot.seq} for the audit trail`);
for (const s of orch.snapshots(10)) {
  console.log(`  ${s.id}: ${s.reason}${s.subject ? ` (${s.subject})` : ""}, tasks ${s.taskCount}, completed ${s.completedCount}, agents ${JSON.stringify(s.agentsStatus)}`);
}

console.log("\nagents:");
for (const [id, a] of Object.entries(orch.agentsStatus())) {
  console.log(`  ${id}: ${a.status} (${a.error_count} errors, ${a.completed_tasks} tasks done)`);
}
console.log("\nstatistics:", orch.statistics());
console.log(`journal: ${orch.journal().length} records, sha256 ${orch.journalDigest()}`);
