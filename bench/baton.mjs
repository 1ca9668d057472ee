// Baton as a contender in ../shared/peers: the built package, through its public API only.
// Each run() uses a fresh orchestrator and closes it (freeing its wasm memory), so memory does not grow across the harness's thousands
// of runs); the agent is the harness's, registered as Baton's one agent. The virtual clock is used
// because these agents never wait on time: nothing reads Date.now() per task.
import { Orchestrator } from "../pkg/node.js";

export const name = "baton";

function orchestrator(agent, maxConcurrency) {
  const orch = new Orchestrator({ seed: 1, clock: "virtual", maxConcurrency });
  orch.registerAgent({ id: "agent", handler: agent });
  orch.startAgent("agent");
  return orch;
}

// Each workflow is compiled once per runner, outside the timed runs, as the LangGraph contender
// compiles its graph: `compileWorkflow` resolves the dependencies by name, has the core check
// ids and dependencies, and writes the JSON, once; agents and limits are checked per submission.

/** A DAG ({ id, deps }) as one Baton workflow; run() resolves when the workflow has completed. */
export function dag(nodes, agent) {
  const spec = Orchestrator.compileWorkflow({ tasks: nodes.map((n) => ({ id: n.id, agent: "agent", input: n.id, dependsOn: n.deps })) });
  return async () => {
    const orch = orchestrator(agent);
    const result = await orch.runWorkflow(spec);
    orch.close();
    if (result.status !== "Completed") throw new Error(`workflow ${result.status}`);
  };
}

/** A chain n0 → n1 → … → n{n-1}: each task depends on the one before. */
export function chain(n, agent) {
  return dag(Array.from({ length: n }, (_, i) => ({ id: `n${i}`, deps: i === 0 ? [] : [`n${i - 1}`] })), agent);
}

/** `start`, then `w0`…`w{width-1}` in parallel, then `join` once they have all ended. */
export function fanout(width, agent) {
  const mids = Array.from({ length: width }, (_, i) => `w${i}`);
  return dag([{ id: "start", deps: [] }, ...mids.map((id) => ({ id, deps: ["start"] })), { id: "join", deps: mids }], agent);
}

/** Prioritized tasks (higher first in the harness; 1 is the highest in Baton) under a concurrency limit. */
export function queue(tasks, concurrency, agent) {
  const spec = Orchestrator.compileWorkflow({ tasks: tasks.map((t) => ({ id: t.id, agent: "agent", input: t.id, priority: 10 - t.priority })) });
  const limit = concurrency === Infinity ? undefined : concurrency;
  return async () => {
    const orch = orchestrator(agent, limit);
    const result = await orch.runWorkflow(spec);
    orch.close();
    if (result.status !== "Completed") throw new Error(`workflow ${result.status}`);
  };
}

export default { name, chain, fanout, dag, queue };
