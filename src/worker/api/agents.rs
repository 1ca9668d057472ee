//! Agent routes: register (with an HTTP, JS or demo binding), read, re-bind, terminate,
//! lifecycle commands and history.

use super::*;
use crate::core::agent::AgentUpdate;

/// Every agent not removed, in the order they were registered, as seed 004 lists them: `{ agents: [...], total }`, each
/// with `id` and `agent_id`.
pub(super) fn agents(shared: &Shared) -> ApiResult {
    let rt = shared.borrow();
    let list: Vec<Value> = views::agents_status(rt.core.state())
        .0
        .into_iter()
        .map(|(id, view)| described(&rt, &id, view))
        .collect();
    ok(json!({ "total": list.len(), "agents": list }))
}

/// An agent's view with its binding and seed 004's `agent_id`.
fn described(rt: &crate::worker::runtime::Runtime, id: &str, view: views::AgentView) -> Value {
    let mut v = serde_json::to_value(view).expect("views serialize");
    v["id"] = json!(id);
    v["agent_id"] = json!(id);
    v["binding"] = serde_json::to_value(rt.bindings.get(id)).expect("bindings serialize");
    v
}

pub(super) fn agent_ix(
    rt: &crate::worker::runtime::Runtime,
    id: &str,
) -> Result<crate::core::ids::AgentIx, ApiError> {
    rt.core.agent(id).map_err(core_error)
}

pub(super) fn agent(shared: &Shared, id: &str) -> ApiResult {
    let rt = shared.borrow();
    let ix = agent_ix(&rt, id)?;
    let view = views::agent_view(rt.core.state(), ix);
    ok(described(&rt, id, view))
}

/// Takes the binding fields (`endpoint`, `js`, `demo`) out of an agent body.
pub(super) fn binding(m: &mut Map<String, Value>, id: &str) -> Result<Option<Binding>, ApiError> {
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
        if !crate::worker::agents::js_agents().contains(&name) {
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

pub(super) fn register(shared: &Shared, body: Value) -> ApiResult {
    let mut m = object(body, "an agent")?;
    let id = text_field(&m, "id");
    let start = match m.remove("start") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(v) => {
            let why = format!("invalid start: {v} is not true or false");
            return Err(error(400, "invalid_argument", why));
        }
    };
    let b = match binding(&mut m, &id)? {
        Some(b) => b,
        // A built-in agent's name is enough: `{ "id": "echo" }` is the demo agent, with its name
        // as its capability unless others are given.
        None if DEMO_AGENTS.contains(&id.as_str()) => {
            if m.get("template").is_none_or(Value::is_null) {
                m.entry("capabilities").or_insert_with(|| json!([id]));
            }
            Binding::Demo { name: id.clone() }
        }
        None => return Err(error(400, "invalid_argument", "an agent needs an endpoint (HTTP agent), js (a function in js/worker-agents.js) or demo (echo, uppercase, sleep, fail); an agent named after a demo agent is that agent")),
    };
    let made = match m.remove("template") {
        None | Some(Value::Null) => Made::Spec(spec("agent", Value::Object(m))?),
        Some(t) => from_template(t, m)?,
    };
    {
        let mut rt = shared.borrow_mut();
        let t = now();
        let ix = match made {
            Made::Spec(s) => rt.core.register_agent(s, t),
            Made::Template { reference, name } => {
                rt.core.create_agent_from_template(&reference, &id, name, t)
            }
        }
        .map_err(core_error)?;
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

/// How `POST /agents` makes the agent: from its fields, or from a template (`analyst@2`, or a
/// name for its latest version) that sets its capabilities, limits, tools and `config`.
enum Made {
    Spec(AgentSpec),
    Template {
        reference: String,
        name: Option<String>,
    },
}

fn from_template(reference: Value, mut m: Map<String, Value>) -> Result<Made, ApiError> {
    let Value::String(reference) = reference else {
        let why = "template must be a string: name@version, or a name for its latest version";
        return Err(error(400, "invalid_argument", why));
    };
    m.remove("id");
    let name = match m.remove("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) => Some(n),
        Some(_) => return Err(error(400, "invalid_argument", "name must be a string")),
    };
    if let Some(k) = m.keys().next() {
        let why = format!("'{k}' comes from the template: an agent made from one takes id, name, template, start and endpoint, js or demo");
        return Err(error(400, "invalid_argument", why));
    }
    Ok(Made::Template { reference, name })
}

/// `PUT /agents/{id}`: where its calls go (`endpoint`, `js` or `demo`) and its `name`,
/// `capabilities`, `concurrency` or `maxErrors`; what is not given stays.
pub(super) fn update_agent(shared: &Shared, id: &str, body: Value) -> ApiResult {
    let mut m = object(body, "an agent update")?;
    let ix = agent_ix(&shared.borrow(), id)?;
    // A whole representation sent back (GET, edit, PUT) repeats what PUT does not change. The
    // agent's state (its status, its counters) is ignored, as it changes by itself between the
    // GET and the PUT (the lifecycle routes change the status). Its id and binding as GET shows
    // them are fine as long as they are what GET gives now.
    let current = {
        let rt = shared.borrow();
        let view = views::agent_view(rt.core.state(), ix);
        described(&rt, id, view)
    };
    m.retain(|k, v| {
        let k = k.as_str();
        !STATE_FIELDS.contains(&k)
            && (UPDATABLE.contains(&k) || BINDING_KEYS.contains(&k) || current.get(k) != Some(v))
    });
    let b = binding(&mut m, id)?;
    if let Some(k) = m.keys().find(|k| !UPDATABLE.contains(&k.as_str())) {
        return Err(error(
            400,
            "invalid_argument",
            format!(
                "'{k}' cannot be changed (a field GET shows is fine unchanged); PUT takes endpoint, js, demo, {}",
                UPDATABLE.join(", ")
            ),
        ));
    }
    let update: AgentUpdate = spec("update", Value::Object(m))?;
    if b.is_none() && update.is_empty() {
        let msg = format!("give endpoint, js, demo, {}", UPDATABLE.join(", "));
        return Err(error(400, "invalid_argument", msg));
    }
    {
        let mut rt = shared.borrow_mut();
        // The core refuses a bad update before anything is stored.
        if !update.is_empty() {
            rt.core
                .update_agent(ix, update, now())
                .map_err(core_error)?;
        }
        if let Some(b) = b {
            let stored = rt
                .store
                .put_binding(id, &serde_json::to_string(&b).expect("bindings serialize"));
            if let Err(e) = stored {
                drop(rt);
                // What the core took stands and still goes out (journal, calls, alarm).
                pump(shared);
                let message =
                    format!("the binding was not stored ({e}); any other change was made");
                return Err(error(500, "internal", message));
            }
            rt.bindings.insert(id.to_owned(), b);
        }
    }
    pump(shared);
    agent(shared, id)
}

/// The agent fields `PUT /agents/{id}` changes (besides its binding).
const UPDATABLE: [&str; 4] = ["name", "capabilities", "concurrency", "maxErrors"];
/// An agent's state in its GET view, which PUT ignores.
const STATE_FIELDS: [&str; 9] = [
    "status",
    "error_count",
    "last_error",
    "running_tasks",
    "queued_tasks",
    "completed_tasks",
    "failed_tasks",
    "breaker",
    "throttled_until",
];
/// The fields that give an agent its binding (one of them).
const BINDING_KEYS: [&str; 3] = ["endpoint", "js", "demo"];

/// Terminates the agent (its unfinished tasks are cancelled); its history stays.
pub(super) fn delete_agent(shared: &Shared, id: &str) -> ApiResult {
    {
        let mut rt = shared.borrow_mut();
        let ix = agent_ix(&rt, id)?;
        rt.core.remove_agent(ix, now()).map_err(core_error)?;
    }
    pump(shared);
    // The agent is gone from lookups (GET answers 404 now, and the id may be registered
    // again); its tasks keep naming it.
    ok(json!({ "id": id, "agent_id": id, "deleted": true, "status": "Terminated" }))
}

pub(super) fn history(shared: &Shared, id: &str) -> ApiResult {
    let rt = shared.borrow();
    let ix = agent_ix(&rt, id)?;
    ok(json!({ "history": rt.core.state().agent(ix).history }))
}

pub(super) fn lifecycle(shared: &Shared, id: &str, cmd: &str) -> ApiResult {
    {
        let mut rt = shared.borrow_mut();
        let ix = agent_ix(&rt, id)?;
        let t = now();
        let o = &mut rt.core;
        match cmd {
            "start" => o.start_agent(ix, t),
            "pause" => o.pause_agent(ix, t),
            "resume" => o.resume_agent(ix, t),
            "recover" => o.recover_agent(ix, t),
            _ => o.stop_agent(ix, t),
        }
        .map_err(core_error)?;
    }
    pump(shared);
    agent(shared, id)
}
