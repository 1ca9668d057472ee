// Shared by the Worker tests: starts `wrangler dev` (workerd) on 127.0.0.1 with a throwaway state
// directory from a config without a [build] step (the Worker is built once, before), a local
// HTTP agent server on 127.0.0.1, and a small REST client. Every process is stopped by PID.
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer as netServer } from "node:net";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const TOKEN = "test-token-0123456789";

/** The repository's wrangler.toml without [build], pointing at the prebuilt build/. */
function testConfig() {
  const text = readFileSync(join(root, "wrangler.toml"), "utf8")
    .replace(/\[build\][^\[]*/, "")
    .replace('main = "build/worker/shim.mjs"', 'main = "worker/shim.mjs"')
    .replace('directory = "build/site"', 'directory = "site"');
  const path = join(root, "build", "wrangler.test.toml");
  // Written only when it differs: a wrangler already running watches this file, and rewriting
  // it (when a test starts a second Worker) makes it reload, and at times not come back.
  if (!existsSync(path) || readFileSync(path, "utf8") !== text) writeFileSync(path, text);
  return path;
}

export function freePort() {
  return new Promise((resolve) => {
    const s = netServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts the Worker; resolves once /v1/health answers. `vars` are extra [vars]. */
export async function startWorker({ stateDir, port, vars = {} }) {
  mkdirSync(stateDir, { recursive: true });
  port ??= await freePort();
  const args = [join(root, "node_modules/wrangler/bin/wrangler.js"), "dev", "-c", testConfig(), "--ip", "127.0.0.1", "--port", String(port),
    "--persist-to", stateDir, "--show-interactive-dev-session=false", "--log-level", "warn",
    "--var", `BATON_API_TOKEN:${TOKEN}`, ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`])];
  const child = spawn(process.execPath, args, {
    cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "1", NO_COLOR: "1" },
  });
  let log = "";
  child.stdout.on("data", (d) => { log += d; });
  child.stderr.on("data", (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${log}`);
    try {
      const r = await fetch(`${url}/v1/health`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() - started > 90_000) {
      stopGroup(child.pid);
      throw new Error(`wrangler dev did not start in 90 s:\n${log}`);
    }
    await sleep(100);
  }
  return {
    url, port, pid: child.pid, startedInMs: Date.now() - started, log: () => log,
    stop: () => stopGroup(child.pid),
    /** SIGKILL to the workerd processes of this wrangler (the crash), then the rest of the group. */
    crash: () => {
      const pids = execFileSync("pgrep", ["-g", String(child.pid), "workerd"], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
      for (const p of pids) process.kill(Number(p), "SIGKILL");
      stopGroup(child.pid, "SIGKILL");
      return pids.length;
    },
  };
}

function stopGroup(pid, signal = "SIGTERM") {
  try { process.kill(-pid, signal); } catch { /* already gone */ }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** fetch, whose failure names the request and the cause (refused, reset, ...). */
async function fetchOrSay(url, method, init) {
  try {
    return await fetch(url, init);
  } catch (e) {
    throw new Error(`${method} ${url}: ${e.message} (${e.cause?.code ?? e.cause?.message ?? "no cause"})`, { cause: e });
  }
}

/** A REST client for one namespace. */
export function client(base, ns = "test", token = TOKEN) {
  const call = async (method, path, body, headers = {}) => {
    const r = await fetchOrSay(`${base}/v1/ns/${ns}${path}`, method, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await r.text();
    let json;
    try { json = JSON.parse(text); } catch { json = text; }
    return { status: r.status, body: json, headers: r.headers };
  };
  return {
    get: (p, h) => call("GET", p, undefined, h),
    post: (p, b, h) => call("POST", p, b ?? {}, h),
    put: (p, b) => call("PUT", p, b),
    del: (p) => call("DELETE", p),
    raw: call,
  };
}

/** Polls `fn` until it returns a truthy value. */
export async function until(fn, timeoutMs = 30_000, what = "the condition") {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * HTTP agents on 127.0.0.1: POST /slow?ms=N answers after N ms, POST /flaky?fails=K fails the
 * first K calls per idempotency key with 500, POST /bad answers non-JSON, POST /null answers
 * `null`, POST /empty an empty 200, POST /nocontent a 204, POST /huge-number `1e999`, POST /moved a 302 to /slow, POST /big?mb=N an answer of N MiB (?chunked: without Content-Length), POST /bom JSON after a BOM, POST /down-big a 503 of 3 MiB, POST /tool/add is a tool adding its args' a and b (/tool/down fails), POST /supervise plans a supervisor's final answer, POST /vote approves. Calls are counted per idempotency key (`calls`), with their attempts; `aborted` lists
 * the keys of calls whose request was closed before the answer.
 */
export async function agentServer() {
  const calls = new Map();
  const aborted = [];
  const server = createServer(async (req, res) => {
    res.on("close", () => { if (!res.writableEnded) aborted.push(key); });
    let key;
    let body = "";
    for await (const c of req) body += c;
    const call = JSON.parse(body || "{}");
    key = call.idempotencyKey;
    const url = new URL(req.url, "http://x");
    const list = calls.get(call.idempotencyKey) ?? [];
    list.push({ attempt: call.attempt, path: url.pathname, at: Date.now() });
    calls.set(call.idempotencyKey, list);
    const reply = (status, json) => { res.writeHead(status, { "content-type": "application/json" }); res.end(typeof json === "string" ? json : JSON.stringify(json)); };
    if (url.pathname === "/slow") {
      await sleep(Number(url.searchParams.get("ms") ?? 200));
      return reply(200, { task: call.taskId, attempt: call.attempt, upstream: Object.keys(call.upstream ?? {}), input: call.input });
    }
    if (url.pathname === "/flaky") {
      const fails = Number(url.searchParams.get("fails") ?? 1);
      return list.length <= fails ? reply(500, { error: "not yet" }) : reply(200, { attempts: list.length });
    }
    if (url.pathname === "/busy") {
      // 429 with Retry-After (seconds) on the first call, then an answer.
      if (list.length > 1) return reply(200, { attempts: list.length });
      res.writeHead(429, { "content-type": "application/json", "retry-after": url.searchParams.get("after") ?? "1" });
      return res.end(JSON.stringify({ error: "slow down" }));
    }
    // Pattern runs: a supervisor that answers at once, and a voter that approves.
    if (url.pathname === "/supervise") return reply(200, { final: `done: ${JSON.stringify(call.input?.task)}` });
    if (url.pathname === "/vote") return reply(200, { vote: "approve", reasoning: "looks right" });
    if (url.pathname === "/bad") return reply(200, "this is not json");
    if (url.pathname === "/null") return reply(200, "null");
    if (url.pathname === "/empty") return reply(200, "");
    if (url.pathname === "/nocontent") { res.writeHead(204); return res.end(); }
    // A number no f64 holds, and a redirect (to /slow, which would answer a GET too).
    if (url.pathname === "/huge-number") return reply(200, "1e999");
    // An answer of ?mb= MiB: with its Content-Length, or (?chunked) streamed without one.
    if (url.pathname === "/big") {
      const body = JSON.stringify("x".repeat(Number(url.searchParams.get("mb")) * 1024 * 1024));
      const headers = { "content-type": "application/json" };
      if (!url.searchParams.has("chunked")) headers["content-length"] = Buffer.byteLength(body);
      res.writeHead(200, headers);
      for (let i = 0; i < body.length; i += 65536) if (!res.write(body.slice(i, i + 65536))) await new Promise((r) => res.once("drain", r));
      return res.end();
    }
    // JSON after a byte-order mark; a 503 whose body is over any cap.
    if (url.pathname === "/bom") { res.writeHead(200, { "content-type": "application/json" }); return res.end("\uFEFF{\"ok\":true}"); }
    if (url.pathname === "/down-big") { res.writeHead(503, { "content-type": "text/plain" }); return res.end("x".repeat(3 * 1024 * 1024)); }
    if (url.pathname === "/moved") { res.writeHead(302, { location: "/slow?ms=0" }); return res.end(); }
    // Tools: POST /tool/add answers { sum } of its args' a and b, with who called; /tool/down fails.
    if (url.pathname === "/tool/add") return reply(200, { sum: call.args.a + call.args.b, agentId: call.agentId, taskId: call.taskId });
    if (url.pathname === "/tool/down") return reply(500, { error: "down" });
    reply(404, { error: "no such agent" });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, calls, aborted, close: () => server.close() };
}
