// The npm package in pages, installed from `npm pack` into a fresh project: a page built with
// Vite, and a plain <script type="module"> with no build step. Each runs a workflow in Chromium.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { root, serve, launch, newPage } from "./helpers.mjs";
import { tempDir } from "../tempdir.mjs";

let project, browser;
const servers = [];

// What both pages run: a two-step workflow on the virtual clock; the result goes on <body>.
const PROGRAM = (from) => `
import init, { Orchestrator, IndexedDBStore } from ${JSON.stringify(from)};
await init();
const orch = new Orchestrator({ seed: 7, clock: "virtual", store: new IndexedDBStore("page-test") });
orch.registerAgent({ id: "upper", handler: async (s, ctx) => { await ctx.sleep(1000); return String(s ?? Object.values(ctx.upstream)[0]).toUpperCase() + "!"; } });
orch.startAgent("upper");
const run = await orch.runWorkflow({ tasks: [{ id: "a", agent: "upper", input: "baton" }, { id: "b", agent: "upper", dependsOn: ["a"] }] });
await orch.flush();
document.body.dataset.result = JSON.stringify({ status: run.status, outputs: run.outputs, now: orch.now(), stored: (await new IndexedDBStore("page-test").load()) !== null });
`;

before(async () => {
  project = tempDir("baton-pages-");
  const npm = (args, cwd) => execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, encoding: "utf8" });
  const tarball = npm(["pack", join(root, "pkg"), "--pack-destination", project], root).trim().split("\n").pop();
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "pages", private: true, type: "module" }));
  npm(["install", join(project, tarball)], project);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  for (const s of servers) s.stop();
});

async function result(url) {
  const errors = [];
  const page = await newPage(browser, errors);
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.result, undefined, { timeout: 20_000 }).catch(() => {});
  const out = await page.evaluate(() => document.body.dataset.result);
  await page.close();
  assert.deepEqual(errors, []);
  assert.ok(out, "the page ran its workflow");
  return JSON.parse(out);
}

const EXPECTED = { status: "Completed", outputs: { a: "BATON!", b: "BATON!!" }, now: 2000, stored: true };

test("a page built with Vite from the installed package runs a workflow", async () => {
  const app = join(project, "vite-app");
  execFileSync("mkdir", ["-p", app]);
  writeFileSync(join(app, "index.html"), `<!doctype html><html><head><link rel="icon" href="data:,"></head><body><script type="module" src="./main.js"></script></body></html>`);
  writeFileSync(join(app, "main.js"), PROGRAM("baton"));
  execFileSync(join(root, "node_modules/.bin/vite"), ["build", "--logLevel", "warn", "--outDir", "dist", "--emptyOutDir"], { cwd: app, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const server = await serve(undefined, ["--dir", join(app, "dist")]);
  servers.push(server);
  assert.deepEqual(await result(server.url), EXPECTED);
});

test("a plain <script type=\"module\"> page loads the installed package with no build", async () => {
  writeFileSync(join(project, "plain.html"), `<!doctype html><html><head><link rel="icon" href="data:,"></head><body><script type="module">${PROGRAM("./node_modules/baton/baton.js")}</script></body></html>`);
  const server = await serve(undefined, ["--dir", project]);
  servers.push(server);
  assert.deepEqual(await result(`${server.url}plain.html`), EXPECTED);
});
