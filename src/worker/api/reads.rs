//! Read routes: status, contracts, snapshots, the event stream and metrics.

use super::*;

pub(super) fn status(shared: &Shared) -> ApiResult {
    let rt = shared.borrow();
    let s = rt.core.state();
    let statistics = serde_json::to_value(views::statistics(s)).expect("views serialize");
    let mut body = json!({
        "statistics": statistics.clone(),
        "seed": rt.core.state().seed,
        "journalSeq": s.seq,
        "now": now(),
        "startedAt": rt.started_at,
        "inFlight": s.derived.calls.len(),
        // Payloads held (inputs, outputs, event data): a refused request adds none.
        "payloads": rt.core.payloads().held(),
        "payloadBytes": rt.core.payloads().bytes(),
    });
    // The statistics' keys (seed 000's `tasks_completed`, ...) at the top too, as the package's
    // `statistics()` answers them.
    if let (Some(top), Value::Object(stats)) = (body.as_object_mut(), statistics) {
        for (k, v) in stats {
            top.entry(k).or_insert(v);
        }
    }
    ok(body)
}

pub(super) fn contracts(shared: &Shared, req: &Request) -> ApiResult {
    let q = query(req);
    let session = q
        .get("session_id")
        .or_else(|| q.get("sessionId"))
        .and_then(Value::as_str)
        .ok_or_else(|| error(400, "invalid_argument", "give ?session_id="))?;
    let rt = shared.borrow();
    let list = session_contracts(&rt, session)?;
    ok(json!({ "sessionId": session, "contracts": list, "total": list.len() }))
}

/// A session's contracts, each also under seed 004's names (`contract_id`, `contract_type`,
/// `from_agent`, `to_agent`, and a RESPONSE's `result`); a session with none yet has an empty
/// list.
pub(super) fn session_contracts(
    rt: &crate::worker::runtime::Runtime,
    session: &str,
) -> Result<Vec<Value>, ApiError> {
    if !rt.core.state().sessions.contains_key(session) {
        return Ok(Vec::new());
    }
    let text = rt.core.contracts_json(session).map_err(core_error)?;
    let list: Vec<Value> = serde_json::from_str(&text).expect("contracts are JSON");
    Ok(list.into_iter().map(seed_names).collect())
}

fn seed_names(mut c: Value) -> Value {
    let alias = |c: &Value, from: &str| c.get(from).cloned().unwrap_or(Value::Null);
    let (id, kind, from, to) = (
        alias(&c, "id"),
        alias(&c, "kind"),
        alias(&c, "from"),
        alias(&c, "to"),
    );
    let result = (kind == "RESPONSE").then(|| alias(&c, "payload"));
    let time = alias(&c, "at");
    // The seed's name for the orchestrator's side of a call: a request is from it, a response
    // to it (by kind: an agent may be called "baton").
    let (from, to) = if kind == "REQUEST" {
        (json!("orchestrator"), to)
    } else {
        (from, json!("orchestrator"))
    };
    if let Some(m) = c.as_object_mut() {
        m.insert("contract_id".into(), id);
        m.insert("contract_type".into(), kind);
        m.insert("from_agent".into(), from);
        m.insert("to_agent".into(), to);
        m.insert("time".into(), time);
        if let Some(r) = result {
            m.insert("result".into(), r);
        }
    }
    c
}

/// Takes a snapshot and stores it at once (the journal before it is pruned): the latest stored
/// is fetched whole by `GET /snapshots/{id}`, to keep or to restore with the package.
pub(super) fn snapshot(shared: &Shared) -> ApiResult {
    let (summary, seq) = {
        let mut rt = shared.borrow_mut();
        let text = rt.core.snapshot(now()).map_err(core_error)?;
        let seq = rt.core.state().seq;
        rt.requested_snapshot = Some((seq, text));
        (rt.core.snapshots(1).into_iter().next(), seq)
    };
    pump(shared);
    if shared.borrow().saved_seq() < seq {
        let why = "the snapshot was taken but could not be stored (the next write tries a snapshot again); see the object's log";
        return Err(error(503, "store_failed", why));
    }
    Ok(json_response(
        201,
        &serde_json::to_value(summary).expect("summaries serialize"),
    ))
}

/// The stored snapshot with this id, whole (only the latest is kept).
pub(super) fn stored_snapshot(shared: &Shared, id: &str) -> ApiResult {
    let rt = shared.borrow();
    let text = (rt.store.latest_snapshot())
        .map_err(|e| error(500, "internal", e.to_string()))?
        .unwrap_or_default();
    // The document's id comes first after its format and version: no need to parse it all.
    let head: String = text.chars().take(256).collect();
    let stored = head
        .split_once("\"id\":\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(stored, _)| stored.to_owned());
    let text = if stored.as_deref() == Some(id) {
        text
    } else {
        // A listed one (automatic ones too) is rebuilt from the journal, while the object still
        // holds it from seq 1 (until a restart or journalRowsMax).
        let latest = stored.map_or("none yet".into(), |s| format!("'{s}'"));
        match rt.core.snapshot_by_id(id) {
            Ok(text) => text,
            Err(e) => {
                let (status, code, why) = match e.code() {
                    "unknown_snapshot" => (
                        404,
                        "unknown_snapshot",
                        format!("no snapshot '{id}' is listed (GET /snapshots)"),
                    ),
                    // Listed, but the journal no longer holds what it takes to rebuild it.
                    _ => (409, "invalid_state", e.to_string()),
                };
                let why = format!("{why}; of the stored ones only the latest is kept ({latest}); POST /snapshots takes and stores one");
                return Err(error(status, code, why));
            }
        }
    };
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    Ok(Response::ok(text)
        .map_err(|e| error(500, "internal", e.to_string()))?
        .with_headers(headers))
}

/// Resolves after `ms` (the platform's setTimeout). Not `worker::Delay`: it keeps the waker of
/// its first poll, and a response stream is polled by a new task at each pull, so a beat that
/// was pending when a record went out would wake a task already done, and never be sent.
fn timeout(ms: u64) -> wasm_bindgen_futures::JsFuture {
    use wasm_bindgen::JsCast;
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        let set_timeout = js_sys::Reflect::get(&global, &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(f) = set_timeout {
            let _ = f.call2(&global, &resolve, &(ms as f64).into());
        }
    });
    wasm_bindgen_futures::JsFuture::from(promise)
}

/// How often an event stream sends a comment line (`?keepaliveMs=`).
const KEEPALIVE_MS_DEFAULT: u64 = 25_000;
const KEEPALIVE_MS_MIN: u64 = 100;
const KEEPALIVE_MS_MAX: u64 = 300_000;

pub(super) fn events(shared: &Shared, req: &Request) -> ApiResult {
    let q = query(req);
    // Where the client is: the latest of `?after=`, the Last-Event-ID header a reconnecting
    // EventSource sends (with its first URL, `after` and all), and `?lastEventId=`, which
    // EventSource polyfills send instead of the header.
    let seq_param = |k: &str| -> Result<u64, ApiError> {
        match q.get(k).and_then(Value::as_str) {
            Some(a) => a
                .parse::<u64>()
                .map_err(|_| error(400, "invalid_argument", format!("{k} must be a seq number"))),
            None => Ok(0),
        }
    };
    let last_event: u64 = match req.headers().get("last-event-id").ok().flatten() {
        None => 0,
        Some(s) if s.trim().is_empty() => 0,
        // Malformed, it would replay everything silently: refused as `?after=` is.
        Some(s) => s.trim().parse().map_err(|_| {
            let why = format!("Last-Event-ID must be a seq number, got '{s}'");
            error(400, "invalid_argument", why)
        })?,
    };
    // `?since=` says the same as `?after=`: the records after that seq.
    let after = seq_param("after")?
        .max(seq_param("since")?)
        .max(seq_param("lastEventId")?)
        .max(last_event);
    // `?topics=task.*,workflow.completed`: only those records (as subscribers' topics match).
    let topics = match q.get("topics").and_then(Value::as_str) {
        None => None,
        Some(list) => {
            let topics: Vec<String> = list.split(',').map(|t| t.trim().to_owned()).collect();
            for t in &topics {
                crate::core::event::validate_pattern("topics", t).map_err(core_error)?;
            }
            Some(topics)
        }
    };
    // Other parameters are left alone (cache-busting ones, say), but not a misnamed `after` or
    // `topics`, which would silently replay from the start, or send every topic.
    let misnamed = [
        ("from", "after"),
        ("start", "after"),
        ("offset", "after"),
        ("seq", "after"),
        ("topic", "topics"),
        ("filter", "topics"),
    ];
    if let Some((k, right)) = misnamed.iter().find(|(k, _)| q.contains_key(*k)) {
        let why = format!("the stream takes ?{right}=, not ?{k}=");
        return Err(error(400, "invalid_argument", why));
    }
    let keepalive_ms = match q.get("keepaliveMs").and_then(Value::as_str) {
        None => KEEPALIVE_MS_DEFAULT,
        Some(v) => match v.parse::<u64>() {
            Ok(ms) if (KEEPALIVE_MS_MIN..=KEEPALIVE_MS_MAX).contains(&ms) => ms,
            _ => {
                let why = format!("keepaliveMs must be {KEEPALIVE_MS_MIN} to {KEEPALIVE_MS_MAX}");
                return Err(error(400, "invalid_argument", why));
            }
        },
    };
    let rx = shared.borrow_mut().subscribe(after, topics);
    use futures_util::{stream, StreamExt};
    // A comment line every so often: proxies and load balancers cut a connection that sends
    // nothing for a while, and a quiet namespace can send nothing for hours.
    let beats = stream::unfold((), move |()| async move {
        let _ = timeout(keepalive_ms).await;
        Some((Some(": keepalive\n\n".to_owned()), ()))
    });
    // The stream ends with its subscription (`None` after the last frame), not with the beats.
    let frames = rx.map(Some).chain(stream::once(async { None }));
    let stream = stream::select(frames, beats)
        .take_while(|f| std::future::ready(f.is_some()))
        .map(|f| Ok::<Vec<u8>, worker::Error>(f.unwrap_or_default().into_bytes()));
    let headers = Headers::new();
    let _ = headers.set("content-type", "text/event-stream");
    let _ = headers.set("cache-control", "no-store");
    Ok(Response::from_stream(stream)
        .map_err(|e| error(500, "internal", e.to_string()))?
        .with_headers(headers))
}

pub(super) fn metrics(shared: &Shared) -> ApiResult {
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
            // Created, Initializing, Ready and Completed: so the samples add up to the total.
            (
                "other",
                st.total_agents
                    - st.agents_running
                    - st.agents_paused
                    - st.agents_error
                    - st.agents_stopped,
            ),
        ]),
    );
    gauge(
        "baton_workflows",
        "Workflows by status.",
        by(&[
            ("running", st.workflows_running),
            ("completed", st.workflows_completed),
            ("failed", st.workflows_failed),
            ("cancelled", st.workflows_cancelled),
        ]),
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
    // Every error counted against an agent, ever (a recovered agent's own count starts again;
    // this total does not): a counter.
    out.push_str(&format!(
        "# HELP baton_agent_errors_total Errors counted against agents.\n# TYPE baton_agent_errors_total counter\nbaton_agent_errors_total {}\n",
        st.agent_errors
    ));
    // A counter (it resets when the object loads, as a process's counters do on a restart).
    out.push_str(&format!(
        "# HELP baton_agent_calls_started_total Agent calls started since the object loaded.\n# TYPE baton_agent_calls_started_total counter\nbaton_agent_calls_started_total {}\n",
        rt.calls_started
    ));
    let headers = Headers::new();
    let _ = headers.set("content-type", "text/plain; version=0.0.4");
    Ok(Response::ok(out)
        .expect("a text body")
        .with_headers(headers))
}
