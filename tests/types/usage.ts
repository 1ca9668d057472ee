// Type-checked with `tsc -p tests/types` (strict): the package's types describe the API a user
// writes against, and reject the mistakes below.
import init, { Orchestrator, BatonError, MemoryStore, IndexedDBStore, type Store, type Task, type WorkflowResult, type JournalRecord, type Statistics, type ErrorClass, type RecordOf } from "baton";

async function main(): Promise<void> {
  await init();
  const orch = new Orchestrator({ seed: 7, clock: "virtual", maxConcurrency: 16 });
  orch.registerAgent({
    id: "oracle",
    capabilities: ["analyze"],
    handler: async (input: { symbol: string }, ctx) => {
      await ctx.sleep(10);
      ctx.signal.throwIfAborted();
      return { trend: "bullish", symbol: input.symbol, attempt: ctx.attempt, upstream: ctx.upstream };
    },
  });
  orch.startAgent("oracle");
  const id: string = orch.submit({ agent: "oracle", input: { symbol: "X" }, priority: 1 });
  const task: Task<unknown, { trend: string }> = await orch.wait<{ trend: string }>(id);
  const trend: string | undefined = task.output?.trend;
  const run: WorkflowResult = await orch.runWorkflow({ tasks: [{ id: "a", agent: "oracle" }], dependencies: {}, failurePolicy: "continue" });
  await orch.runWorkflow({ tasks: [{ id: "a", agent: "oracle" }], failurePolicy: "continue-and-skip-dependents" }, { pattern: "SEQUENTIAL" });
  orch.registerAgent({ id: "echo", capabilities: ["a", { name: "echo", description: "Echo text back" }], handler: async (x: unknown) => x });
  const off: () => void = orch.on("task.*", (e: JournalRecord) => {
    if (e.type === "task.completed") console.log(e.seq, e.at);
  });
  off();
  // A topic types what it delivers: README's listeners compile under --strict.
  orch.on("task.*", (e) => console.log(e.seq, e.type, e.data.task));
  orch.on("task.retrying", (e) => console.log(e.data.attempt, e.data.delayMs, e.data.nextAttemptAt));
  orch.on("workflow.completed", (e) => { const w: string = e.data.workflow; console.log(w, e.topic); });
  orch.on("*", (e) => console.log(e.type, e.data));
  orch.on("audit.checked", (e) => console.log(e.data));
  const topic: string = "task.*";
  orch.on(topic, (e: JournalRecord) => console.log(e.type));
  for await (const e of orch.events("task.completed")) {
    const call: number = e.data.call;
    console.log(call);
    break;
  }
  for await (const e of orch.events("custom.*")) {
    console.log(e.type);
    break;
  }
  const stats: Statistics = orch.statistics();
  const n: number = stats.tasks_completed + stats.agents_running + stats.total_tasks + stats.agent_errors;
  const errors: number = orch.agentsStatus()["oracle"].error_count;
  const again = Orchestrator.restore(orch.snapshot(), { agents: { oracle: async (x: { symbol: string }) => x.symbol } });
  const replayed = Orchestrator.replay(orch.journal(), { uptoSeq: 3 });
  try {
    orch.pauseAgent("ghost");
    orch.removeAgent("ghost");
  } catch (e) {
    if (e instanceof BatonError) console.log(e.code satisfies string);
  }
  console.log(trend, run.outputs, n, errors, again.runId, replayed.seed, orch.journalDigest());

  // @ts-expect-error: a priority is a number
  orch.submit({ agent: "oracle", priority: "high" });
  // @ts-expect-error: the clock is "real" or "virtual"
  new Orchestrator({ clock: "sundial" });
  // @ts-expect-error: a handler is a function
  orch.registerAgent({ id: "x", handler: 42 });
  // @ts-expect-error: statuses are a closed set
  const s: Task["status"] = "Done";
  console.log(s);
}

void main;

async function policies(): Promise<void> {
  const orch = new Orchestrator({ clock: "virtual", retry: { maxAttempts: 3 }, onError: { validation: "skip" } });
  orch.registerAgent({
    id: "svc",
    retry: { maxAttempts: 5, backoff: { initialMs: 100, factor: 2, maxMs: 10_000 }, jitter: true },
    timeoutMs: 2_000,
    onError: { timeout: "fallback", permission: "escalate" },
    fallback: { capability: "summarize" },
    circuitBreaker: { failureThreshold: 5, recoveryMs: 60_000, successThreshold: 3 },
    rateLimit: { perMinute: 60 },
    handler: async () => 1,
  });
  const report = Orchestrator.verifyReplay(orch.journal());
  for (const r of orch.journal()) {
    if (r.type === "tool.refused") console.log((r as RecordOf<"tool.refused">).data.class satisfies ErrorClass);
    if (r.type === "job.fired") console.log((r as RecordOf<"job.fired">).data.task);
  }
  if (!report.ok) console.log(report.divergence?.seq, report.divergence?.expected?.type);
  const n: number = orch.cancelAgentTasks("svc");
  orch.terminate("done");
  console.log(n, orch.agentsStatus()["svc"].breaker satisfies "closed" | "open" | "half-open");
  // @ts-expect-error: strategies are a closed set
  orch.registerAgent({ id: "x", onError: { agent: "explode" } });
  // @ts-expect-error: a fallback names one agent or one capability
  orch.registerAgent({ id: "y", fallback: { agent: "a", capability: "b" } });
}

void policies;

async function model(): Promise<void> {
  const orch = new Orchestrator({ clock: "virtual" });
  orch.registerAgent({ id: "a", capabilities: ["analyze"], handler: async (_i, ctx) => {
    ctx.send("b", { hi: 1 });
    const mail = ctx.inbox();
    const found = await ctx.callTool<string>("search", { q: "x" });
    return { mail: mail.length, found, model: ctx.config?.model };
  } });
  const out = await orch.orchestrate<{ found: string }>("s1", { capability: "analyze", parameters: {} });
  const contracts = orch.contracts({ sessionId: "s1" });
  console.log(out.result?.found, contracts[0]?.hash, orch.verifyContracts("s1", contracts).ok);
  orch.defineTemplate({ name: "analyst", version: 2, temperature: 0.2, limits: { concurrency: 2 } });
  orch.createAgentFromTemplate("analyst@2", { id: "x", handler: async () => 1 });
  orch.registerTool("search", async (args: { q: string }) => `found ${args.q}`, { rateLimit: { perMinute: 10 } });
  orch.grantTools("a", ["search"]);
  const job: string = orch.schedule({ cron: "0 9 * * MON" }, { capability: "analyze" });
  orch.pauseJob(job);
  orch.schedule({ at: new Date(86_400_000) }, { agent: "a" });
  orch.schedule({ interval: 3_600_000 }, { agent: "a" });
  await orch.runUntil(86_400_000);
  await orch.runFor(60_000);
  const c = await orch.consensus("ok?", ["a", "x"], { threshold: 0.66 });
  const d = await orch.debate("t", { pro: "a", con: "x", judge: "a", rounds: 3 });
  const t = await orch.chainOfThought("p", "a", 3);
  const s = await orch.supervisor("task", ["a", "x"], "go");
  console.log(c.decision, d.winner, d.transcript.length, t.finalAnswer, s.status);
  await orch.runWorkflow({ tasks: [{ id: "q", capability: "analyze" }], pattern: "parallel", width: 2, session: "s2" });
  // @ts-expect-error: a trigger is one of at, everyMs, cron
  orch.schedule({ every: 5 }, { agent: "a" });
}

void model;

async function persistence(): Promise<void> {
  const store: Store = new IndexedDBStore("runs");
  const orch = await Orchestrator.open(store, { agents: { a: async (x: never) => x }, snapshotEveryEvents: 500 });
  const again = new Orchestrator({ store: new MemoryStore(), clock: "virtual" });
  await orch.flush();
  const done: number = orch.tasks({ status: "Completed", workflow: "wf" }).length;
  const flows: string[] = again.workflows().map((w) => `${w.id} ${w.status} ${w.remaining}/${w.taskCount}`);
  console.log(done, flows);
  // @ts-expect-error: a status is one of TaskStatus
  orch.tasks({ status: "Done" });
  // @ts-expect-error: a store needs load, append, saveSnapshot and reset
  new Orchestrator({ store: { load: async () => null } });
}

void persistence;

// Seed 001's research pipeline: tasks named, dependencies keyed by name; or per task.
void new Orchestrator().runWorkflow({
  name: "Research Pipeline",
  tasks: [
    { name: "Gather Sources", agent: "researcher", input: "x" },
    { name: "Analyze Sources", agent: "analyst", dependencies: ["Gather Sources"] },
    { id: "write", name: "Write Report", agent: "writer" },
  ],
  dependencies: { write: ["Analyze Sources"] },
});

// What the types say as precisely as the runtime does (and refuse what it refuses).
async function precise(orch: Orchestrator, err: BatonError): Promise<void> {
  if (err.code === "store_busy") console.log("another writer");
  orch.cancel("t", new Error("no longer needed"));
  orch.terminate(new Error("shutting down"));
  orch.transitionAgent("a", "idle");
  orch.transitionAgent("a", "ACTIVE");
  // A custom topic delivers its own record; a built-in one, its record's data.
  orch.on("audit.checked", (e) => { const topic: "audit.checked" = e.topic; console.log(topic, e.data); });
  orch.on("task.completed", (e) => { const call: number = e.data.call; console.log(call); });
  const topic: string = "task.*";
  orch.on(topic, (e) => console.log(e.type));
  const vote = await orch.runPattern({ kind: "consensus", task: "ship?", agents: ["a", "b"] });
  const decision: "approved" | "rejected" = vote.decision;
  const answer = await orch.runWorkflow({ pattern: "supervisor", task: "t", supervisor: "s", agents: ["w"] });
  console.log(decision, answer.answer, answer.rounds);
  const rec = orch.journal().find((r): r is RecordOf<"agent.registered"> => r.type === "agent.registered");
  console.log(rec?.data.spec.retry?.maxAttempts, rec?.data.spec.template);
  // @ts-expect-error: an agent or a capability, not both
  orch.submit({ agent: "a", capability: "c" });
  // @ts-expect-error: an agent or a capability is needed
  orch.submit({ input: 1 });
  // @ts-expect-error: one kind of trigger
  orch.schedule({ at: 5, everyMs: 10 }, { agent: "a" });
  // @ts-expect-error: a Set is not a compiled workflow
  orch.submitWorkflow(new Set([1]));
  // @ts-expect-error: a restored run keeps its recorded limits
  Orchestrator.restore(orch.snapshot(), { maxConcurrency: 3 });
}

void precise;

// The id submitWorkflow returns tells wait what it waits for.
async function ids(orch: Orchestrator): Promise<void> {
  const wf = orch.submitWorkflow({ tasks: [{ id: "a", agent: "x" }] });
  const result: WorkflowResult = await orch.wait(wf);
  const run = orch.submitWorkflow({ pattern: "supervisor", task: "t", supervisor: "s", agents: ["w"] });
  const outcome = await orch.wait<{ answer: string }>(run);
  const view = orch.getWorkflow(run);
  const plain: string = wf;
  const task: Task = await orch.wait("task-1");
  console.log(result.outputs, outcome.answer, view.kind, plain, task.status);
}

void ids;

// A topic that is one of two: each gets its own record.
function eitherTopic(orch: Orchestrator, pick: boolean): void {
  orch.on(pick ? "task.completed" : "audit.checked", (e) => {
    if (e.topic === "task.completed") console.log(e.data.output);
    else console.log(e.data);
  });
}

void eitherTopic;
