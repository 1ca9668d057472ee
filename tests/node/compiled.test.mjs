// Orchestrator.compileWorkflow: a spec taken apart once and submitted many times must behave
// exactly like the spec itself: the same journal, the same results, the same refusals.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "../../pkg/node.js";

function dag() {
  const tasks = [];
  for (let l = 0; l < 4; l++) {
    for (let j = 0; j < 5; j++) {
      tasks.push({
        id: `L${l}_${j}`,
        agent: j % 2 ? "odd" : "even",
        input: { l, j },
        priority: 1 + j,
        dependsOn: l ? [`L${l - 1}_${j}`, `L${l - 1}_${(j + 1) % 5}`] : [],
      });
    }
  }
  return { tasks };
}

function orchestrator() {
  const orch = new Orchestrator({ seed: 11, clock: "virtual", maxConcurrency: 3 });
  const handler = async ({ l, j }, ctx) => ({ sum: l * 10 + j, from: Object.keys(ctx.upstream).sort() });
  orch.registerAgent({ id: "even", handler });
  orch.registerAgent({ id: "odd", handler });
  orch.startAgent("even");
  orch.startAgent("odd");
  return orch;
}

async function journalOf(spec) {
  const orch = orchestrator();
  const result = await orch.runWorkflow(spec);
  const journal = orch.journalText();
  orch.close();
  return { result, journal };
}

function refusal(f) {
  try {
    f();
  } catch (e) {
    return { code: e.code, message: e.message };
  }
  assert.fail("expected a refusal");
}

test("a compiled workflow runs like its spec: same outputs, byte-identical journal, in any orchestrator", async () => {
  const spec = dag();
  const compiled = Orchestrator.compileWorkflow(spec);
  assert.equal(compiled.size, 20);
  const fromSpec = await journalOf(spec);
  const first = await journalOf(compiled);
  const second = await journalOf(compiled);
  assert.equal(first.result.status, "Completed");
  assert.deepEqual(first.result.outputs, fromSpec.result.outputs);
  assert.deepEqual(first.result.outputs.L3_4, { sum: 34, from: ["L2_0", "L2_4"] });
  assert.equal(first.journal, fromSpec.journal);
  assert.equal(second.journal, fromSpec.journal);
});

test("changing the spec after compiling changes nothing; inputs are the spec's values", async () => {
  const spec = dag();
  const compiled = Orchestrator.compileWorkflow(spec);
  const want = (await journalOf(dag())).journal;
  spec.tasks.pop();
  spec.tasks[0].id = "renamed";
  spec.tasks[6].dependsOn = [];
  spec.id = "other";
  assert.equal((await journalOf(compiled)).journal, want);
  assert.ok(Object.isFrozen(compiled));
  assert.throws(() => { compiled.size = 3; }, TypeError);
});

test("a compiled workflow is refused where its spec is, with the same error", () => {
  const orch = orchestrator();
  const unknownAgent = { tasks: [{ id: "a", agent: "nobody", input: 1 }] };
  const cycle = { tasks: [{ id: "a", agent: "even", dependsOn: ["b"] }, { id: "b", agent: "even", dependsOn: ["a"] }] };
  const missingDep = { tasks: [{ id: "a", agent: "even", dependsOn: ["zzz"] }] };
  const repeated = { tasks: [{ id: "a", agent: "even" }, { id: "a", agent: "odd" }] };
  for (const spec of [unknownAgent, cycle, missingDep, repeated]) {
    const direct = refusal(() => orch.submitWorkflow(spec));
    assert.ok(direct.code, direct.message);
    assert.deepEqual(refusal(() => orch.submitWorkflow(Orchestrator.compileWorkflow(spec))), direct);
  }
  // The same id twice: the second submit is refused, as with the spec.
  const named = Orchestrator.compileWorkflow({ id: "w1", tasks: [{ id: "a", agent: "even", input: 1 }] });
  orch.submitWorkflow(named);
  const again = refusal(() => orch.submitWorkflow(named));
  assert.deepEqual(again, refusal(() => orch.submitWorkflow({ id: "w1", tasks: [{ id: "a", agent: "even" }] })));
  // What can be checked without an orchestrator is checked when compiling.
  assert.equal(refusal(() => Orchestrator.compileWorkflow({ tasks: [5] })).code, "invalid_argument");
  assert.equal(refusal(() => Orchestrator.compileWorkflow({})).code, "invalid_argument");
  assert.equal(refusal(() => Orchestrator.compileWorkflow({ tasks: [{ id: "a", agent: "even", priority: NaN, name: "x" }] })).code, "invalid_argument");
  orch.close();
});

test("a spec beyond the plain shape (names, policies, dependencies map) compiles and runs the same", async () => {
  const spec = {
    name: "review",
    failurePolicy: "continue",
    dependencies: { b: ["a"] },
    tasks: [
      { id: "a", agent: "even", name: "first", input: { l: 1, j: 2 } },
      { id: "b", agent: "odd", input: { l: 2, j: 3 }, retry: { maxAttempts: 2 } },
    ],
  };
  const compiled = Orchestrator.compileWorkflow(spec);
  const direct = await journalOf(spec);
  const viaCompiled = await journalOf(compiled);
  assert.equal(viaCompiled.result.status, "Completed");
  assert.deepEqual(viaCompiled.result.outputs.b, { sum: 23, from: ["a"] });
  assert.equal(viaCompiled.journal, direct.journal);
});
