// A/B of built packages within one process: `node bench/ab-same.mjs <chain|fanout|dag|one> <pkg dir>...`
// loads every package side by side (each its own wasm instance), alternates batches of runs
// between them (the order rotated each round), and prints each one's median and best ns per task
// over 20 rounds after 4 of warm-up. On this shared machine, differences of a few percent that
// bench/ab.mjs (a process per measurement) loses in noise show here: every package meets the
// same machine load at nearly the same moment.
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const [workload, ...pkgs] = process.argv.slice(2);
const shapes = {
  chain: () => Array.from({ length: 100 }, (_, i) => ({ id: `n${i}`, agent: "agent", input: i, dependsOn: i ? [`n${i - 1}`] : [] })),
  fanout: () => {
    const middle = Array.from({ length: 100 }, (_, i) => ({ id: `w${i}`, agent: "agent", input: i, dependsOn: ["start"] }));
    return [{ id: "start", agent: "agent", input: 0 }, ...middle, { id: "join", agent: "agent", input: 0, dependsOn: middle.map((t) => t.id) }];
  },
  dag: () => {
    const tasks = [];
    for (let l = 0; l < 10; l++) {
      for (let j = 0; j < 100; j++) {
        tasks.push({ id: `L${l}_${j}`, agent: "agent", input: j, dependsOn: l ? [`L${l - 1}_${j}`, `L${l - 1}_${(j + 1) % 100}`] : [] });
      }
    }
    return tasks;
  },
  // One task: what a run costs besides its tasks (an orchestrator, its agent, the result, close()).
  one: () => [{ id: "t", agent: "agent", input: 1 }],
};
if (!shapes[workload] || pkgs.length === 0) {
  console.error("usage: node bench/ab-same.mjs <chain|fanout|dag|one> <pkg dir>...");
  process.exit(2);
}
const tasks = shapes[workload]();

const runners = [];
for (const pkg of pkgs) {
  const { Orchestrator } = await import(pathToFileURL(`${resolve(pkg)}/node.js`).href);
  const spec = Orchestrator.compileWorkflow ? Orchestrator.compileWorkflow({ tasks }) : { tasks };
  const agent = async () => {};
  runners.push(async () => {
    const orch = new Orchestrator({ seed: 1, clock: "virtual" });
    orch.registerAgent({ id: "agent", handler: agent });
    orch.startAgent("agent");
    const result = await orch.runWorkflow(spec);
    orch.close();
    if (result.status !== "Completed") throw new Error(`workflow ${result.status}`);
  });
}

const batch = Math.max(20, Math.round(20_000 / tasks.length));
const samples = runners.map(() => []);
for (let round = 0; round < 24; round++) {
  for (let k = 0; k < runners.length; k++) {
    const i = (round + k) % runners.length;
    const t0 = performance.now();
    for (let b = 0; b < batch; b++) await runners[i]();
    if (round >= 4) samples[i].push(((performance.now() - t0) * 1e6) / (batch * tasks.length));
  }
}
samples.forEach((s, i) => {
  s.sort((a, b) => a - b);
  console.log(`${workload} ${pkgs[i]}: median ${s[s.length >> 1].toFixed(0)}, best ${s[0].toFixed(0)} ns/task`);
});
