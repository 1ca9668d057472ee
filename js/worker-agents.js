// JS agents for the Cloudflare Worker: async functions bundled with it. A deployment edits this
// module to supply its own agents, then registers them with `POST /v1/agents { id, js: "<name>" }`.
// Each receives `(input, { taskId, attempt, idempotencyKey, upstream })` and returns a
// JSON-serializable value; a throw (or a rejection) fails the attempt with class `agent`.

export const agents = {
  /** Counts the words of a text (or of its upstream texts). */
  async wordCount(input, ctx) {
    const text = typeof input === "string" ? input : Object.values(ctx.upstream ?? {}).join(" ");
    return { words: text.split(/\s+/).filter(Boolean).length };
  },
  /** Reverses a string. */
  async reverse(input) {
    return String(input ?? "").split("").reverse().join("");
  },
};

// Called by the Worker (src/worker/agents.rs): the call arrives and the answer leaves as JSON.
export async function runAgent(name, callJson) {
  const fn = agents[name];
  if (typeof fn !== "function") throw new Error(`no JS agent '${name}' in js/worker-agents.js`);
  const { input, ...ctx } = JSON.parse(callJson);
  const out = await fn(input, ctx);
  return JSON.stringify(out === undefined ? null : out);
}

export function agentNames() {
  return Object.keys(agents);
}
