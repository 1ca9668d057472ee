// The rest of the model through the JS API: routing, execution and agent patterns, schedules,
// templates, messages, tools and contracts, with the seed-style examples. Run in Node and Chrome
// (tests/js_api.rs) and against the installed package (tests/node/package.test.mjs).
import { assert, eq, throwsCode, rejectsCode } from "./check.js";

export async function capabilityRoutingAndOrchestrate({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 41, clock: "virtual" });
  for (const id of ["fast", "slow"]) {
    orch.registerAgent({ id, capabilities: ["summarize"], handler: async (p, ctx) => { await ctx.sleep(id === "fast" ? 5 : 50); return `${id}: ${p.text}`; } });
    orch.startAgent(id);
  }
  const a = orch.submit({ capability: "summarize", input: { text: "one" } });
  const b = orch.submit({ capability: "summarize", input: { text: "two" } });
  eq([orch.getTask(a).agent, orch.getTask(b).agent], ["fast", "slow"], "least loaded, ties by registration order");
  const out = await orch.orchestrate("session-1", { capability: "summarize", parameters: { text: "three" } });
  eq([out.status, out.agent, out.result], ["Completed", "fast", "fast: three"], "orchestrate routes and answers");
  throwsCode(() => orch.submit({ capability: "fly" }), "no_capable_agent", "no agent available for capability fly", "no capable agent");
  await rejectsCode(orch.orchestrate("s", { capability: "fly" }), "no_capable_agent", "orchestrate with no capable agent");
}

export async function contractsChainAndCompress({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 42, clock: "virtual" });
  orch.registerAgent({ id: "oracle", capabilities: ["analyze"], handler: async (p) => ({ trend: p.symbol === "X" ? "up" : "down" }) });
  orch.registerAgent({ id: "summarizer", handler: async (input) => ({ summary: `${input.contracts.length} contracts in ${input.sessionId}` }) });
  orch.startAgent("oracle");
  orch.startAgent("summarizer");
  await orch.orchestrate("trade-7", { capability: "analyze", parameters: { symbol: "X" } });
  await orch.orchestrate("trade-7", { capability: "analyze", parameters: { symbol: "Y" } });
  const list = orch.contracts({ sessionId: "trade-7" });
  eq(list.map((c) => c.kind), ["REQUEST", "RESPONSE", "REQUEST", "RESPONSE"], "request and response per call");
  eq([list[1].payload, list[1].from, list[1].to, list[1].capability], [{ trend: "up" }, "oracle", "baton", "analyze"], "response contract");
  assert(list.every((c, i) => c.prevHash === (i === 0 ? "" : list[i - 1].hash)), "hash-chained");
  eq(orch.verifyContracts("trade-7").ok, true, "the chain holds");
  eq([list[1].result, list[1].time, list[0].result], [{ trend: "up" }, list[1].at, undefined], "the issue's names: a response's result, each one's time");
  eq(orch.verifyContracts("trade-7", list).ok, true, "the list as contracts() gave it checks");
  const renamed = list.map((c, i) => (i === 1 ? { ...c, result: { trend: "sideways" } } : c));
  eq(orch.verifyContracts("trade-7", renamed).ok, false, "a forged result (not hashed) is caught too");
  const forged = JSON.parse(JSON.stringify(list));
  forged[3].payload = { trend: "sideways" };
  const report = orch.verifyContracts("trade-7", forged);
  eq(report.ok, false, "a forged list fails");
  assert(report.problem.includes("contract-4"), report.problem);
  const memory = await orch.compressSession("trade-7", "summarizer");
  eq([memory, orch.sessionMemory("trade-7")], [{ summary: "4 contracts in trade-7" }, { summary: "4 contracts in trade-7" }], "memory block");
}

export async function researchPipelineTasksFeedEachOther({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 43, clock: "virtual" });
  orch.registerAgent({ id: "researcher", handler: async (input, ctx) => { await ctx.sleep(30); return { facts: [`${input.topic} is fast`, `${input.topic} is safe`] }; } });
  orch.registerAgent({ id: "analyst", handler: async (_i, ctx) => ({ insight: ctx.upstream.research.facts.join(" and ") }) });
  orch.registerAgent({ id: "writer", handler: async (_i, ctx) => `Report: ${ctx.upstream.analysis.insight} (${ctx.upstream.research.facts.length} facts)` });
  for (const id of ["researcher", "analyst", "writer"]) orch.startAgent(id);
  const run = await orch.runWorkflow({
    id: "research", pattern: "sequential",
    tasks: [
      { id: "research", agent: "researcher", input: { topic: "wasm" } },
      { id: "analysis", agent: "analyst", dependsOn: ["research"] },
      { id: "report", agent: "writer", dependsOn: ["research", "analysis"] },
    ],
  });
  eq(run.outputs.report, "Report: wasm is fast and wasm is safe (2 facts)", "each task fed the next");
}

export async function parallelWorkflowsKeepToTheirWidth({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 44, clock: "virtual" });
  let running = 0, peak = 0;
  orch.registerAgent({ id: "w", handler: async (_i, ctx) => { running++; peak = Math.max(peak, running); await ctx.sleep(10); running--; } });
  orch.startAgent("w");
  const tasks = Array.from({ length: 8 }, (_, i) => ({ id: `t${i}`, agent: "w" }));
  await orch.runWorkflow({ pattern: "parallel", width: 3, tasks });
  eq(peak, 3, "at most 3 at once");
  throwsCode(() => orch.submitWorkflow({ pattern: "parallel", width: 0, tasks }), "invalid_argument", "width", "width 0");
}

export async function consensusWithA066Threshold({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 45, clock: "virtual" });
  const votes = { security: "approve", performance: "approve", ux: "reject" };
  for (const [id, vote] of Object.entries(votes)) {
    orch.registerAgent({ id, handler: async (input) => ({ vote, reasoning: `${id} on ${input.task}` }) });
    orch.startAgent(id);
  }
  const r = await orch.consensus("Should we approve this feature?", Object.keys(votes), { threshold: 0.66 });
  eq([r.decision, r.approvals, r.votes.ux, r.reasoning.security], ["approved", 2, "reject", "security on Should we approve this feature?"], "2 of 3 clears 0.66");
  const strict = await orch.consensus("Ship on Friday?", Object.keys(votes), { threshold: 0.9 });
  eq(strict.decision, "rejected", "2 of 3 does not clear 0.9");
}

export async function aThreeRoundDebate({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 46, clock: "virtual" });
  orch.registerAgent({ id: "optimist", handler: async (i) => `pro ${i.round}: it scales` });
  orch.registerAgent({ id: "skeptic", handler: async (i) => ({ argument: `con ${i.round}: it costs` }) });
  orch.registerAgent({ id: "judge", handler: async (i) => ({ winner: "pro", verdict: `after ${i.transcript.length} arguments, pro` }) });
  for (const id of ["optimist", "skeptic", "judge"]) orch.startAgent(id);
  const r = await orch.debate("Adopt wasm?", { pro: "optimist", con: "skeptic", judge: "judge", rounds: 3 });
  eq([r.transcript.length, r.winner, r.finalVerdict], [6, "pro", "after 6 arguments, pro"], "transcript, winner, verdict");
  eq(r.transcript[1], { round: 1, side: "con", agent: "skeptic", argument: "con 1: it costs" }, "transcript entry");
}

export async function chainOfThoughtSteps({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 47, clock: "virtual" });
  orch.registerAgent({ id: "thinker", handler: async (i) => (i.step < 3 ? `step ${i.step} given ${i.chain.length}` : { thought: "so: 42", answer: 42 }) });
  orch.startAgent("thinker");
  const r = await orch.chainOfThought("meaning of life?", "thinker", 4);
  eq(r, { problem: "meaning of life?", reasoningChain: ["step 1 given 0", "step 2 given 1", "so: 42"], finalAnswer: 42 }, "chain and answer");
}

export async function aSupervisorDelegatingToThreeSpecialists({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 48, clock: "virtual" });
  orch.registerAgent({
    id: "lead",
    handler: async (i) => i.results.length === 0
      ? { delegations: [{ agent: "researcher", input: "find" }, { agent: "writer", input: "draft" }, { capability: "editing", input: "polish" }] }
      : { final: i.results.map((r) => r.output).join(" | ") },
  });
  orch.registerAgent({ id: "researcher", handler: async (x) => `researched(${x})` });
  orch.registerAgent({ id: "writer", handler: async (x) => `wrote(${x})` });
  orch.registerAgent({ id: "editor", capabilities: ["editing"], handler: async (x) => `edited(${x})` });
  for (const id of ["lead", "researcher", "writer", "editor"]) orch.startAgent(id);
  const r = await orch.supervisor("Write a report on AI trends", ["lead", "researcher", "writer", "editor"], "Coordinate the team");
  eq([r.status, r.answer, r.rounds], ["answered", "researched(find) | wrote(draft) | edited(polish)", 2], "delegated, then answered");
  const viaWorkflow = await orch.runWorkflow({ pattern: "supervisor", task: "again", supervisor: "lead", agents: ["researcher", "writer", "editor"] });
  eq(viaWorkflow.status, "answered", "the supervisor execution pattern");
}

export async function collaborativeDocument({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 49, clock: "virtual" });
  orch.registerAgent({ id: "a", handler: async (i) => ({ document: `${i.document}A` }) });
  orch.registerAgent({ id: "b", handler: async (i) => ({ document: `${i.document}B`, done: i.round === 2 }) });
  orch.startAgent("a");
  orch.startAgent("b");
  const r = await orch.collaborate("a word", ["a", "b"], { document: "", maxRounds: 5 });
  eq([r.document, r.doneBy, r.status], ["ABAB", "b", "done"], "turns until done");
}

export async function aWrongShapeIsAValidationFailure({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 50, clock: "virtual" });
  orch.registerAgent({ id: "pro", handler: async () => 42 });
  orch.registerAgent({ id: "con", handler: async () => "fine" });
  orch.registerAgent({ id: "judge", handler: async () => ({ winner: "pro", verdict: "ok" }) });
  for (const id of ["pro", "con", "judge"]) orch.startAgent(id);
  const failed = [];
  orch.on("task.attempt_failed", (e) => failed.push(e.data.error));
  try {
    await orch.debate("x", { pro: "pro", con: "con", judge: "judge", rounds: 1 });
    throw new Error("the debate should fail");
  } catch (e) {
    eq(e.code, "pattern_failed", "the run fails");
  }
  eq(failed[0].class, "validation", "class validation");
  assert(failed[0].message.includes('expected a string, or { "argument": string }, got 42'), failed[0].message);
}

export async function anHourlyJobOverAVirtualDay({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 51, clock: "virtual" });
  const runs = [];
  orch.registerAgent({ id: "reporter", handler: async (input) => { runs.push([orch.now(), input.kind]); } });
  orch.startAgent("reporter");
  const job = orch.schedule({ everyMs: 3_600_000 }, { agent: "reporter", input: { kind: "health" } });
  await new Promise((resolve) => orch.on("job.fired", () => {
    if (runs.length === 24) { orch.deleteJob(job); resolve(); }
  }));
  eq(runs.length, 24, "24 runs");
  eq(runs[23], [24 * 3_600_000, "health"], "the last at hour 24");
  // Each slot names the task it submitted, which can be waited on.
  const last = orch.journal().filter((e) => e.type === "job.fired").at(-1).data.task;
  eq((await orch.wait(last)).status, "Completed", "the last slot's task, by the id job.fired gave");
  const weekly = orch.schedule({ cron: "0 9 * * MON" }, { agent: "reporter" });
  eq(orch.jobs().find((j) => j.id === weekly).nextRun, 4 * 86_400_000 + 9 * 3_600_000, "the first Monday 09:00 UTC (1970-01-05)");
  orch.pauseJob(weekly);
  eq(orch.jobs().find((j) => j.id === weekly).status, "paused", "paused");
  eq(orch.jobs().find((j) => j.id === weekly).lastTask ?? null, null, "no slot yet, no task");
  throwsCode(() => orch.schedule({ cron: "0 25 * * *" }, { agent: "reporter" }), "invalid_cron", "0 25", "invalid cron");
  throwsCode(() => orch.schedule({ everyMs: 1000, at: 5 }, { agent: "reporter" }), "invalid_argument", "exactly one", "two triggers");
  orch.close();
  throwsCode(() => orch.statistics(), "closed", "closed", "a closed orchestrator");
}

export async function templatesVersionsAndBuiltIns({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 52, clock: "virtual" });
  eq(orch.defineTemplate({ name: "analyst", version: 2, instructions: "Be exact", model: "small", temperature: 0.1, capabilities: ["analyze"], limits: { concurrency: 2 } }), "analyst@2", "defined");
  let seen;
  orch.createAgentFromTemplate("analyst@2", { id: "a1", handler: async (_i, ctx) => { seen = ctx.config; return "ok"; } });
  orch.startAgent("a1");
  await orch.wait(orch.submit({ capability: "analyze" }));
  eq([seen.template, seen.instructions, seen.model, seen.temperature], ["analyst@2", "Be exact", "small", 0.1], "ctx.config");
  const names = orch.templates().map((t) => `${t.name}@${t.version}`);
  for (const role of ["data-analyst", "code-reviewer", "system-architect", "testing-specialist", "documentation-writer", "project-manager"]) {
    assert(names.includes(`${role}@1`), `built-in ${role}`);
  }
  orch.createAgentFromTemplate("code-reviewer", { id: "rev" });
  eq(orch.agentsStatus().rev.capabilities, ["review", "code"], "built-in capabilities");
  throwsCode(() => orch.createAgentFromTemplate("analyst@7", { id: "x" }), "unknown_template", "analyst@7", "unknown version");
  throwsCode(() => orch.createAgentFromTemplate("analyst@2", { id: "x", capabilities: ["y"] }), "invalid_argument", "'capabilities'", "an option the template gives");
  const e = throwsCode(() => orch.defineTemplate({ name: "Bad Name", version: 0, temperature: 9, limits: { concurrency: 0 } }), "invalid_argument", "name:", "every bad field");
  for (const f of ["version:", "temperature:", "limits.concurrency:"]) assert(e.message.includes(f), `${e.message} lists ${f}`);
}

export async function messagesBetweenAgents({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 53, clock: "virtual" });
  let got;
  orch.registerAgent({ id: "alice", handler: async (_i, ctx) => ctx.send("bob", { hello: "bob" }) });
  orch.registerAgent({ id: "bob", handler: async (_i, ctx) => { got = ctx.inbox(); ctx.ack(got[0].id); return got.length; } });
  orch.startAgent("alice");
  orch.startAgent("bob");
  const id = (await orch.wait(orch.submit({ agent: "alice" }))).output;
  eq(orch.messages("bob")[0].status, "sent", "sent");
  await orch.wait(orch.submit({ agent: "bob" }));
  eq([got[0].id, got[0].from, got[0].payload, got[0].status], [id, "alice", { hello: "bob" }, "delivered"], "delivered on reading");
  eq(orch.messages("alice").map((m) => m.status), ["acknowledged"], "acknowledged, in the history");
  throwsCode(() => orch.send("alice", "nobody", 1), "unknown_agent", "nobody", "a message to a missing agent");
  throwsCode(() => orch.ack("msg-99"), "unknown_message", "msg-99", "unknown message");
  // An agent acknowledges its own messages only (the operator, orch.ack, any).
  const second = orch.send("alice", "bob", "again");
  orch.registerAgent({ id: "mallory", handler: async (_i, ctx) => { try { ctx.ack(second); return "acked"; } catch (e) { return `${e.code}: ${e.message}`; } } });
  orch.startAgent("mallory");
  const refused = (await orch.wait(orch.submit({ agent: "mallory" }))).output;
  assert(refused.startsWith("invalid_argument") && refused.includes("to 'bob', not 'mallory'"), refused);
  eq(orch.messages("bob").map((m) => m.status), ["acknowledged", "sent"], "still unread by bob");
}

export async function toolsWithGrantsAndRateLimits({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 54, clock: "virtual" });
  orch.registerTool("search", async (args, who) => `results for ${args.q} (${who.agentId})`, { description: "web search", category: "io", rateLimit: { perMinute: 60, burst: 1 } });
  const outcomes = [];
  orch.registerAgent({
    id: "r",
    handler: async (_i, ctx) => {
      for (let i = 0; i < 2; i++) {
        try { outcomes.push(await ctx.callTool("search", { q: `q${i}` })); } catch (e) { outcomes.push(e.code); }
      }
      return ctx.callTool("search", { q: "uncaught" });
    },
  });
  orch.startAgent("r");
  const denied = await orch.wait(orch.submit({ agent: "r" }));
  eq([outcomes, denied.status, denied.error.class], [["permission", "permission"], "Failed", "permission"], "not granted: permission");
  orch.grantTools("r", ["search"]);
  outcomes.length = 0;
  const limited = await orch.wait(orch.submit({ agent: "r" }));
  eq([outcomes, limited.error.class], [["results for q0 (r)", "rate_limit"], "rate_limit"], "over the limit: rate_limit");
  const calls = orch.journal().filter((e) => e.type.startsWith("tool."));
  eq(calls.map((e) => e.type).filter((t) => t !== "tool.registered" && t !== "tool.granted"), ["tool.refused", "tool.refused", "tool.refused", "tool.called", "tool.completed", "tool.refused", "tool.refused"], "recorded in the journal");
  throwsCode(() => orch.grantTools("r", ["never-registered"]), "unknown_tool", "never-registered", "a tool never registered");
  throwsCode(() => orch.registerTool("search", async () => 1), "duplicate_id", "search", "a tool registered twice");
  // Restored without the tool's function: a call says so; registering it again supplies it.
  // (Each call waits 2 s first, so that the tool's rate limit, 60 a minute, has a token.)
  const user = { id: "u", handler: async (_i, ctx) => { await ctx.sleep(2000); try { return await ctx.callTool("search", { q: "z" }); } catch (e) { return e.message; } } };
  const restored = Orchestrator.restore(orch.snapshot(), { clock: "virtual", agents: {} });
  restored.registerAgent(user);
  restored.grantTools("u", ["search"]);
  restored.startAgent("u");
  const t0 = await restored.wait(restored.submit({ agent: "u" }));
  assert(String(t0.output).includes("it has no function here"), t0.output);
  restored.registerTool("search", async (args) => `again: ${args.q}`);
  const t1 = await restored.wait(restored.submit({ agent: "u" }));
  eq(t1.output, "again: z", "the function given after the restore");
  restored.close();
  orch.revokeTools("r", ["search"]);
}

export async function badModelInputIsACodedErrorAndChangesNothing({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 55, clock: "virtual" });
  orch.registerAgent({ id: "a" });
  const before = orch.journalText();
  throwsCode(() => orch.submit({ agent: "a", capability: "x" }), "invalid_argument", "not both", "agent and capability");
  throwsCode(() => orch.submit({}), "invalid_argument", "agent or a capability", "neither");
  throwsCode(() => orch.createAgentFromTemplate("nope@1", { id: "z" }), "unknown_template", "nope@1", "unknown template");
  throwsCode(() => orch.schedule({ cron: "every tuesday" }, { agent: "a" }), "invalid_cron", "5 fields", "invalid cron");
  throwsCode(() => orch.send("a", "ghost", {}), "unknown_agent", "ghost", "message to a missing agent");
  throwsCode(() => orch.grantTools("a", ["ghost-tool"]), "unknown_tool", "ghost-tool", "tool never registered");
  await rejectsCode(orch.consensus("q", [], {}), "invalid_argument", "empty consensus");
  await rejectsCode(orch.debate("q", { pro: "a", con: "ghost", judge: "a" }), "unknown_agent", "debate with a missing agent");
  await rejectsCode(orch.runPattern({ kind: "juggling" }), "invalid_argument", "unknown pattern");
  eq(orch.journalText(), before, "nothing changed");
}

export async function aOneOffJobInThePastFiresNow({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 56, clock: "virtual", startTime: 5_000 });
  orch.registerAgent({ id: "r", handler: async () => orch.now() });
  orch.startAgent("r");
  const fired = new Promise((resolve) => orch.on("task.completed", (e) => resolve(e.data.output)));
  orch.schedule({ at: 0 }, { agent: "r" });
  eq(await fired, 5_000, "at now, not never");
  eq(orch.jobs()[0].status, "done", "a one-off job is done");
}

export async function patternRunsAreReadableByIdAndOutliveARestore({ Orchestrator }) {
  const voter = (id) => async (_i, ctx) => { await ctx.sleep(1000); return { vote: "approve", reasoning: id }; };
  const orch = new Orchestrator({ seed: 61, clock: "virtual" });
  for (const id of ["v1", "v2"]) { orch.registerAgent({ id, handler: voter(id) }); orch.startAgent(id); }
  const first = orch.consensus("ship?", ["v1", "v2"]);
  const run = orch.getRun("run-1");
  eq([run.kind, run.status, run.tasks.length, "result" in run], ["consensus", "Running", 2, false], "a running run");
  eq((await orch.waitRun("run-1")).decision, "approved", "waitRun");
  eq((await first).decision, "approved", "the pattern's own promise");
  eq(orch.getRun("run-1").result.approvals, 2, "the result, once completed");
  throwsCode(() => orch.getRun("run-9"), "unknown_run", "run-9", "an unknown run");
  // A run under a session records its calls' contracts there, and replays and verifies.
  await orch.consensus("audited?", ["v1", "v2"], { session: "audit" });
  const contracts = orch.contracts({ sessionId: "audit" });
  eq(contracts.length, 4, "a REQUEST and a RESPONSE for each vote");
  eq(orch.verifyContracts("audit").ok, true, "the chain holds");
  eq(Orchestrator.verifyReplay(orch.journal()).ok, true, "verifies");
  // A run still going when the snapshot is taken finishes after the restore, and is read by id.
  const second = orch.consensus("again?", ["v1", "v2"]); // run-3
  const snap = orch.snapshot();
  orch.close();
  await second.catch(() => {});
  const again = Orchestrator.restore(snap, { clock: "virtual", agents: { v1: voter("v1"), v2: voter("v2") } });
  eq((await again.waitRun("run-3")).decision, "approved", "after a restore");
  eq(again.getRun("run-3").status, "Completed", "completed");
  throwsCode(() => again.verifyReplay(), "invalid_argument", "whole journal", "a restored orchestrator's journal is a tail");
  again.close();
}

export async function routedTasksAreRoutedAgainOnlyIfTheyWaited({ Orchestrator }) {
  const orch = new Orchestrator({ seed: 62, clock: "virtual" });
  for (const id of ["a", "b", "c"]) { orch.registerAgent({ id, capabilities: ["w"], handler: async (i, ctx) => { await ctx.sleep(10); return i; } }); orch.startAgent(id); }
  orch.submit({ agent: "a", input: "busy" });
  // Admitted with the workflow (spread then, admitted by priority): not routed again.
  const before = orch.journal().length;
  const par = orch.runWorkflow({ id: "par", pattern: "parallel", width: 3, tasks: [0, 1, 2].map((i) => ({ id: `t${i}`, capability: "w", input: i, priority: 9 - 4 * i })) });
  eq(orch.journal().slice(before).filter((r) => r.type === "task.reassigned").length, 0, "admitted at submission: no task.reassigned");
  eq((await par).status, "Completed", "completed");
  // One that waits for its dependency while its agent is paused goes elsewhere when ready.
  const wf = orch.runWorkflow({ id: "dep", tasks: [{ id: "x", agent: "c" }, { id: "y", capability: "w", dependsOn: ["x"] }] });
  const y = orch.getWorkflow("dep").tasks.y.agent;
  orch.pauseAgent(y);
  eq((await wf).status, "Completed", "completed elsewhere");
  const moved = orch.journal().filter((r) => r.type === "task.reassigned" && r.data.task === "dep/y");
  eq([moved.length, moved[0]?.data.from, moved[0]?.data.reason], [1, y, "routed by capability when ready"], "routed again when ready");
  eq(Orchestrator.verifyReplay(orch.journal()).ok, true, "verifies");
  eq(Orchestrator.replay(orch.journal()).getWorkflow("dep").status, "Completed", "replays");
  orch.close();
}
