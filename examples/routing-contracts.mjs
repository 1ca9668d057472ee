// Capability routing with contracts (seed 004): requests go to the least-loaded agent with the
// capability; every call records hash-chained REQUEST and RESPONSE contracts under its session,
// which a summarizer then compresses into the session's memory.
import { Orchestrator } from "baton";

const orch = new Orchestrator({ seed: 5, clock: "virtual" });
for (const id of ["oracle-a", "oracle-b"]) {
  orch.registerAgent({ id, capabilities: ["market-analysis"], handler: async (p, ctx) => { await ctx.sleep(50); return { symbol: p.symbol, trend: p.symbol.length % 2 ? "up" : "down", by: id }; } });
  orch.startAgent(id);
}
orch.registerAgent({ id: "summarizer", handler: async (s) => ({ summary: `${s.contracts.length / 2} analyses: ${s.contracts.filter((c) => c.kind === "RESPONSE").map((c) => `${c.payload.symbol} ${c.payload.trend}`).join(", ")}` }) });
orch.startAgent("summarizer");

const answers = await Promise.all(["BTC", "ETH", "SOL"].map((symbol) => orch.orchestrate("desk-1", { capability: "market-analysis", parameters: { symbol } })));
for (const a of answers) console.log(`${a.taskId} -> ${a.agent}: ${JSON.stringify(a.result)}`);

const contracts = orch.contracts({ sessionId: "desk-1" });
for (const c of contracts) console.log(`  ${c.id} ${c.kind.padEnd(8)} ${c.from} -> ${c.to} ${c.status} ${c.hash.slice(0, 12)} (prev ${c.prevHash.slice(0, 12) || "-"})`);
console.log(`chain verified: ${orch.verifyContracts("desk-1", contracts).ok}`);
const tampered = contracts.map((c, i) => (i === 1 ? { ...c, payload: { ...c.payload, trend: "sideways" } } : c));
console.log(`tampered copy verified: ${orch.verifyContracts("desk-1", tampered).ok}`);
console.log(`memory: ${JSON.stringify(await orch.compressSession("desk-1", "summarizer"))}`);
