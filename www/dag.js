// The workflow DAG: laid out once per workflow (in a worker, by dagre), then only each node's
// status changes. Up to SVG_NODES_MAX nodes it is SVG (each node an element with its status as a
// data attribute); larger graphs are drawn on a canvas, since restyling thousands of SVG
// elements costs more than a frame.

const SVG = "http://www.w3.org/2000/svg";
const SVG_NODES_MAX = 300;
const LAYOUTS_KEPT = 4;
const FILL = {
  Pending: "#e5e7eb", Queued: "#dbeafe", Running: "#60a5fa", Retrying: "#fcd34d", Completed: "#86efac",
  Failed: "#fca5a5", TimedOut: "#fca5a5", Cancelled: "#d1d5db", Skipped: "#d1d5db",
};

export class DagView {
  #root; #worker; #key = undefined; #nodes = new Map(); #statuses = {}; #layout = undefined; #painted = "";
  // The last layouts made, by key: time travel to before a workflow and back, or a switch
  // between two workflows, draws again without laying out again (dagre takes seconds at 1,000).
  #layouts = new Map();
  // The graph's key with its task ids: two workflows of one id and size (a fork that submits
  // another) are not one layout.
  #shapeKey = undefined;

  constructor(root) {
    this.#root = root;
    this.#worker = new Worker(new URL("./layout-worker.js", import.meta.url), { type: "module" });
    this.#worker.onmessage = ({ data }) => {
      this.#layouts.delete(data.key);
      this.#layouts.set(data.key, data);
      if (this.#layouts.size > LAYOUTS_KEPT) this.#layouts.delete(this.#layouts.keys().next().value);
      if (data.key === this.#shapeKey) this.#draw(data);
    };
  }

  /**
   * Shows workflow `id` with `statuses` (task id within it -> status), or nothing. `shape()`
   * returns the full workflow view (its edges); it is called only when the graph is new.
   */
  show(id, statuses, shape) {
    if (!id || !statuses) {
      this.#key = undefined;
      this.#shapeKey = undefined;
      this.#root.replaceChildren();
      this.#root.dataset.workflow = "";
      // Nothing drawn: nothing laid out, no nodes, no counts.
      delete this.#root.dataset.laidOut;
      delete this.#root.dataset.nodes;
      delete this.#root.dataset.counts;
      return;
    }
    const key = `${id}:${Object.keys(statuses).length}`;
    this.#statuses = statuses;
    if (key !== this.#key) {
      this.#key = key;
      this.#nodes.clear();
      this.#root.dataset.workflow = id;
      this.#root.dataset.laidOut = "false";
      this.#shapeKey = `${key}|${Object.keys(statuses).join(",")}`;
      const known = this.#layouts.get(this.#shapeKey);
      if (known !== undefined) {
        this.#draw(known);
        return;
      }
      const entries = Object.entries(shape().tasks);
      const nodes = entries.map(([local]) => ({ id: local, width: Math.max(40, local.length * 7 + 12) }));
      const edges = entries.flatMap(([local, t]) => t.dependsOn.map((d) => [d, local]));
      this.#worker.postMessage({ key: this.#shapeKey, nodes, edges, bitmapsAbove: SVG_NODES_MAX });
      return;
    }
    this.#paint();
  }

  #draw(layout) {
    this.#layout = layout;
    this.#painted = "";
    if (layout.edges !== undefined) {
      // One canvas: the worker's edge and label bitmaps with the status fills between them.
      const canvas = document.createElement("canvas");
      canvas.className = "fills";
      canvas.width = layout.edges.width;
      canvas.height = layout.edges.height;
      this.#root.replaceChildren(canvas);
      this.#root.dataset.nodes = String(Object.keys(layout.positions).length);
      this.#root.dataset.laidOut = "true";
      requestAnimationFrame(() => this.#paint()); // its own frame: the canvas is new
      return;
    }
    const { positions, routes, width, height } = layout;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`);
    svg.setAttribute("width", Math.ceil(width));
    svg.setAttribute("height", Math.ceil(height));
    // One string for the whole graph: far faster than a thousand createElement calls.
    let html = "";
    for (const r of routes) {
      html += `<polyline class="edge" points="${r.points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ")}"/>`;
    }
    for (const [id, p] of Object.entries(positions)) {
      const x = p.x - p.width / 2, y = p.y - p.height / 2;
      html += `<g class="node" data-id="${escape(id)}"><rect x="${x}" y="${y}" width="${p.width}" height="${p.height}" rx="4"/>` +
        `<text x="${p.x}" y="${p.y + 4}">${escape(id)}</text></g>`;
    }
    svg.innerHTML = html;
    this.#root.replaceChildren(svg);
    for (const g of svg.querySelectorAll("g.node")) this.#nodes.set(g.dataset.id, g);
    this.#root.dataset.nodes = String(this.#nodes.size);
    this.#root.dataset.laidOut = "true";
    this.#paint();
  }

  #paint() {
    // Counts by status, for tests and for a glance at a graph too large to read.
    const counts = {};
    for (const st of Object.values(this.#statuses)) counts[st] = (counts[st] ?? 0) + 1;
    this.#root.dataset.counts = JSON.stringify(counts);
    const canvas = this.#root.querySelector("canvas.fills");
    if (canvas && this.#layout) return this.#paintCanvas(canvas);
    for (const [local, status] of Object.entries(this.#statuses)) {
      const g = this.#nodes.get(local);
      if (g && g.dataset.status !== status) g.dataset.status = status;
    }
  }

  #paintCanvas(canvas) {
    const key = JSON.stringify(this.#statuses);
    if (key === this.#painted) return;
    this.#painted = key;
    const { positions, scale, edges, labels } = this.#layout;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(edges, 0, 0);
    for (const [id, p] of Object.entries(positions)) {
      ctx.fillStyle = FILL[this.#statuses[id]] ?? FILL.Pending;
      ctx.fillRect((p.x - p.width / 2) * scale, (p.y - p.height / 2) * scale, p.width * scale, p.height * scale);
    }
    ctx.drawImage(labels, 0, 0);
  }
}

function escape(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}
