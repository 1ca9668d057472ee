// The built package, used exactly as a user would: `npm pack` of pkg/, installed into an empty
// project, imported as "baton". Runs the README's examples and the cross-runtime digest check.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync, readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "../tempdir.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
let project;

const npm = (args, cwd) => execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, encoding: "utf8" });
// TMPDIR inside the project: what an example writes to the temporary directory goes with it.
const node = (file, cwd) => execFileSync(process.execPath, [file], { cwd, encoding: "utf8", env: { ...process.env, TMPDIR: cwd } });

before(() => {
  project = tempDir("baton-user-");
  const tarball = npm(["pack", join(root, "pkg"), "--pack-destination", project], root).trim().split("\n").pop();
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "user", private: true, type: "module" }));
  npm(["install", join(project, tarball)], project);
});

test("the package installs with its files, types and exports", () => {
  const pkg = JSON.parse(readFileSync(join(project, "node_modules/baton/package.json"), "utf8"));
  assert.equal(pkg.name, "baton");
  assert.equal(pkg.types, "./baton.d.ts");
  assert.equal(pkg.exports["."].node, "./node.js");
  const files = readdirSync(join(project, "node_modules/baton"));
  for (const f of ["baton.js", "node.js", "driver.js", "baton.d.ts", "baton_wasm_bg.wasm", "README.md", "LICENSE"]) assert.ok(files.includes(f), f);
});

test("every js example in the README runs against the installed package", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 3, "the README has examples");
  blocks.forEach((code, i) => {
    const file = join(project, `readme-${i}.mjs`);
    writeFileSync(file, code);
    const out = node(file, project);
    assert.ok(out.length > 0, `example ${i} printed something`);
  });
});

test("the quick start prints what the README says", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const code = readme.match(/## Quick start \(Node\)\n\n```js\n([\s\S]*?)```/)[1];
  writeFileSync(join(project, "quick.mjs"), code);
  const out = node("quick.mjs", project);
  assert.match(out, /Completed \{ trend: 'bullish', symbol: 'X' \} 250/);
  assert.match(out, /^1$/m);
});

test("the installed package gives the same trading digest as Node and Chrome under wasm-bindgen-test", () => {
  const scenarios = join(root, "tests/js/scenarios.js");
  writeFileSync(join(project, "digest.mjs"), `
    import * as baton from "baton";
    import { determinismHoldsWithinARuntime, TRADING_DIGEST } from ${JSON.stringify(scenarios)};
    const digest = await determinismHoldsWithinARuntime(baton);
    if (digest !== TRADING_DIGEST) throw new Error("digest " + digest + " != " + TRADING_DIGEST);
    console.log(digest);
  `);
  const expected = readFileSync(join(root, "tests/js_api.rs"), "utf8").match(/TRADING_DIGEST: &str = "([0-9a-f]{64})"/)[1];
  assert.equal(node("digest.mjs", project).trim(), expected);
});

for (const file of ["scenarios.js", "failures.js", "model.js"]) {
  test(`every JS API scenario in ${file} passes against the installed package`, async () => {
    const scenarios = join(root, "tests/js", file);
    writeFileSync(join(project, `run-${file}.mjs`), `
      import * as baton from "baton";
      import * as s from ${JSON.stringify(scenarios)};
      let n = 0;
      for (const [name, fn] of Object.entries(s)) {
        if (typeof fn !== "function" || name === "tradingRun") continue;
        await fn(baton);
        n++;
      }
      console.log(n);
    `);
    assert.ok(Number(node(`run-${file}.mjs`, project)) >= 8);
  });
}
