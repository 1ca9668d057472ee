// Demo agents for local mode: simulated latencies (on the orchestrator's clock, so the virtual
// clock runs them instantly) and failures decided by the run's seed, the task and the attempt,
// so a seed replays and another seed gives another run.

const AGENTS = [
  { id: "researcher", name: "Researcher", capabilities: ["research"], concurrency: 3, latencyMs: 400 },
  { id: "analyst", name: "Analyst", capabilities: ["analyze"], concurrency: 2, latencyMs: 600 },
  { id: "writer", name: "Writer", capabilities: ["write"], concurrency: 1, latencyMs: 800 },
  { id: "reviewer", name: "Reviewer", capabilities: ["review"], concurrency: 1, latencyMs: 300 },
];

/** How often each profile's agents fail an attempt. */
export const PROFILES = { demo: 0.15, reliable: 0, flaky: 0.5 };

// A small string hash, so "does this attempt fail?" depends only on what the core decided.
function hash(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  // A final mix (murmur3's), so strings that differ only at the end ("#1", "#2") roll apart.
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/** Handlers by agent id for a profile (`demo`, `reliable` or `flaky`); `speed` scales latencies. */
export function handlers(profile = "demo", speed = 1) {
  const failRate = PROFILES[profile] ?? PROFILES.demo;
  const out = {};
  for (const a of AGENTS) {
    out[a.id] = async (input, ctx) => {
      const roll = hash(`${ctx.seed}#${ctx.taskId}#${ctx.attempt}`);
      await ctx.sleep(Math.round(a.latencyMs * speed * (0.5 + roll)));
      if (roll < failRate) throw new Error(`${a.id} could not finish ${ctx.taskId} (simulated failure)`);
      return { by: a.id, task: ctx.taskId, upstream: Object.keys(ctx.upstream), input };
    };
  }
  return out;
}

/**
 * Registers and starts the demo agents with these handlers, with retries so simulated failures
 * recover. Those already there (a fork from between two registrations) are left as they are,
 * but started if they never were.
 */
export function registerDemoAgents(orch, byId) {
  const known = orch.agentsStatus();
  for (const { latencyMs, ...spec } of AGENTS) {
    if (known[spec.id] !== undefined) {
      if (known[spec.id].status === "Created") orch.startAgent(spec.id);
      continue;
    }
    // Six attempts: with a thousand tasks, a failure that exhausts fewer would skip much of a graph.
    // The breaker's default minute of recovery would stall a demo whose tasks take a second; 3 s
    // still shows it open on the page.
    orch.registerAgent({
      ...spec, handler: byId[spec.id],
      retry: { maxAttempts: 6, backoff: { initialMs: 100, factor: 2, maxMs: 1600 } },
      circuitBreaker: { failureThreshold: 5, recoveryMs: 3000 },
    });
    orch.startAgent(spec.id);
  }
}

/** A research pipeline: three searches, two analyses, a draft, a review. */
export function researchWorkflow(n = 1) {
  return {
    name: `research #${n}`,
    tasks: [
      { id: "search-web", agent: "researcher", input: { query: "edge orchestration" } },
      { id: "search-papers", agent: "researcher", input: { query: "deterministic replay" } },
      { id: "search-news", agent: "researcher", input: { query: "durable objects" } },
      { id: "analyze-tech", agent: "analyst", dependsOn: ["search-web", "search-papers"] },
      { id: "analyze-market", agent: "analyst", dependsOn: ["search-news", "search-web"] },
      { id: "draft", agent: "writer", dependsOn: ["analyze-tech", "analyze-market"] },
      { id: "review", agent: "reviewer", dependsOn: ["draft"] },
    ],
  };
}

/** A layered DAG of `n` tasks over the demo agents (the 1,000-task view). */
export function layeredWorkflow(n = 1000, width = 25) {
  const ids = AGENTS.map((a) => a.id);
  const tasks = [];
  for (let i = 0; i < n; i++) {
    const layer = Math.floor(i / width);
    const dependsOn = layer === 0 ? [] : [`n${(layer - 1) * width + (i % width)}`, `n${(layer - 1) * width + ((i + 7) % width)}`];
    tasks.push({ id: `n${i}`, agent: ids[i % ids.length], dependsOn: [...new Set(dependsOn)] });
  }
  return { name: `layered ${n}`, failurePolicy: "continue", tasks };
}

/** What the JSON editor offers. */
/** For a Worker: its built-in demo agents (register them first, e.g. `{ id: "echo", demo: "echo", start: true }`). */
export const REMOTE_EXAMPLES = {
  "one task": { agent: "echo", input: { hello: "world" }, priority: 1 },
  "task by capability": { capability: "echo", input: "routed" },
  "three-step workflow": {
    name: "three steps",
    tasks: [
      { id: "say", agent: "echo", input: "hello" },
      { id: "shout", agent: "uppercase", input: "hello", dependsOn: ["say"] },
      { id: "wait", agent: "sleep", input: { ms: 500 }, dependsOn: ["shout"] },
    ],
  },
};

export const EXAMPLES = {
  "one task": { agent: "researcher", input: { query: "what is Baton?" }, priority: 1 },
  "task by capability": { capability: "analyze", input: { data: [1, 2, 3] } },
  "research workflow": researchWorkflow(),
  "fan-out workflow": {
    name: "fan-out",
    tasks: [
      { id: "plan", agent: "analyst" },
      ...Array.from({ length: 12 }, (_, i) => ({ id: `part-${i}`, agent: "researcher", dependsOn: ["plan"] })),
      { id: "merge", agent: "writer", dependsOn: Array.from({ length: 12 }, (_, i) => `part-${i}`) },
    ],
  },
};
