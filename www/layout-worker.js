// Lays a workflow's DAG out with dagre, off the main thread: a 1,000-node layout takes longer
// than a frame, and the page must stay responsive while it runs.
import dagre from "/vendor/dagre/dagre.esm.js";

self.onmessage = ({ data: { key, nodes, edges, bitmapsAbove, maxPixels = 800_000 } }) => {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 6, ranksep: 28, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: n.width, height: 20 });
  for (const [from, to] of edges) g.setEdge(from, to);
  dagre.layout(g);
  const positions = {};
  for (const id of g.nodes()) {
    const { x, y, width, height } = g.node(id);
    positions[id] = { x, y, width, height };
  }
  const routes = g.edges().map((e) => ({ from: e.v, to: e.w, points: g.edge(e).points.map((p) => [p.x, p.y]) }));
  const { width, height } = g.graph();
  if (nodes.length <= bitmapsAbove) {
    self.postMessage({ key, positions, routes, width, height });
    return;
  }
  // A large graph: its edges and labels never change, so they are drawn here, off the main
  // thread, and handed over as bitmaps, scaled down to at most `maxPixels`: a canvas small
  // enough that drawing and compositing it stays well inside a frame (the panel scrolls).
  const scale = Math.min(1, Math.sqrt(maxPixels / (width * height)));
  const edgesImage = draw(width, height, scale, (ctx) => {
    ctx.strokeStyle = "#9ca3af";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const r of routes) r.points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y)));
    ctx.stroke();
  });
  const labelsImage = draw(width, height, scale, (ctx) => {
    ctx.font = "10px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.strokeStyle = "#6b7280";
    ctx.fillStyle = "#111827";
    for (const [id, p] of Object.entries(positions)) {
      ctx.strokeRect(p.x - p.width / 2, p.y - p.height / 2, p.width, p.height);
      ctx.fillText(id, p.x, p.y + 3);
    }
  });
  self.postMessage({ key, positions, routes: [], width, height, scale, edges: edgesImage, labels: labelsImage }, [edgesImage, labelsImage]);
};

function draw(width, height, scale, paint) {
  const canvas = new OffscreenCanvas(Math.ceil(width * scale), Math.ceil(height * scale));
  const ctx = canvas.getContext("2d");
  ctx.scale(scale, scale);
  paint(ctx);
  return canvas.transferToImageBitmap();
}
