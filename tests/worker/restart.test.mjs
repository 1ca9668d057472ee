// Crash recovery: while workflows of slow HTTP agents run, workerd is killed with SIGKILL at a
// random point and started again on the same state directory, several times. Every workflow
// still completes, no task is lost, and an agent sees a task again only as the at-least-once
// contract says: re-issued with the next attempt number and the same idempotency key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tempDir } from "../tempdir.mjs";
import { startWorker, client, agentServer, until, sleep, TOKEN } from "./helpers.mjs";

const KILLS = 4;
const WORKFLOWS = 3;
const TASKS_PER_WORKFLOW = 8;

test(`${KILLS} SIGKILLs of workerd mid-run: every workflow completes, nothing lost, duplicates only re-issues`, async () => {
  const stateDir = tempDir("baton-crash-");
  const agents = await agentServer();
  let worker = await startWorker({ stateDir });
  const recoveries = [];
  try {
    let api = client(worker.url, "crash");
    await api.post("/agents", { id: "slow", endpoint: `${agents.url}/slow?ms=400`, concurrency: 3, start: true });
    for (let w = 0; w < WORKFLOWS; w++) {
      const tasks = Array.from({ length: TASKS_PER_WORKFLOW }, (_, i) => ({
        id: `t${i}`, agent: "slow", input: { w, i }, dependsOn: i === 0 ? [] : i < TASKS_PER_WORKFLOW - 1 ? ["t0"] : Array.from({ length: TASKS_PER_WORKFLOW - 2 }, (_, j) => `t${j + 1}`),
      }));
      const r = await api.post("/workflows", { id: `wf${w}`, tasks });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    for (let k = 0; k < KILLS; k++) {
      await sleep(300 + Math.floor(Math.random() * 1200));
      const before = (await api.get("/status")).body.statistics;
      worker.crash();
      const t0 = Date.now();
      worker = await startWorker({ stateDir });
      api = client(worker.url, "crash");
      const after = (await api.get("/status")).body.statistics;
      recoveries.push(Date.now() - t0);
      // Nothing that completed before the crash is lost (writes land before calls leave).
      assert.ok(after.tasks_completed >= before.tasks_completed, `completed ${before.tasks_completed} -> ${after.tasks_completed}`);
      assert.equal(after.total_tasks, WORKFLOWS * TASKS_PER_WORKFLOW);
    }
    for (let w = 0; w < WORKFLOWS; w++) {
      const wf = await until(async () => { const r = await api.get(`/workflows/wf${w}`); return r.body.status !== "Running" && r.body; }, 60_000, `wf${w}`);
      assert.equal(wf.status, "Completed", JSON.stringify(wf.tasks));
      assert.equal(Object.keys(wf.outputs).length, TASKS_PER_WORKFLOW);
    }
    // Every task ran; a task ran more than once only as a re-issue with a later attempt number.
    assert.equal(agents.calls.size, WORKFLOWS * TASKS_PER_WORKFLOW);
    let duplicates = 0;
    for (const [key, list] of agents.calls) {
      const attempts = list.map((c) => c.attempt);
      assert.deepEqual(attempts, [...attempts].sort((a, b) => a - b), `${key}: attempts ${attempts}`);
      assert.equal(new Set(attempts).size, attempts.length, `${key} was called twice with the same attempt: ${attempts}`);
      duplicates += list.length - 1;
    }
    const tasks = (await api.get("/tasks?workflow=wf0")).body.tasks;
    assert.ok(tasks.every((t) => t.status === "Completed"));
    console.log(`# ${KILLS} kills; recovery (restart to first answer) ${recoveries.map((r) => `${r} ms`).join(", ")}; ${duplicates} re-issued calls for ${agents.calls.size} tasks`);
  } finally {
    worker.stop();
    agents.close();
  }
});

/** What the namespace's event stream sends at once after `after` (its backlog, sent as one frame). */
async function firstFrames(url, ns, after) {
  const ctrl = new AbortController();
  const res = await fetch(`${url}/v1/ns/${ns}/events?after=${after}`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ctrl.signal });
  const reader = res.body.getReader();
  let text = "";
  const quiet = new Promise((r) => setTimeout(r, 1500));
  for (;;) {
    const chunk = await Promise.race([reader.read(), quiet.then(() => null)]);
    if (chunk === null || chunk.done) break;
    text += new TextDecoder().decode(chunk.value);
  }
  ctrl.abort();
  return text;
}

test("after a restart, resuming the event stream from before the last snapshot is told of the gap", async () => {
  const stateDir = tempDir("baton-gap-");
  let worker = await startWorker({ stateDir });
  try {
    let api = client(worker.url, "gap");
    await api.post("/agents", { id: "e", demo: "echo", start: true });
    // Enough events for a snapshot (every 500), after which storage keeps only the tail.
    const tasks = Array.from({ length: 250 }, (_, i) => ({ id: `t${i}`, agent: "e", input: i }));
    assert.equal((await api.post("/workflows", { id: "many", tasks })).status, 201);
    await until(async () => (await api.get("/workflows/many")).body.status === "Completed", 30_000, "the workflow");
    const listed = (await api.get("/snapshots")).body.snapshots.filter((s) => s.reason === "every");
    assert.ok(listed.length >= 1, JSON.stringify(listed));
    assert.equal((await api.get(`/snapshots/${listed[0].id}`)).status, 200, "read whole while the journal holds it");
    worker.crash(); // not stop(): a SIGTERM'd workerd could still hold the state as the next starts
    worker = await startWorker({ stateDir });
    api = client(worker.url, "gap");
    const seq = (await api.get("/status")).body.journalSeq;
    assert.ok(seq > 500, `seq ${seq}`);
    // DESIGN's "every N events" snapshots are listed too, after a restart as before it.
    const every = (await api.get("/snapshots")).body.snapshots.filter((s) => s.reason === "every");
    assert.ok(every.length >= 1, JSON.stringify(every));
    const frames = await firstFrames(worker.url, "gap", 0);
    const gap = frames.match(/event: gap\ndata: (.*)\n/);
    assert.ok(gap, frames.slice(0, 300));
    const { after, next, message } = JSON.parse(gap[1]);
    assert.equal(after, 0);
    assert.ok(next > 1 && next <= seq + 1, `next ${next}`);
    assert.match(message, /no longer held/);
    // From the first seq held (or the end, if the last write was a snapshot), no gap.
    assert.doesNotMatch(await firstFrames(worker.url, "gap", next - 1), /event: gap/);
  } finally {
    worker.stop();
  }
});
