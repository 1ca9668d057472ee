//! `GET /openapi.json`: an OpenAPI 3.1 document of the REST API, built from one route table
//! (a test checks every route in it against the running Worker).

use serde_json::{json, Map, Value};

/// (path under /v1/ns/{namespace}, method, summary, success status)
pub const ROUTES: &[(&str, &str, &str, u16)] = &[
    ("/status", "get", "Statistics (their keys at the top, and as statistics), seed and journal position", 200),
    ("/agents", "get", "Every agent with status, load, errors, breaker and binding", 200),
    ("/agents", "post", "Register an agent: { id, name?, capabilities?, concurrency?, retry?, timeoutMs?, maxErrors?, tools?, start?, endpoint | js | demo }, or one from a template: { id, template: name@version, name?, start?, endpoint | js | demo }", 201),
    ("/agents/{id}", "get", "One agent", 200),
    ("/agents/{id}", "put", "Change an agent: where its calls go { endpoint | js | demo }, and its { name, capabilities, concurrency, maxErrors }; what is not given stays", 200),
    ("/agents/{id}", "delete", "Delete an agent: terminated (its unfinished tasks are cancelled) and removed; the id may be registered again", 200),
    ("/agents/{id}/start", "post", "Start an agent", 200),
    ("/agents/{id}/pause", "post", "Pause an agent", 200),
    ("/agents/{id}/resume", "post", "Resume an agent", 200),
    ("/agents/{id}/stop", "post", "Stop an agent", 200),
    ("/agents/{id}/recover", "post", "Take an agent out of Error (to Ready; start it again)", 200),
    ("/agents/{id}/history", "get", "An agent's lifecycle transitions", 200),
    ("/agents/{id}/cancel", "post", "Cancel every task of the agent that waits (pending, queued, retrying): { reason? }; its running calls go on", 200),
    ("/agents/{id}/inbox", "get", "The agent's messages not yet acknowledged, oldest first; reading delivers them", 200),
    ("/agents/{id}/messages", "get", "Every message the agent sent or received", 200),
    ("/agents/{id}/tools", "post", "Grant tools: { tools: [name] }", 200),
    ("/agents/{id}/tools", "delete", "Revoke tools: { tools: [name] }", 200),
    ("/templates", "get", "Agent templates, built-in and defined, by name then version", 200),
    ("/templates", "post", "Define a template: { name, version?, description?, instructions?, model?, temperature?, capabilities?, tools?, limits? }; every bad field is named", 201),
    ("/templates/{reference}", "get", "One template: name@version, or name for its latest version", 200),
    ("/messages", "post", "Send a message: { from, to, payload }", 201),
    ("/messages/{id}", "get", "One message with its status (sent, delivered, acknowledged)", 200),
    ("/messages/{id}/ack", "post", "Acknowledge a message", 200),
    ("/messages/{id}/acknowledge", "post", "Acknowledge a message (the same as /ack)", 200),
    ("/tools", "get", "Tools with their counters and endpoints", 200),
    ("/tools", "post", "Register a tool: { name, endpoint, description?, category?, rateLimit?: { perMinute, burst? } }; a call POSTs { tool, agentId, taskId, args } to the endpoint", 201),
    ("/tools/{name}/call", "post", "An agent calls a tool: { agentId, taskId?, args }; 403 permission if not granted, 429 rate_limit over its limit, with Retry-After (both recorded), 502 tool_failed if the endpoint fails", 200),
    ("/tasks", "get", "Tasks, filtered by ?status=&agent=&workflow=&offset=&limit=", 200),
    ("/tasks", "post", "Submit a task: { agent | capability, input?, priority?, id?, name?, metadata?, retry?, timeoutMs?, session? }", 201),
    ("/tasks/{id}", "get", "One task with its input and output", 200),
    ("/tasks/{id}/cancel", "post", "Cancel an unfinished task: { reason? }", 200),
    ("/workflows", "get", "Every workflow's summary", 200),
    ("/workflows", "post", "Submit a workflow (a DAG): { id?, name?, tasks: [{ id, agent | capability, input?, dependsOn? }], failurePolicy?, pattern?: dag | sequential | parallel, width? }; pattern supervisor or collaborative starts that run ({ task, supervisor, agents, ... } as POST /runs)", 201),
    ("/workflows/{id}", "get", "One workflow with its tasks, edges and outputs (a supervisor or collaborative workflow: its run, as GET /runs/{id})", 200),
    ("/workflows/{id}/cancel", "post", "Cancel a workflow's unfinished tasks (running calls are aborted): { reason? }; it ends Cancelled", 200),
    ("/runs", "post", "Start an agent pattern run: { kind: consensus | debate | chainOfThought | supervisor | collaborative, ..., session? }, as the package's runPattern", 201),
    ("/runs/{id}", "get", "A pattern run: { id, kind, status, step, tasks, error?, result? }", 200),
    ("/orchestrate", "post", "Route { session_id, capability, parameters } to the least-loaded capable agent; 202 if it takes over 25 s", 200),
    ("/compress", "post", "Compress a session { session_id, agent?, intent? }: its contracts go to the summarizer agent (or one with capability 'compress'), whose answer becomes the session's memory; 202 if it takes over 25 s", 200),
    ("/contracts", "get", "A session's hash-chained REQUEST/RESPONSE contracts: ?session_id=", 200),
    ("/snapshots", "get", "Snapshot summaries, newest first", 200),
    ("/snapshots", "post", "Take a snapshot and store it (the journal before it is pruned)", 201),
    ("/snapshots/{id}", "get", "A snapshot, whole: the latest stored, or a listed one rebuilt from the journal while the object holds it from its start; keep it, or restore it with the package's Orchestrator.restore", 200),
    ("/events", "get", "Server-Sent Events of the journal after ?after= (or Last-Event-ID), live, only ?topics=a.*,b.c if given; an `event: gap` frame { after, next, message } names records no longer held", 200),
    ("/metrics", "get", "Prometheus text metrics", 200),
    ("/schedules", "get", "Every schedule not deleted, with its next run", 200),
    ("/schedules", "post", "Schedule a task at each slot: { trigger: { at } | { everyMs } | { cron }, task: { agent | capability, input?, priority?, retry?, timeoutMs? } }", 201),
    ("/schedules/{id}", "get", "One schedule", 200),
    ("/schedules/{id}", "delete", "Delete a schedule (the tasks it submitted stay)", 200),
    ("/schedules/{id}/pause", "post", "Pause a schedule", 200),
    ("/schedules/{id}/resume", "post", "Resume a paused schedule; a slot it missed fires once", 200),
];

/// The query (and header) parameters a route reads: (name, where, required, type, description).
fn query_params(path: &str, method: &str) -> Vec<Value> {
    let list: &[(&str, &str, bool, &str, &str)] = match (path, method) {
        ("/tasks", "get") => &[
            ("status", "query", false, "string", "Pending, Queued, Running, Retrying, Completed, Failed, Cancelled, TimedOut or Skipped (any case)"),
            ("agent", "query", false, "string", "The agent's id"),
            ("workflow", "query", false, "string", "The workflow's id"),
            ("offset", "query", false, "integer", "Skip this many matching tasks"),
            ("limit", "query", false, "integer", "At most this many (default 1000, at most 10000)"),
        ],
        ("/contracts", "get") => &[("session_id", "query", true, "string", "The session whose contracts to list")],
        ("/events", "get") => &[
            ("after", "query", false, "integer", "Send the records after this seq"),
            ("since", "query", false, "integer", "The same as after"),
            ("lastEventId", "query", false, "integer", "As the Last-Event-ID header, for clients that cannot set it"),
            ("topics", "query", false, "string", "Only these topics, comma-separated, `task.*` wildcards allowed"),
            ("token", "query", false, "string", "The API token, for clients that cannot set Authorization (EventSource)"),
            ("keepaliveMs", "query", false, "integer", "How often a quiet stream sends a `: keepalive` comment line (100 to 300000; default 25000)"),
            ("Last-Event-ID", "header", false, "integer", "The last seq received (a reconnecting EventSource sends it)"),
        ],
        _ => &[],
    };
    list.iter()
        .map(|(name, at, required, ty, description)| {
            json!({ "name": name, "in": at, "required": required, "description": description, "schema": { "type": ty } })
        })
        .collect()
}

/// A route's body: whether it needs one, and its schema. Each route refuses a field it does not
/// know, naming it; the schemas list the fields (the summaries say more of each).
fn request_body(path: &str, method: &str) -> (bool, Value) {
    let object = |required: &[&str], props: Value| -> Value {
        json!({ "type": "object", "required": required, "properties": props })
    };
    let any = json!({});
    let string = json!({ "type": "string" });
    let strings = json!({ "type": "array", "items": { "type": "string" } });
    // (A limit, a timeout, a period: zero would mean nothing, and is refused.)
    let positive = json!({ "type": "integer", "minimum": 1 });
    // A capability by name, or as { name, description }.
    let capabilities = json!({ "type": "array", "items": { "anyOf": [{ "type": "string" },
        { "type": "object", "required": ["name"], "properties": { "name": { "type": "string" }, "description": { "type": "string" } } }] } });
    let one_of_agent = json!([{ "required": ["agent"] }, { "required": ["capability"] }]);
    let binding = json!({ "endpoint": { "type": "string", "format": "uri" }, "js": string, "demo": { "type": "string", "enum": ["echo", "uppercase", "sleep", "fail"] } });
    let with = |mut base: Value, extra: &Value| -> Value {
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            b.extend(e.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        base
    };
    let task = json!({ "agent": string, "capability": string, "input": any, "priority": { "type": "integer", "minimum": 1, "maximum": 255 },
        "id": string, "name": string, "metadata": any, "retry": { "type": "object" }, "timeoutMs": positive, "session": string });
    let reason = object(&[], json!({ "reason": string }));
    let session_alias = json!({ "type": "string", "description": "the same as session_id" });
    let one_of_session =
        json!({ "anyOf": [{ "required": ["session_id"] }, { "required": ["sessionId"] }] });
    match (path, method) {
        ("/agents", "post") => (
            true,
            object(
                &["id"],
                with(
                    json!({ "id": string, "name": string, "capabilities": capabilities, "concurrency": positive,
            "retry": { "type": "object" }, "timeoutMs": positive, "maxErrors": positive, "tools": strings, "start": { "type": "boolean" },
            "template": { "type": "string", "description": "name@version, or name for its latest" } }),
                    &binding,
                ),
            ),
        ),
        ("/agents/{id}", "put") => (
            true,
            object(
                &[],
                with(
                    json!({ "name": string, "capabilities": capabilities, "concurrency": positive, "maxErrors": positive }),
                    &binding,
                ),
            ),
        ),
        ("/agents/{id}/tools", _) => (true, object(&["tools"], json!({ "tools": strings }))),
        ("/templates", "post") => (
            true,
            object(
                &["name"],
                json!({ "name": string, "version": positive, "description": string, "instructions": string,
            "model": string, "temperature": { "type": "number" }, "capabilities": strings, "tools": strings, "limits": { "type": "object" } }),
            ),
        ),
        ("/messages", "post") => (
            true,
            object(
                &["from", "to"],
                json!({ "from": string, "to": string, "payload": any }),
            ),
        ),
        ("/tools", "post") => (
            true,
            object(
                &["name", "endpoint"],
                json!({ "name": string, "endpoint": { "type": "string", "format": "uri" },
            "description": string, "category": string, "rateLimit": object(&["perMinute"], json!({ "perMinute": positive, "burst": positive })) }),
            ),
        ),
        ("/tools/{name}/call", "post") => (
            true,
            with(
                object(
                    &[],
                    json!({ "agentId": string, "agent": { "type": "string", "description": "the same as agentId" }, "taskId": string, "args": any }),
                ),
                &json!({ "anyOf": [{ "required": ["agentId"] }, { "required": ["agent"] }] }),
            ),
        ),
        ("/tasks", "post") => (
            true,
            with(object(&[], task.clone()), &json!({ "anyOf": one_of_agent })),
        ),
        ("/workflows", "post") => (
            true,
            object(
                &["tasks"],
                json!({ "id": string, "name": string,
            "tasks": { "type": "array", "minItems": 1, "items": with(object(&["id"], with(task.clone(), &json!({ "dependsOn": strings }))), &json!({ "anyOf": one_of_agent })) },
            "dependencies": { "type": "object", "additionalProperties": strings },
            "failurePolicy": { "type": "string", "description": "failFast (the default) or continue (skip the failed task's dependents)" }, "session": string,
            "pattern": { "type": "string", "enum": ["dag", "sequential", "parallel", "supervisor", "collaborative"] }, "width": positive }),
            ),
        ),
        ("/runs", "post") => (
            true,
            object(
                &["kind"],
                json!({ "kind": { "type": "string", "enum": ["consensus", "debate", "chainOfThought", "supervisor", "collaborative"] }, "session": string }),
            ),
        ),
        ("/orchestrate", "post") => (
            true,
            with(
                object(
                    &["capability"],
                    json!({ "session_id": string, "sessionId": session_alias, "capability": string, "parameters": any,
            "priority": { "type": "integer", "minimum": 1, "maximum": 255 } }),
                ),
                &one_of_session,
            ),
        ),
        ("/compress", "post") => (
            true,
            with(
                object(
                    &[],
                    json!({ "session_id": string, "sessionId": session_alias, "agent": string, "intent": string }),
                ),
                &one_of_session,
            ),
        ),
        ("/schedules", "post") => (
            true,
            object(
                &["trigger", "task"],
                json!({
            "trigger": { "type": "object", "properties": { "at": any, "everyMs": positive, "cron": string } },
            "task": with(object(&[], task), &json!({ "anyOf": one_of_agent })) }),
            ),
        ),
        (p, _) if p.ends_with("/cancel") => (false, reason),
        _ => (false, json!({ "type": "object" })),
    }
}

/// The schemas of the bodies the routes answer with: the keys every such body has (more may
/// follow: an optional field is left out when it has no value).
fn schemas() -> Map<String, Value> {
    let object = |required: &[&str], props: Value| -> Value {
        json!({ "type": "object", "required": required, "properties": props })
    };
    let list = |key: &str, item: &str| -> Value {
        object(
            &["total", key],
            json!({ "total": { "type": "integer" }, key: { "type": "array", "items": { "$ref": format!("#/components/schemas/{item}") } } }),
        )
    };
    let (string, integer, object_any) = (
        json!({ "type": "string" }),
        json!({ "type": "integer" }),
        json!({ "type": "object" }),
    );
    let strings = json!({ "type": "array", "items": { "type": "string" } });
    let mut m = Map::new();
    let mut put = |name: &str, schema: Value| {
        m.insert(name.to_owned(), schema);
    };
    put("Error", error_schema());
    put(
        "Agent",
        object(
            &[
                "id",
                "name",
                "status",
                "capabilities",
                "error_count",
                "running_tasks",
                "queued_tasks",
                "breaker",
            ],
            json!({ "id": string, "name": string, "status": string, "capabilities": strings, "error_count": integer,
            "running_tasks": integer, "queued_tasks": integer, "completed_tasks": integer, "failed_tasks": integer,
            "breaker": string, "binding": object_any }),
        ),
    );
    put("AgentList", list("agents", "Agent"));
    put(
        "AgentHistory",
        object(
            &["history"],
            json!({ "history": { "type": "array", "items": object_any } }),
        ),
    );
    put(
        "AgentDeleted",
        object(
            &["id", "deleted", "status"],
            json!({ "id": string, "deleted": { "type": "boolean" }, "status": string }),
        ),
    );
    put(
        "AgentTools",
        object(
            &["agent", "tools"],
            json!({ "agent": string, "tools": strings }),
        ),
    );
    put(
        "AgentCancelled",
        object(
            &["agent", "cancelled"],
            json!({ "agent": string, "cancelled": integer }),
        ),
    );
    put(
        "Template",
        object(
            &["name", "version", "capabilities", "tools"],
            json!({ "name": string, "version": integer, "capabilities": strings, "tools": strings }),
        ),
    );
    put("TemplateList", list("templates", "Template"));
    put(
        "TemplateDefined",
        object(
            &["reference", "template"],
            json!({ "reference": string, "template": { "$ref": "#/components/schemas/Template" } }),
        ),
    );
    put(
        "Message",
        object(
            &["id", "from", "to", "status", "sentAt"],
            json!({ "id": string, "from": string, "to": string, "status": { "type": "string", "enum": ["sent", "delivered", "acknowledged"] }, "sentAt": integer }),
        ),
    );
    put("MessageList", list("messages", "Message"));
    put(
        "Tool",
        object(
            &["name", "description", "category"],
            json!({ "name": string, "description": string, "category": string }),
        ),
    );
    put("ToolList", list("tools", "Tool"));
    put(
        "Task",
        object(
            &["id", "status", "priority", "attempts", "createdAt"],
            json!({ "id": string, "agent": string, "status": string, "priority": integer, "attempts": integer, "createdAt": integer,
            "input": {}, "output": {}, "error": object(&["class", "message"], json!({ "class": string, "message": string })) }),
        ),
    );
    put(
        "TaskList",
        object(
            &["tasks", "total", "offset", "limit"],
            json!({ "tasks": { "type": "array", "items": { "$ref": "#/components/schemas/Task" } }, "total": integer, "offset": integer, "limit": integer }),
        ),
    );
    put(
        "Workflow",
        object(
            &[
                "id",
                "status",
                "failurePolicy",
                "submittedAt",
                "tasks",
                "outputs",
            ],
            json!({ "id": string, "status": string, "failurePolicy": string, "submittedAt": integer, "finishedAt": integer,
            "failedTask": string, "tasks": object_any, "outputs": object_any }),
        ),
    );
    put("WorkflowList", list("workflows", "WorkflowSummary"));
    put(
        "WorkflowSummary",
        object(&["id", "status"], json!({ "id": string, "status": string })),
    );
    put(
        "Run",
        object(
            &["id", "kind", "status", "step", "tasks"],
            json!({ "id": string, "kind": string, "status": string, "step": integer, "tasks": strings, "error": string, "result": {} }),
        ),
    );
    put(
        "Orchestrated",
        object(
            &["sessionId", "taskId", "status"],
            json!({ "sessionId": string, "taskId": string, "agent": string, "capability": string, "status": string, "success": { "type": "boolean" } }),
        ),
    );
    put(
        "Compressed",
        object(
            &["session_id", "taskId", "status"],
            json!({ "session_id": string, "taskId": string, "agent": string, "status": string, "success": { "type": "boolean" } }),
        ),
    );
    put(
        "Contracts",
        object(
            &["sessionId", "contracts", "total"],
            json!({ "sessionId": string, "contracts": { "type": "array", "items": object_any }, "total": integer }),
        ),
    );
    put(
        "SnapshotSummary",
        object(
            &["id", "reason", "seq", "at"],
            json!({ "id": string, "reason": string, "seq": integer, "at": integer }),
        ),
    );
    put(
        "SnapshotList",
        object(
            &["snapshots"],
            json!({ "snapshots": { "type": "array", "items": { "$ref": "#/components/schemas/SnapshotSummary" } } }),
        ),
    );
    put(
        "Status",
        object(&["statistics"], json!({ "statistics": object_any })),
    );
    put(
        "Schedule",
        object(
            &["id", "trigger", "task", "status", "createdAt", "runs"],
            json!({ "id": string, "trigger": object_any, "task": object_any, "status": { "type": "string", "enum": ["active", "paused", "done", "deleted"] },
            "createdAt": integer, "runs": integer }),
        ),
    );
    put("ScheduleList", list("schedules", "Schedule"));
    m
}

/// The schema of a route's success body, by name among [`schemas`].
fn response_schema(path: &str, method: &str) -> Option<&'static str> {
    Some(match (path, method) {
        ("/status", _) => "Status",
        ("/agents", "get") => "AgentList",
        ("/agents/{id}", "delete") => "AgentDeleted",
        ("/agents/{id}/history", _) => "AgentHistory",
        ("/agents/{id}/cancel", _) => "AgentCancelled",
        ("/agents/{id}/tools", _) => "AgentTools",
        ("/agents/{id}/inbox" | "/agents/{id}/messages", _) => "MessageList",
        (p, _) if p == "/agents" || p.starts_with("/agents/{id}") => "Agent",
        ("/templates", "get") => "TemplateList",
        ("/templates", "post") => "TemplateDefined",
        ("/templates/{reference}", _) => "Template",
        (p, _) if p.starts_with("/messages") => "Message",
        ("/tools", "get") => "ToolList",
        ("/tools", "post") => "Tool",
        ("/tasks", "get") => "TaskList",
        (p, _) if p.starts_with("/tasks") => "Task",
        ("/workflows", "get") => "WorkflowList",
        ("/workflows/{id}/cancel", _) => "Workflow",
        ("/runs", _) | ("/runs/{id}", _) => "Run",
        ("/orchestrate", _) => "Orchestrated",
        ("/compress", _) => "Compressed",
        ("/contracts", _) => "Contracts",
        ("/snapshots", "get") => "SnapshotList",
        ("/snapshots", "post") => "SnapshotSummary",
        ("/schedules", "get") => "ScheduleList",
        (p, _) if p.starts_with("/schedules") => "Schedule",
        _ => return None,
    })
}

fn error_schema() -> Value {
    json!({
        "type": "object", "required": ["error"],
        "properties": { "error": { "type": "object", "required": ["code", "message"],
            "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } }
    })
}

pub fn document() -> Value {
    let mut paths = Map::new();
    let error_ref = json!({ "description": "An error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    for (path, method, summary, status) in ROUTES {
        let mut params = vec![
            json!({ "name": "namespace", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$" } }),
        ];
        // Every `{name}` in the path is a path parameter (`{id}`, `{reference}`, `{name}`).
        for name in path.split('{').skip(1).filter_map(|p| p.split('}').next()) {
            params.push(json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }));
        }
        params.extend(query_params(path, method));
        let content_type = match *path {
            "/events" => "text/event-stream",
            "/metrics" => "text/plain",
            _ => "application/json",
        };
        let body = match (*path, response_schema(path, method)) {
            // A supervisor or collaborative workflow answers as its pattern run.
            _ if (*path, *method) == ("/workflows", "post")
                || (*path, *method) == ("/workflows/{id}", "get") =>
            {
                json!({ "anyOf": [{ "$ref": "#/components/schemas/Workflow" }, { "$ref": "#/components/schemas/Run" }] })
            }
            (_, Some(name)) => json!({ "$ref": format!("#/components/schemas/{name}") }),
            ("/events" | "/metrics", None) => json!({ "type": "string" }),
            // A snapshot, whole (its format is the package's).
            _ => json!({ "type": "object" }),
        };
        let mut op = json!({
            "summary": summary,
            "operationId": format!("{method}{}", path.replace(['/', '{', '}'], "_")),
            "parameters": params,
            // The event stream also takes its token as `?token=` (browsers' EventSource).
            "security": if *path == "/events" { json!([{ "bearer": [] }, { "queryToken": [] }]) } else { json!([{ "bearer": [] }]) },
            "responses": {
                status.to_string(): { "description": "OK", "content": { content_type: { "schema": body } } },
                "400": error_ref, "401": error_ref, "403": error_ref, "404": error_ref, "405": error_ref,
                "409": error_ref, "413": error_ref, "429": error_ref, "500": error_ref, "502": error_ref, "503": error_ref,
            }
        });
        if *path == "/orchestrate" || *path == "/compress" {
            op["responses"]["202"] = json!({ "description": "Still running after 25 s: the task's id and status", "content": { "application/json": { "schema": { "type": "object", "required": ["taskId", "status"], "properties": { "taskId": { "type": "string" }, "status": { "type": "string" } } } } } });
        }
        // (A revoke names its tools in its body too.)
        if *method == "post"
            || *method == "put"
            || (*path, *method) == ("/agents/{id}/tools", "delete")
        {
            let (required, schema) = request_body(path, method);
            op["requestBody"] = json!({ "required": required, "content": { "application/json": { "schema": schema } } });
        }
        // Each route twice: the namespace in the path, or in the X-Baton-Namespace header.
        let mut by_header = op.clone();
        by_header["operationId"] = json!(format!(
            "{}_by_header",
            op["operationId"].as_str().unwrap_or_default()
        ));
        let mut header_params = vec![
            json!({ "name": "X-Baton-Namespace", "in": "header", "required": false,
            "description": "The namespace (default: `default`)", "schema": { "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$" } }),
        ];
        header_params.extend(
            op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] != "path" || p["name"] != "namespace")
                .cloned(),
        );
        by_header["parameters"] = Value::Array(header_params);
        paths
            .entry(format!("/v1{path}"))
            .or_insert_with(|| json!({}))[method] = by_header;
        let key = format!("/v1/ns/{{namespace}}{path}");
        paths.entry(key).or_insert_with(|| json!({}))[method] = op;
    }
    let health = json!({ "description": "OK", "content": { "application/json": { "schema": { "type": "object", "required": ["status"],
        "properties": { "status": { "type": "string", "enum": ["ok"] } } } } } });
    paths.insert("/v1/health".into(), json!({ "get": { "summary": "Liveness (no token needed)", "operationId": "health", "security": [],
        "responses": { "200": health, "405": error_ref, "429": error_ref } } }));
    paths.insert("/v1/ns/{namespace}/health".into(), json!({ "get": { "summary": "Liveness under a namespace (no token needed)", "operationId": "health_ns", "security": [],
        "parameters": [{ "name": "namespace", "in": "path", "required": true, "schema": { "type": "string" } }],
        "responses": { "200": health, "400": error_ref, "405": error_ref, "429": error_ref } } }));
    paths.insert(
        "/openapi.json".into(),
        json!({ "get": { "summary": "This document (any namespace's token opens it)", "operationId": "openapi",
        "security": [{ "bearer": [] }],
        "responses": { "200": { "description": "OK", "content": { "application/json": {} } },
            "401": error_ref.clone(), "429": error_ref.clone() } } }),
    );
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Baton", "version": env!("CARGO_PKG_VERSION"),
            "description": "A deterministic multi-agent orchestrator; each namespace is one Durable Object. `/v1/...` without `/ns/{namespace}` uses the X-Baton-Namespace header, or `default`." },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "queryToken": { "type": "apiKey", "in": "query", "name": "token" }
            }
        }
    })
}
