// The timeline (a Gantt chart): one lane per agent, one bar per attempt, from the journal's
// task.started record to the record that ended the attempt. Drawn on a canvas: thousands of bars
// cost a few milliseconds.

const ENDS = {
  "task.completed": "done", "task.attempt_failed": "failed", "task.failed": "failed",
  "task.cancelled": "cancelled", "task.timed_out": "failed", "task.requeued": "cancelled",
};
const COLORS = { running: "#3b82f6", done: "#16a34a", failed: "#dc2626", cancelled: "#9ca3af" };
const LANE = 22, LABEL = 90;

/**
 * Attempts from journal records: `[{ task, agent, attempt, start, end?, outcome }]`. The live
 * journal only grows, so a call with the same array reads just the records added since.
 */
export function attempts(records, agentOf) {
  if (memo.records !== records || memo.read > records.length) memo = { records, read: 0, open: new Map(), bars: [] };
  const { open, bars } = memo;
  for (let i = memo.read; i < records.length; i++) {
    const r = records[i];
    if (r.type === "task.started") {
      const bar = { task: r.data.task, agent: agentOf(r.data.task), attempt: r.data.attempt, start: r.at, end: undefined, outcome: "running" };
      open.set(r.data.task, bar);
      bars.push(bar);
    } else if (ENDS[r.type] !== undefined && r.data?.task !== undefined) {
      const bar = open.get(r.data.task);
      if (bar) {
        bar.end = r.at;
        bar.outcome = ENDS[r.type];
        open.delete(r.data.task);
      }
    }
  }
  memo.read = records.length;
  return bars;
}
let memo = { records: undefined, read: 0, open: new Map(), bars: [] };

export class TimelineView {
  #canvas;
  constructor(canvas) { this.#canvas = canvas; }

  /** `width` is the canvas's CSS width, read by the caller before it changed the DOM. */
  render(bars, agents, now, width = 800) {
    const c = this.#canvas;
    const lanes = new Map(agents.map((a, i) => [a, i]));
    const height = Math.max(LANE * agents.length + 20, 60);
    const ratio = globalThis.devicePixelRatio || 1;
    if (c.width !== Math.round(width * ratio) || c.height !== Math.round(height * ratio)) {
      c.width = Math.round(width * ratio);
      c.height = Math.round(height * ratio);
      c.style.height = `${height}px`;
    }
    const ctx = c.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    let t0 = Infinity, t1 = now, running = 0, failed = 0;
    for (const b of bars) {
      if (b.start < t0) t0 = b.start;
      if (b.end !== undefined && b.end > t1) t1 = b.end;
      if (b.outcome === "running") running++;
      else if (b.outcome === "failed") failed++;
    }
    if (t0 === Infinity) t0 = 0;
    t1 = Math.max(t1, t0 + 1);
    const x = (t) => LABEL + ((t - t0) / (t1 - t0)) * (width - LABEL - 8);
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = "#374151";
    agents.forEach((a, i) => ctx.fillText(a, 4, i * LANE + 15));
    for (const b of bars) {
      const lane = lanes.get(b.agent);
      if (lane === undefined) continue;
      ctx.fillStyle = COLORS[b.outcome];
      const x0 = x(b.start);
      ctx.fillRect(x0, lane * LANE + 4, Math.max(2, x(b.end ?? now) - x0), LANE - 8);
    }
    ctx.fillStyle = "#6b7280";
    ctx.fillText(`${Math.round(t1 - t0)} ms`, width - 70, height - 4);
    c.dataset.attempts = String(bars.length);
    c.dataset.running = String(running);
    c.dataset.failed = String(failed);
  }
}
