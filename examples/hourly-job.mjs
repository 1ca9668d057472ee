// An hourly job over a virtual day (seed 001's schedules): 24 runs in milliseconds of real time.
// A weekly cron job shows its next slot; a slot missed while paused fires once on resume.
import { Orchestrator } from "baton";

const orch = new Orchestrator({ seed: 4, clock: "virtual" });
const runs = [];
orch.registerAgent({ id: "health", handler: async (input) => { runs.push(orch.now()); return { ok: true, check: input.check }; } });
orch.startAgent("health");

const started = Date.now();
const hourly = orch.schedule({ everyMs: 3_600_000 }, { agent: "health", input: { check: "disk" } });
// The virtual clock runs up to the end of the day and stands there.
await orch.runUntil(24 * 3_600_000);
orch.deleteJob(hourly);
console.log(`hourly job: ${runs.length} runs over ${orch.now() / 3_600_000} virtual hours in ${Date.now() - started} ms`);

// Paused for five hours, a job does not make up each slot it missed: one fires on resume.
const catchUp = orch.schedule({ everyMs: 3_600_000 }, { agent: "health", input: { check: "memory" } });
await orch.runUntil(25 * 3_600_000);
orch.pauseJob(catchUp);
await orch.runUntil(30.5 * 3_600_000);
const before = runs.length;
orch.resumeJob(catchUp);
await orch.runUntil(30.5 * 3_600_000 + 1);
console.log(`paused 5 h: ${runs.length - before} run on resume, at ${runs.at(-1) / 3_600_000} h`);
orch.deleteJob(catchUp);

const weekly = orch.schedule({ cron: "0 9 * * MON" }, { agent: "health", input: { check: "weekly" } });
console.log(`weekly job ${weekly}: next run ${new Date(orch.jobs().find((j) => j.id === weekly).nextRun).toISOString()}`);
orch.close();
