// A/B of built packages on one workload: `node bench/ab.mjs <chain|fanout|dag|q10k|q100k|qinf> <pkg dir>...`
// runs each package in its own process, alternating them five times, and prints each one's median
// ns per task (the whole run: a fresh orchestrator, the workflow, its result, close()). For
// comparing two builds of Baton on a noisy machine; the harness (bench/run.sh) compares peers.
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [workload, ...pkgs] = process.argv.slice(2);

if (workload === "--one") {
  const [which, pkg] = pkgs;
  console.log(await measure(which, pkg));
} else {
  if (!["chain", "fanout", "dag", "q10k", "q100k", "qinf"].includes(workload) || pkgs.length === 0) {
    console.error("usage: node bench/ab.mjs <chain|fanout|dag|q10k|q100k|qinf> <pkg dir>...");
    process.exit(2);
  }
  const results = new Map(pkgs.map((p) => [p, []]));
  for (let round = 0; round < 5; round++) {
    for (const p of pkgs) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--one", workload, resolve(p)], { encoding: "utf8" });
      results.get(p).push(Number(out.trim()));
    }
  }
  for (const [p, ns] of results) {
    ns.sort((a, b) => a - b);
    console.log(`${workload} ${p}: median ${ns[2]} ns/task (${ns.join(", ")})`);
  }
}

async function measure(which, pkg) {
  const { Orchestrator } = await import(pathToFileURL(`${pkg}/node.js`).href);
  let tasks;
  let limit;
  if (which === "chain") {
    tasks = Array.from({ length: 100 }, (_, i) => ({ id: `n${i}`, agent: "agent", input: i, dependsOn: i ? [`n${i - 1}`] : [] }));
  } else if (which === "fanout") {
    tasks = [{ id: "start", agent: "agent", input: 0 }];
    for (let i = 0; i < 100; i++) tasks.push({ id: `w${i}`, agent: "agent", input: i, dependsOn: ["start"] });
    tasks.push({ id: "join", agent: "agent", input: 0, dependsOn: tasks.slice(1).map((t) => t.id) });
  } else if (which === "dag") {
    tasks = [];
    for (let l = 0; l < 10; l++) {
      for (let j = 0; j < 100; j++) {
        const dependsOn = l ? [`L${l - 1}_${j}`, `L${l - 1}_${(j + 1) % 100}`] : [];
        tasks.push({ id: `L${l}_${j}`, agent: "agent", input: j, dependsOn });
      }
    }
  } else {
    const n = which === "q100k" ? 100_000 : 10_000;
    limit = which === "qinf" ? undefined : 16;
    tasks = [];
    let s = 0x2545f491; // the harness's xorshift32 priorities
    for (let i = 0; i < n; i++) {
      s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
      tasks.push({ id: `t${i}`, agent: "agent", input: i, priority: 10 - (s % 10) });
    }
  }
  // Compiled once where the build has it, as bench/baton.mjs does.
  const spec = Orchestrator.compileWorkflow ? Orchestrator.compileWorkflow({ tasks }) : { tasks };
  const run = async () => {
    const orch = new Orchestrator({ seed: 1, clock: "virtual", maxConcurrency: limit });
    orch.registerAgent({ id: "agent", handler: async () => {} });
    orch.startAgent("agent");
    const result = await orch.runWorkflow(spec);
    orch.close();
    if (result.status !== "Completed") throw new Error(`workflow ${result.status}`);
  };
  const reps = Math.max(3, 200_000 / tasks.length);
  for (let i = 0; i < reps / 4; i++) await run();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await run();
  return Math.round(((performance.now() - t0) / reps / tasks.length) * 1e6);
}
