// Runs the built Worker locally with `wrangler dev` on 127.0.0.1 (state kept in .baton-state/),
// registers the demo agents in the `default` namespace, and prints the URLs and a curl example.
// The token comes from .dev.vars (BATON_API_TOKEN=...), which is created with a random token if
// it does not exist. Ctrl-C stops everything.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const port = Number(process.env.BATON_PORT ?? 8787);
const varsFile = join(root, ".dev.vars");
if (!existsSync(varsFile)) writeFileSync(varsFile, `BATON_API_TOKEN=${randomBytes(16).toString("hex")}\n`);
const vars = Object.fromEntries(readFileSync(varsFile, "utf8").split("\n").filter((l) => /^\w+=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).trim()]));
const token = vars.BATON_API_TOKEN;

// wrangler.toml without its [build] step: scripts/build-worker.sh has just built everything.
const config = join(root, "build", "wrangler.dev.toml");
writeFileSync(config, readFileSync(join(root, "wrangler.toml"), "utf8")
  .replace(/\[build\][^\[]*/, "")
  .replace('main = "build/worker/shim.mjs"', 'main = "worker/shim.mjs"')
  .replace('directory = "build/site"', 'directory = "site"'));

const args = [join(root, "node_modules/wrangler/bin/wrangler.js"), "dev", "-c", config, "--ip", "127.0.0.1", "--port", String(port),
  "--persist-to", join(root, ".baton-state"), "--show-interactive-dev-session=false",
  ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`])];
const child = spawn(process.execPath, args, { cwd: root, stdio: "inherit", detached: true, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" } });
const stop = () => { try { process.kill(-child.pid, "SIGTERM"); } catch {} process.exit(0); };
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
child.on("exit", (code) => process.exit(code ?? 1));

const url = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try { if ((await fetch(`${url}/v1/health`)).ok) break; } catch {}
  if (i > 600) { console.error("wrangler dev did not start"); stop(); }
  await new Promise((r) => setTimeout(r, 100));
}
const api = (method, path, body) => fetch(`${url}/v1/ns/default${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body && JSON.stringify(body) });
for (const [id, demo, capabilities] of [["echo", "echo", ["echo"]], ["uppercase", "uppercase", ["uppercase", "text"]], ["sleep", "sleep", ["sleep", "wait"]], ["fail", "fail", ["fail"]]]) {
  await api("POST", "/agents", { id, demo, capabilities, start: true }); // 409 once they exist
}
console.log(`
Baton Worker on workerd: ${url}  (state in .baton-state/, token in .dev.vars)
  dashboard (local mode):   ${url}/
  dashboard (this Worker):  ${url}/?mode=remote&url=${encodeURIComponent(`${url}/v1/ns/default`)}&token=${token}
  API description:          ${url}/openapi.json  (with the token, as every route but health)
Try:
  curl -s -H 'authorization: Bearer ${token}' -H 'content-type: application/json' \\
       -d '{"agent":"uppercase","input":"hello baton"}' ${url}/v1/ns/default/tasks
  curl -s -H 'authorization: Bearer ${token}' ${url}/v1/ns/default/tasks/task-1
Ctrl-C stops it.`);
