// Consensus and debate (seed 001's agent patterns): three experts vote with a 0.66 threshold,
// then two agents debate for three rounds before a judge.
import { Orchestrator } from "baton";

const orch = new Orchestrator({ seed: 2, clock: "virtual" });
const opinions = { security: "approve", performance: "approve", ux: "reject" };
for (const [id, vote] of Object.entries(opinions)) {
  orch.registerAgent({ id, handler: async (input) => ({ vote, reasoning: `${id}: ${vote === "approve" ? "no concerns" : "too many clicks"} for "${input.task}"` }) });
  orch.startAgent(id);
}
const vote = await orch.consensus("Should we approve this feature?", Object.keys(opinions), { threshold: 0.66 });
console.log(`consensus: ${vote.decision} (${vote.approvals}/${vote.total} approve, threshold ${vote.threshold})`);
for (const [agent, why] of Object.entries(vote.reasoning)) console.log(`  ${agent}: ${vote.votes[agent]} - ${why}`);

orch.registerAgent({ id: "optimist", handler: async (t) => `Round ${t.round}: ${t.topic} pays for itself.` });
orch.registerAgent({ id: "skeptic", handler: async (t) => ({ argument: `Round ${t.round}: ${t.topic} adds risk.` }) });
orch.registerAgent({ id: "judge", handler: async (t) => ({ winner: "pro", verdict: `After ${t.transcript.length} arguments the benefits outweigh the risk.` }) });
for (const id of ["optimist", "skeptic", "judge"]) orch.startAgent(id);
const debate = await orch.debate("Moving to the edge", { pro: "optimist", con: "skeptic", judge: "judge", rounds: 3 });
for (const t of debate.transcript) console.log(`  [${t.round}] ${t.side} (${t.agent}): ${t.argument}`);
console.log(`debate: winner ${debate.winner}, verdict "${debate.finalVerdict}"`);
