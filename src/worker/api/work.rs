//! Work routes: tasks, workflows and `orchestrate` (routing by capability under a session).

use super::*;

pub(super) fn submit(shared: &Shared, body: Value) -> ApiResult {
    let mut m = object(body, "a task")?;
    let input = m.remove("input");
    let metadata = m.remove("metadata");
    let s: TaskSpec = spec("task", Value::Object(m))?;
    let v = refusable(&mut shared.borrow_mut(), |rt| {
        let i = alloc(rt, input)?;
        let md = alloc(rt, metadata)?;
        rt.core.submit(s, i, md, now()).map_err(core_error)
    })?;
    pump(shared);
    let rt = shared.borrow();
    Ok(json_response(201, &task_json(&rt, v)))
}

/// `GET /tasks` answers this many tasks unless given a `limit`, and at most `TASKS_PAGE_MAX`.
const TASKS_PAGE_DEFAULT: u32 = 1_000;
const TASKS_PAGE_MAX: u32 = 10_000;

pub(super) fn tasks(shared: &Shared, req: &Request) -> ApiResult {
    let mut q = query(req);
    for k in ["offset", "limit"] {
        if let Some(Value::String(n)) = q.get(k) {
            let n: u32 = n
                .parse()
                .map_err(|_| error(400, "invalid_argument", format!("{k} must be a number")))?;
            q.insert(k.into(), json!(n));
        }
    }
    let mut f: views::TaskFilter = spec("filter", Value::Object(q))?;
    // A page at a time: a namespace can hold millions of tasks.
    let limit = f.limit.unwrap_or(TASKS_PAGE_DEFAULT);
    if limit == 0 || limit > TASKS_PAGE_MAX {
        let why = format!("limit must be 1 to {TASKS_PAGE_MAX}");
        return Err(error(400, "invalid_argument", why));
    }
    f.limit = Some(limit);
    let rt = shared.borrow();
    let (tasks, total) = views::task_page(rt.core.state(), &f);
    let end = f.offset as usize + tasks.len();
    let mut page = json!({ "tasks": tasks, "total": total, "offset": f.offset, "limit": limit });
    if end < total {
        page["nextOffset"] = json!(end);
    }
    ok(page)
}

pub(super) fn task(shared: &Shared, id: &str) -> ApiResult {
    let rt = shared.borrow();
    let ix = rt.core.task(id).map_err(core_error)?;
    ok(task_json(&rt, ix))
}

pub(super) fn cancel(shared: &Shared, id: &str, body: Value) -> ApiResult {
    let reason = reason_of(&body)?;
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

fn reason_of(body: &Value) -> Result<String, ApiError> {
    match body.get("reason") {
        None | Some(Value::Null) => Ok("cancelled through the API".into()),
        Some(Value::String(r)) => Ok(r.clone()),
        Some(_) => Err(error(400, "invalid_argument", "reason must be a string")),
    }
}

/// `POST /workflows/{id}/cancel { reason? }`: cancels its unfinished tasks (running ones are
/// aborted); it ends `Cancelled`.
pub(super) fn cancel_workflow(shared: &Shared, id: &str, body: Value) -> ApiResult {
    let reason = reason_of(&body)?;
    let w = {
        let mut rt = shared.borrow_mut();
        let w = rt.core.workflow(id).map_err(core_error)?;
        rt.core
            .cancel_workflow(w, &reason, now())
            .map_err(core_error)?;
        w
    };
    pump(shared);
    ok(workflow_json(&shared.borrow(), w))
}

/// `POST /agents/{id}/cancel { reason? }`: cancels every task of the agent that waits (pending,
/// queued or retrying); its running calls go on. Answers how many.
pub(super) fn cancel_agent_tasks(shared: &Shared, id: &str, body: Value) -> ApiResult {
    let reason = reason_of(&body)?;
    let n = {
        let mut rt = shared.borrow_mut();
        let a = agent_ix(&rt, id)?;
        rt.core
            .cancel_agent_tasks(a, &reason, now())
            .map_err(core_error)?
    };
    pump(shared);
    ok(json!({ "agent": id, "cancelled": n }))
}

pub(super) fn submit_workflow(shared: &Shared, body: Value) -> ApiResult {
    let mut m = object(body, "a workflow")?;
    if super::runs::is_pattern_workflow(&mut m) {
        return super::runs::start_pattern_workflow(shared, m);
    }
    let mut payloads = Vec::new();
    let w = refusable(&mut shared.borrow_mut(), |rt| {
        if let Some(Value::Array(tasks)) = m.get_mut("tasks") {
            for t in tasks.iter_mut() {
                let (i, md) = match t.as_object_mut() {
                    Some(t) => (t.remove("input"), t.remove("metadata")),
                    None => (None, None),
                };
                payloads.push((alloc(rt, i)?, alloc(rt, md)?));
            }
        }
        let s: WorkflowSpec = spec("workflow", Value::Object(m))?;
        rt.core
            .submit_workflow(s, &payloads, now())
            .map_err(workflow_error)
    })?;
    pump(shared);
    let rt = shared.borrow();
    Ok(json_response(201, &workflow_json(&rt, w)))
}

/// A refused workflow: a task id twice in its body is a bad request (400), not a conflict with the
/// state (an unknown dependency is 400 everywhere).
fn workflow_error(e: crate::core::Error) -> ApiError {
    let in_body = matches!(e, crate::core::Error::DuplicateId { kind: "task", .. });
    let mut err = core_error(e);
    if in_body {
        err.status = 400;
    }
    err
}

pub(super) fn workflow(shared: &Shared, id: &str) -> ApiResult {
    let rt = shared.borrow();
    let w = rt.core.workflow(id).map_err(core_error)?;
    ok(workflow_json(&rt, w))
}

/// Seed 004's `orchestrate`: routes `{ capability, parameters }` to the least-loaded capable
/// agent under a session, and answers with the outcome (or 202 and the task id if it takes long).
pub(super) async fn orchestrate(shared: &Shared, body: Value) -> ApiResult {
    let mut m = object(body, "an orchestrate request")?;
    let session = m
        .remove("session_id")
        .or_else(|| m.remove("sessionId"))
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| {
            error(
                400,
                "invalid_argument",
                "orchestrate needs session_id, a string",
            )
        })?;
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
        let ix = refusable(&mut rt, |rt| {
            let input = alloc(rt, parameters)?;
            rt.core
                .submit(s, input, PayloadId::NONE, now())
                .map_err(core_error)
        })?;
        let done = rt.wait(ix);
        (ix, done)
    };
    pump(shared);
    let finished = within_wait(done).await;
    let rt = shared.borrow();
    let task = task_json(&rt, ix);
    // The last contract of this task (its RESPONSE once answered), as seed 004 names it: read
    // from the session's end, not by building every contract's view.
    let contract_id = (rt.core.state().sessions.get(&session))
        .and_then(|s| s.contracts.iter().rev().find(|c| c.task == ix))
        .map_or(Value::Null, |c| json!(format!("contract-{}", c.n)));
    let body = json!({
        "sessionId": session, "taskId": task["id"], "agent": task["agent"], "capability": capability,
        "status": task["status"], "result": task["output"], "error": task["error"],
        // Seed 004's names for the same answer; `success` is the outcome, unknown (null) while
        // the task still runs (202).
        "success": if finished { json!(task["status"] == "Completed") } else { Value::Null },
        "data": task["output"], "agent_id": task["agent"],
        "contract_id": contract_id,
    });
    Ok(json_response(if finished { 200 } else { 202 }, &body))
}

/// Seed 004's `compress`: hands a session's contracts (and its memory block so far) to a
/// summarizer agent, `agent` or else the least-loaded one with capability `compress`; its
/// answer becomes the session's memory block. Answers like `orchestrate` (202 if it takes long).
pub(super) async fn compress(shared: &Shared, body: Value) -> ApiResult {
    let mut m = object(body, "a compress request")?;
    let text =
        |m: &mut Map<String, Value>, k: &str, alt: &str| -> Result<Option<String>, ApiError> {
            match m.remove(k).or_else(|| m.remove(alt)) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(v) => Err(error(
                    400,
                    "invalid_argument",
                    format!("{k} must be a string, got {v}"),
                )),
            }
        };
    let session = text(&mut m, "session_id", "sessionId")?
        .ok_or_else(|| error(400, "invalid_argument", "compress needs session_id"))?;
    let agent = text(&mut m, "agent", "agent_id")?;
    // Seed 004's `intent` says why the session is kept; the summarizer gets it with the contracts.
    let intent = text(&mut m, "intent", "intent")?;
    if let Some(k) = m.keys().next() {
        return Err(error(
            400,
            "invalid_argument",
            format!("unknown field '{k}' (compress takes session_id, agent, intent)"),
        ));
    }
    let (ix, done) = {
        let mut rt = shared.borrow_mut();
        let ix = refusable(&mut rt, |rt| {
            let ix = rt
                .core
                .compress_session(&session, agent.as_deref(), intent.as_deref(), now());
            ix.map_err(|e| match e {
                crate::core::Error::NoCapableAgent(_) => {
                    let why = format!("no agent to compress with: give agent, or register one with the capability '{COMPRESS_CAPABILITY}'");
                    error(409, "no_capable_agent", why)
                }
                other => core_error(other),
            })
        })?;
        (ix, rt.wait(ix))
    };
    pump(shared);
    let finished = within_wait(done).await;
    let rt = shared.borrow();
    let task = task_json(&rt, ix);
    let body = json!({
        "session_id": session, "taskId": task["id"], "agent": task["agent"], "status": task["status"],
        "memory": task["output"], "error": task["error"],
        "success": if finished { json!(task["status"] == "Completed") } else { Value::Null },
    });
    Ok(json_response(if finished { 200 } else { 202 }, &body))
}

use crate::core::orchestrator::COMPRESS_CAPABILITY;

/// Whether `done` resolves within `ORCHESTRATE_WAIT_MS` (else the route answers 202).
async fn within_wait(done: impl std::future::Future + Unpin) -> bool {
    let timer = worker::Delay::from(std::time::Duration::from_millis(ORCHESTRATE_WAIT_MS));
    futures_util::pin_mut!(timer);
    matches!(
        futures_util::future::select(done, timer).await,
        futures_util::future::Either::Left(_)
    )
}
