// A supervisor delegating to three specialists (seed 001): the lead plans delegations, Baton runs
// them (by agent or by capability) and hands their outputs back until the lead answers.
import { Orchestrator } from "baton";

const orch = new Orchestrator({ seed: 3, clock: "virtual" });
orch.registerAgent({ id: "lead", handler: async (ctx) => {
  if (ctx.results.length === 0) {
    return { delegations: [
      { agent: "researcher", input: "AI trends in 2026" },
      { capability: "writing", input: "a two-line summary" },
      { agent: "editor", input: "house style" },
    ] };
  }
  return { final: ctx.results.map((r) => `${r.agent}: ${r.output}`) };
} });
orch.registerAgent({ id: "researcher", handler: async (topic, ctx) => { await ctx.sleep(200); return `notes on ${topic}`; } });
orch.registerAgent({ id: "writer", capabilities: ["writing"], handler: async (brief, ctx) => { await ctx.sleep(150); return `draft of ${brief}`; } });
orch.registerAgent({ id: "editor", handler: async (style, ctx) => { await ctx.sleep(100); return `edited to ${style}`; } });
for (const id of ["lead", "researcher", "writer", "editor"]) orch.startAgent(id);

const result = await orch.supervisor("Write a research report on AI trends", ["lead", "researcher", "writer", "editor"], "Coordinate the team to produce a report");
console.log(`supervisor: ${result.status} after ${result.rounds} rounds, t=${orch.now()}ms`);
for (const line of result.answer) console.log(`  ${line}`);
