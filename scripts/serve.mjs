// Serves the dashboard (www/) with the built package (pkg/) and the graph-layout library on
// 127.0.0.1. Usage: node scripts/serve.mjs [--port N] [--dir D] (port 0 picks a free one). Prints the URL.
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const args = process.argv.slice(2);
const portArg = args.indexOf("--port");
const port = portArg >= 0 ? Number(args[portArg + 1]) : Number(process.env.BATON_DASHBOARD_PORT ?? 8080);

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".json": "application/json", ".wasm": "application/wasm", ".png": "image/png",
  ".svg": "image/svg+xml", ".ts": "text/plain; charset=utf-8",
};
// URL prefix -> folder. Nothing outside these folders is served. `--dir D` serves D alone (the
// tests use it for pages built from the packed package).
const dirArg = args.indexOf("--dir");
const MOUNTS = dirArg >= 0 ? [["/", resolve(args[dirArg + 1])]] : [
  ["/pkg/", join(root, "pkg")],
  ["/vendor/dagre/", join(root, "node_modules/@dagrejs/dagre/dist")],
  ["/", join(root, "www")],
];

async function file(urlPath) {
  for (const [prefix, dir] of MOUNTS) {
    if (!urlPath.startsWith(prefix)) continue;
    let rel = decodeURIComponent(urlPath.slice(prefix.length)) || "index.html";
    const path = normalize(join(dir, rel));
    if (!path.startsWith(dir)) return undefined;
    try {
      if ((await stat(path)).isFile()) return path;
    } catch { /* not here */ }
    return undefined;
  }
  return undefined;
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const path = await file(url.pathname);
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  if (path === undefined) {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    return;
  }
  const body = await readFile(path);
  res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream", "cache-control": "no-store" });
  res.end(req.method === "HEAD" ? undefined : body);
});

server.listen(port, "127.0.0.1", () => {
  console.log(`Baton dashboard: http://127.0.0.1:${server.address().port}/`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
