// Persistence outside the Worker: a run written to a store as it goes is reopened after the
// process dies (SIGKILL at a random point) and finishes with no task lost.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Orchestrator, MemoryStore, FileStore } from "../../pkg/node.js";
import { tempDir } from "../tempdir.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const worker = join(here, "fixtures/restart-worker.mjs");

/** Runs the worker until it prints `done` or until `killAfter` completions, then SIGKILLs it. */
function run(dir, killAfter) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, dir, "30", "15"], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "", killed = false;
    const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`the worker hung:\n${out}`)); }, 60_000);
    child.stdout.on("data", (d) => {
      out += d;
      const n = [...out.matchAll(/^completed (\d+)$/gm)].length;
      if (killAfter !== undefined && !killed && n >= killAfter) { killed = true; child.kill("SIGKILL"); }
    });
    child.on("exit", (code, signal) => { clearTimeout(timer); resolve({ out, code, signal }); });
  });
}

test("a FileStore run survives SIGKILL at random points and completes every task", async () => {
  const dir = tempDir("baton-restart-");
  let kills = 0;
  // Kill after a random number of completions (seeded by the test's own counter, bounded).
  let result = await run(dir, 2 + Math.floor(Math.random() * 6));
  while (result.signal === "SIGKILL" && kills < 6) {
    kills++;
    result = await run(dir, kills < 4 ? 2 + Math.floor(Math.random() * 6) : undefined);
  }
  assert.ok(kills >= 1, "the worker was killed at least once");
  assert.equal(result.code, 0, result.out);
  const done = JSON.parse(result.out.match(/^done (.*)$/m)[1]);
  assert.deepEqual(done, { status: "Completed", completed: 30 });
  // At-least-once: every task ran; a task runs again only because a kill cut its call short,
  // so no task ran more than once per kill plus once.
  const calls = readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n");
  const perTask = new Map();
  for (const l of calls) perTask.set(l.split(" ")[0], (perTask.get(l.split(" ")[0]) ?? 0) + 1);
  assert.equal(perTask.size, 30);
  for (const [task, n] of perTask) assert.ok(n <= kills + 1, `${task} ran ${n} times with ${kills} kills`);
  // The store holds a snapshot and the lines after it, not the whole history.
  const files = readdirSync(join(dir, "state"));
  assert.ok(files.some((f) => /^snapshot-\d+\.json$/.test(f)), files.join(","));
  console.log(`# ${kills} kills, ${calls.length} calls for 30 tasks`);
});

test("Orchestrator.open on a MemoryStore resumes queued work with the handlers it is given", async () => {
  const store = new MemoryStore();
  const a = new Orchestrator({ store, clock: "virtual", seed: 5, maxConcurrency: 1, snapshotEveryEvents: 7 });
  a.registerAgent({ id: "double", handler: async (x, ctx) => { await ctx.sleep(50); return x * 2; } });
  a.startAgent("double");
  const ids = [1, 2, 3, 4, 5, 6].map((x) => a.submit({ agent: "double", input: x }));
  await a.wait(ids[1]);
  await a.flush();
  const before = a.statistics().tasks_completed;
  a.close();
  assert.ok(before >= 2 && before < 6);
  const b = await Orchestrator.open(store, { clock: "virtual", agents: { double: async (x) => x * 2 } });
  const outputs = [];
  for (const id of ids) outputs.push((await b.wait(id)).output);
  assert.deepEqual(outputs, [2, 4, 6, 8, 10, 12]);
  assert.equal(b.tasks({ status: "Completed" }).length, 6);
  await b.flush();
  b.close();
});

test("Orchestrator.open on an empty store starts a run; registerAgent takes the handler from agents", async () => {
  const dir = tempDir("baton-empty-");
  const store = new FileStore(dir);
  const o = await Orchestrator.open(store, { clock: "virtual", agents: { echo: async (x) => x } });
  o.registerAgent({ id: "echo" });
  o.startAgent("echo");
  assert.equal((await o.wait(o.submit({ agent: "echo", input: "hi" }))).output, "hi");
  await o.flush();
  o.close();
  const again = await Orchestrator.open(store, { clock: "virtual", agents: { echo: async (x) => x } });
  assert.equal(again.tasks().length, 1);
  assert.equal(again.tasks()[0].status, "Completed");
  again.close();
});

test("a store that is not one, and a failing store, are clear errors", async () => {
  assert.throws(() => new Orchestrator({ store: {} }), { code: "invalid_argument", message: /store.load must be a function/ });
  await assert.rejects(Orchestrator.open({ load() {} }), { code: "invalid_argument" });
  const broken = new MemoryStore();
    broken.append = async () => { throw new Error("disk full"); };
  broken.saveSnapshot = async () => { throw new Error("disk full"); };
  const o = new Orchestrator({ store: broken, clock: "virtual" });
  o.registerAgent({ id: "a", handler: async () => 1 });
  const orig = console.error;
  console.error = () => {};
  try {
    await assert.rejects(o.flush(), { code: "store_failed", message: /disk full/ });
  } finally {
    console.error = orig;
    o.close();
  }
});

test("after a failed write the next write is a snapshot, so the store never has a hole", async () => {
  const store = new MemoryStore();
  let failOnce = true;
  const append = store.append.bind(store);
  store.append = async (...args) => {
    if (failOnce) { failOnce = false; throw new Error("a passing glitch"); }
    return append(...args);
  };
  const orig = console.error;
  console.error = () => {};
  try {
    const o = new Orchestrator({ store, clock: "virtual", seed: 9 });
    o.registerAgent({ id: "a", handler: async (n) => n + 1 });
    o.startAgent("a");
    const id = o.submit({ agent: "a", input: 1 });
    await o.wait(id);
    await o.flush(); // repaired by a snapshot: no error left to report
    o.close();
    const again = await Orchestrator.open(store, { clock: "virtual", agents: { a: async (n) => n + 1 } });
    assert.equal(again.getTask(id).output, 2);
    again.close();
  } finally {
    console.error = orig;
  }
});

/** A FileStore of a new directory holding one journal line (seq 1), and its journal's path. */
async function storeOfOneLine(prefix) {
  const dir = tempDir(prefix);
  const store = new FileStore(dir);
  await store.reset();
  await store.append('{"seq":1,"at":0}\n', 1);
  return { dir, store, path: join(dir, "journal-0.jsonl") };
}

test("FileStore: a line cut short by a crash is cut off the file, and later appends stay readable", async () => {
  const { appendFileSync, readFileSync: read } = await import("node:fs");
  const { dir, store, path } = await storeOfOneLine("baton-torn-");
  appendFileSync(path, '{"seq":2,"at"'); // the crash
  await store.release(); // as the process that crashed lets the directory go
  const again = new FileStore(dir);
  assert.equal((await again.load()).journal.trim(), '{"seq":1,"at":0}');
  await again.append('{"seq":2,"at":5}\n', 2);
  assert.deepEqual(read(path, "utf8").split("\n").filter(Boolean), ['{"seq":1,"at":0}', '{"seq":2,"at":5}']);
});

test("FileStore: a reader's load() leaves a batch still being appended alone; only open() cuts a torn one off", async () => {
  const { appendFileSync, readFileSync: read } = await import("node:fs");
  const { dir, store: writer, path } = await storeOfOneLine("baton-reader-");
  appendFileSync(path, '\n{"seq":2,"at":0}\n{"seq":3,"at":'); // the writer's next batch, half there
  const before = read(path, "utf8");
  // Another process (or another store, or the writer's own store) only reading: it sees the
  // whole batches, and the file is as it was.
  for (const reader of [new FileStore(dir), writer]) {
    assert.equal((await reader.load()).journal.trim(), '{"seq":1,"at":0}');
    assert.equal(read(path, "utf8"), before);
  }
  appendFileSync(path, '0}\n'); // the batch ends: its lines follow on, with no gap
  // What writes killed midway leave is removed by the next open, not kept for ever.
  const { writeFileSync: write, existsSync } = await import("node:fs");
  const leftovers = ["snapshot-7.json.tmp", "journal-0.jsonl.tmp", "lock.999999999.abc"];
  const { utimesSync } = await import("node:fs");
  const old = new Date(Date.now() - 60_000);
  for (const name of leftovers) {
    write(join(dir, name), "x");
    utimesSync(join(dir, name), old, old);
  }
  await writer.append('{"seq":4,"at":0}\n', 4);
  const lines = read(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).seq);
  assert.deepEqual(lines, [1, 2, 3, 4]);
  await writer.release();
  const opening = new FileStore(dir); // as Orchestrator.open uses it: lock, then load
  await opening.lock();
  assert.equal((await opening.load()).journal.split("\n").filter(Boolean).length, 4);
  await opening.release();
  assert.deepEqual(leftovers.filter((name) => existsSync(join(dir, name))), []);
});

test("FileStore: a batch cut short by a crash is dropped whole, so a resumed run never starts from half a command", async () => {
  const { readFileSync: read, writeFileSync: write } = await import("node:fs");
  const dir = tempDir("baton-torn-batch-");
  const handlers = { a: async (i) => i * 2 };
  const orch = new Orchestrator({ seed: 1, store: new FileStore(dir) });
  orch.registerAgent({ id: "a", handler: () => new Promise(() => {}) }); // its call stays in flight
  orch.startAgent("a");
  await orch.flush();
  const id = orch.submit({ agent: "a", input: 21 }); // one batch: created, queued, started, ...
  await orch.flush();
  orch.close();
  // The crash: the batch's append reached the disk up to a few bytes into the line after
  // task.created (the task is created but not yet queued).
  const path = join(dir, "journal-0.jsonl");
  const text = read(path, "utf8");
  const created = text.indexOf('"task.created"');
  const cut = text.indexOf("\n", created) + 10;
  write(path, text.slice(0, cut));
  const resumed = await Orchestrator.open(new FileStore(dir), { agents: handlers });
  assert.throws(() => resumed.getTask(id), (e) => e.code === "unknown_task", "the torn batch is gone whole: the task was never acknowledged by a flush");
  assert.equal(resumed.agentStatus("a"), "Running", "the batches before it are all there");
  const again = await resumed.wait(resumed.submit({ agent: "a", input: 21 }));
  assert.deepEqual([again.status, again.output], ["Completed", 42]);
  resumed.close();
});

test("IndexedDBStore in Node refuses with a coded BatonError that points to FileStore", async () => {
  const { IndexedDBStore, BatonError } = await import("../../pkg/node.js");
  await assert.rejects(new IndexedDBStore("x").load(), (e) => e instanceof BatonError && e.code === "invalid_argument" && /FileStore/.test(e.message));
});

test("a payload the journal cannot hold (a BigInt, over payloadBytesMax) is written as $unrecorded, with a warning", async () => {
  const warnings = [];
  const warn = console.warn;
  console.warn = (m) => warnings.push(String(m));
  try {
    const orch = new Orchestrator({ seed: 1, clock: "virtual", payloadBytesMax: 1000 });
    orch.registerAgent({ id: "a", handler: async (x) => x });
    orch.startAgent("a");
    orch.submit({ agent: "a", input: { n: 10n } });
    orch.submit({ agent: "a", input: "x".repeat(5000) });
    const created = orch.journal().filter((r) => r.type === "task.created").map((r) => r.data.input);
    orch.close();
    assert.match(created[0].$unrecorded, /BigInt/);
    assert.match(created[1].$unrecorded, /over payload_bytes_max/);
    assert.equal(warnings.length, 1, "warned once");
    assert.match(warnings[0], /could not be recorded/);
  } finally {
    console.warn = warn;
  }
});

test("removeAgent: gone from lookups and lists, its id free again, and so after Orchestrator.open", async () => {
  const store = new MemoryStore();
  const a = new Orchestrator({ store, clock: "virtual", seed: 3 });
  a.registerAgent({ id: "w", handler: async (x) => `old ${x}` });
  a.startAgent("w");
  const done = a.submit({ agent: "w", input: 1 });
  await a.wait(done);
  a.pauseAgent("w");
  const waiting = a.submit({ agent: "w", input: 2 });
  a.removeAgent("w");
  assert.equal((await a.wait(waiting)).status, "Cancelled");
  assert.equal(a.agentsStatus().w, undefined);
  assert.equal(a.statistics().total_agents, 0);
  assert.throws(() => a.agentStatus("w"), (e) => e.code === "unknown_agent");
  assert.throws(() => a.removeAgent("w"), (e) => e.code === "unknown_agent");
  assert.ok(a.journal().some((r) => r.type === "agent.removed" && r.data.agent === "w"));
  a.registerAgent({ id: "w", handler: async (x) => `new ${x}` });
  a.startAgent("w");
  assert.equal((await a.wait(a.submit({ agent: "w", input: 3 }))).output, "new 3");
  assert.equal(a.getTask(done).agent, "w", "the old agent's tasks keep its id");
  assert.ok(a.verifyReplay().ok);
  await a.flush();
  a.close();
  const b = await Orchestrator.open(store, { clock: "virtual", agents: { w: async (x) => `again ${x}` } });
  assert.equal(b.agentStatus("w"), "Running");
  assert.equal(Object.keys(b.agentsStatus()).length, 1);
  assert.equal((await b.wait(b.submit({ agent: "w", input: 4 }))).output, "again 4");
  b.removeAgent("w");
  // Restored with the run's handlers, one of an agent removed since is left unused (a name
  // never registered is still refused).
  const snap = b.snapshot();
  const restored = Orchestrator.restore(snap, { clock: "virtual", agents: { w: async () => 0 } });
  assert.deepEqual(restored.agentsStatus(), {});
  restored.close();
  assert.throws(() => Orchestrator.restore(snap, { agents: { typo: async () => 0 } }), (e) => e.code === "unknown_agent");
  await b.flush();
  b.close();
  const c = await Orchestrator.open(store, { clock: "virtual" });
  assert.deepEqual(c.agentsStatus(), {});
  assert.throws(() => c.agentStatus("w"), (e) => e.code === "unknown_agent");
  c.close();
});

test("flush() waits for writes queued while it waits: flush, close and open again never see an older run", async () => {
  for (let round = 0; round < 20; round++) {
    const dir = tempDir("baton-flush-");
    const store = new FileStore(dir);
    const handler = async (x, ctx) => { await ctx.sleep(100); return x; };
    const a = new Orchestrator({ seed: 1, clock: "virtual", store, snapshotEveryEvents: 5 });
    a.registerAgent({ id: "w", concurrency: 1, handler });
    a.startAgent("w");
    const ids = [1, 2, 3, 4, 5, 6].map((x) => a.submit({ agent: "w", input: x }));
    await a.wait(ids[1]);
    await a.flush();
    a.close();
    const b = await Orchestrator.open(store, { agents: { w: handler } });
    await b.wait(ids[3]);
    await b.flush();
    b.close();
    const c = await Orchestrator.open(store, { agents: { w: handler } });
    const outputs = [];
    for (const id of ids) outputs.push((await c.wait(id)).output);
    assert.deepEqual(outputs, [1, 2, 3, 4, 5, 6], `round ${round}`);
    await c.flush();
    c.close();
  }
});

test("close() without flush(), then open() on the same store: open loads after the closed run's writes", async () => {
  // A store whose writes take a while, as a disk or IndexedDB under load.
  class SlowStore extends MemoryStore {
    async append(lines, seq) { await new Promise((r) => setTimeout(r, 5)); return super.append(lines, seq); }
    async saveSnapshot(text, seq) { await new Promise((r) => setTimeout(r, 5)); return super.saveSnapshot(text, seq); }
  }
  for (const make of [() => new SlowStore(), () => new FileStore(tempDir("baton-close-open-"))]) {
    const store = make();
    const handler = async (x, ctx) => { await ctx.sleep(100); return x * 10; };
    const a = new Orchestrator({ seed: 7, clock: "virtual", store, snapshotEveryEvents: 4 });
    a.registerAgent({ id: "w", concurrency: 1, handler });
    a.startAgent("w");
    const ids = [1, 2, 3, 4].map((x) => a.submit({ agent: "w", input: x }));
    await a.wait(ids[0]);
    a.close(); // no flush: its last writes are still going
    const b = await Orchestrator.open(store, { agents: { w: handler } });
    assert.equal(b.tasks().length, 4, "the closed run, not a new one");
    const outputs = [];
    for (const id of ids) outputs.push((await b.wait(id)).output);
    assert.deepEqual(outputs, [10, 20, 30, 40]);
    await b.flush();
    b.close();
    // Written by one history: it opens again, every seq once.
    const c = await Orchestrator.open(store, { agents: { w: handler } });
    const seqs = c.journal().map((r) => r.seq);
    assert.deepEqual(seqs, [...new Set(seqs)].sort((x, y) => x - y));
    const again = [];
    for (const id of ids) again.push((await c.wait(id)).output);
    assert.deepEqual(again, [10, 20, 30, 40]);
    c.close();
  }
});

test("a restored run's re-issued call gets its deadline from the snapshot's time, not the virtual clock's start", async () => {
  let a, snapshot, taskId;
  const handler = async (x, ctx) => {
    if (snapshot === undefined) {
      // In flight when the snapshot is taken, at virtual time 5,000.
      snapshot = a.snapshot();
      taskId = ctx.taskId;
      return new Promise(() => {});
    }
    await ctx.sleep(10);
    return x;
  };
  a = new Orchestrator({ seed: 2, clock: "virtual" });
  a.registerAgent({ id: "w", timeoutMs: 1_000, handler });
  a.startAgent("w");
  a.schedule({ at: 5_000 }, { agent: "w", input: 1 });
  while (snapshot === undefined) await new Promise((r) => setTimeout(r, 1));
  a.close();
  const b = Orchestrator.restore(snapshot, { clock: "virtual", agents: { w: handler } });
  const t = await b.wait(taskId);
  assert.equal(t.status, "Completed", JSON.stringify(t.error));
  assert.equal(t.attempts, 2);
  b.close();
});

test("a run that replaces another on a FileStore leaves one of the two whole if the process dies at any point", async () => {
  const fixture = join(here, "fixtures/replace-crash.mjs");
  for (const ms of [0, 1, 2, 3, 4, 5, 6, 8, 12]) {
    const dir = tempDir("baton-replace-");
    await new Promise((resolve) => spawn(process.execPath, [fixture, dir, String(ms)], { stdio: "ignore" }).on("exit", resolve));
    const loaded = await new FileStore(dir).load();
    assert.notEqual(loaded, null, `killed after ${ms} ms: the store is empty`);
    const orch = await Orchestrator.open(new FileStore(dir), { agents: { d: async (n) => n * 2 }, clock: "virtual" });
    const completed = orch.tasks({ status: "Completed" }).map((t) => orch.getTask(t.id).output);
    assert.deepEqual(completed.slice(0, 3), [2, 4, 6], `killed after ${ms} ms`);
    orch.close();
  }
});

test("FileStore: one writer per directory; a closed run's writes end before another opens it; a stale lock is taken over", async () => {
  const { writeFileSync, existsSync } = await import("node:fs");
  const dir = tempDir("baton-lock-");
  const a = await Orchestrator.open(new FileStore(dir), { clock: "virtual" });
  a.registerAgent({ id: "w", handler: async (n) => n + 1 });
  a.startAgent("w");
  await a.wait(a.submit({ agent: "w", input: 1 }));
  // A second orchestrator on the directory while the first is open is refused, not a second history.
  await assert.rejects(Orchestrator.open(new FileStore(dir), { clock: "virtual" }), (e) => e.code === "store_busy");
  // Closed, with its last writes still on their way: the next open waits for them.
  a.submit({ agent: "w", input: 2 });
  a.close();
  const b = await Orchestrator.open(new FileStore(dir), { agents: { w: async (n) => n + 1 }, clock: "virtual" });
  assert.equal(b.statistics().total_tasks, 2);
  b.close();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(existsSync(join(dir, "lock")), false, "closed, the lock is gone");
  // A lock left by a process that died is taken over.
  writeFileSync(join(dir, "lock"), "999999999\n");
  const c = await Orchestrator.open(new FileStore(dir), { clock: "virtual" });
  assert.equal(c.statistics().total_tasks, 2);
  // Held, the lock names this process's PID namespace too (two containers on one volume are
  // both pid 1), and is touched while held, so that another namespace can tell it is alive.
  const [pid, space] = readFileSync(join(dir, "lock"), "utf8").split("\n");
  assert.equal(Number(pid), process.pid);
  assert.ok(space.length > 0);
  c.close();
  await new Promise((r) => setTimeout(r, 20));
  // Another namespace's lock (pid 1, as a container's) untouched for a minute is a dead one's.
  const { utimesSync } = await import("node:fs");
  writeFileSync(join(dir, "lock"), "1\npid:[0]\n");
  const old = new Date(Date.now() - 60_000);
  utimesSync(join(dir, "lock"), old, old);
  const d = await Orchestrator.open(new FileStore(dir), { clock: "virtual" });
  assert.equal(d.statistics().total_tasks, 2);
  d.close();
  await new Promise((r) => setTimeout(r, 20));
  // A journal after a snapshot that is gone is an error, not a new run that deletes it.
  const broken = tempDir("baton-nosnap-");
  writeFileSync(join(broken, "journal-30.jsonl"), '\n{"seq":31,"at":0,"type":"task.queued","data":{"task":"task-1"}}\n\n');
  await assert.rejects(Orchestrator.open(new FileStore(broken), { clock: "virtual" }), (e) => e.code === "decode_error" && /snapshot-30/.test(e.message));
  assert.deepEqual(readdirSync(broken).filter((f) => f.startsWith("journal-")), ["journal-30.jsonl"], "the journal is kept");
  // A snapshot's start cut short (its journal begun, the snapshot not yet in place) is no loss.
  writeFileSync(join(dir, "journal-999.jsonl"), "\n");
  const e = await Orchestrator.open(new FileStore(dir), { clock: "virtual" });
  assert.equal(e.statistics().total_tasks, 2);
  e.close();
});

test("FileStore: a run closed before its first write is reopened whole by another FileStore, at once or later, and the same store reopens too", async () => {
  const { existsSync } = await import("node:fs");
  const slow = async (n, ctx) => { await ctx.sleep(100); return n * 2; };
  for (const pause of [0, 50, "same"]) {
    const dir = tempDir("baton-reopen-");
    const store = new FileStore(dir);
    const first = new Orchestrator({ store, clock: "virtual", seed: 1 });
    first.registerAgent({ id: "double", handler: slow, concurrency: 1 });
    first.startAgent("double");
    for (const n of [1, 2, 3]) first.submit({ agent: "double", input: n });
    await first.wait("task-1");
    first.close(); // its writes are still on their way: none has taken the lock yet
    if (typeof pause === "number") await new Promise((r) => setTimeout(r, pause));
    const again = await Orchestrator.open(pause === "same" ? store : new FileStore(dir), { clock: "virtual", agents: { double: slow } });
    assert.equal(again.statistics().total_tasks, 3, `reopened after ${pause}`);
    assert.deepEqual(await Promise.all(["task-1", "task-2", "task-3"].map(async (id) => (await again.wait(id)).output)), [2, 4, 6]);
    assert.ok(existsSync(join(dir, "lock")), "the reopened run holds the lock");
    await again.flush();
    again.close();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(existsSync(join(dir, "lock")), false, "closed, the lock is gone");
  }
});

test("FileStore: a second orchestrator refused while the first wrote never replaces the first run, however they close", async () => {
  const { readdirSync: files } = await import("node:fs");
  const warn = console.warn;
  console.warn = () => {}; // the refused writes are logged
  try {
    for (const apart of [0, 50]) {
      const dir = tempDir("baton-intruder-");
      const first = new Orchestrator({ store: new FileStore(dir), clock: "virtual" });
      first.registerAgent({ id: "a", handler: async (n) => n });
      first.startAgent("a");
      await first.wait(first.submit({ agent: "a", input: 1 }));
      await first.flush();
      const intruder = new Orchestrator({ store: new FileStore(dir), clock: "virtual" });
      intruder.registerAgent({ id: "intruder", handler: async () => 0 });
      await assert.rejects(intruder.flush(), (e) => e.code === "store_busy");
      intruder.close();
      if (apart > 0) await new Promise((r) => setTimeout(r, apart));
      first.close();
      await new Promise((r) => setTimeout(r, 50));
      const again = await Orchestrator.open(new FileStore(dir), { clock: "virtual", agents: { a: async (n) => n } });
      assert.deepEqual(Object.keys(again.agentsStatus()), ["a"], `closed ${apart} ms apart`);
      assert.equal(again.statistics().tasks_completed, 1);
      again.close();
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(files(dir).includes("lock"), false);
    }
  } finally {
    console.warn = warn;
  }
});

test("FileStore: an orchestrator closed at once on a directory another process holds writes nothing there", async () => {
  const { writeFileSync, readdirSync: files, readFileSync: read } = await import("node:fs");
  const warn = console.warn;
  console.warn = () => {};
  try {
    for (const wait of [false, true]) {
      const dir = tempDir("baton-other-process-");
      writeFileSync(join(dir, "lock"), `${process.ppid}\n`); // a live process that is not this one
      writeFileSync(join(dir, "journal-0.jsonl"), "\n");
      const orch = new Orchestrator({ store: new FileStore(dir), clock: "virtual" });
      orch.registerAgent({ id: "x", handler: async () => 1 });
      if (wait) await assert.rejects(orch.flush(), (e) => e.code === "store_busy");
      orch.close();
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(files(dir).sort(), ["journal-0.jsonl", "lock"], `waited for a write: ${wait}`);
      assert.equal(read(join(dir, "journal-0.jsonl"), "utf8"), "\n");
      assert.equal(read(join(dir, "lock"), "utf8").trim(), String(process.ppid));
    }
  } finally {
    console.warn = warn;
  }
});

test("FileStore: a failed open lets the lock go; a new run on a closed run's store keeps it; a symlink is the same directory", async () => {
  const { existsSync, symlinkSync } = await import("node:fs");
  const dir = tempDir("baton-lock-edges-");
  const first = new Orchestrator({ store: new FileStore(dir), clock: "virtual", seed: 2 });
  first.registerAgent({ id: "w", handler: async (n) => n });
  first.startAgent("w");
  await first.wait(first.submit({ agent: "w", input: 1 }));
  first.close();
  // Refused after taking the lock: nobody holds it then.
  await assert.rejects(Orchestrator.open(new FileStore(dir), { maxConcurrency: -1 }), (e) => e.code === "invalid_argument");
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(existsSync(join(dir, "lock")), false, "a failed open leaves no lock");
  // A run closed, and at once a new one on the same store object: the closed run's release does
  // not let the directory go under the new one.
  const store = new FileStore(dir);
  const a = await Orchestrator.open(store, { agents: { w: async (n) => n } });
  a.close();
  const b = new Orchestrator({ store, clock: "virtual" });
  b.registerAgent({ id: "x", handler: async (n) => n });
  await b.flush();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(existsSync(join(dir, "lock")), true, "the new run holds the lock");
  await assert.rejects(Orchestrator.open(new FileStore(dir)), (e) => e.code === "store_busy");
  // The same directory by another path is the same directory.
  const alias = `${dir}-alias`;
  symlinkSync(dir, alias);
  await assert.rejects(Orchestrator.open(new FileStore(alias)), (e) => e.code === "store_busy");
  b.close();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(existsSync(join(dir, "lock")), false);
});

test("a long run's store writes stay proportional to its journal, though the state it snapshots grows", async () => {
  let written = 0;
  const inner = new MemoryStore();
  const store = {
    load: () => inner.load(),
    reset: () => inner.reset(),
    append: (lines, seq) => { written += lines.length; return inner.append(lines, seq); },
    saveSnapshot: (text, seq) => { written += text.length; return inner.saveSnapshot(text, seq); },
  };
  const orch = new Orchestrator({ clock: "virtual", store });
  orch.registerAgent({ id: "w", handler: async (n) => n });
  orch.startAgent("w");
  for (let batch = 0; batch < 80; batch++) {
    const ids = Array.from({ length: 100 }, (_, i) => orch.submit({ agent: "w", input: batch * 100 + i }));
    await orch.wait(ids.at(-1));
    await orch.flush();
  }
  const journal = orch.journalText().length;
  orch.close();
  // Snapshotting the whole state every 1,000 events wrote 9× the journal at 16,000 tasks, 18× at 32,000.
  assert.ok(written < 3 * journal, `the store got ${written} bytes for a journal of ${journal}`);
});

test("a store that fails while it is opened gives a BatonError store_failed, with what it threw as the cause", async () => {
  const denied = Object.assign(new Error("EACCES: permission denied, scandir '/runs'"), { code: "EACCES" });
  const unreadable = { load: async () => { throw denied; }, append: async () => {}, saveSnapshot: async () => {}, reset: async () => {} };
  await assert.rejects(Orchestrator.open(unreadable), (e) => e.name === "BatonError" && e.code === "store_failed" && e.cause === denied && /could not be read: EACCES/.test(e.message));
  const unlockable = { ...unreadable, load: async () => null, lock: async () => { throw denied; } };
  await assert.rejects(Orchestrator.open(unlockable), (e) => e.code === "store_failed" && e.cause === denied);
  // The store's own BatonError passes through as it is.
  const busy = { ...unreadable, lock: async () => { throw Object.assign(new Error("held"), { name: "BatonError", code: "store_busy" }); } };
  await assert.rejects(Orchestrator.open(busy), (e) => e.code === "store_busy" && e.message === "held");
});

test("one store object, one open run: a second orchestrator given it is refused its writes and open() is refused, until the first closes", async () => {
  for (const make of [() => new MemoryStore(), () => new FileStore(tempDir("baton-one-object-"))]) {
    const store = make();
    const a = new Orchestrator({ store, clock: "virtual", seed: 1 });
    a.registerAgent({ id: "a", handler: async (n) => n });
    a.startAgent("a");
    await a.wait(a.submit({ agent: "a", input: 1 }));
    await a.flush();
    const b = new Orchestrator({ store, clock: "virtual", seed: 2 });
    b.registerAgent({ id: "b", handler: async (n) => n });
    await assert.rejects(b.flush(), { code: "store_busy" });
    await assert.rejects(Orchestrator.open(store), { code: "store_busy" });
    // The first run goes on writing, whole.
    await a.wait(a.submit({ agent: "a", input: 2 }));
    await a.flush();
    // Closed after the first, the refused run writes nothing over it.
    a.close();
    b.close();
    await new Promise((r) => setTimeout(r, 20));
    const again = await Orchestrator.open(store, { clock: "virtual", agents: { a: async (n) => n } });
    assert.deepEqual(Object.keys(again.agentsStatus()), ["a"]);
    assert.equal(again.statistics().tasks_completed, 2);
    assert.equal(again.seed, 1);
    again.close();
    await new Promise((r) => setTimeout(r, 20));
  }
});

test("one store object, one open run: open() right after a run was made or restored on it is refused; a refused run that gets the store once the first closes replaces its run", async () => {
  const w = async (n) => n;
  for (const make of [() => new MemoryStore(), () => new FileStore(tempDir("baton-handover-"))]) {
    const store = make();
    const a = new Orchestrator({ store, clock: "virtual", seed: 1, snapshotEveryEvents: 50 });
    await assert.rejects(Orchestrator.open(store), { code: "store_busy" }, "made, not yet written");
    a.registerAgent({ id: "a", handler: w });
    a.startAgent("a");
    for (let i = 0; i < 60; i++) await a.wait(a.submit({ agent: "a", input: i }));
    await a.flush();
    const restored = Orchestrator.restore(a.snapshot(), { store, agents: { a: w } });
    await assert.rejects(Orchestrator.open(store), { code: "store_busy" }, "restored onto it");
    restored.close();
    // b is refused while a holds the store; once a has closed, b's next write replaces a's run.
    const b = new Orchestrator({ store, clock: "virtual", seed: 2 });
    b.registerAgent({ id: "b", handler: w });
    await assert.rejects(b.flush(), { code: "store_busy" });
    a.close();
    b.startAgent("b");
    await b.wait(b.submit({ agent: "b", input: 1 }));
    await b.flush();
    b.close();
    await new Promise((r) => setTimeout(r, 20));
    const again = await Orchestrator.open(store, { clock: "virtual", agents: { b: w } });
    assert.equal(again.seed, 2);
    assert.deepEqual(Object.keys(again.agentsStatus()), ["b"]);
    again.close();
    await new Promise((r) => setTimeout(r, 20));
  }
});

test("open() and restore() refuse a run whose agent has work but no handler given (a misspelled id), and leave it as it was", async () => {
  const store = new MemoryStore();
  const first = new Orchestrator({ store });
  first.registerAgent({ id: "worker", handler: () => new Promise(() => {}) }); // never answers
  first.startAgent("worker");
  first.registerAgent({ id: "clerk" }); // manual tasks only: it needs no handler
  first.startAgent("clerk");
  first.startTask(first.createTask("clerk", "by hand"));
  const ids = [1, 2, 3].map((n) => first.submit({ agent: "worker", input: n }));
  await first.flush();
  const snapshot = first.snapshot();
  first.close();
  await assert.rejects(Orchestrator.open(store, { agents: { Worker: async (n) => n } }), (e) =>
    e.code === "invalid_argument" && /agent 'worker' has tasks to run \(task-\d+ (Running|Queued)\) but agents gives it no handler \(given: 'Worker'\)/.test(e.message));
  assert.throws(() => Orchestrator.restore(snapshot), (e) => e.code === "invalid_argument" && /agent 'worker'/.test(e.message));
  // Nothing was written or failed: with the handler, every task completes.
  const again = await Orchestrator.open(store, { agents: { worker: async (n) => n * 10 } });
  assert.deepEqual(await Promise.all(ids.map(async (id) => (await again.wait(id)).output)), [10, 20, 30]);
  again.close();
});

test("await close() then process.exit(): the run's last writes are in the store", async () => {
  const dir = tempDir("baton-close-exit-");
  const pkg = join(here, "../../pkg/node.js");
  const program = `
    import { Orchestrator, FileStore } from ${JSON.stringify(pkg)};
    const orch = new Orchestrator({ store: new FileStore(${JSON.stringify(dir)}) });
    orch.registerAgent({ id: "a", handler: async (n) => n });
    orch.startAgent("a");
    const ids = Array.from({ length: 20 }, (_, i) => orch.submit({ agent: "a", input: i }));
    await Promise.all(ids.map((id) => orch.wait(id)));
    await orch.close();
    process.exit(0);`;
  const code = await new Promise((resolve) => spawn(process.execPath, ["--input-type=module", "-e", program], { stdio: "inherit" }).on("exit", resolve));
  assert.equal(code, 0);
  const again = await Orchestrator.open(new FileStore(dir), { agents: { a: async (n) => n } });
  assert.equal(again.statistics().tasks_completed, 20);
  assert.equal(await again.close(), undefined);
  assert.equal(await again.close(), undefined, "a second close() resolves too");
});

test("open() with the options the stored run recorded resumes it without a warning; a differing one is named", async () => {
  const store = new MemoryStore();
  const options = { seed: 5, maxConcurrency: 4, retry: { maxAttempts: 2 }, agents: { a: async (n) => n } };
  const first = await Orchestrator.open(store, options);
  first.registerAgent({ id: "a" });
  first.startAgent("a");
  await first.wait(first.submit({ agent: "a", input: 1 }));
  await first.close();
  const warned = [];
  const warn = console.warn;
  console.warn = (m) => warned.push(String(m));
  try {
    (await Orchestrator.open(store, options)).close();
    assert.deepEqual(warned, [], "the same options: nothing to say");
    (await Orchestrator.open(store, { ...options, maxConcurrency: 8 })).close();
    assert.equal(warned.length, 1);
    assert.match(warned[0], /'maxConcurrency' cannot be given here/);
    assert.doesNotMatch(warned[0], /'retry'/);
  } finally {
    console.warn = warn;
  }
});

test("FileStore: a store object opened again after another moved the run on reads the files afresh", async () => {
  const dir = tempDir("baton-stale-base-");
  const h = async (x) => x;
  const A = new FileStore(dir);
  let o = await Orchestrator.open(A, { clock: "virtual", agents: { a: h } });
  o.registerAgent({ id: "a" });
  o.startAgent("a");
  o.createTask("a", "one");
  await o.close();
  // Another store moves the run on to a new snapshot (and its journal file).
  o = await Orchestrator.open(new FileStore(dir), { clock: "virtual", agents: { a: h }, snapshotEveryEvents: 2 });
  for (let i = 0; i < 5; i++) o.createTask("a", `b${i}`);
  await o.close();
  // A again: its writes follow the run where it now is, not the file it knew.
  o = await Orchestrator.open(A, { clock: "virtual", agents: { a: h } });
  for (let i = 0; i < 3; i++) o.createTask("a", `again${i}`);
  await o.close();
  const again = await Orchestrator.open(new FileStore(dir), { clock: "virtual", agents: { a: h } });
  assert.equal(again.tasks({}).length, 9);
  await again.close();
});
