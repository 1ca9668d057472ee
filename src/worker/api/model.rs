//! Issue 4's model over REST: agent templates, messages between agents, and tools (HTTP
//! endpoints an agent calls back through the API), as the JS package's `defineTemplate`,
//! `send`/`inbox`/`acknowledge`, and `registerTool`/`grantTools`/`ctx.callTool`.

use super::*;
use crate::core::template::Template;
use crate::core::tool::ToolSpec;

// ---- templates ----

/// `GET /templates`: the built-in and defined templates, by name then version.
pub(super) fn templates(shared: &Shared) -> ApiResult {
    let list = shared.borrow().core.templates();
    ok(json!({ "total": list.len(), "templates": list }))
}

/// `GET /templates/{name@version}` (or `{name}` for its latest version).
pub(super) fn template(shared: &Shared, reference: &str) -> ApiResult {
    let t = shared
        .borrow()
        .core
        .template(reference)
        .map_err(core_error)?;
    ok(json!(t))
}

/// `POST /templates`: defines `name@version`; every bad field is named at once.
pub(super) fn define_template(shared: &Shared, body: Value) -> ApiResult {
    let t = Template::parse(&body.to_string()).map_err(core_error)?;
    let reference = shared
        .borrow_mut()
        .core
        .define_template(t, now())
        .map_err(core_error)?;
    pump(shared);
    let t = shared
        .borrow()
        .core
        .template(&reference)
        .map_err(core_error)?;
    Ok(json_response(
        201,
        &json!({ "reference": reference, "template": t }),
    ))
}

// ---- messages ----

fn message_json(rt: &crate::worker::runtime::Runtime, ix: usize) -> Value {
    let view = views::message_view(rt.core.state(), ix);
    let mut v = serde_json::to_value(&view).expect("views serialize");
    v["payload"] = raw(rt, view.payload);
    v
}

fn messages_json(rt: &crate::worker::runtime::Runtime, ixs: &[usize]) -> Value {
    let list: Vec<Value> = ixs.iter().map(|&i| message_json(rt, i)).collect();
    json!({ "total": list.len(), "messages": list })
}

/// `POST /messages`: `{ from, to, payload }` → 201 with the message (`sent`).
pub(super) fn send(shared: &Shared, body: Value) -> ApiResult {
    let mut m = object(body, "a message")?;
    let payload = m.remove("payload");
    let mut agent_of = |field: &str| match m.remove(field) {
        Some(Value::String(id)) => Ok(id),
        _ => Err(error(
            400,
            "invalid_argument",
            format!("a message needs '{field}': an agent id"),
        )),
    };
    let (from, to) = (agent_of("from")?, agent_of("to")?);
    if let Some(k) = m.keys().next() {
        let why = format!("unknown field '{k}' (a message takes from, to and payload)");
        return Err(error(400, "invalid_argument", why));
    }
    let ix = refusable(&mut shared.borrow_mut(), |rt| {
        let from = agent_ix(rt, &from)?;
        let to = agent_ix(rt, &to)?;
        let payload = alloc(rt, payload)?;
        rt.core.send(from, to, payload, now()).map_err(core_error)
    })?;
    pump(shared);
    Ok(json_response(201, &message_json(&shared.borrow(), ix)))
}

/// `GET /messages/{id}`.
pub(super) fn message(shared: &Shared, id: &str) -> ApiResult {
    let rt = shared.borrow();
    let ix = rt.core.message(id).map_err(core_error)?;
    ok(message_json(&rt, ix))
}

/// `POST /messages/{id}/ack`: the recipient has handled it (`acknowledged`).
pub(super) fn acknowledge(shared: &Shared, id: &str) -> ApiResult {
    let ix = {
        let mut rt = shared.borrow_mut();
        let ix = rt.core.message(id).map_err(core_error)?;
        rt.core.acknowledge(ix, now()).map_err(core_error)?;
        ix
    };
    pump(shared);
    ok(message_json(&shared.borrow(), ix))
}

/// `GET /agents/{id}/inbox`: the agent's messages not yet acknowledged, oldest first. Reading
/// delivers them (`sent` → `delivered`), as `inbox()` does in the JS package.
pub(super) fn inbox(shared: &Shared, agent: &str) -> ApiResult {
    let ixs = {
        let mut rt = shared.borrow_mut();
        let a = agent_ix(&rt, agent)?;
        rt.core.inbox(a, now())
    };
    pump(shared);
    ok(messages_json(&shared.borrow(), &ixs))
}

/// `GET /agents/{id}/messages`: every message the agent sent or received, oldest first.
pub(super) fn history(shared: &Shared, agent: &str) -> ApiResult {
    let rt = shared.borrow();
    let a = agent_ix(&rt, agent)?;
    ok(messages_json(&rt, &rt.core.message_history(a)))
}

// ---- tools ----

/// A tool's binding is kept with the agents' under a key no agent id can have.
pub(crate) fn tool_key(name: &str) -> String {
    format!("tool/{name}")
}

/// `GET /tools`: every tool with its counters and endpoint.
pub(super) fn tools(shared: &Shared) -> ApiResult {
    let rt = shared.borrow();
    let list: Vec<Value> = rt
        .core
        .state()
        .tools
        .values()
        .map(|t| {
            let mut v = json!({
                "name": t.spec.name, "description": t.spec.description, "category": t.spec.category,
                "rateLimit": t.spec.rate_limit, "calls": t.calls, "failures": t.failures,
            });
            if let Some(Binding::Http { endpoint }) = rt.bindings.get(&tool_key(&t.spec.name)) {
                v["endpoint"] = json!(endpoint);
            }
            v
        })
        .collect();
    ok(json!({ "total": list.len(), "tools": list }))
}

/// `POST /tools`: `{ name, endpoint, description?, category?, rateLimit? }`. A call POSTs
/// `{ tool, agentId, taskId, args }` to the endpoint and takes its JSON answer.
pub(super) fn register_tool(shared: &Shared, body: Value) -> ApiResult {
    let mut m = object(body, "a tool")?;
    let name = text_field(&m, "name");
    let b = match binding(&mut m, &name)? {
        Some(b @ Binding::Http { .. }) => b,
        _ => {
            let why = "a tool needs an endpoint: the http(s) URL its calls are POSTed to";
            return Err(error(400, "invalid_argument", why));
        }
    };
    let spec: ToolSpec = spec("tool", Value::Object(m))?;
    let mut rt = shared.borrow_mut();
    // Stored first: a tool the core knows but whose endpoint was lost could not be called.
    let key = tool_key(&name);
    if rt.core.state().tools.contains_key(&name) {
        return Err(core_error(crate::core::Error::DuplicateId {
            kind: "tool",
            id: name,
        }));
    }
    crate::core::ids::check_id("tool name", &name).map_err(core_error)?;
    // What the core would refuse is refused before the binding is stored: a refused request
    // leaves no row behind.
    if let Some(reason) = &rt.core.state().terminated {
        return Err(core_error(crate::core::Error::Terminated(reason.clone())));
    }
    if let Some(r) = &spec.rate_limit {
        r.validate(&format!("tool '{name}'")).map_err(core_error)?;
    }
    rt.store
        .put_binding(
            &key,
            &serde_json::to_string(&b).expect("bindings serialize"),
        )
        .map_err(|e| error(500, "internal", e.to_string()))?;
    rt.core.register_tool(spec, now()).map_err(core_error)?;
    rt.bindings.insert(key, b);
    drop(rt);
    pump(shared);
    let rt = shared.borrow();
    let t = &rt.core.state().tools[&name];
    Ok(json_response(
        201,
        &json!({ "name": name, "description": t.spec.description, "category": t.spec.category,
                 "rateLimit": t.spec.rate_limit }),
    ))
}

/// `POST /agents/{id}/tools` grants and `DELETE /agents/{id}/tools` revokes `{ tools: [...] }`
/// (or a bare array); answers the agent's tools.
pub(super) fn grant(shared: &Shared, agent: &str, body: Value, revoke: bool) -> ApiResult {
    let names = match body {
        Value::Object(mut m) => m.remove("tools").unwrap_or(Value::Null),
        other => other,
    };
    let names: Vec<String> = spec("tools", names)?;
    let tools = {
        let mut rt = shared.borrow_mut();
        let a = agent_ix(&rt, agent)?;
        let t = now();
        if revoke {
            rt.core.revoke_tools(a, names, t)
        } else {
            rt.core.grant_tools(a, names, t)
        }
        .map_err(core_error)?;
        rt.core.state().agent(a).tools.clone()
    };
    pump(shared);
    ok(json!({ "agent": agent, "tools": tools }))
}

/// `POST /tools/{name}/call`: `{ agentId, taskId?, args }`, made by an HTTP agent while it
/// works on a task. Refused with 403 `permission` if the agent was not granted the tool and
/// 429 `rate_limit` over its limit (both recorded); otherwise the endpoint's answer is
/// `{ callId, result }`, and its failure a 502 `tool_failed`.
pub(super) async fn call(shared: &Shared, name: &str, body: Value) -> ApiResult {
    let mut m = object(body, "a tool call")?;
    let agent = match m.remove("agentId").or_else(|| m.remove("agent")) {
        Some(Value::String(a)) => a,
        _ => {
            let why = "a tool call needs agentId: the agent making it";
            return Err(error(400, "invalid_argument", why));
        }
    };
    let task = match m.remove("taskId").or_else(|| m.remove("task")) {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t),
        Some(_) => return Err(error(400, "invalid_argument", "taskId must be a string")),
    };
    let args = m.remove("args");
    if let Some(k) = m.keys().next() {
        let why = format!("unknown field '{k}' (a tool call takes agentId, taskId and args)");
        return Err(error(400, "invalid_argument", why));
    }
    let args_json = args.clone().unwrap_or(Value::Null);
    let (call, binding) = {
        let mut rt = shared.borrow_mut();
        let a = agent_ix(&rt, &agent)?;
        let t = match &task {
            Some(id) => Some(rt.core.task(id).map_err(core_error)?),
            None => None,
        };
        let outcome = refusable(&mut rt, |rt| {
            let args = alloc(rt, args)?;
            rt.core
                .call_tool(a, t, name, args, now())
                .map_err(core_error)
        });
        let binding = rt.bindings.get(&tool_key(name)).cloned();
        drop(rt);
        // A refusal is recorded: it goes out like any other record.
        pump(shared);
        let call = outcome.map_err(|mut e| {
            match e.code.as_str() {
                "permission" => e.status = 403,
                "rate_limit" => e.status = 429,
                _ => {}
            }
            e
        })?;
        (call, binding)
    };
    let answer = match binding {
        Some(Binding::Http { endpoint }) => {
            let body = json!({ "tool": name, "agentId": agent, "taskId": task, "args": args_json });
            let bytes_max = shared.borrow().core.state().options.payload_bytes_max as usize;
            crate::worker::agents::call_endpoint(
                &endpoint,
                &body.to_string(),
                TOOL_TIMEOUT_MS,
                bytes_max,
            )
            .await
            .map_err(|f| f.message)
        }
        _ => Err(format!("tool '{name}' has no endpoint here")),
    };
    let t = now();
    let result = {
        let mut rt = shared.borrow_mut();
        match answer {
            Ok(text) => {
                let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let recorded = refusable(&mut rt, |rt| {
                    let p = alloc(rt, Some(value.clone()))?;
                    rt.core.tool_result(call, Ok(p), t).map_err(core_error)
                });
                match recorded {
                    Ok(()) => Ok(value),
                    Err(e) => {
                        let why = format!("the answer could not be recorded: {}", e.message);
                        let _ = rt.core.tool_result(call, Err(why.clone()), t);
                        Err(why)
                    }
                }
            }
            Err(why) => {
                let _ = rt.core.tool_result(call, Err(why.clone()), t);
                Err(why)
            }
        }
    };
    pump(shared);
    match result {
        Ok(value) => ok(json!({ "callId": call, "result": value })),
        Err(why) => Err(error(
            502,
            "tool_failed",
            format!("tool '{name}' failed: {why}"),
        )),
    }
}

/// How long a tool's endpoint has to answer.
const TOOL_TIMEOUT_MS: u64 = 30_000;
