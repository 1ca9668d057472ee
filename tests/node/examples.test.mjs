// The examples run as a user runs them, and print what they promise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const examples = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples");

test("the trading example prints the agents' transitions and the statistics", () => {
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"], { cwd: examples });
  const out = execFileSync(process.execPath, ["trading.mjs"], { cwd: examples, encoding: "utf8" });
  assert.match(out, /market_oracle Created -> Initializing \(start\)/);
  assert.match(out, /executor +Running -> Paused \(pause\)/);
  assert.match(out, /workflow cycle-2: Completed at t=245ms/);
  assert.match(out, /tasks_completed: 6/);
  assert.match(out, /agent_errors: 1/);
  assert.match(out, /journal: 38 records, sha256 a4142f3ea78c2ad172cf5d97b7fa612b8680f4a9f623eee09631d246c22671eb/);
});
