// The examples run as a user runs them, and print what they promise.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const examples = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples");
const run = (file) => execFileSync(process.execPath, [file], { cwd: examples, encoding: "utf8" });

before(() => {
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"], { cwd: examples });
});

test("the trading example prints the agents' transitions and the statistics", () => {
  const out = run("trading.mjs");
  assert.match(out, /market_oracle Created -> Initializing \(start\)/);
  assert.match(out, /executor +Running -> Paused \(pause\)/);
  assert.match(out, /workflow cycle-2: Completed at t=245ms/);
  assert.match(out, /tasks_completed: 6/);
  assert.match(out, /agent_errors: 1/);
  assert.match(out, /journal: 38 records, sha256 [0-9a-f]{64}/);
});

test("the research pipeline feeds each task's output to the next", () => {
  const out = run("research-pipeline.mjs");
  assert.match(out, /workflow research-pipeline: Completed at t=950ms/);
  assert.match(out, /report: Baton: compiles, runs, replays \(3 facts, confidence 0\.8\)/);
});

test("consensus with a 0.66 threshold and a three-round debate", () => {
  const out = run("consensus-debate.mjs");
  assert.match(out, /consensus: approved \(2\/3 approve, threshold 0\.66\)/);
  assert.equal(out.match(/^ {2}\[\d\] (pro|con)/gm).length, 6);
  assert.match(out, /debate: winner pro/);
});

test("a supervisor delegates to three specialists", () => {
  const out = run("supervisor.mjs");
  assert.match(out, /supervisor: answered after 2 rounds/);
  for (const who of ["researcher", "writer", "editor"]) assert.match(out, new RegExp(`^  ${who}: `, "m"));
});

test("an hourly job runs 24 times over a virtual day", () => {
  const out = run("hourly-job.mjs");
  assert.match(out, /hourly job: 24 runs over 24 virtual hours/);
  assert.match(out, /paused 5 h: 1 run on resume, at 30.5 h/);
  assert.match(out, /next run 1970-01-05T09:00:00\.000Z/);
});

test("capability routing records verifiable contracts", () => {
  const out = run("routing-contracts.mjs");
  assert.match(out, /task-2 -> oracle-b/);
  assert.match(out, /chain verified: true/);
  assert.match(out, /tampered copy verified: false/);
  assert.match(out, /memory: \{"summary":"3 analyses/);
});
