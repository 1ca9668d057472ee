//! Schedule routes: jobs that submit a task at each slot (`at`, `everyMs` or `cron`), as
//! `orch.schedule(trigger, task)` in the JS package. Their slots are core timers, so they wake
//! the object through its one alarm like backoffs and timeouts.

use super::*;
use crate::core::schedule::{JobStatus, Trigger};

/// The trigger of a schedule body: its `trigger` (or `schedule`) object, or `at`, `everyMs` or
/// `cron` given at the top level.
fn trigger(m: &mut Map<String, Value>) -> Result<Trigger, ApiError> {
    let nested = match (m.remove("trigger"), m.remove("schedule")) {
        (Some(_), Some(_)) => {
            return Err(error(
                400,
                "invalid_argument",
                "give trigger or schedule, not both",
            ))
        }
        (t, s) => t.or(s),
    };
    let t = match nested {
        Some(t) => t,
        None => {
            let mut t = Map::new();
            for k in ["at", "everyMs", "cron"] {
                if let Some(v) = m.remove(k) {
                    t.insert(k.into(), v);
                }
            }
            Value::Object(t)
        }
    };
    spec("schedule", t)
}

/// `POST /schedules`: `{ trigger: { at } | { everyMs } | { cron }, task: { agent | capability,
/// input?, priority?, ... } }`.
pub(super) fn create(shared: &Shared, body: Value) -> ApiResult {
    let mut m = object(body, "a schedule")?;
    let trigger = trigger(&mut m)?;
    let mut task = match m.remove("task") {
        Some(t) => object(t, "a schedule's task")?,
        None => return Err(error(400, "invalid_argument", "a schedule needs a task")),
    };
    if let Some(k) = m.keys().next() {
        return Err(error(
            400,
            "invalid_argument",
            format!("unknown field '{k}' (a schedule takes trigger and task)"),
        ));
    }
    let input = task.remove("input");
    let task: TaskSpec = spec("task", Value::Object(task))?;
    let job = refusable(&mut shared.borrow_mut(), |rt| {
        let input = alloc(rt, input)?;
        rt.core
            .schedule(trigger, task, input, now())
            .map_err(core_error)
    })?;
    pump(shared);
    let rt = shared.borrow();
    Ok(json_response(201, &job_json(&rt, job)))
}

/// A job as the API shows it: the JS package's `Job`, its task's input inline.
fn job_json(rt: &crate::worker::runtime::Runtime, job: usize) -> Value {
    let j = &rt.core.state().jobs[job];
    let mut task = serde_json::to_value(&j.task).expect("a task spec serializes");
    task["input"] = raw(rt, j.input);
    json!({
        "id": j.id, "trigger": j.trigger, "task": task, "status": j.status, "nextRun": j.next_run,
        "createdAt": j.created_at, "runs": j.runs, "lastRun": j.last_run, "lastTask": j.last_task,
    })
}

/// The job named `id`; a deleted one is gone (404), as from `GET /schedules`.
fn find(rt: &crate::worker::runtime::Runtime, id: &str) -> Result<usize, ApiError> {
    let job = rt.core.job(id).map_err(core_error)?;
    if rt.core.state().jobs[job].status == JobStatus::Deleted {
        return Err(core_error(crate::core::Error::UnknownJob(id.to_owned())));
    }
    Ok(job)
}

pub(super) fn list(shared: &Shared) -> ApiResult {
    let rt = shared.borrow();
    let jobs = rt.core.state().jobs.iter().enumerate();
    let live = jobs.filter(|(_, j)| j.status != JobStatus::Deleted);
    let list: Vec<Value> = live.map(|(ix, _)| job_json(&rt, ix)).collect();
    ok(json!({ "total": list.len(), "schedules": list }))
}

pub(super) fn get(shared: &Shared, id: &str) -> ApiResult {
    let rt = shared.borrow();
    let job = find(&rt, id)?;
    ok(job_json(&rt, job))
}

/// `pause`, `resume` or `delete` (DELETE /schedules/{id}); answers with the job after it.
pub(super) fn command(shared: &Shared, id: &str, cmd: &str) -> ApiResult {
    let job = {
        let mut rt = shared.borrow_mut();
        let job = find(&rt, id)?;
        let t = now();
        match cmd {
            "pause" => rt.core.pause_job(job, t),
            "resume" => rt.core.resume_job(job, t),
            _ => rt.core.delete_job(job, t),
        }
        .map_err(core_error)?;
        job
    };
    pump(shared);
    let rt = shared.borrow();
    ok(job_json(&rt, job))
}
