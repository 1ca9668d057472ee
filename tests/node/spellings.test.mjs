// The spellings the issues, DESIGN and the seeds use are taken as written: seed 001's execution
// pattern given apart and in capitals, the "continue-and-skip-dependents", DESIGN's Idle
// and Active, seed 004's described capabilities and its `parameters` (or submit's `input`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "../../pkg/node.js";

function withAgent(handler = async (x) => x) {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  let running = 0;
  let most = 0;
  orch.registerAgent({
    id: "a",
    capabilities: ["x", { name: "echo", description: "Echo text back" }],
    handler: async (input, ctx) => {
      most = Math.max(most, ++running);
      await ctx.sleep(10);
      running--;
      return handler(input);
    },
  });
  orch.startAgent("a");
  return { orch, most: () => most };
}

const five = { tasks: ["p", "q", "r", "s", "t"].map((id) => ({ id, agent: "a", input: id })) };

test("a workflow's pattern may come as a second argument, in any case", async () => {
  for (const [options, expected] of [[{ pattern: "sequential" }, 1], [{ pattern: "PARALLEL", width: 2 }, 2], [undefined, 5]]) {
    const { orch, most } = withAgent();
    const result = await orch.runWorkflow(five, options);
    assert.equal(result.status, "Completed");
    assert.equal(most(), expected, JSON.stringify(options));
    orch.close();
  }
  const { orch, most } = withAgent();
  const id = orch.submitWorkflow(five, { pattern: "SEQUENTIAL" });
  assert.equal((await orch.waitWorkflow(id)).status, "Completed");
  assert.equal(most(), 1);
  assert.throws(() => orch.submitWorkflow(five, "sequential"), (e) => e.code === "invalid_argument");
  assert.throws(() => orch.submitWorkflow({ ...five, pattern: "pipeline" }), (e) => e.code === "invalid_argument" && /dag, sequential, parallel, supervisor, collaborative/.test(e.message));
  orch.close();
});

test('"continue-and-skip-dependents", as the foundation issue writes it', async () => {
  const { orch } = withAgent(async (x) => {
    if (x === "bad") throw new Error("no");
    return x;
  });
  const result = await orch.runWorkflow({
    failurePolicy: "continue-and-skip-dependents",
    tasks: [{ id: "bad", agent: "a", input: "bad" }, { id: "after", agent: "a", dependsOn: ["bad"] }, { id: "other", agent: "a", input: "ok" }],
  });
  assert.equal(result.status, "Failed");
  assert.deepEqual(result.outputs, { other: "ok" });
  orch.close();
});

test("orchestrate takes seed 004's parameters or submit's input, not both", async () => {
  const { orch } = withAgent();
  assert.deepEqual(orch.agentsStatus().a.capabilities, ["x", "echo"]);
  const viaParameters = await orch.orchestrate("s", { capability: "echo", parameters: { text: "hi" } });
  const viaInput = await orch.orchestrate("s", { capability: "echo", input: { text: "hi" } });
  assert.deepEqual([viaParameters.result, viaInput.result], [{ text: "hi" }, { text: "hi" }]);
  await assert.rejects(orch.orchestrate("s", { capability: "echo", input: 1, parameters: 2 }), (e) => e.code === "invalid_argument");
  orch.close();
});

test("DESIGN's Idle and Active are Ready and Running", () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  orch.registerAgent({ id: "a", handler: async () => 1 });
  orch.transitionAgent("a", "Initializing");
  orch.transitionAgent("a", "Idle");
  assert.equal(orch.agentStatus("a"), "Ready");
  orch.transitionAgent("a", "active");
  assert.equal(orch.agentStatus("a"), "Running");
  orch.close();
});

test("a deleted job is unknown to every command; a capability job's task has no empty agent", () => {
  const { orch } = withAgent();
  const job = orch.schedule({ everyMs: 1000 }, { capability: "echo", input: 1, priority: 2 });
  assert.deepEqual(orch.jobs()[0].task, { capability: "echo", priority: 2, input: 1 });
  orch.deleteJob(job);
  for (const command of [() => orch.pauseJob(job), () => orch.resumeJob(job), () => orch.deleteJob(job)]) {
    assert.throws(command, (e) => e.code === "unknown_job");
  }
  orch.close();
});

test("DESIGN's rate-limit names the rate_limit class, in a policy and on a thrown error", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  let calls = 0;
  orch.registerAgent({
    id: "a",
    onError: { "rate-limit": "skip" },
    handler: async () => {
      calls++;
      throw Object.assign(new Error("slow down"), { class: "rate-limit" });
    },
  });
  orch.startAgent("a");
  const task = await orch.wait(orch.submit({ agent: "a" }));
  assert.deepEqual([task.status, task.error.class, calls], ["Skipped", "rate_limit", 1]);
  orch.close();
});

test("a workflow option left undefined keeps the spec's; tasks are not an option", async () => {
  const { orch, most } = withAgent();
  const result = await orch.runWorkflow({ ...five, pattern: "sequential" }, { pattern: undefined, width: undefined });
  assert.equal(result.status, "Completed");
  assert.equal(most(), 1);
  await assert.rejects(orch.runWorkflow(five, { tasks: [] }), (e) => e.code === "invalid_argument");
  assert.throws(() => orch.pauseJob({}), (e) => e.code === "invalid_argument");
  orch.close();
});

test("a fallback may be an agent's id alone; a breaker's recovery time may be recoveryTimeMs", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  orch.registerAgent({
    id: "main",
    onError: { agent: "fallback" },
    fallback: "backup",
    circuitBreaker: { failureThreshold: 1, recoveryTimeMs: 5_000 },
    handler: async () => { throw new Error("down"); },
  });
  orch.registerAgent({ id: "backup", handler: async (x) => `backup: ${x}` });
  orch.startAgent("main");
  orch.startAgent("backup");
  const task = await orch.wait(orch.submit({ agent: "main", input: "hi" }));
  assert.deepEqual([task.status, task.output, task.agent], ["Completed", "backup: hi", "backup"]);
  assert.equal(orch.agentsStatus().main.breaker, "open");
  orch.close();
});

test("snapshots() lists each summary under the first seed's names too", async () => {
  const { orch } = withAgent();
  await orch.runWorkflow(five);
  const id = orch.snapshot().id;
  const [s] = orch.snapshots(1);
  assert.deepEqual([s.snapshot_id, s.task_count, s.completed_count, s.agents_status], [id, 5, 5, { a: "Running" }]);
  orch.close();
});

test("DESIGN's once / interval schedules, and a Date or an RFC 3339 time as `at`", async () => {
  const { orch } = withAgent();
  const once = orch.schedule({ once: new Date(5_000) }, { agent: "a", input: "once" });
  const at = orch.schedule({ at: "1970-01-01T00:00:07Z" }, { agent: "a", input: "at" });
  const every = orch.schedule({ interval: 60_000 }, { agent: "a", input: "every" });
  const jobs = Object.fromEntries(orch.jobs().map((j) => [j.id, j]));
  assert.deepEqual([jobs[once].nextRun, jobs[at].nextRun, jobs[every].nextRun], [5_000, 7_000, 60_000]);
  assert.deepEqual(jobs[every].trigger, { everyMs: 60_000 }, "kept in the one spelling");
  assert.throws(() => orch.schedule({ at: "soon" }, { agent: "a" }), (e) => e.code === "invalid_argument" && /RFC 3339/.test(e.message));
  orch.close();
});

test("a chain of thought's step may finish with finalAnswer, the result's own name", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  orch.registerAgent({ id: "r", handler: async () => ({ thought: "done", finalAnswer: 42 }) });
  orch.startAgent("r");
  const r = await orch.chainOfThought("p", "r", 3);
  assert.deepEqual([r.reasoningChain, r.finalAnswer], [["done"], 42]);
  orch.close();
});

test("compressSession(session) alone goes to an agent with the capability compress, as seed 004 calls it", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual" });
  orch.registerAgent({ id: "oracle", capabilities: ["analyze"], handler: async () => ({ trend: "up" }) });
  orch.startAgent("oracle");
  await orch.orchestrate("s1", { capability: "analyze", parameters: { symbol: "X" } });
  await assert.rejects(orch.compressSession("s1"), (e) => e.code === "no_capable_agent" && /compress/.test(e.message));
  orch.registerAgent({ id: "summarizer", capabilities: ["compress"], handler: async (input) => ({ summary: `${input.contracts.length} contracts` }) });
  orch.startAgent("summarizer");
  assert.deepEqual(await orch.compressSession("s1"), { summary: "2 contracts" });
  assert.deepEqual(orch.sessionMemory("s1"), { summary: "2 contracts" });
  // Seed 004's intent reaches the summarizer (as a third argument, or with the agent as options),
  // and a replay of the journal finds the same run.
  orch.registerAgent({ id: "echo", handler: async (input) => ({ intent: input.intent, memory: input.memory }) });
  orch.startAgent("echo");
  assert.deepEqual(await orch.compressSession("s1", "echo", "Testing echo and uppercase"), { intent: "Testing echo and uppercase", memory: { summary: "2 contracts" } });
  assert.equal((await orch.compressSession("s1", { agent: "echo", intent: "again" })).intent, "again");
  await assert.rejects(orch.compressSession("s1", { agent: "echo", why: "x" }), (e) => e.code === "invalid_argument" && /why/.test(e.message));
  assert.equal(orch.verifyReplay().ok, true);
  orch.close();
});

test("wait(id) given a workflow's id waits for the workflow", async () => {
  const { orch } = withAgent();
  const wf = orch.submitWorkflow(five);
  const result = await orch.wait(wf);
  assert.equal(result.status, "Completed");
  assert.deepEqual(Object.keys(result.outputs), ["p", "q", "r", "s", "t"]);
  await assert.rejects(orch.wait("nothing"), (e) => e.code === "unknown_task");
  orch.close();
});

test("snapshotEveryEvents lists a snapshot every N events (DESIGN's automatic snapshots), restorable", async () => {
  const orch = new Orchestrator({ seed: 1, clock: "virtual", snapshotEveryEvents: 10 });
  orch.registerAgent({ id: "a", handler: async (x) => x });
  orch.startAgent("a");
  for (let i = 0; i < 10; i++) await orch.wait(orch.submit({ agent: "a", input: i }));
  const every = orch.snapshots().filter((s) => s.reason === "every").sort((a, b) => a.seq - b.seq);
  assert.ok(every.length >= 3, JSON.stringify(orch.snapshots()));
  for (let i = 1; i < every.length; i++) assert.ok(every[i].seq - every[i - 1].seq >= 10, JSON.stringify(every));
  const again = Orchestrator.restore(orch.getSnapshot(every[0].id), { clock: "virtual", agents: { a: async (x) => x } });
  assert.ok(again.snapshots().some((s) => s.id === every[0].id), "restored from it, it stays listed");
  assert.ok(Orchestrator.verifyReplay(orch.journalText()).ok);
  const plain = new Orchestrator({ seed: 1, clock: "virtual" });
  assert.deepEqual(plain.snapshots(), [], "off unless asked for");
  for (const o of [orch, again, plain]) o.close();
});

test("snapshotEveryEvents decides alike live and in verifyReplay, whatever N, and a replay writes none", async () => {
  for (let n = 2; n <= 7; n++) {
    const orch = new Orchestrator({ seed: 3, clock: "virtual", snapshotEveryEvents: n });
    orch.registerAgent({ id: "a", handler: async (x, ctx) => { ctx.emit("my.one", x); ctx.emit("my.two", x); return x; } });
    orch.startAgent("a");
    for (let i = 0; i < 4; i++) await orch.wait(orch.submit({ agent: "a", input: i }));
    const journal = orch.journalText();
    const report = Orchestrator.verifyReplay(journal);
    assert.ok(report.ok, `N=${n}: ${JSON.stringify(report)}`);
    assert.ok(orch.snapshots().some((s) => s.reason === "every"), `N=${n}`);
    // A read-only replay part way is a picture: it records nothing of its own.
    const replayed = Orchestrator.replay(journal, { uptoSeq: 5 });
    assert.equal(replayed.journal().length, 5, `N=${n}`);
    replayed.close();
    orch.close();
  }
});

test("snapshotEveryEvents with timers due at the same time verifies, and a fork in the middle of a start finishes it", async () => {
  for (let n = 1; n <= 5; n++) {
    const orch = new Orchestrator({ seed: 5, clock: "virtual", snapshotEveryEvents: n });
    orch.registerAgent({ id: "a", handler: async () => 1 });
    orch.startAgent("a");
    orch.schedule({ everyMs: 100 }, { agent: "a" });
    orch.schedule({ everyMs: 50 }, { agent: "a" });
    await orch.runUntil(1_000);
    const report = Orchestrator.verifyReplay(orch.journalText());
    assert.ok(report.ok, `N=${n}: ${JSON.stringify(report.divergence)}`);
    orch.close();
  }
  const orch = new Orchestrator({ seed: 6, clock: "virtual" });
  orch.registerAgent({ id: "a", handler: async (x) => x });
  orch.startAgent("a");
  const text = orch.journalText();
  orch.close();
  // Record 3 is the start's first edge (Created -> Initializing): the fork goes on to Running.
  const fork = Orchestrator.replay(text, { uptoSeq: 3, live: true, agents: { a: async (x) => x } });
  assert.equal(fork.agentsStatus().a.status, "Running");
  assert.equal((await fork.wait(fork.submit({ agent: "a", input: 7 }))).output, 7);
  fork.close();
});
