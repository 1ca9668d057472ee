// The Worker on workerd (`wrangler dev`, throwaway state directory) with HTTP agents on
// 127.0.0.1: the REST API end to end, a workflow of HTTP agents, a retry whose backoff the alarm
// carries, auth, and each bad input answered with its code and the state unchanged.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { tempDir } from "../tempdir.mjs";
import { startWorker, client, agentServer, until, TOKEN } from "./helpers.mjs";

let worker, agents, api;
before(async () => {
  agents = await agentServer();
  worker = await startWorker({
    stateDir: tempDir("baton-worker-"),
    vars: { BATON_NAMESPACE_TOKENS: "team-a=token-a", BATON_CORS_ORIGINS: "http://allowed.test" },
  });
  api = client(worker.url, "e2e");
});
after(() => {
  worker?.stop();
  agents?.close();
});

const waitTask = (c, id, timeout = 20_000) =>
  until(async () => { const r = await c.get(`/tasks/${encodeURIComponent(id)}`); return ["Completed", "Failed", "Cancelled", "TimedOut"].includes(r.body.status) && r.body; }, timeout, `task ${id}`);
const waitWorkflow = (c, id, timeout = 30_000) =>
  until(async () => { const r = await c.get(`/workflows/${encodeURIComponent(id)}`); return r.body.status !== "Running" && r.body; }, timeout, `workflow ${id}`);

test("health needs no token; openapi.json needs one and lists every route", async () => {
  const h = await fetch(`${worker.url}/v1/health`);
  assert.equal(h.status, 200);
  assert.deepEqual(await h.json(), { status: "ok" });
  const nsHealth = await fetch(`${worker.url}/v1/ns/somewhere/health`);
  assert.equal(nsHealth.status, 200, "under a namespace too");
  assert.equal((await fetch(`${worker.url}/v1/health/`)).status, 200, "with a trailing slash too");
  assert.equal((await fetch(`${worker.url}/openapi.json`)).status, 401, "every route but health needs a token");
  const scoped = await fetch(`${worker.url}/openapi.json`, { headers: { authorization: "Bearer token-a" } });
  assert.equal(scoped.status, 200, "any namespace's token opens it");
  const doc = await (await fetch(`${worker.url}/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
  assert.equal(doc.openapi, "3.1.0");
  assert.deepEqual(doc.paths["/openapi.json"].get.security, [{ bearer: [] }], "the document says what the server does");
  assert.ok(doc.paths["/openapi.json"].get.responses["401"]);
  // What a body must hold: a task names its agent or capability; a cancel's body is optional.
  const submit = doc.paths["/v1/tasks"].post.requestBody;
  assert.equal(submit.required, true);
  assert.deepEqual(submit.content["application/json"].schema.anyOf, [{ required: ["agent"] }, { required: ["capability"] }]);
  assert.equal(doc.paths["/v1/tasks/{id}/cancel"].post.requestBody.required, false);
  assert.ok(Object.keys(doc.paths).length >= 15);
  // DESIGN's paths, the namespace in a header, as well as under /v1/ns/{namespace}.
  for (const p of ["/v1/status", "/v1/agents", "/v1/tasks/{id}", "/v1/ns/{namespace}/agents"]) assert.ok(doc.paths[p], p);
  assert.ok(doc.paths["/v1/agents"].get.parameters.some((q) => q.in === "header" && q.name === "X-Baton-Namespace"));
  // Every {name} in a path is a declared path parameter.
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const op of Object.values(ops)) {
      for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
        assert.ok(op.parameters.some((q) => q.in === "path" && q.name === name), `${path}: ${name}`);
      }
    }
  }
});

test("the REST API end to end: agents, lifecycle, tasks, workflows, orchestrate, contracts, snapshots, metrics, events", async () => {
  let r = await api.post("/agents", { id: "echo", demo: "echo", capabilities: ["echo"], start: true });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.status, "Running");
  r = await api.post("/agents", { id: "upper", demo: "uppercase", capabilities: ["shout"], start: true });
  assert.equal(r.status, 201);
  r = await api.post("/agents", { id: "words", js: "wordCount", start: true });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  // A demo agent's name is enough, and it is its capability; seed 004 describes capabilities.
  r = await api.post("/agents", { id: "uppercase", start: true });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual([r.body.binding, r.body.capabilities], [{ kind: "demo", name: "uppercase" }, ["uppercase"]]);
  r = await api.post("/agents", { id: "sleep", capabilities: [{ name: "nap", description: "Waits" }] });
  assert.deepEqual(r.body.capabilities, ["nap"]);
  const listed = (await api.get("/agents")).body;
  assert.equal(listed.total, listed.agents.length);
  assert.equal(listed.agents.find((a) => a.agent_id === "echo").binding.kind, "demo");

  // A task, by agent.
  r = await api.post("/tasks", { agent: "upper", input: "hello", metadata: { from: "e2e" } });
  assert.equal(r.status, 201);
  const done = await waitTask(api, r.body.id);
  assert.equal(done.output, "HELLO");
  assert.deepEqual(done.metadata, { from: "e2e" });
  // A JS agent bundled with the Worker.
  r = await api.post("/tasks", { agent: "words", input: "one two three" });
  assert.deepEqual((await waitTask(api, r.body.id)).output, { words: 3 });

  // Lifecycle and history.
  assert.equal((await api.post("/agents/echo/pause")).body.status, "Paused");
  assert.equal((await api.post("/agents/echo/resume")).body.status, "Running");
  const hist = (await api.get("/agents/echo/history")).body.history;
  assert.deepEqual(hist.slice(-2).map((h) => h.to), ["Paused", "Running"]);

  // Orchestrate by capability, with contracts under the session.
  r = await api.post("/orchestrate", { session_id: "s1", capability: "shout", parameters: "quiet" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.result, "QUIET");
  assert.equal(r.body.agent, "upper");
  // Seed 004's names for the same answer and contracts.
  assert.deepEqual([r.body.success, r.body.data, r.body.agent_id], [true, "QUIET", "upper"]);
  const seedContracts = (await api.get("/contracts?session_id=s1")).body;
  assert.equal(seedContracts.total, seedContracts.contracts.length);
  assert.ok(seedContracts.contracts.some((c) => c.contract_id === r.body.contract_id && c.contract_type === "RESPONSE" && c.from_agent === "upper" && c.to_agent === "orchestrator" && c.result === "QUIET"));
  assert.deepEqual((await api.get("/contracts?session_id=never-used")).body, { sessionId: "never-used", contracts: [], total: 0 });
  // Seed 004's compress: the session's contracts go to a summarizer (echo here, named), whose
  // answer is the session's memory; with none named and none with capability 'compress', 409.
  r = await api.post("/compress", { session_id: "s1", intent: "testing", agent: "echo" });
  assert.deepEqual([r.status, r.body.success, r.body.memory.sessionId], [200, true, "s1"], JSON.stringify(r.body));
  assert.ok(r.body.memory.contracts.length >= 2);
  assert.equal((await api.post("/compress", { session_id: "s1" })).body.error.code, "no_capable_agent");
  assert.equal((await api.post("/compress", { session_id: "never-used", agent: "echo" })).status, 400);
  const contracts = (await api.get("/contracts?session_id=s1")).body.contracts;
  assert.deepEqual(contracts.map((c) => c.kind ?? c.type ?? c.contractType).filter(Boolean).length, contracts.length);
  assert.ok(contracts.length >= 2, JSON.stringify(contracts));

  // A workflow of HTTP agents: upstream outputs reach each step.
  r = await api.post("/agents", { id: "http", endpoint: `${agents.url}/slow?ms=50`, start: true, concurrency: 2 });
  assert.equal(r.status, 201);
  r = await api.post("/workflows", {
    id: "pipeline",
    tasks: [
      { id: "fetch", agent: "http", input: { url: "a" } },
      { id: "parse", agent: "http", dependsOn: ["fetch"] },
      { id: "index", agent: "http", dependsOn: ["fetch"] },
      { id: "report", agent: "http", dependsOn: ["parse", "index"] },
    ],
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const wf = await waitWorkflow(api, "pipeline");
  assert.equal(wf.status, "Completed");
  assert.deepEqual(wf.outputs.report.upstream.sort(), ["index", "parse"]);
  assert.deepEqual(wf.tasks.report.dependsOn, ["parse", "index"]);
  assert.equal((await api.get("/workflows")).body.workflows.length, 1);
  assert.ok((await api.get("/tasks?workflow=pipeline")).body.tasks.every((t) => t.status === "Completed"));
  // A page at a time, with the total and where the next page starts.
  const page = (await api.get("/tasks?workflow=pipeline&limit=3")).body;
  assert.deepEqual([page.tasks.length, page.total, page.nextOffset], [3, 4, 3]);
  const rest = (await api.get("/tasks?workflow=pipeline&limit=3&offset=3")).body;
  assert.deepEqual([rest.tasks.length, rest.total, rest.nextOffset], [1, 4, undefined]);
  assert.equal((await api.get("/tasks?limit=100000")).status, 400);

  // PUT moves an agent's calls elsewhere; DELETE terminates it.
  r = await api.put("/agents/http", { endpoint: `${agents.url}/slow?ms=10` });
  assert.equal(r.body.binding.endpoint, `${agents.url}/slow?ms=10`);
  // ... and its name, capabilities and limits, leaving the rest as it was.
  r = await api.put("/agents/http", { name: "Slow HTTP", capabilities: ["fetch"], concurrency: 4 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual([r.body.name, r.body.capabilities, r.body.concurrency ?? r.body.max_concurrency], ["Slow HTTP", ["fetch"], 4], JSON.stringify(r.body));
  assert.equal(r.body.binding.endpoint, `${agents.url}/slow?ms=10`);
  assert.equal((await api.put("/agents/http", { concurrency: 0 })).status, 400);
  assert.equal((await api.put("/agents/http", { id: "renamed" })).status, 400);
  assert.equal((await api.put("/agents/http", { id: "http", name: "Slow HTTP" })).status, 200, "its own id repeated");
  // GET, edit, PUT: what PUT does not change may come back as GET gave it, but not changed.
  const whole = (await api.get("/agents/http")).body;
  r = await api.put("/agents/http", { ...whole, name: "Slower HTTP" });
  assert.deepEqual([r.status, r.body.name, r.body.binding], [200, "Slower HTTP", whole.binding], JSON.stringify(r.body));
  // Its state (status, counters) is not PUT's to change: ignored, as the lifecycle routes change it.
  r = await api.put("/agents/http", { ...whole, status: "Terminated", completed_tasks: 99 });
  assert.deepEqual([r.status, r.body.status, r.body.name], [200, whole.status, whole.name], JSON.stringify(r.body));
  r = await api.put("/agents/http", { ...whole, binding: { kind: "demo", demo: "echo" } });
  assert.deepEqual([r.status, r.body.error?.code], [400, "invalid_argument"], "a binding changes by endpoint, js or demo");
  // DELETE terminates the agent and removes it: gone from GET and the list, its id free again.
  r = await api.post("/tasks", { agent: "echo", input: "done before the delete" });
  const echoTask = r.body.id;
  assert.equal((await waitTask(api, echoTask)).status, "Completed");
  r = await api.del("/agents/echo");
  assert.deepEqual([r.status, r.body.deleted, r.body.status], [200, true, "Terminated"], JSON.stringify(r.body));
  assert.equal((await api.get("/agents/echo")).status, 404);
  assert.equal((await api.get("/agents/echo")).body.error.code, "unknown_agent");
  assert.equal((await api.del("/agents/echo")).status, 404);
  assert.ok(!(await api.get("/agents")).body.agents.some((a) => a.id === "echo"));
  assert.equal((await api.get(`/tasks/${echoTask}`)).body.agent, "echo", "its tasks keep naming it");
  r = await api.post("/agents", { id: "echo", demo: "echo", capabilities: ["echo"], start: true });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal((await api.get("/agents/echo")).body.completed_tasks ?? 0, 0, "a new agent");

  // Cancel a task that waits.
  await api.post("/agents/upper/pause");
  r = await api.post("/tasks", { agent: "upper", input: "later" });
  assert.equal((await api.post(`/tasks/${r.body.id}/cancel`, { reason: "no longer needed" })).body.status, "Cancelled");

  // Snapshots, metrics.
  r = await api.post("/snapshots");
  assert.equal(r.status, 201);
  const summary = (await api.get("/snapshots")).body.snapshots.find((s) => s.id === r.body.id);
  assert.ok(summary);
  assert.deepEqual([summary.snapshot_id, summary.task_count, summary.completed_count, summary.agents_status], [summary.id, summary.taskCount, summary.completedCount, summary.agentsStatus], "seed 000's names too");
  // It is stored: fetched whole by its id (only the latest is kept).
  const stored = await api.get(`/snapshots/${r.body.id}`);
  assert.deepEqual([stored.status, stored.body.format, stored.body.id], [200, "baton.snapshot", r.body.id]);
  assert.ok(stored.body.state.agents.length >= 3);
  assert.equal((await api.get("/snapshots/snapshot-999")).body.error.code, "unknown_snapshot");
  // An earlier one in the list (a workflow's end took it) is rebuilt from the journal, whole.
  const earlier = (await api.get("/snapshots")).body.snapshots.find((s) => s.id !== r.body.id);
  assert.ok(earlier, "an automatic snapshot is listed");
  const rebuilt = await api.get(`/snapshots/${earlier.id}`);
  assert.deepEqual([rebuilt.status, rebuilt.body.id, rebuilt.body.seq], [200, earlier.id, earlier.seq]);
  // A route that takes no body refuses a malformed one, and does nothing.
  r = await api.raw("POST", "/agents/upper/resume", "{not json");
  assert.deepEqual([r.status, r.body.error.code], [400, "invalid_json"]);
  assert.equal((await api.get("/agents/upper")).body.status, "Paused");
  // HEAD answers as GET, without a body; a status filter in any case.
  const head = await fetch(`${worker.url}/v1/ns/e2e/status`, { method: "HEAD", headers: { authorization: `Bearer ${TOKEN}` } });
  assert.deepEqual([head.status, await head.text()], [200, ""]);
  // OPTIONS without an Origin is not a CORS preflight: it says what the API takes.
  const options = await fetch(`${worker.url}/v1/ns/e2e/status`, { method: "OPTIONS" });
  assert.deepEqual([options.status, options.headers.get("allow")], [204, "GET, HEAD, POST, PUT, DELETE, OPTIONS"]);
  assert.equal((await api.get("/tasks?status=completed")).status, 200);
  assert.equal((await api.get("/tasks?status=timed_out")).status, 200);
  const metrics = await fetch(`${worker.url}/v1/ns/e2e/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await metrics.text();
  assert.match(text, /^baton_tasks\{status="completed"\} \d+$/m);
  assert.match(text, /^baton_storage_rows\{table="journal"\} \d+$/m);

  // The event stream from seq 0 replays the journal, then stays open.
  const ctrl = new AbortController();
  const res = await fetch(`${worker.url}/v1/ns/e2e/events?after=0`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ctrl.signal });
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const reader = res.body.getReader();
  let sse = "";
  while (!sse.includes("workflow.completed")) sse += new TextDecoder().decode((await reader.read()).value);
  ctrl.abort();
  assert.match(sse, /^id: 1\ndata: \{"seq":1,/m);
  // Only the topics asked for; a misnamed `after` or `topics` is refused.
  const ctrl2 = new AbortController();
  const only = await fetch(`${worker.url}/v1/ns/e2e/events?after=0&topics=workflow.*`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ctrl2.signal });
  const reader2 = only.body.getReader();
  let wfs = "";
  while (!wfs.includes("workflow.completed")) wfs += new TextDecoder().decode((await reader2.read()).value);
  ctrl2.abort();
  const types = [...wfs.matchAll(/"type":"([^"]+)"/g)].map((m) => m[1]);
  assert.ok(types.length >= 2 && types.every((t) => t.startsWith("workflow.")), types.join(","));
  // A stream sends a comment line every so often, so that proxies keep a quiet one open; and
  // still after records went out (a beat pending meanwhile must not be lost).
  const ctrlQuiet = new AbortController();
  const quiet = await fetch(`${worker.url}/v1/ns/e2e/events?topics=task.completed&keepaliveMs=300`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ctrlQuiet.signal });
  const readerQuiet = quiet.body.getReader();
  const readUntil = async (pattern) => {
    let got = "";
    while (!pattern.test(got)) got += new TextDecoder().decode((await readerQuiet.read()).value);
    return got;
  };
  await readUntil(/: keepalive\n\n/);
  await api.post("/agents", { id: "beat", demo: "echo", start: true });
  const beat = (await api.post("/tasks", { agent: "beat", input: "beat" })).body.id;
  await waitTask(api, beat);
  await readUntil(new RegExp(`"task":"${beat}"[^\n]*\n\n`));
  await readUntil(/: keepalive\n\n/);
  ctrlQuiet.abort();
  assert.equal((await api.get("/events?keepaliveMs=5")).status, 400);
  assert.equal((await api.get("/events?from=5")).status, 400, "a misnamed ?after= is refused");
  assert.equal((await api.get("/events?since=x")).status, 400, "?since= is ?after=, a seq number");
  assert.equal((await api.get("/events?topic=task.*")).status, 400);
  // ?token= (how a browser's EventSource authenticates) on the route with a trailing slash too.
  for (const path of ["events", "events/"]) {
    const ctrlToken = new AbortController();
    const byQuery = await fetch(`${worker.url}/v1/ns/e2e/${path}?after=0&token=${TOKEN}`, { signal: ctrlToken.signal });
    assert.equal(byQuery.status, 200, `/${path}?token=`);
    ctrlToken.abort();
  }
  // A stream asked to follow from beyond the journal's end (a client holding seqs from before a
  // crash, never stored) is told so, and follows from the end: the records numbered again reach it.
  const seq = (await api.get("/status")).body.journalSeq;
  assert.ok(seq > 0, "the status names the journal's seq");
  const ctrl3 = new AbortController();
  const ahead = await fetch(`${worker.url}/v1/ns/e2e/events?after=${seq + 5}`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ctrl3.signal });
  const reader3 = ahead.body.getReader();
  // The opening frame says the seq asked for is beyond the journal's end.
  // (Read until the frame ends: a stream may split it anywhere.)
  let opening = "";
  while (!/event: gap\ndata: [^\n]*\n\n/.test(opening)) opening += new TextDecoder().decode((await reader3.read()).value);
  assert.match(opening, /event: gap\ndata: \{"after":\d+,"next":\d+,"message":"seq \d+ is beyond this journal's end/);
  for (let i = 0; i < 8; i++) await api.post("/tasks", { agent: "upper", input: "x" });
  let later = "";
  while (!/^id: \d+\ndata: [^\n]*\n\n/m.test(later)) later += new TextDecoder().decode((await reader3.read()).value);
  ctrl3.abort();
  const ids = [...later.matchAll(/^id: (\d+)\n/gm)].map((m) => Number(m[1]));
  assert.equal(ids[0], seq + 1, `${ids} from ${seq + 1}`);
});

test("every route in openapi.json is served (not 404 or 405) with its method", async () => {
  const c = client(worker.url, "routes");
  await c.post("/agents", { id: "a1", demo: "echo", start: true });
  const t = (await c.post("/tasks", { agent: "a1", input: 1 })).body.id;
  await c.post("/workflows", { id: "w1", tasks: [{ id: "x", agent: "a1" }] });
  const job = (await c.post("/schedules", { trigger: { everyMs: 60_000 }, task: { agent: "a1" } })).body.id;
  const doc = await (await fetch(`${worker.url}/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
  // DELETEs last, so that the routes under an agent or a schedule find it as it was.
  const deletesLast = ([, a], [, b]) => ("delete" in a) - ("delete" in b);
  for (const [path, ops] of Object.entries(doc.paths).sort(deletesLast)) {
    for (const method of Object.keys(ops).sort((a, b) => (a === "delete") - (b === "delete"))) {
      const url = path.replace("{namespace}", "routes").replace("/agents/{id}", "/agents/a1").replace("/tasks/{id}", `/tasks/${t}`).replace("/workflows/{id}", "/workflows/w1").replace("/schedules/{id}", `/schedules/${job}`);
      if (path.endsWith("/events")) continue; // a stream: checked above
      const body = method === "put" ? JSON.stringify({ demo: "echo" }) : method === "post" ? (path.endsWith("/orchestrate") ? JSON.stringify({ session_id: "x", capability: "none" }) : "{}") : undefined;
      const r = await fetch(`${worker.url}${url}${path.endsWith("/contracts") ? "?session_id=x" : ""}`, { method: method.toUpperCase(), headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", "x-baton-namespace": "routes" }, body });
      assert.ok(r.status !== 404 || (await r.clone().json()).error?.code !== "not_found", `${method} ${url}: ${r.status}`);
      assert.notEqual(r.status, 405, `${method} ${url}`);
    }
  }
});

test("a retry's backoff is carried by the alarm: the flaky agent succeeds on the third attempt", async () => {
  const c = client(worker.url, "retry");
  await c.post("/agents", { id: "flaky", endpoint: `${agents.url}/flaky?fails=2`, start: true });
  const started = Date.now();
  const r = await c.post("/tasks", { agent: "flaky", input: {}, retry: { maxAttempts: 3, backoff: { initialMs: 1000, factor: 2, maxMs: 5000 } } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  // Nothing but the alarm wakes the object between attempts: this loop only reads.
  const task = await waitTask(c, r.body.id, 30_000);
  assert.equal(task.status, "Completed");
  assert.equal(task.attempts, 3);
  assert.deepEqual(task.output, { attempts: 3 });
  assert.ok(Date.now() - started >= 3000 - 50, `backoffs of 1 s and 2 s took ${Date.now() - started} ms`);
  // A bad answer is a classified failure.
  await c.post("/agents", { id: "bad", endpoint: `${agents.url}/bad`, start: true });
  const bad = await waitTask(c, (await c.post("/tasks", { agent: "bad" })).body.id);
  assert.equal(bad.status, "Failed");
  assert.equal(bad.error.class, "validation");
  // An empty 200 is not JSON either; a 204 is an answer with no output.
  await c.post("/agents", { id: "empty", endpoint: `${agents.url}/empty`, start: true });
  const empty = await waitTask(c, (await c.post("/tasks", { agent: "empty", retry: { maxAttempts: 1 } })).body.id);
  assert.deepEqual([empty.status, empty.error?.class], ["Failed", "validation"], JSON.stringify(empty));
  assert.match(empty.error.message, /empty body/);
  await c.post("/agents", { id: "none", endpoint: `${agents.url}/nocontent`, start: true });
  const none = await waitTask(c, (await c.post("/tasks", { agent: "none" })).body.id);
  assert.deepEqual([none.status, none.output], ["Completed", null]);
  // A number out of a double's range is refused, not read back as null.
  await c.post("/agents", { id: "huge", endpoint: `${agents.url}/huge-number`, start: true });
  const huge = await waitTask(c, (await c.post("/tasks", { agent: "huge", retry: { maxAttempts: 1 } })).body.id);
  assert.deepEqual([huge.status, huge.error?.class], ["Failed", "validation"], JSON.stringify(huge));
  // A redirect is not followed (fetch would make it a GET without the call): a failure naming it.
  await c.post("/agents", { id: "moved", endpoint: `${agents.url}/moved`, start: true });
  const moved = await waitTask(c, (await c.post("/tasks", { agent: "moved", retry: { maxAttempts: 1 } })).body.id);
  assert.deepEqual([moved.status, moved.error?.class], ["Failed", "agent"], JSON.stringify(moved));
  assert.match(moved.error.message, /HTTP 302, a redirect to '\/slow\?ms=0', which is not followed/);
  assert.ok(![...agents.calls.values()].flat().some((c) => c.path === "/slow" && c.attempt === undefined), "the redirect was followed");
  // An answer over payloadBytesMax (1 MiB) is refused as it arrives, with or without its length.
  for (const q of ["mb=3", "mb=3&chunked"]) {
    await c.post("/agents", { id: `big-${q.length}`, endpoint: `${agents.url}/big?${q}`, start: true });
    const big = await waitTask(c, (await c.post("/tasks", { agent: `big-${q.length}`, retry: { maxAttempts: 1 } })).body.id);
    assert.deepEqual([big.status, big.error?.class], ["Failed", "validation"], q);
    assert.match(big.error.message, /over payload_bytes_max = 1048576 bytes/, q);
  }
  // A failure's status counts, though its body is over the cap; a BOM before JSON is no part of it.
  await c.post("/agents", { id: "down-big", endpoint: `${agents.url}/down-big`, start: true });
  const downBig = await waitTask(c, (await c.post("/tasks", { agent: "down-big", retry: { maxAttempts: 1 } })).body.id);
  assert.deepEqual([downBig.status, downBig.error?.class], ["Failed", "agent"], JSON.stringify(downBig.error));
  assert.match(downBig.error.message, /HTTP 503/);
  await c.post("/agents", { id: "bom", endpoint: `${agents.url}/bom`, start: true });
  const bom = await waitTask(c, (await c.post("/tasks", { agent: "bom" })).body.id);
  assert.deepEqual([bom.status, bom.output], ["Completed", { ok: true }], JSON.stringify(bom));
  // A 429's Retry-After (2 s) is waited out, though the backoff says 100 ms.
  await c.post("/agents", { id: "busy", endpoint: `${agents.url}/busy?after=2`, start: true });
  const busy = (await c.post("/tasks", { agent: "busy", retry: { maxAttempts: 3, backoff: { initialMs: 100 } } })).body.id;
  const done = await waitTask(c, busy, 30_000);
  assert.deepEqual([done.status, done.attempts], ["Completed", 2], JSON.stringify(done));
  const [first, second] = [...agents.calls.entries()].find(([k, list]) => k.endsWith(`:${busy}`) && list[0].path === "/busy")[1];
  assert.ok(second.at - first.at >= 2000 - 50, `Retry-After: 2 waited ${second.at - first.at} ms`);
});

test("HTTP calls: a call the core gives up is aborted, idempotency keys differ across namespaces", async () => {
  // The same endpoint, one task in each of two namespaces: both are task-1, the keys differ.
  const keys = [];
  for (const ns of ["keys-a", "keys-b"]) {
    const c = client(worker.url, ns);
    await c.post("/agents", { id: "h", endpoint: `${agents.url}/slow?ms=10`, start: true });
    const t = (await c.post("/tasks", { agent: "h", input: ns })).body.id;
    assert.equal((await waitTask(c, t)).status, "Completed");
    keys.push([...agents.calls.keys()].find((k) => k.endsWith(`:${t}`) && !keys.includes(k)));
  }
  assert.ok(keys.every(Boolean) && keys[0] !== keys[1], JSON.stringify(keys));
  // An attempt that times out is aborted: the endpoint sees its request closed, long before
  // its 5 s answer, and the next attempt is not sent beside it.
  const c = client(worker.url, "aborts");
  await c.post("/agents", { id: "hang", endpoint: `${agents.url}/slow?ms=5000`, start: true });
  const t = (await c.post("/tasks", { agent: "hang", timeoutMs: 400, retry: { maxAttempts: 1 } })).body.id;
  const started = Date.now();
  assert.equal((await waitTask(c, t)).status, "TimedOut");
  await until(() => agents.aborted.some((k) => k?.endsWith(`:${t}`)), 4_000, "the timed-out call's request closed");
  assert.ok(Date.now() - started < 4_500, `aborted after ${Date.now() - started} ms`);
  // So is one whose task is cancelled.
  const u = (await c.post("/tasks", { agent: "hang" })).body.id;
  await until(() => agents.calls.has([...agents.calls.keys()].find((k) => k.endsWith(`:${u}`))), 4_000, "the call sent");
  assert.equal((await c.post(`/tasks/${u}/cancel`)).body.status, "Cancelled");
  await until(() => agents.aborted.some((k) => k?.endsWith(`:${u}`)), 4_000, "the cancelled call's request closed");
});

test("workflow task ids in paths, recover, start, null outputs and the Bearer scheme", async () => {
  const c = client(worker.url, "paths");
  await c.post("/agents", { id: "n", endpoint: `${agents.url}/null`, start: true });
  assert.equal((await c.post("/agents", { id: "bad-start", demo: "echo", start: "yes" })).status, 400);
  await c.post("/workflows", { id: "wf", tasks: [{ id: "a", agent: "n" }, { id: "b", agent: "n", dependsOn: ["a"] }] });
  const wf = await waitWorkflow(c, "wf");
  assert.equal(wf.status, "Completed");
  // Agents that answered null answered: their keys are there.
  assert.deepEqual(wf.outputs, { a: null, b: null });
  // `wf/a` as it is, unescaped, and escaped.
  let r = await c.get("/tasks/wf/a");
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.id, "wf/a");
  assert.equal((await c.get("/tasks/wf%2Fa")).body.id, "wf/a");
  r = await c.post("/tasks/wf/b/cancel");
  assert.equal(r.status, 409, JSON.stringify(r.body)); // it has completed
  // A reason is a string, for a task's cancel as for a workflow's or an agent's.
  r = await c.post("/tasks/wf/b/cancel", { reason: 5 });
  assert.deepEqual([r.status, r.body.error.code], [400, "invalid_argument"]);
  // An agent in Error comes back with recover, then start.
  await c.post("/agents", { id: "fragile", demo: "fail", maxErrors: 1, start: true });
  assert.equal((await c.post("/agents/fragile/recover")).status, 409); // it is Running
  await waitTask(c, (await c.post("/tasks", { agent: "fragile", retry: { maxAttempts: 1 } })).body.id);
  assert.equal((await c.get("/agents/fragile")).body.status, "Error");
  r = await c.post("/agents/fragile/recover");
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.status, "Ready");
  assert.equal((await c.post("/agents/fragile/start")).body.status, "Running");
  // The scheme's name in any case.
  const lower = await fetch(`${worker.url}/v1/ns/paths/status`, { headers: { authorization: `bearer ${TOKEN}` } });
  assert.equal(lower.status, 200);
});

test("payloads of finished work beyond 16 MiB are released, oldest first (at once beyond 32 MiB)", async () => {
  const c = client(worker.url, "retention");
  await c.post("/agents", { id: "echo", demo: "echo", start: true });
  const ids = [];
  for (let i = 0; i < 22; i++) {
    const r = await c.post("/tasks", { agent: "echo", input: String(i % 10).repeat(800_000) });
    assert.equal(r.status, 201, JSON.stringify(r.body).slice(0, 300));
    ids.push(r.body.id);
  }
  for (const id of ids) assert.equal((await waitTask(c, id)).status, "Completed");
  // Input and output of each: 22 x 1.6 MB, over twice the 16 MiB kept, so the minute's grace
  // finished work has does not hold: the oldest go until 32 MiB are left (checked again once
  // grown by 2 MiB).
  const status = (await c.get("/status")).body;
  assert.ok(status.payloadBytes <= 34 << 20, `${status.payloadBytes} bytes kept`);
  const first = (await c.get(`/tasks/${ids[0]}`)).body;
  assert.equal(typeof first.output.$released, "string", JSON.stringify(first).slice(0, 200));
  const last = (await c.get(`/tasks/${ids.at(-1)}`)).body;
  assert.equal(last.output.length, 800_000);
  // Under 500 events, but over 16 MiB of journal: a snapshot was taken, so a restart does not
  // parse the whole tail (which would not fit an object's memory).
  const metrics = await (await fetch(`${worker.url}/v1/ns/retention/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  const rows = Number(metrics.match(/^baton_storage_rows\{table="snapshots"\} (\d+)$/m)?.[1]);
  assert.ok(rows > 0, `snapshot rows: ${rows}`);
  // A malformed Last-Event-ID is refused, as a malformed ?after= is.
  assert.equal((await c.get("/events", { "last-event-id": "abc" })).status, 400);
});

test("auth: no token, a wrong token and another namespace's token are refused", async () => {
  const base = `${worker.url}/v1/ns/team-a/status`;
  let r = await fetch(base);
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error.code, "unauthorized");
  r = await fetch(base, { headers: { authorization: "Bearer nope" } });
  assert.equal(r.status, 401);
  r = await fetch(base, { headers: { authorization: "Bearer token-a" } });
  assert.equal(r.status, 200);
  r = await fetch(`${worker.url}/v1/ns/team-b/status`, { headers: { authorization: "Bearer token-a" } });
  assert.equal(r.status, 403);
  assert.equal((await r.json()).error.code, "forbidden");
  // Namespaces are separate objects: ids from one are unknown in another.
  const a = client(worker.url, "team-a", "token-a");
  await a.post("/agents", { id: "only-in-a", demo: "echo" });
  assert.equal((await client(worker.url, "team-c").get("/agents/only-in-a")).status, 404);
});

test("CORS answers only the configured origins", async () => {
  let r = await fetch(`${worker.url}/v1/ns/x/status`, { method: "OPTIONS", headers: { origin: "http://allowed.test", "access-control-request-method": "GET" } });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get("access-control-allow-origin"), "http://allowed.test");
  r = await fetch(`${worker.url}/v1/ns/x/status`, { method: "OPTIONS", headers: { origin: "http://evil.test", "access-control-request-method": "GET" } });
  assert.equal(r.status, 403);
  assert.equal(r.headers.get("access-control-allow-origin"), null);
  // The actual request, answered by the namespace's Durable Object, carries them too.
  r = await fetch(`${worker.url}/v1/ns/x/status`, { headers: { origin: "http://allowed.test", authorization: `Bearer ${TOKEN}` } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("access-control-allow-origin"), "http://allowed.test");
  assert.equal(r.headers.get("content-type"), "application/json");
  // A page can read a 429's Retry-After and a 405's Allow.
  assert.match(r.headers.get("access-control-expose-headers") ?? "", /retry-after/);
});

test("agent patterns over HTTP: a supervisor workflow (DESIGN's execution pattern) and a consensus run", async () => {
  const c = client(worker.url, "patterns");
  for (const [id, path] of [["boss", "/supervise"], ["v1", "/vote"], ["v2", "/vote"]]) {
    assert.equal((await c.post("/agents", { id, endpoint: `${agents.url}${path}`, start: true })).status, 201);
  }
  let r = await c.post("/workflows", { pattern: "supervisor", task: "plan the launch", supervisor: "boss", agents: ["v1"] });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.kind, "supervisor");
  const run = await waitWorkflow(c, r.body.id);
  assert.equal(run.status, "Completed", JSON.stringify(run));
  assert.equal(run.result.answer, 'done: "plan the launch"');
  r = await c.post("/runs", { kind: "consensus", task: "ship it?", agents: ["v1", "v2"], session: "s1" });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const vote = await until(async () => { const v = (await c.get(`/runs/${r.body.id}`)).body; return v.status !== "Running" && v; }, 20_000, "the consensus run");
  assert.equal(vote.result.decision, "approved", JSON.stringify(vote));
  assert.equal((await c.get("/contracts?session_id=s1")).body.contracts.length, 4, "two calls, each a REQUEST and a RESPONSE");
  assert.equal((await c.post("/runs", { kind: "vote", agents: [] })).status, 400);
  assert.equal((await c.get("/runs/run-99")).status, 404);
});

test("bad inputs are answered with their codes and change nothing", async () => {
  const c = client(worker.url, "bad");
  await c.post("/agents", { id: "e", demo: "echo", start: true });
  const before = (await c.get("/status")).body;
  const big = { agent: "e", input: "x".repeat(1000) };
  const cases = [
    [await c.get("/no/such/route"), 404, "not_found"],
    [await c.raw("DELETE", "/tasks"), 405, "method_not_allowed"],
    [await c.raw("PATCH", "/schedules"), 405, "method_not_allowed"],
    [await c.post("/tasks", "{ not json"), 400, "invalid_json"],
    [await c.post("/tasks", { agent: "ghost" }), 404, "unknown_agent"],
    [await c.post("/tasks", { agent: "e", priority: "high" }), 400, "invalid_argument"],
    [await c.post("/workflows", { tasks: [{ id: "a", agent: "e", dependsOn: ["b"] }, { id: "b", agent: "e", dependsOn: ["a"] }] }), 400, "cycle"],
    // What a workflow's body names wrongly is the body's fault (400), whatever its code.
    [await c.post("/workflows", { tasks: [{ ...big, id: "a", dependsOn: ["ghost"] }] }), 400, "unknown_dependency"],
    [await c.post("/workflows", { tasks: [{ ...big, id: "a" }, { ...big, id: "a" }] }), 400, "duplicate_id"],
    [await c.post("/workflows", { tasks: [{ ...big, id: "a" }], dependencies: { ghost: ["a"] } }), 400, "unknown_dependency"],
    [await c.post("/tasks", { ...big, agent: "ghost" }), 404, "unknown_agent"],
    [await c.post("/schedules", { trigger: { everyMs: 1000, cron: "* * * * *" }, task: { agent: "e" } }), 400, "invalid_argument"],
    [await c.post("/schedules", { trigger: { everyMs: 1000 }, task: { ...big, agent: "ghost" } }), 404, "unknown_agent"],
    [await c.get("/schedules/job-999"), 404, "unknown_job"],
    [await c.post("/agents", { id: "e", demo: "echo" }), 409, "duplicate_id"],
    [await c.post("/agents", { id: "nobody" }), 400, "invalid_argument"],
    [await c.post("/agents", { id: "e2", demo: "echo", capabilities: [{ description: "no name" }] }), 400, "invalid_argument"],
    [await c.post("/tasks", JSON.stringify({ agent: "e", input: "x".repeat(1024 * 1024 + 10) })), 413, "payload_too_large"],
    [await c.get("/tasks/nope"), 404, "unknown_task"],
    [await c.get("/tasks/nope/cancel"), 405, "method_not_allowed"],
  ];
  for (const [r, status, code] of cases) {
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.equal(r.body.error.code, code, JSON.stringify(r.body));
    assert.equal(typeof r.body.error.message, "string");
    if (status === 405) assert.match(r.headers.get("allow"), /^[A-Z, ]+$/);
  }
  const afterStatus = (await c.get("/status")).body;
  assert.deepEqual(afterStatus.statistics.total_tasks, before.statistics.total_tasks);
  assert.equal(afterStatus.journalSeq, before.journalSeq);
  assert.equal(afterStatus.payloads, before.payloads, "a refused request keeps none of its payloads");
});

test("a per-client rate limit answers 429 with Retry-After", async () => {
  const limited = await startWorker({ stateDir: tempDir("baton-rate-"), vars: { BATON_RATE_LIMIT_PER_MINUTE: "5" } });
  try {
    const statuses = [];
    let retryAfter;
    for (let i = 0; i < 8; i++) {
      const r = await fetch(`${limited.url}/v1/ns/x/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
      statuses.push(r.status);
      if (r.status === 429) {
        retryAfter = r.headers.get("retry-after");
        // One code for one meaning: a client over its limit, like a tool or an agent over theirs.
        assert.equal((await r.json()).error.code, "rate_limit");
      }
    }
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
    assert.equal(statuses.at(-1), 429);
    assert.ok(Number(retryAfter) >= 1, `Retry-After: ${retryAfter}`);
    // /openapi.json checks tokens too, so it is limited as well: no unlimited guessing there.
    const guess = await fetch(`${limited.url}/openapi.json`, { headers: { authorization: "Bearer guess" } });
    assert.equal(guess.status, 429);
  } finally {
    limited.stop();
  }
  // A second wrangler coming and going can make the first reload its worker (they share the
  // dev registry): the next test starts once the first answers again.
  await until(async () => (await fetch(`${worker.url}/v1/health`).catch(() => undefined))?.ok, 30_000, "the main worker");
});

test("a schedule's slots are carried by the alarm: it submits its task at each slot, pauses and is deleted", async () => {
  const c = client(worker.url, "cron");
  await c.post("/agents", { id: "tick", demo: "echo", start: true });
  let r = await c.post("/schedules", { trigger: { everyMs: 700 }, task: { agent: "tick", input: { beat: true } } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const id = r.body.id;
  assert.equal(r.body.status, "active");
  assert.deepEqual(r.body.task.input, { beat: true });
  assert.equal(typeof r.body.nextRun, "number");
  // Nothing but the alarm wakes the object between slots.
  const fired = await until(async () => { const j = (await c.get(`/schedules/${id}`)).body; return j.runs >= 2 && j; }, 20_000, "two slots");
  const tasks = (await c.get("/tasks?agent=tick")).body.tasks;
  assert.ok(tasks.length >= 2, JSON.stringify(tasks));
  const first = await until(async () => { const t = (await c.get(`/tasks/${encodeURIComponent(tasks[0].id)}`)).body; return t.status === "Completed" && t; }, 10_000, "the first slot's task");
  assert.deepEqual(first.output, { beat: true });

  r = await c.post(`/schedules/${id}/pause`);
  assert.equal(r.body.status, "paused");
  const runs = r.body.runs;
  r = await c.post(`/schedules/${id}/pause`);
  assert.deepEqual([r.status, r.body.error.code], [409, "invalid_state"], "paused already: a conflict");
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal((await c.get(`/schedules/${id}`)).body.runs, runs, "a paused schedule does not fire");
  assert.ok(fired.lastRun > 0);
  assert.match(fired.lastTask, /^task-\d+$/);
  assert.equal((await c.get("/schedules")).body.schedules.length, 1);

  r = await c.del(`/schedules/${id}`);
  assert.equal(r.status, 200);
  assert.equal(r.body.status, "deleted");
  assert.equal((await c.get(`/schedules/${id}`)).status, 404);
  assert.deepEqual((await c.get("/schedules")).body.schedules, []);
});

test("issue 4's model over REST: templates, messages between agents, and tools an HTTP agent calls", async () => {
  const c = client(worker.url, "model");
  const seq = async () => (await c.get("/status")).body.journalSeq;
  const status = (await c.get("/status")).body;
  assert.equal(status.total_agents, 0, "the statistics' keys at the top, as statistics() answers them");
  assert.equal(status.statistics.tasks_completed, status.tasks_completed);
  // Templates: built-ins listed; a defined one makes agents; bad ones are refused, naming every field.
  const listed = await c.get("/templates");
  assert.equal(listed.status, 200);
  assert.ok(listed.body.templates.length >= 6, JSON.stringify(listed.body));
  const defined = await c.post("/templates", { name: "analyst", version: 2, instructions: "Be brief.", capabilities: ["analyze"], limits: { concurrency: 2 } });
  assert.equal(defined.status, 201, JSON.stringify(defined.body));
  assert.equal(defined.body.reference, "analyst@2");
  assert.equal((await c.get("/templates/analyst@2")).body.instructions, "Be brief.");
  const before = await seq();
  const bad = await c.post("/templates", { name: "", version: 0, temperature: 9 });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /name/);
  assert.match(bad.body.error.message, /temperature/);
  const unknown = await c.post("/agents", { id: "x", demo: "echo", template: "analyst@9" });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, "unknown_template");
  const extra = await c.post("/agents", { id: "x", demo: "echo", template: "analyst@2", capabilities: ["other"] });
  assert.equal(extra.status, 400);
  assert.equal((await c.get("/agents/x")).status, 404, "nothing was registered");
  assert.equal(await seq(), before, "bad input changes nothing");
  const made = await c.post("/agents", { id: "an", demo: "echo", template: "analyst@2", start: true });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.deepEqual(made.body.capabilities, ["analyze"]);
  assert.equal(made.body.concurrency, 2);
  const routed = await c.post("/tasks", { capability: "analyze", input: "q" });
  assert.equal(routed.status, 201);
  assert.equal(routed.body.agent, "an");

  // Messages: sent -> delivered (read from the inbox) -> acknowledged; a missing agent is 404.
  await c.post("/agents", { id: "bob", demo: "echo" });
  const sent = await c.post("/messages", { from: "an", to: "bob", payload: { hello: 1 } });
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
  assert.equal(sent.body.status, "sent");
  const inbox = await c.get("/agents/bob/inbox");
  assert.deepEqual(inbox.body.messages.map((m) => [m.id, m.status, m.payload.hello]), [[sent.body.id, "delivered", 1]]);
  const acked = await c.post(`/messages/${sent.body.id}/ack`);
  assert.equal(acked.body.status, "acknowledged");
  assert.equal((await c.get("/agents/bob/inbox")).body.total, 0);
  assert.equal((await c.get("/agents/an/messages")).body.messages[0].to, "bob");
  const missing = await c.post("/messages", { from: "an", to: "nobody", payload: 1 });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, "unknown_agent");

  // Tools: an HTTP endpoint, granted, called back by the agent; refusals are coded.
  const tool = await c.post("/tools", { name: "add", endpoint: `${agents.url}/tool/add`, description: "adds", rateLimit: { perMinute: 60, burst: 2 } });
  assert.equal(tool.status, 201, JSON.stringify(tool.body));
  const never = await c.post("/agents/an/tools", { tools: ["nope"] });
  assert.equal(never.status, 404);
  assert.equal(never.body.error.code, "unknown_tool");
  const withUnknown = await c.post("/agents", { id: "y", demo: "echo", tools: ["nope"] });
  assert.equal(withUnknown.body.error.code, "unknown_tool");
  const refused = await c.post("/tools/add/call", { agentId: "an", args: { a: 1, b: 2 } });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, "permission");
  assert.deepEqual((await c.post("/agents/an/tools", { tools: ["add"] })).body.tools, ["add"]);
  const called = await c.post("/tools/add/call", { agentId: "an", taskId: routed.body.id, args: { a: 1, b: 2 } });
  assert.equal(called.status, 200, JSON.stringify(called.body));
  assert.deepEqual(called.body.result, { sum: 3, agentId: "an", taskId: routed.body.id });
  await c.post("/tools/add/call", { agentId: "an", args: { a: 1, b: 1 } });
  const limited = await c.post("/tools/add/call", { agentId: "an", args: { a: 1, b: 1 } });
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error.code, "rate_limit");
  assert.equal(limited.headers.get("retry-after"), "1", "a token a second: the next within 1 s");
  await c.post("/tools", { name: "down", endpoint: `${agents.url}/tool/down` });
  await c.post("/agents/an/tools", ["down"]);
  const failed = await c.post("/tools/down/call", { agentId: "an", args: {} });
  assert.equal(failed.status, 502);
  assert.equal(failed.body.error.code, "tool_failed");
  // A tool the core would refuse leaves nothing behind (no binding stored for a later restart).
  const badTool = await c.post("/tools", { name: "slowpoke", endpoint: `${agents.url}/tool/add`, rateLimit: { perMinute: 0 } });
  assert.equal(badTool.status, 400);
  assert.equal((await c.post("/tools", { name: "slowpoke", endpoint: `${agents.url}/tool/add` })).status, 201);
  // A template given as null is none: a built-in demo agent keeps its capability.
  await c.post("/agents", { id: "echo", template: null, start: true });
  assert.equal((await c.post("/tasks", { capability: "echo", input: "hi" })).status, 201);
  const tools = (await c.get("/tools")).body.tools.filter((t) => t.name !== "slowpoke");
  assert.deepEqual(tools.map((t) => [t.name, t.calls, t.failures]), [["add", 2, 0], ["down", 1, 1]]);
  assert.equal((await c.raw("DELETE", "/agents/an/tools", { tools: ["add"] })).body.tools.length, 1);
});

test("cancelling a workflow and an agent's waiting tasks over REST", async () => {
  const c = client(worker.url, "cancels");
  await c.post("/agents", { id: "slow", endpoint: `${agents.url}/slow?ms=3000`, concurrency: 1, start: true });
  const wf = await c.post("/workflows", { id: "w", tasks: [{ id: "a", agent: "slow" }, { id: "b", agent: "slow", dependsOn: ["a"] }] });
  assert.equal(wf.status, 201, JSON.stringify(wf.body));
  const cancelled = await c.post("/workflows/w/cancel", { reason: "changed my mind" });
  assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
  assert.equal(cancelled.body.status, "Cancelled");
  assert.equal((await c.post("/workflows/w/cancel")).status, 409, "a finished workflow is not cancelled again");
  assert.equal((await c.post("/workflows/nope/cancel")).body.error.code, "unknown_workflow");
  await c.post("/agents", { id: "idle", demo: "echo" });
  for (let i = 0; i < 3; i++) await c.post("/tasks", { agent: "idle", input: i });
  const n = await c.post("/agents/idle/cancel");
  assert.deepEqual(n.body, { agent: "idle", cancelled: 3 });
  const tasks = (await c.get("/tasks?agent=idle")).body.tasks;
  assert.deepEqual(tasks.map((t) => t.status), ["Cancelled", "Cancelled", "Cancelled"]);
});

/** Whether `value` fits `schema` (the subset openapi.json uses); returns what does not fit. */
function misfits(value, schema, doc, at = "body") {
  if (schema.$ref) return misfits(value, schema.$ref.split("/").slice(1).reduce((o, k) => o[k], doc), doc, at);
  if (schema.anyOf) {
    const each = schema.anyOf.map((s) => misfits(value, s, doc, at));
    return each.some((m) => m.length === 0) ? [] : each.flat();
  }
  const kind = Array.isArray(value) ? "array" : value === null ? "null" : Number.isInteger(value) ? "integer" : typeof value;
  if (schema.type && !(schema.type === kind || (schema.type === "number" && kind === "integer"))) return [`${at}: ${kind}, not ${schema.type}`];
  if (schema.enum && !schema.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} not in ${schema.enum}`];
  const out = [];
  for (const key of schema.required ?? []) if (!(key in value)) out.push(`${at}: no ${key}`);
  for (const [key, s] of Object.entries(schema.properties ?? {})) if (value?.[key] !== undefined) out.push(...misfits(value[key], s, doc, `${at}.${key}`));
  if (schema.items && Array.isArray(value)) value.forEach((v, i) => out.push(...misfits(v, schema.items, doc, `${at}[${i}]`)));
  return out;
}

test("success bodies carry what openapi.json says of each route", async () => {
  const doc = await (await fetch(`${worker.url}/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
  const c = client(worker.url, "shapes");
  const fits = async (method, route, path, body) => {
    const r = await c.raw(method.toUpperCase(), path, body ?? (method === "post" ? {} : undefined));
    const op = doc.paths[`/v1/ns/{namespace}${route}`][method];
    const response = op.responses[String(r.status)];
    assert.ok(response && r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.deepEqual(misfits(r.body, response.content["application/json"].schema, doc), [], `${method} ${path}`);
    return r.body;
  };
  await fits("post", "/agents", "/agents", { id: "a", demo: "echo", capabilities: ["x"], start: true });
  await fits("post", "/agents", "/agents", { id: "b", demo: "echo" });
  await fits("get", "/agents", "/agents");
  await fits("get", "/agents/{id}", "/agents/a");
  await fits("post", "/agents/{id}/start", "/agents/b/start");
  await fits("get", "/agents/{id}/history", "/agents/a/history");
  await fits("post", "/tools", "/tools", { name: "t", endpoint: "http://127.0.0.1:9/t" });
  await fits("get", "/tools", "/tools");
  await fits("post", "/agents/{id}/tools", "/agents/a/tools", { tools: ["t"] });
  await fits("delete", "/agents/{id}/tools", "/agents/a/tools", { tools: ["t"] });
  await fits("post", "/templates", "/templates", { name: "shape", version: 2 });
  await fits("get", "/templates", "/templates");
  await fits("get", "/templates/{reference}", "/templates/shape@2");
  const m = await fits("post", "/messages", "/messages", { from: "a", to: "b", payload: 1 });
  await fits("get", "/agents/{id}/inbox", "/agents/b/inbox");
  await fits("post", "/messages/{id}/ack", `/messages/${m.id}/ack`);
  await fits("get", "/agents/{id}/messages", "/agents/b/messages");
  const t = await fits("post", "/tasks", "/tasks", { agent: "a", input: 1 });
  await until(async () => (await c.get(`/tasks/${t.id}`)).body.status === "Completed");
  await fits("get", "/tasks/{id}", `/tasks/${t.id}`);
  await fits("get", "/tasks", "/tasks");
  await fits("post", "/workflows", "/workflows", { id: "w", tasks: [{ id: "p", agent: "a", input: 1 }, { id: "q", agent: "a", dependsOn: ["p"] }] });
  await until(async () => (await c.get("/workflows/w")).body.status === "Completed");
  await fits("get", "/workflows/{id}", "/workflows/w");
  await fits("get", "/workflows", "/workflows");
  const run = await fits("post", "/runs", "/runs", { kind: "consensus", task: "q", agents: ["a"] });
  await fits("get", "/runs/{id}", `/runs/${run.id}`);
  await fits("post", "/orchestrate", "/orchestrate", { session_id: "s", capability: "x", parameters: { k: 1 } });
  await fits("get", "/contracts", "/contracts?session_id=s");
  await fits("post", "/snapshots", "/snapshots");
  await fits("get", "/snapshots", "/snapshots");
  await fits("get", "/status", "/status");
  const job = await fits("post", "/schedules", "/schedules", { trigger: { everyMs: 100000 }, task: { agent: "a" } });
  await fits("get", "/schedules", "/schedules");
  await fits("post", "/schedules/{id}/pause", `/schedules/${job.id}/pause`);
  await fits("delete", "/schedules/{id}", `/schedules/${job.id}`);
  await fits("post", "/agents/{id}/cancel", "/agents/b/cancel");
  await fits("delete", "/agents/{id}", "/agents/b");
  // A partial wildcard in ?topics= is refused, as subscribe refuses it.
  const partial = await c.get("/events?topics=task.comp*");
  assert.equal(partial.status, 400);
  assert.equal(partial.body.error.code, "invalid_argument");
  const metrics = (await c.get("/metrics")).body;
  assert.match(metrics, /# TYPE baton_agent_errors_total counter\nbaton_agent_errors_total \d+\n/);
});
