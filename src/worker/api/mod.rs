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

mod agents;
mod model;
mod reads;
mod runs;
mod schedules;
mod work;
use agents::*;
use reads::*;
use work::*;

/// The largest request body, in bytes.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;
/// How long `POST /orchestrate` waits for the task before answering 202 with its id.
const ORCHESTRATE_WAIT_MS: u64 = 25_000;

pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// A 405's `Allow` header: the methods the route takes.
    pub allow: Option<String>,
}

pub type ApiResult = Result<Response, ApiError>;

pub fn error(status: u16, code: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code: code.into(),
        message: message.into(),
        allow: None,
    }
}

/// 405 for a route that takes only `methods` (comma-separated), which the `Allow` header lists.
pub fn not_allowed(methods: &str) -> ApiError {
    ApiError {
        allow: Some(methods.to_owned()),
        ..error(405, "method_not_allowed", format!("use {methods}"))
    }
}

/// A core error, with the HTTP status its code calls for.
fn core_error(e: crate::core::error::Error) -> ApiError {
    let code = e.code();
    let status = match code {
        // A dependency is named in the request body: the body is at fault, not the route.
        "unknown_dependency" => 400,
        c if c.starts_with("unknown_") => 404,
        "duplicate_id" | "illegal_transition" | "invalid_task_state" | "invalid_state"
        | "terminated" | "agent_unavailable" | "no_capable_agent" => 409,
        "limit_reached" => 409,
        "invalid_payload" => 413,
        "internal" => 500,
        _ => 400,
    };
    error(status, code, e.to_string())
}

pub fn error_response(e: &ApiError) -> Response {
    let body = json!({ "error": { "code": e.code, "message": e.message } });
    let headers = Headers::new();
    if let Some(methods) = &e.allow {
        let _ = headers.set("allow", methods);
    }
    // Every 429 (the client's request rate, a tool's bucket) says "retry after N s": the
    // header carries N for clients that wait on it.
    if e.status == 429 {
        let after = e.message.split("retry after ").nth(1);
        if let Some(secs) = after.and_then(|s| s.split(' ').next()) {
            let _ = headers.set("retry-after", secs);
        }
    }
    respond(e.status, &body, headers)
}

pub fn json_response(status: u16, body: &Value) -> Response {
    respond(status, body, Headers::new())
}

fn respond(status: u16, body: &Value, headers: Headers) -> Response {
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

/// A route that takes no body still refuses a malformed one (400), before it does anything.
async fn no_body(req: &mut Request) -> Result<(), ApiError> {
    body(req).await.map(|_| ())
}

/// `m[key]` if it is a string, else "" (the core then names what is wrong with it).
fn text_field(m: &Map<String, Value>, key: &str) -> String {
    m.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
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
    crate::core::error::decode(what, &v.to_string()).map_err(core_error)
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

fn raw(rt: &crate::worker::runtime::Runtime, p: PayloadId) -> Value {
    rt.core
        .payloads()
        .get(p)
        .and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Value::Null)
}

fn task_json(rt: &crate::worker::runtime::Runtime, ix: TaskIx) -> Value {
    let s = rt.core.state();
    let mut v = serde_json::to_value(views::task_view(s, ix)).expect("views serialize");
    let t = s.task(ix);
    v["input"] = raw(rt, t.input);
    v["output"] = raw(rt, t.output);
    let metadata = raw(rt, t.metadata);
    if !metadata.is_null() {
        v["metadata"] = metadata;
    }
    v
}

fn workflow_json(rt: &crate::worker::runtime::Runtime, w: crate::core::ids::WorkflowIx) -> Value {
    let s = rt.core.state();
    let mut v = serde_json::to_value(views::workflow_view(s, w)).expect("views serialize");
    let wf = &s.workflows[w.index() as usize];
    let mut outputs = Map::new();
    for (local, ix) in wf.local_ids.iter().zip(wf.tasks()) {
        // Every completed task has its key: an agent that answered `null` answered.
        let t = s.task(ix);
        if t.output != PayloadId::NONE || t.status == crate::core::task::TaskStatus::Completed {
            outputs.insert(local.to_string(), raw(rt, t.output));
        }
    }
    v["outputs"] = Value::Object(outputs);
    if let Some(m) = v.as_object_mut() {
        m.remove("order");
    }
    v
}

fn alloc(
    rt: &mut crate::worker::runtime::Runtime,
    v: Option<Value>,
) -> Result<PayloadId, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(PayloadId::NONE),
        Some(v) => rt
            .core
            .payloads_mut()
            .alloc_json(&v.to_string())
            .map_err(core_error),
    }
}

/// Runs a command that allocates its payloads before the core can refuse it; if it is refused,
/// those payloads are dropped too, so a refused request leaves nothing behind.
fn refusable<T>(
    rt: &mut crate::worker::runtime::Runtime,
    command: impl FnOnce(&mut crate::worker::runtime::Runtime) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mark = rt.core.payloads().len();
    let result = command(rt);
    if result.is_err() {
        rt.core.payloads_mut().truncate(mark);
    }
    result
}

/// Serves one request. `path` is relative to the namespace (`/agents`, `/tasks/x`, ...).
pub async fn handle(shared: &Shared, mut req: Request, path: &str) -> ApiResult {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(urlencoding_decode)
        .collect();
    let segs = workflow_task_ids(segs, &req.method());
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = req.method();
    let allow = not_allowed;
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
        (["agents", id, "cancel"], Method::Post) => {
            cancel_agent_tasks(shared, id, body(&mut req).await?)
        }
        (["agents", _, "cancel"], _) => Err(allow("POST")),
        (["agents", id, "inbox"], Method::Get) => model::inbox(shared, id),
        (["agents", _, "inbox"], _) => Err(allow("GET")),
        (["agents", id, "messages"], Method::Get) => model::history(shared, id),
        (["agents", _, "messages"], _) => Err(allow("GET")),
        (["agents", id, "tools"], Method::Post) => {
            model::grant(shared, id, body(&mut req).await?, false)
        }
        (["agents", id, "tools"], Method::Delete) => {
            model::grant(shared, id, body(&mut req).await?, true)
        }
        (["agents", _, "tools"], _) => Err(allow("POST, DELETE")),
        (["templates"], Method::Get) => model::templates(shared),
        (["templates"], Method::Post) => model::define_template(shared, body(&mut req).await?),
        (["templates"], _) => Err(allow("GET, POST")),
        (["templates", r], Method::Get) => model::template(shared, r),
        (["templates", _], _) => Err(allow("GET")),
        (["messages"], Method::Post) => model::send(shared, body(&mut req).await?),
        (["messages"], _) => Err(allow("POST")),
        (["messages", id], Method::Get) => model::message(shared, id),
        (["messages", _], _) => Err(allow("GET")),
        (["messages", id, "ack" | "acknowledge"], Method::Post) => {
            no_body(&mut req).await?;
            model::acknowledge(shared, id)
        }
        (["messages", _, "ack" | "acknowledge"], _) => Err(allow("POST")),
        (["tools"], Method::Get) => model::tools(shared),
        (["tools"], Method::Post) => model::register_tool(shared, body(&mut req).await?),
        (["tools"], _) => Err(allow("GET, POST")),
        (["tools", name, "call"], Method::Post) => {
            model::call(shared, name, body(&mut req).await?).await
        }
        (["tools", _, "call"], _) => Err(allow("POST")),
        (["agents", _, "history"], _) => Err(allow("GET")),
        (
            ["agents", id, cmd @ ("start" | "pause" | "resume" | "stop" | "recover")],
            Method::Post,
        ) => {
            no_body(&mut req).await?;
            lifecycle(shared, id, cmd)
        }
        (["agents", _, "start" | "pause" | "resume" | "stop" | "recover"], _) => Err(allow("POST")),
        (["tasks"], Method::Post) => submit(shared, body(&mut req).await?),
        (["tasks"], Method::Get) => tasks(shared, &req),
        (["tasks"], _) => Err(allow("GET, POST")),
        // `GET /tasks/t1/cancel` reads as the workflow task `t1/cancel`; when there is none,
        // it was the cancel route with the wrong method.
        (["tasks", id], Method::Get) => match task(shared, id) {
            Err(e) if e.status == 404 && id.ends_with("/cancel") => Err(allow("POST")),
            found => found,
        },
        (["tasks", _], _) => Err(allow("GET")),
        (["tasks", id, "cancel"], Method::Post) => cancel(shared, id, body(&mut req).await?),
        (["tasks", _, "cancel"], _) => Err(allow("POST")),
        (["workflows"], Method::Post) => submit_workflow(shared, body(&mut req).await?),
        (["workflows"], Method::Get) => {
            let list = views::workflow_list(shared.borrow().core.state());
            ok(json!({ "total": list.len(), "workflows": list }))
        }
        (["workflows"], _) => Err(allow("GET, POST")),
        (["workflows", id], Method::Get) => match workflow(shared, id) {
            // A supervisor or collaborative workflow is a pattern run.
            Err(e) if e.status == 404 && shared.borrow().core.run(id).is_ok() => {
                runs::get(shared, id)
            }
            found => found,
        },
        (["workflows", _], _) => Err(allow("GET")),
        (["workflows", id, "cancel"], Method::Post) => {
            cancel_workflow(shared, id, body(&mut req).await?)
        }
        (["workflows", _, "cancel"], _) => Err(allow("POST")),
        (["runs"], Method::Post) => runs::start(shared, body(&mut req).await?),
        (["runs"], _) => Err(allow("POST")),
        (["runs", id], Method::Get) => runs::get(shared, id),
        (["runs", _], _) => Err(allow("GET")),
        (["orchestrate"], Method::Post) => orchestrate(shared, body(&mut req).await?).await,
        (["orchestrate"], _) => Err(allow("POST")),
        (["compress"], Method::Post) => compress(shared, body(&mut req).await?).await,
        (["compress"], _) => Err(allow("POST")),
        (["contracts"], Method::Get) => contracts(shared, &req),
        (["contracts"], _) => Err(allow("GET")),
        (["snapshots"], Method::Post) => {
            no_body(&mut req).await?;
            snapshot(shared)
        }
        (["snapshots"], Method::Get) => {
            let list: Vec<Value> = (shared.borrow().core.snapshots(100).into_iter())
                .map(|s| {
                    let mut v = serde_json::to_value(&s).expect("summaries serialize");
                    // The first seed's names, beside the API's.
                    v["snapshot_id"] = json!(s.id);
                    v["agents_status"] = json!(s.agents_status);
                    v["task_count"] = json!(s.task_count);
                    v["completed_count"] = json!(s.completed_count);
                    v
                })
                .collect();
            ok(json!({ "snapshots": list }))
        }
        (["snapshots"], _) => Err(allow("GET, POST")),
        (["snapshots", id], Method::Get) => stored_snapshot(shared, id),
        (["snapshots", _], _) => Err(allow("GET")),
        (["events"], Method::Get) => events(shared, &req),
        (["events"], _) => Err(allow("GET")),
        (["metrics"], Method::Get) => metrics(shared),
        (["metrics"], _) => Err(allow("GET")),
        (["schedules"], Method::Get) => schedules::list(shared),
        (["schedules"], Method::Post) => schedules::create(shared, body(&mut req).await?),
        (["schedules"], _) => Err(allow("GET, POST")),
        (["schedules", id], Method::Get) => schedules::get(shared, id),
        (["schedules", id], Method::Delete) => schedules::command(shared, id, "delete"),
        (["schedules", _], _) => Err(allow("GET, DELETE")),
        (["schedules", id, cmd @ ("pause" | "resume")], Method::Post) => {
            no_body(&mut req).await?;
            schedules::command(shared, id, cmd)
        }
        (["schedules", _, "pause" | "resume"], _) => Err(allow("POST")),
        _ => Err(error(404, "not_found", format!("no route {path}"))),
    }
}

/// A workflow's task id is `{workflow}/{task}`: `/tasks/wf/a` and `/tasks/wf/a/cancel` name it
/// unescaped too (user ids have no `/`, so nothing else is read this way).
fn workflow_task_ids(mut segs: Vec<String>, method: &Method) -> Vec<String> {
    if segs.first().map(String::as_str) != Some("tasks") {
        return segs;
    }
    let joined = match (segs.len(), segs.last().map(String::as_str)) {
        (4, Some("cancel")) => true,
        (3, Some("cancel")) => *method == Method::Get,
        (3, _) => true,
        _ => false,
    };
    if joined {
        let local = segs.remove(2);
        segs[1] = format!("{}/{local}", segs[1]);
    }
    segs
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
