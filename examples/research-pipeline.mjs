// A research pipeline (seed 001): tasks that feed each other through a workflow. Each agent finds
// its upstream outputs in ctx.upstream; the workflow runs one task at a time.
import { Orchestrator } from "baton";

const orch = new Orchestrator({ seed: 1, clock: "virtual" });
orch.registerAgent({ id: "researcher", capabilities: ["research"], handler: async (input, ctx) => {
  await ctx.sleep(400);
  return { topic: input.topic, facts: ["compiles to wasm", "runs in browsers and at the edge", "replays deterministically"] };
} });
orch.registerAgent({ id: "analyst", capabilities: ["analyze"], handler: async (_input, ctx) => {
  await ctx.sleep(250);
  const { facts } = ctx.upstream.research;
  return { themes: facts.map((f) => f.split(" ")[0]), confidence: 0.8 };
} });
orch.registerAgent({ id: "writer", capabilities: ["write"], handler: async (_input, ctx) => {
  await ctx.sleep(300);
  const { research, analysis } = ctx.upstream;
  return `${research.topic}: ${analysis.themes.join(", ")} (${research.facts.length} facts, confidence ${analysis.confidence})`;
} });
for (const id of ["researcher", "analyst", "writer"]) orch.startAgent(id);

const run = await orch.runWorkflow({
  id: "research-pipeline",
  pattern: "sequential",
  tasks: [
    { id: "research", agent: "researcher", input: { topic: "Baton" } },
    { id: "analysis", agent: "analyst" },
    { id: "report", agent: "writer" },
  ],
  dependencies: { analysis: ["research"], report: ["research", "analysis"] },
});
console.log(`workflow ${run.id}: ${run.status} at t=${run.finishedAt}ms`);
console.log(`report: ${run.outputs.report}`);
