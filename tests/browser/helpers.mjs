// Shared by the browser tests: a static server on 127.0.0.1 (started here, stopped by PID),
// Debian's Chromium driven by playwright-core (no browser download), and where outputs go.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { before, after } from "node:test";
import { chromium } from "playwright-core";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Screenshots and traces the tests save (not committed). */
export const outputs = join(root, "test-results");
mkdirSync(outputs, { recursive: true });

/** Starts `node <script> --port 0 ...args` and resolves with its URL once it prints one. */
export function serve(script = join(root, "scripts/serve.mjs"), args = [], cwd = root) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, "--port", "0", ...args], { cwd, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const timer = setTimeout(() => { child.kill(); reject(new Error(`the server did not start:\n${out}`)); }, 15_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[0], stop: () => process.kill(child.pid, "SIGTERM") });
      }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`the server exited (${code}):\n${out}`)); });
  });
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.BATON_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

/** A page that fails the test on any uncaught error in it. */
export async function newPage(browser, errors) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  return page;
}

/** The served site and Chromium for a test file: started before its tests, stopped after. */
export function useSite() {
  const site = { server: undefined, browser: undefined };
  before(async () => {
    site.server = await serve();
    site.browser = await launch();
  });
  after(async () => {
    await site.browser?.close();
    site.server?.stop();
  });
  return site;
}
