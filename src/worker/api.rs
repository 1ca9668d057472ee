//! The REST API of one namespace (DESIGN.md §4), served inside its Durable Object. Every route
//! turns a request into core commands or reads core views; errors are
//! `{ "error": { "code", "message" } }` with a fitting status, and a refused request changes
//! nothing.

use super::agents::{Binding, DEMO_AGENTS};
use super::runtime::{now, pump, Shared};
use crate::core::agent::AgentSpec;
use crate::core::ids::{PayloadId, TaskIx};
use crate::core::task::TaskSpec;
use crate::core::views;
use crate::core::workflow::WorkflowSpec;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use worker::{Headers, Method, Request, Response};

/// The largest request body, in bytes.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;
/// How long `POST /orchestrate` waits for the task before answering 202 with its id.
const ORCHESTRATE_WAIT_MS: u64 = 25_000;

pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

pub type ApiResult = Result<Response, ApiError>;

pub fn error(status: u16, code: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code: code.into(),
        message: message.into(),
    }
}

/// A core error, with the HTTP status its code calls for.
fn core_error(e: crate::core::error::Error) -> ApiError {
    let code = e.code();
    let status = match code {
        c if c.starts_with("unknown_") => 404,
        "duplicate_id" | "illegal_transition" | "invalid_task_state" | "terminated"
        | "agent_unavailable" | "no_capable_agent" => 409,
        "limit_reached" => 409,
        "invalid_payload" => 413,
        "internal" => 500,
        _ => 400,
    };
    error(status, code, e.to_string())
}

pub fn error_response(e: &ApiError) -> Response {
    let body = json!({ "error": { "code": e.code, "message": e.message } });
    json_response(e.status, &body)
}

pub fn json_response(status: u16, body: &Value) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    Response::ok(body.to_string())
        .expect("a text body")
        .with_status(status)
        .with_headers(headers)
}

fn ok(body: Value) -> ApiResult {
    Ok(json_response(200, &body))
}

/// The request's JSON body: 413 past `BODY_BYTES_MAX`, 400 if it is not JSON.
async fn body(req: &mut Request) -> Result<Value, ApiError> {
    let bytes = req
        .bytes()
        .await
        .map_err(|e| error(400, "bad_request", e.to_string()))?;
    if bytes.len() > BODY_BYTES_MAX {
        return Err(error(
            413,
            "payload_too_large",
            format!(
                "the body is {} bytes; the limit is {BODY_BYTES_MAX}",
                bytes.len()
            ),
        ));
    }
    if bytes.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| error(400, "invalid_json", format!("the body is not JSON: {e}")))
}

fn object(v: Value, what: &str) -> Result<Map<String, Value>, ApiError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(error(
            400,
            "invalid_argument",
            format!("{what} must be a JSON object"),
        )),
    }
}

/// Deserializes a spec, naming the field at fault (the core's rule, as in the JS package).
fn spec<T: DeserializeOwned>(what: &str, v: Value) -> Result<T, ApiError> {
    crate::core::error::decode(what, v).map_err(core_error)
}

fn query(req: &Request) -> Map<String, Value> {
    req.url()
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn raw(rt: &super::runtime::Runtime, p: PayloadId) -> Value {
    rt.core
        .payloads()
        .get(p)
        .and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Value::Null)
}

fn task_json(rt: &super::runtime::Runtime, ix: TaskIx) -> Value {
    let s = rt.core.state();
    let mut v = serde_json::to_value(views::task_view(s, ix)).expect("views serialize");
    let t = s.task(ix);
    v["input"] = raw(rt, t.input);
    v["output"] = raw(rt, t.output);
    v
}

fn workflow_json(rt: &super::runtime::Runtime, w: crate::core::ids::WorkflowIx) -> Value {
    let s = rt.core.state();
    let mut v = serde_json::to_value(views::workflow_view(s, w)).expect("views serialize");
    let wf = &s.workflows[w.index() as usize];
    let mut outputs = Map::new();
    for (local, ix) in wf.local_ids.iter().zip(wf.tasks()) {
        let out = s.task(ix).output;
        if out != PayloadId::NONE {
            outputs.insert(local.to_string(), raw(rt, out));
        }
    }
    v["outputs"] = Value::Object(outputs);
    if let Some(m) = v.as_object_mut() {
        m.remove("order");
    }
    v
}

fn alloc(rt: &mut super::runtime::Runtime, v: Option<Value>) -> Result<PayloadId, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(PayloadId::NONE),
        Some(v) => rt
            .core
            .payloads_mut()
            .alloc_json(&v.to_string())
            .map_err(core_error),
    }
}

/// Serves one request. `path` is relative to the namespace (`/agents`, `/tasks/x`, ...).
pub async fn handle(shared: &Shared, mut req: Request, path: &str) -> ApiResult {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| urlencoding_decode(s))
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = req.method();
    let allow = |methods: &str| error(405, "method_not_allowed", format!("use {methods}"));
    match (segs.as_slice(), method.clone()) {
        (["status"], Method::Get) => status(shared),
        (["status"], _) => Err(allow("GET")),
        (["agents"], Method::Get) => agents(shared),
        (["agents"], Method::Post) => register(shared, body(&mut req).await?),
        (["agents"], _) => Err(allow("GET, POST")),
        (["agents", id], Method::Get) => agent(shared, id),
        (["agents", id], Method::Put) => update_agent(shared, id, body(&mut req).await?),
        (["agents", id], Method::Delete) => delete_agent(shared, id),
        (["agents", _], _) => Err(allow("GET, PUT, DELETE")),
        (["agents", id, "history"], Method::Get) => history(shared, id),
        (["agents", _, "history"], _) => Err(allow("GET")),
        (["agents", id, cmd @ ("start" | "pause" | "resume" | "stop")], Method::Post) => {
            lifecycle(shared, id, cmd)
        }
        (["agents", _, "start" | "pause" | "resume" | "stop"], _) => Err(allow("POST")),
        (["tasks"], Method::Post) => submit(shared, body(&mut req).await?),
        (["tasks"], Method::Get) => tasks(shared, &req),
        (["tasks"], _) => Err(allow("GET, POST")),
        (["tasks", id], Method::Get) => task(shared, id),
        (["tasks", _], _) => Err(allow("GET")),
        (["tasks", id, "cancel"], Method::Post) => cancel(shared, id, body(&mut req).await?),
        (["tasks", _, "cancel"], _) => Err(allow("POST")),
        (["workflows"], Method::Post) => submit_workflow(shared, body(&mut req).await?),
        (["workflows"], Method::Get) => {
            ok(json!({ "workflows": views::workflow_list(shared.borrow().core.state()) }))
        }
        (["workflows"], _) => Err(allow("GET, POST")),
        (["workflows", id], Method::Get) => workflow(shared, id),
        (["workflows", _], _) => Err(allow("GET")),
        (["orchestrate"], Method::Post) => orchestrate(shared, body(&mut req).await?).await,
        (["orchestrate"], _) => Err(allow("POST")),
        (["contracts"], Method::Get) => contracts(shared, &req),
        (["contracts"], _) => Err(allow("GET")),
        (["snapshots"], Method::Post) => snapshot(shared),
        (["snapshots"], Method::Get) => {
            ok(json!({ "snapshots": shared.borrow().core.snapshots(100) }))
        }
        (["snapshots"], _) => Err(allow("GET, POST")),
        (["events"], Method::Get) => events(shared, &req),
        (["events"], _) => Err(allow("GET")),
        (["metrics"], Method::Get) => metrics(shared),
        (["metrics"], _) => Err(allow("GET")),
        _ => Err(error(404, "not_found", format!("no route {path}"))),
    }
}

fn urlencoding_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status(shared: &Shared) -> ApiResult {
    let rt = shared.borrow();
    let s = rt.core.state();
    ok(json!({
        "statistics": views::statistics(s),
        "seed": rt.core.state().seed,
        "journalSeq": s.seq,
        "now": now(),
        "startedAt": rt.started_at,
        "inFlight": s.derived.calls.len(),
    }))
}

fn agents(shared: &Shared) -> ApiResult {
    let rt = shared.borrow();
    let mut out =
        serde_json::to_value(views::agents_status(rt.core.state())).expect("views serialize");
    if let Some(m) = out.as_object_mut() {
        for (id, v) in m.iter_mut() {
            v["binding"] = serde_json::to_value(rt.bindings.get(id)).expect("bindings serialize");
        }
    }
    ok(json!({ "agents": out }))
}

fn agent_ix(rt: &super::runtime::Runtime, id: &str) -> Result<crate::core::ids::AgentIx, ApiError> {
    rt.core.agent(id).map_err(core_error)
}

fn agent(shared: &Shared, id: &str) -> ApiResult {
    let rt = shared.borrow();
    agent_ix(&rt, id)?;
    let all = views::agents_status(rt.core.state());
    let mut v = serde_json::to_value(&all[id]).expect("views serialize");
    v["id"] = json!(id);
    v["binding"] = serde_json::to_value(rt.bindings.get(id)).expect("bindings serialize");
    ok(v)
}

/// Takes the binding fields (`endpoint`, `js`, `demo`) out of an agent body.
fn binding(m: &mut Map<String, Value>, id: &str) -> Result<Option<Binding>, ApiError> {
    let endpoint = m.remove("endpoint");
    let js = m.remove("js");
    let demo = m.remove("demo");
    let given = [&endpoint, &js, &demo]
        .iter()
        .filter(|v| v.is_some())
        .count();
    if given > 1 {
        return Err(error(
            400,
            "invalid_argument",
            "give one of endpoint, js and demo",
        ));
    }
    let text = |v: Value, what: &str| match v {
        Value::String(s) if !s.is_empty() => Ok(s),
        _ => Err(error(
            400,
            "invalid_argument",
            format!("{what} must be a non-empty string"),
        )),
    };
    if let Some(e) = endpoint {
        let e = text(e, "endpoint")?;
        let url = worker::Url::parse(&e).map_err(|err| {
            error(
                400,
                "invalid_argument",
                format!("endpoint '{e}' is not a URL: {err}"),
            )
        })?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(error(
                400,
                "invalid_argument",
                "endpoint must be an http(s) URL",
            ));
        }
        return Ok(Some(Binding::Http { endpoint: e }));
    }
    if let Some(j) = js {
        let name = text(j, "js")?;
        if !super::agents::js_agents().contains(&name) {
            return Err(error(
                400,
                "invalid_argument",
                format!("no JS agent '{name}' in js/worker-agents.js"),
            ));
        }
        return Ok(Some(Binding::Js { name }));
    }
    if let Some(d) = demo {
        let name = text(d, "demo")?;
        if !DEMO_AGENTS.contains(&name.as_str()) {
            return Err(error(
                400,
                "invalid_argument",
                format!(
                    "no demo agent '{name}' (there are {})",
                    DEMO_AGENTS.join(", ")
                ),
            ));
        }
        return Ok(Some(Binding::Demo { name }));
    }
    let _ = id;
    Ok(None)
}

fn register(shared: &Shared, body: Value) -> ApiResult {
    let mut m = object(body, "an agent")?;
    let id = m
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let start = m
        .remove("start")
        .map(|v| v.as_bool().unwrap_or(false))
        .unwrap_or(false);
    let b = binding(&mut m, &id)?.ok_or_else(|| error(400, "invalid_argument", "an agent needs an endpoint (HTTP agent), js (a function in js/worker-agents.js) or demo (echo, uppercase, sleep, fail)"))?;
    let s: AgentSpec = spec("agent", Value::Object(m))?;
    {
        let mut rt = shared.borrow_mut();
        let t = now();
        let ix = rt.core.register_agent(s, t).map_err(core_error)?;
        rt.store
            .put_binding(&id, &serde_json::to_string(&b).expect("bindings serialize"))
            .map_err(|e| error(500, "internal", e.to_string()))?;
        rt.bindings.insert(id.clone(), b);
        if start {
            rt.core.start_agent(ix, t).map_err(core_error)?;
        }
    }
    pump(shared);
    let mut resp = agent(shared, &id)?;
    resp = resp.with_status(201);
    Ok(resp)
}

fn update_agent(shared: &Shared, id: &str, body: Value) -> ApiResult {
    let mut m = object(body, "an agent update")?;
    {
        let rt = shared.borrow();
        agent_ix(&rt, id)?;
    }
    let b = binding(&mut m, id)?;
    if let Some(k) = m.keys().next() {
        return Err(error(
            400,
            "invalid_argument",
            format!("'{k}' cannot be changed; PUT takes endpoint, js or demo"),
        ));
    }
    let b = b.ok_or_else(|| error(400, "invalid_argument", "give endpoint, js or demo"))?;
    {
        let mut rt = shared.borrow_mut();
        rt.store
            .put_binding(id, &serde_json::to_string(&b).expect("bindings serialize"))
            .map_err(|e| error(500, "internal", e.to_string()))?;
        rt.bindings.insert(id.to_owned(), b);
    }
    agent(shared, id)
}

/// Terminates the agent (its unfinished tasks are cancelled); its history stays.
fn delete_agent(shared: &Shared, id: &str) -> ApiResult {
    {
        let mut rt = shared.borrow_mut();
        let ix = agent_ix(&rt, id)?;
        rt.core.terminate_agent(ix, now()).map_err(core_error)?;
    }
    pump(shared);
    agent(shared, id)
}

fn history(shared: &Shared, id: &str) -> ApiResult {
    let rt = shared.borrow();
    let ix = agent_ix(&rt, id)?;
    ok(json!({ "history": rt.core.state().agent(ix).history }))
}

fn lifecycle(shared: &Shared, id: &str, cmd: &str) -> ApiResult {
    {
        let mut rt = shared.borrow_mut();
        let ix = agent_ix(&rt, id)?;
        let t = now();
        let o = &mut rt.core;
        match cmd {
            "start" => o.start_agent(ix, t),
            "pause" => o.pause_agent(ix, t),
            "resume" => o.resume_agent(ix, t),
            _ => o.stop_agent(ix, t),
        }
        .map_err(core_error)?;
    }
    pump(shared);
    agent(shared, id)
}

fn submit(shared: &Shared, body: Value) -> ApiResult {
    let mut m = object(body, "a task")?;
    let input = m.remove("input");
    let metadata = m.remove("metadata");
    let s: TaskSpec = spec("task", Value::Object(m))?;
    let v = {
        let mut rt = shared.borrow_mut();
        let i = alloc(&mut rt, input)?;
        let md = alloc(&mut rt, metadata)?;
        let ix = rt.core.submit(s, i, md, now()).map_err(core_error)?;
        ix
    };
    pump(shared);
    let rt = shared.borrow();
    Ok(json_response(201, &task_json(&rt, v)))
}

fn tasks(shared: &Shared, req: &Request) -> ApiResult {
    let mut q = query(req);
    for k in ["offset", "limit"] {
        if let Some(Value::String(n)) = q.get(k) {
            let n: u32 = n
                .parse()
                .map_err(|_| error(400, "invalid_argument", format!("{k} must be a number")))?;
            q.insert(k.into(), json!(n));
        }
    }
    let f: views::TaskFilter = spec("filter", Value::Object(q))?;
    let rt = shared.borrow();
    ok(json!({ "tasks": views::task_list(rt.core.state(), &f) }))
}

fn task(shared: &Shared, id: &str) -> ApiResult {
    let rt = shared.borrow();
    let ix = rt.core.task(id).map_err(core_error)?;
    ok(task_json(&rt, ix))
}

fn cancel(shared: &Shared, id: &str, body: Value) -> ApiResult {
    let reason = body
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("cancelled through the API")
        .to_owned();
    let ix = {
        let mut rt = shared.borrow_mut();
        let ix = rt.core.task(id).map_err(core_error)?;
        rt.core
            .cancel_task(ix, &reason, now())
            .map_err(core_error)?;
        ix
    };
    pump(shared);
    let rt = shared.borrow();
    ok(task_json(&rt, ix))
}

fn submit_workflow(shared: &Shared, body: Value) -> ApiResult {
    let mut m = object(body, "a workflow")?;
    let mut payloads = Vec::new();
    let w = {
        let mut rt = shared.borrow_mut();
        if let Some(Value::Array(tasks)) = m.get_mut("tasks") {
            for t in tasks.iter_mut() {
                let (i, md) = match t.as_object_mut() {
                    Some(t) => (t.remove("input"), t.remove("metadata")),
                    None => (None, None),
                };
                payloads.push((alloc(&mut rt, i)?, alloc(&mut rt, md)?));
            }
        }
        let s: WorkflowSpec = spec("workflow", Value::Object(m))?;
        rt.core
            .submit_workflow(s, &payloads, now())
            .map_err(core_error)?
    };
    pump(shared);
    let rt = shared.borrow();
    Ok(json_response(201, &workflow_json(&rt, w)))
}

fn workflow(shared: &Shared, id: &str) -> ApiResult {
    let rt = shared.borrow();
    let w = rt.core.workflow(id).map_err(core_error)?;
    ok(workflow_json(&rt, w))
}

/// Seed 004's `orchestrate`: routes `{ capability, parameters }` to the least-loaded capable
/// agent under a session, and answers with the outcome (or 202 and the task id if it takes long).
async fn orchestrate(shared: &Shared, body: Value) -> ApiResult {
    let mut m = object(body, "an orchestrate request")?;
    let session = m
        .remove("session_id")
        .or_else(|| m.remove("sessionId"))
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| error(400, "invalid_argument", "orchestrate needs session_id"))?;
    let capability = m
        .remove("capability")
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| error(400, "invalid_argument", "orchestrate needs a capability"))?;
    let parameters = m.remove("parameters");
    let mut t = Map::new();
    t.insert("capability".into(), json!(capability));
    t.insert("session".into(), json!(session));
    if let Some(p) = m.remove("priority") {
        t.insert("priority".into(), p);
    }
    if let Some(k) = m.keys().next() {
        return Err(error(400, "invalid_argument", format!("unknown field '{k}' (orchestrate takes session_id, capability, parameters, priority)")));
    }
    let s: TaskSpec = spec("request", Value::Object(t))?;
    let (ix, done) = {
        let mut rt = shared.borrow_mut();
        let input = alloc(&mut rt, parameters)?;
        let ix = rt
            .core
            .submit(s, input, PayloadId::NONE, now())
            .map_err(core_error)?;
        let done = rt.wait(ix);
        (ix, done)
    };
    pump(shared);
    let timer = worker::Delay::from(std::time::Duration::from_millis(ORCHESTRATE_WAIT_MS));
    futures_util::pin_mut!(timer);
    let finished = matches!(
        futures_util::future::select(done, timer).await,
        futures_util::future::Either::Left(_)
    );
    let rt = shared.borrow();
    let task = task_json(&rt, ix);
    let body = json!({
        "sessionId": session, "taskId": task["id"], "agent": task["agent"], "capability": capability,
        "status": task["status"], "result": task["output"], "error": task["error"],
    });
    Ok(json_response(if finished { 200 } else { 202 }, &body))
}

fn contracts(shared: &Shared, req: &Request) -> ApiResult {
    let q = query(req);
    let session = q
        .get("session_id")
        .or_else(|| q.get("sessionId"))
        .and_then(Value::as_str)
        .ok_or_else(|| error(400, "invalid_argument", "give ?session_id="))?;
    let rt = shared.borrow();
    let list: Value = serde_json::from_str(&rt.core.contracts_json(session).map_err(core_error)?)
        .expect("contracts are JSON");
    ok(json!({ "sessionId": session, "contracts": list }))
}

fn snapshot(shared: &Shared) -> ApiResult {
    let summary = {
        let mut rt = shared.borrow_mut();
        rt.core.snapshot(now()).map_err(core_error)?;
        rt.core.snapshots(1).into_iter().next()
    };
    pump(shared);
    Ok(json_response(
        201,
        &serde_json::to_value(summary).expect("summaries serialize"),
    ))
}

fn events(shared: &Shared, req: &Request) -> ApiResult {
    let q = query(req);
    // `?after=` or, when a browser's EventSource reconnects, its Last-Event-ID header.
    // A reconnecting EventSource sends its first URL (with `after`) and Last-Event-ID: the
    // later of the two is where the client is.
    let after = match q.get("after").and_then(Value::as_str) {
        Some(a) => a
            .parse::<u64>()
            .map_err(|_| error(400, "invalid_argument", "after must be a seq number"))?,
        None => 0,
    };
    let last_event: u64 = req
        .headers()
        .get("last-event-id")
        .ok()
        .flatten()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let after = after.max(last_event);
    let rx = shared.borrow_mut().subscribe(after);
    use futures_util::StreamExt;
    let stream = rx.map(|frame| Ok::<Vec<u8>, worker::Error>(frame.into_bytes()));
    let headers = Headers::new();
    let _ = headers.set("content-type", "text/event-stream");
    let _ = headers.set("cache-control", "no-store");
    Ok(Response::from_stream(stream)
        .map_err(|e| error(500, "internal", e.to_string()))?
        .with_headers(headers))
}

fn metrics(shared: &Shared) -> ApiResult {
    let rt = shared.borrow();
    let st = views::statistics(rt.core.state());
    let (journal_rows, snapshot_rows) = rt.store.rows().unwrap_or((0, 0));
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: Vec<(String, u64)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, v) in samples {
            out.push_str(&format!("{name}{labels} {v}\n"));
        }
    };
    let by = |pairs: &[(&str, u64)]| {
        pairs
            .iter()
            .map(|(s, v)| (format!("{{status=\"{s}\"}}"), *v))
            .collect::<Vec<_>>()
    };
    gauge(
        "baton_tasks",
        "Tasks by status.",
        by(&[
            ("pending", st.tasks_pending),
            ("queued", st.tasks_queued),
            ("running", st.tasks_running),
            ("retrying", st.tasks_retrying),
            ("completed", st.tasks_completed),
            ("failed", st.tasks_failed),
            ("cancelled", st.tasks_cancelled),
            ("timed_out", st.tasks_timed_out),
            ("skipped", st.tasks_skipped),
        ]),
    );
    gauge(
        "baton_agents",
        "Agents by status.",
        by(&[
            ("running", st.agents_running),
            ("paused", st.agents_paused),
            ("error", st.agents_error),
            ("stopped", st.agents_stopped),
        ]),
    );
    gauge(
        "baton_workflows",
        "Workflows by status.",
        by(&[
            ("running", st.workflows_running),
            ("completed", st.workflows_completed),
            ("failed", st.workflows_failed),
        ]),
    );
    gauge(
        "baton_agent_errors",
        "Errors counted against agents.",
        vec![(String::new(), st.agent_errors)],
    );
    gauge(
        "baton_journal_seq",
        "The journal's last sequence number.",
        vec![(String::new(), st.journal_seq)],
    );
    gauge(
        "baton_storage_rows",
        "Rows in the object's SQLite tables.",
        vec![
            ("{table=\"journal\"}".into(), journal_rows),
            ("{table=\"snapshots\"}".into(), snapshot_rows),
        ],
    );
    gauge(
        "baton_agent_calls_started",
        "Agent calls started since the object loaded.",
        vec![(String::new(), rt.calls_started)],
    );
    let headers = Headers::new();
    let _ = headers.set("content-type", "text/plain; version=0.0.4");
    Ok(Response::ok(out)
        .expect("a text body")
        .with_headers(headers))
}
