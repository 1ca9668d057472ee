// IndexedDBStore in Chromium, as two tabs and a page that closes and reopens use it: one writer
// per database (a second tab is refused with store_busy, never writing a second history into
// the run), a closed run's last writes land before a new store of the same name loads it; and
// the package used before `init()` says so with a code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useSite } from "./helpers.mjs";

const site = useSite();

/** A blank page of the served site (so that /pkg/ is same-origin) in `context`. */
async function blank(context, errors) {
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${site.server.url}pkg/package.json`);
  return page;
}

// Runs in the page: the package, loaded once per page, on `globalThis.baton`.
const LOAD = async () => {
  const mod = await import("/pkg/baton.js");
  await mod.default();
  globalThis.baton = mod;
  globalThis.codeOf = (p) => p.then(() => "resolved", (e) => e.code ?? String(e));
};

test("IndexedDBStore: a second tab is refused the database while the first writes it, and resumes the run once the first closes", async () => {
  const context = await site.browser.newContext();
  const errors = [];
  const [a, b] = [await blank(context, errors), await blank(context, errors)];
  await a.evaluate(LOAD);
  await b.evaluate(LOAD);
  await a.evaluate(async () => {
    const { Orchestrator, IndexedDBStore } = globalThis.baton;
    const orch = new Orchestrator({ store: new IndexedDBStore("tabs"), seed: 1 });
    orch.registerAgent({ id: "w", concurrency: 1, handler: async (n, ctx) => { await ctx.sleep(60_000); return n; } });
    orch.startAgent("w");
    for (let i = 0; i < 3; i++) orch.submit({ agent: "w", input: i });
    await orch.flush();
    globalThis.orch = orch;
  });
  const refused = await b.evaluate(async () => {
    const { Orchestrator, IndexedDBStore } = globalThis.baton;
    const opened = await codeOf(Orchestrator.open(new IndexedDBStore("tabs"), { agents: { w: async (n) => n } }));
    const fresh = new Orchestrator({ store: new IndexedDBStore("tabs") });
    fresh.registerAgent({ id: "intruder", handler: async () => 0 });
    const written = await codeOf(fresh.flush());
    fresh.close();
    return { opened, written };
  });
  assert.deepEqual(refused, { opened: "store_busy", written: "store_busy" });
  await a.evaluate(async () => { globalThis.orch.close(); await new Promise((r) => setTimeout(r, 100)); });
  const resumed = await b.evaluate(async () => {
    const { Orchestrator, IndexedDBStore } = globalThis.baton;
    const orch = await Orchestrator.open(new IndexedDBStore("tabs"), { agents: { w: async (n) => n * 10 } });
    const outputs = [];
    for (const id of ["task-1", "task-2", "task-3"]) outputs.push((await orch.wait(id)).output);
    const agents = Object.keys(orch.agentsStatus());
    orch.close();
    return { outputs, agents };
  });
  assert.deepEqual(resumed, { outputs: [0, 10, 20], agents: ["w"] });
  assert.deepEqual(errors, []);
  await context.close();
});

test("IndexedDBStore: a run closed, then reopened by a new store of the same name in the same page, resumes whole", async () => {
  const context = await site.browser.newContext();
  const errors = [];
  const page = await blank(context, errors);
  await page.evaluate(LOAD);
  const out = await page.evaluate(async () => {
    const { Orchestrator, IndexedDBStore } = globalThis.baton;
    const slow = async (n, ctx) => { await ctx.sleep(1000); return n * 2; };
    const first = new Orchestrator({ store: new IndexedDBStore("reopen"), clock: "virtual", seed: 1 });
    first.registerAgent({ id: "double", concurrency: 1, handler: slow });
    first.startAgent("double");
    const ids = [1, 2, 3].map((n) => first.submit({ agent: "double", input: n }));
    await first.wait(ids[0]);
    first.close();
    const again = await Orchestrator.open(new IndexedDBStore("reopen"), { clock: "virtual", agents: { double: slow } });
    const rows = [];
    for (const id of ids) {
      const t = await again.wait(id);
      rows.push([id, t.output, t.attempts]);
    }
    await again.flush();
    again.close();
    await new Promise((r) => setTimeout(r, 50));
    const third = await Orchestrator.open(new IndexedDBStore("reopen"), { clock: "virtual", agents: { double: slow } });
    const completed = third.statistics().tasks_completed;
    third.close();
    return { rows, completed };
  });
  assert.deepEqual(out, { rows: [["task-1", 2, 1], ["task-2", 4, 2], ["task-3", 6, 1]], completed: 3 });
  assert.deepEqual(errors, []);
  await context.close();
});

test("the browser package used before init() throws a BatonError that says to call it", async () => {
  const context = await site.browser.newContext();
  const errors = [];
  const page = await blank(context, errors);
  const out = await page.evaluate(async () => {
    const { Orchestrator, BatonError } = await import("/pkg/baton.js");
    try {
      new Orchestrator({ clock: "virtual" });
      return "made";
    } catch (e) {
      return { code: e.code, baton: e instanceof BatonError, says: /init\(\)/.test(e.message) };
    }
  });
  assert.deepEqual(out, { code: "invalid_state", baton: true, says: true });
  assert.deepEqual(errors, []);
  await context.close();
});
