//! Agent pattern runs over HTTP: `POST /runs { kind, ... }` (consensus, debate, chainOfThought,
//! supervisor, collaborative, as the package's `runPattern` takes them), `GET /runs/{id}`, and
//! DESIGN's execution patterns `POST /workflows { pattern: "supervisor" | "collaborative", ... }`.

use super::*;
use crate::core::pattern::{run_id, PatternSpec};

/// Whether a workflow body names an agent pattern as its execution pattern. The pattern is put in
/// the core's spelling first, as the package does (seed 001 writes `SEQUENTIAL`).
pub(super) fn is_pattern_workflow(m: &mut Map<String, Value>) -> bool {
    if let Some(Value::String(p)) = m.get_mut("pattern") {
        let lower = p.to_ascii_lowercase();
        let known = [
            "dag",
            "sequential",
            "parallel",
            "supervisor",
            "collaborative",
        ];
        if known.contains(&lower.as_str()) {
            *p = lower;
        }
    }
    matches!(
        m.get("pattern").and_then(Value::as_str),
        Some("supervisor" | "collaborative")
    )
}

/// `POST /workflows` with `pattern: "supervisor" | "collaborative"`: that run.
pub(super) fn start_pattern_workflow(shared: &Shared, mut m: Map<String, Value>) -> ApiResult {
    let kind = m.remove("pattern").expect("checked by is_pattern_workflow");
    m.insert("kind".into(), kind);
    start(shared, Value::Object(m))
}

/// `POST /runs`: starts the run; 201 with it (`GET /runs/{id}` follows it to its result).
pub(super) fn start(shared: &Shared, body: Value) -> ApiResult {
    let mut m = object(body, "a pattern run")?;
    let session = match m.remove("session") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(v) => {
            let why = format!("invalid session: {v} is not a string");
            return Err(error(400, "invalid_argument", why));
        }
    };
    let spec: PatternSpec = spec("pattern", Value::Object(m))?;
    let run = shared
        .borrow_mut()
        .core
        .start_pattern_in(spec, session, now())
        .map_err(core_error)?;
    pump(shared);
    let rt = shared.borrow();
    Ok(json_response(201, &run_json(&rt, run)))
}

pub(super) fn get(shared: &Shared, id: &str) -> ApiResult {
    let rt = shared.borrow();
    let run = rt.core.run(id).map_err(core_error)?;
    ok(run_json(&rt, run))
}

/// `{ id, kind, status, step, tasks, error?, result? }`, as the package's `getRun`.
pub(super) fn run_json(rt: &crate::worker::runtime::Runtime, run: u32) -> Value {
    let s = rt.core.state();
    let r = &s.runs[run as usize];
    let tasks: Vec<String> = r
        .tasks
        .iter()
        .map(|&t| s.task_id(t).expect("a run's task exists"))
        .collect();
    let mut v = json!({ "id": run_id(run), "kind": r.spec.kind(), "status": r.status, "step": r.step, "tasks": tasks });
    if let Some(e) = &r.error {
        v["error"] = json!(e);
    }
    if let Some(p) = r.result {
        v["result"] = raw(rt, p);
    }
    v
}
