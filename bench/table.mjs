// Prints the README's Performance table from a harness run's JSON (`bench/run.sh` writes it as
// `<stamp>-bench.json` and this table beside it as `<stamp>-table.md`): ns per task, median of
// the samples, Baton beside every peer, and the ratios the issue's targets are read from.
//   node bench/table.mjs bench/results/<stamp>-bench.json
import { readFileSync } from "node:fs";

const file = process.argv[2];
if (!file) {
  console.error("usage: node bench/table.mjs <results>-bench.json");
  process.exit(2);
}
const run = JSON.parse(readFileSync(file, "utf8"));

const ROWS = [
  ["chain", "chain, 100 nodes"],
  ["fanout", "fan-out 1→100→1"],
  ["dag", "layered DAG, 1,000 nodes"],
  ["queue-c1", "queue 10k, concurrency 1"],
  ["queue-c16", "queue 10k, concurrency 16"],
  ["queue-cinf", "queue 10k, concurrency ∞"],
  ["queue-100k", "queue 100k, concurrency 16"],
];
const PEERS = [
  ["floor", "floor"],
  ["kahn", "kahn"],
  ["p-queue", "p-queue"],
  ["langgraph", "LangGraph"],
  ["langgraph+MemorySaver", "LangGraph + MemorySaver"],
];

const ns = (x) => (x < 100 ? x.toFixed(0) : Math.round(x).toLocaleString("en-US"));
const times = (x) => `${x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString("en-US")}×`;

const head = ["workload", ...PEERS.map(([, label]) => label), "**Baton**", "Baton ÷ floor", "LangGraph ÷ Baton"];
console.log(`| ${head.join(" | ")} |`);
console.log(`|---|${head.slice(1).map(() => "---:").join("|")}|`);
for (const [id, label] of ROWS) {
  const c = run.cases.find((x) => x.id === id);
  if (c === undefined) continue;
  const of = (name) => c.results.find((r) => r.contender === name);
  // (An entry that failed has no samples.)
  const median = (name) => of(name)?.nsPerTask?.median;
  const baton = of("baton");
  if (baton?.nsPerTask === undefined) continue;
  const cells = PEERS.map(([name]) => (median(name) === undefined ? "–" : ns(median(name))));
  // The harness's own ratio to the floor (the median of paired samples) where it gives one.
  const toFloor = baton.ratioTo === "floor" ? baton.ratio : baton.nsPerTask.median / median("floor");
  const langgraph = median("langgraph");
  const overBaton = langgraph === undefined ? "–" : times(langgraph / baton.nsPerTask.median);
  console.log(`| ${[label, ...cells, `**${ns(baton.nsPerTask.median)}**`, times(toFloor), overBaton].join(" | ")} |`);
}
console.log();
console.log(`${run.env.date}, Node ${run.env.node.replace(/^v/, "")}, ${run.env.cpu}, load ${run.env.loadavgStart} at the start: ns per task, median of ${run.env.reps} interleaved samples.`);
