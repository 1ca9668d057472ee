// How much wasm memory one orchestrator takes to hold 1M pending tasks: the "1M pending under
// 128 MB" target, measured where a Durable Object runs the core (wasm32), not natively.
//   node bench/pending.mjs            every case, each in its own process; prints a markdown table
//   node bench/pending.mjs --case <name> [--tasks n]    one case (what the table runs)
// The growth of the wasm memory is what the runtime charges: live data and any holes that
// reallocation left behind. Task inputs are small integers, held by the driver in JS: the JS
// heap the run keeps after a collection is shown beside it (in a Worker the inputs are JSON in
// wasm). It reads the wasm memory from the generated bindings, which the package does not
// export: a measuring tool, not a user of the API.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Orchestrator } from "../pkg/node.js";
import * as wasm from "../pkg/baton_wasm.js";

// The Worker keeps this many journal records in memory and the rest in SQLite
// (JOURNAL_ROWS_IN_MEMORY_MAX in src/worker/runtime.rs).
const WORKER_JOURNAL_ROWS_MAX = 20_000;
const WORKFLOW_TASKS = 100_000;

const CASES = {
  "submit, journal as in the Worker": { journalRowsMax: WORKER_JOURNAL_ROWS_MAX, workflows: false },
  "submit, whole journal in memory": { journalRowsMax: undefined, workflows: false },
  "workflows of 100k, journal as in the Worker": { journalRowsMax: WORKER_JOURNAL_ROWS_MAX, workflows: true },
};

function arg(name) {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

function measure(name, tasks) {
  const c = CASES[name];
  if (!c) throw new Error(`unknown case '${name}'`);
  const orch = new Orchestrator({ seed: 1, clock: "virtual", maxConcurrency: 1, journalRowsMax: c.journalRowsMax });
  orch.registerAgent({ id: "agent", handler: () => new Promise(() => {}) });
  orch.startAgent("agent");
  orch.pauseAgent("agent");
  const bytes = () => wasm.Core.memory().buffer.byteLength;
  const heap = () => (globalThis.gc?.(), process.memoryUsage().heapUsed); // collected with --expose-gc
  const heapBefore = heap();
  const before = bytes();
  const t0 = performance.now();
  let last;
  if (c.workflows) {
    for (let done = 0; done < tasks; done += WORKFLOW_TASKS) {
      const n = Math.min(WORKFLOW_TASKS, tasks - done);
      last = orch.submitWorkflow({ tasks: Array.from({ length: n }, (_, i) => ({ id: `t${i}`, agent: "agent", input: i, priority: 1 + (i % 10) })) });
    }
    last = `${last}/t${Math.min(WORKFLOW_TASKS, tasks) - 1}`;
  } else {
    for (let i = 0; i < tasks; i++) last = orch.submit({ agent: "agent", input: i, priority: 1 + (i % 10) });
  }
  const ms = performance.now() - t0;
  const status = orch.status(last);
  if (status !== "Queued") throw new Error(`the last task is ${status}, not Queued`);
  const grown = bytes() - before;
  const heapGrown = heap() - heapBefore;
  return { name, tasks, mb: grown / 1e6, perTask: grown / tasks, ms, heapMb: heapGrown / 1e6 };
}

const one = arg("--case");
if (one) {
  console.log(JSON.stringify(measure(one, Number(arg("--tasks") ?? 1_000_000))));
} else {
  const self = fileURLToPath(import.meta.url);
  const tasks = arg("--tasks") ?? "1000000";
  console.log(`### ${Number(tasks).toLocaleString("en")} pending tasks in one orchestrator (wasm memory, Node ${process.version})\n`);
  console.log("| case | wasm memory grown | bytes/task | under 128 MB? | submit ms | JS heap kept (driver) |");
  console.log("|---|---:|---:|:---:|---:|---:|");
  for (const name of Object.keys(CASES)) {
    const r = JSON.parse(execFileSync(process.execPath, ["--max-old-space-size=4096", "--expose-gc", self, "--case", name, "--tasks", tasks], { encoding: "utf8" }));
    console.log(`| ${r.name} | ${r.mb.toFixed(1)} MB | ${r.perTask.toFixed(0)} | ${r.mb < 128 ? "yes" : "no"} | ${r.ms.toFixed(0)} | ${r.heapMb.toFixed(1)} MB |`);
  }
}
