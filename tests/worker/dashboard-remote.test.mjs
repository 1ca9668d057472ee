// The dashboard in remote mode against the local Worker, which also serves it: the page reads
// the namespace's REST API and event stream with the token, draws the workflow as it runs, and
// its controls act on the Worker.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "../tempdir.mjs";
import { startWorker, client, TOKEN } from "./helpers.mjs";
import { launch, outputs } from "../browser/helpers.mjs";

test("remote mode: the Worker serves the dashboard, which follows a workflow and pauses an agent", async () => {
  const worker = await startWorker({ stateDir: tempDir("baton-remote-") });
  const browser = await launch();
  try {
    const api = client(worker.url, "demo");
    await api.post("/agents", { id: "sleepy", demo: "sleep", start: true, concurrency: 2 });
    await api.post("/agents", { id: "shout", demo: "uppercase", start: true });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const base = `${worker.url}/v1/ns/demo`;
    await page.goto(`${worker.url}/?mode=remote&url=${encodeURIComponent(base)}&token=${TOKEN}`);
    await page.evaluate(() => window.dashboard.ready);
    await page.waitForFunction(() => document.querySelectorAll("#agents tr[data-agent]").length === 2);
    const r = await api.post("/workflows", { id: "remote-wf", tasks: [
      { id: "a", agent: "sleepy", input: { ms: 300 } }, { id: "b", agent: "sleepy", input: { ms: 300 } },
      { id: "c", agent: "shout", input: "done", dependsOn: ["a", "b"] },
    ] });
    assert.equal(r.status, 201);
    // The event stream makes the page refresh: the DAG reaches Completed without a reload.
    await page.waitForFunction(() => document.querySelector("#workflow-status").dataset.status === "Completed", undefined, { timeout: 20_000 });
    await page.waitForFunction(() => document.querySelectorAll('#dag g.node[data-status="Completed"]').length === 3);
    assert.ok(await page.evaluate(() => window.dashboard.source.records.length) > 5, "events arrived over the stream");
    await page.screenshot({ path: join(outputs, "dashboard-remote.png"), fullPage: true });
    // Remote mode: the mode shown is remote, and the local package's controls are hidden.
    assert.equal(await page.evaluate(() => document.querySelector('input[name=mode][value="remote"]').checked), true);
    assert.equal(await page.evaluate(() => document.querySelector("#slider").hidden && document.querySelector("#run-demo").hidden), true);
    // A run that never pauses long still updates the page as it goes (records arrive every
    // 50 ms for 3 s; a refresh restarted by each one would not fire until the end).
    await api.post("/agents", { id: "steady", demo: "sleep", start: true, concurrency: 1 });
    await api.post("/workflows", { id: "steady-wf", tasks: Array.from({ length: 60 }, (_, i) => ({ id: `s${i}`, agent: "steady", input: { ms: 50 } })) });
    await page.waitForFunction(() => {
      const done = window.dashboard.source.statistics().tasks_completed ?? window.dashboard.source.statistics().completed_tasks;
      const wf = window.dashboard.source.workflows().find((w) => w.id === "steady-wf");
      return wf && wf.status === "Running" && done >= 3 + 10;
    }, undefined, { timeout: 2_500 });
    // A control acts on the Worker.
    await page.click('#agents tr[data-agent="shout"] button[data-act="pause"]');
    await page.waitForFunction(() => document.querySelector('#agents tr[data-agent="shout"]')?.dataset.status === "Paused");
    assert.equal((await api.get("/agents/shout")).body.status, "Paused");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    worker.stop();
  }
});
