//! How the Worker calls an agent. Three kinds, chosen when the agent is registered:
//! - `endpoint`: an HTTP agent. Baton POSTs `{ taskId, attempt, idempotencyKey, input, upstream }`
//!   and takes the JSON answer as the output; a non-2xx status, a timeout or bad JSON is a
//!   classified failure.
//! - `js`: an async function exported by `js/worker-agents.js`, bundled with the Worker.
//! - `demo`: built in: `echo`, `uppercase`, `sleep`, `fail`.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

/// Where an agent's calls go, persisted next to the journal (a function is not state).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Binding {
    Http { endpoint: String },
    Js { name: String },
    Demo { name: String },
}

pub const DEMO_AGENTS: [&str; 4] = ["echo", "uppercase", "sleep", "fail"];

/// One call, as the agent receives it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Call<'a> {
    pub task_id: &'a str,
    pub attempt: u32,
    pub idempotency_key: &'a str,
    pub input: &'a serde_json::value::RawValue,
    pub upstream: &'a serde_json::value::RawValue,
}

/// A failed call: the error class (`agent`, `timeout`, `validation`, ...) and a message.
pub struct Failure {
    pub class: &'static str,
    pub message: String,
    /// An HTTP agent's `Retry-After`, in ms: its retry waits at least this long.
    pub retry_after_ms: Option<u64>,
}

pub(crate) fn failure(class: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        class,
        message: message.into(),
        retry_after_ms: None,
    }
}

/// `Retry-After` as delay-seconds or an HTTP date, in ms from now.
fn retry_after_ms(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.saturating_mul(1000));
    }
    let at = js_sys::Date::parse(value);
    (at.is_finite()).then(|| (at - js_sys::Date::now()).max(0.0) as u64)
}

#[wasm_bindgen(module = "/js/worker-agents.js")]
extern "C" {
    /// Runs the named JS agent; resolves with its answer's JSON.
    #[wasm_bindgen(catch, js_name = runAgent)]
    fn run_js_agent(name: &str, call_json: &str) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(js_name = agentNames)]
    fn js_agent_names() -> Vec<String>;
}

/// The JS agents the bundled module exports.
pub fn js_agents() -> Vec<String> {
    js_agent_names()
}

/// Calls the agent; the answer is JSON text. `signal` ends an HTTP call early: the caller fires
/// it when the core gives the call up (a timeout, a cancel) or when `timeout_ms` has passed.
///
/// An HTTP answer over `bytes_max` (the orchestrator's `payloadBytesMax`) is refused as it
/// arrives, not read whole first: a 150 MB answer would not fit the isolate's memory.
pub async fn invoke(
    binding: &Binding,
    call: &Call<'_>,
    timeout_ms: u64,
    bytes_max: usize,
    signal: &worker::AbortSignal,
) -> Result<String, Failure> {
    let body = serde_json::to_string(call).map_err(|e| failure("internal", e.to_string()))?;
    match binding {
        Binding::Http { endpoint } => http(endpoint, &body, timeout_ms, bytes_max, signal).await,
        Binding::Js { name } => {
            let promise =
                run_js_agent(name, &body).map_err(|e| failure("agent", js_message(&e)))?;
            let out = wasm_bindgen_futures::JsFuture::from(promise)
                .await
                .map_err(|e| failure("agent", js_message(&e)))?;
            out.as_string().ok_or_else(|| {
                failure(
                    "validation",
                    "a JS agent must resolve with a JSON-serializable value",
                )
            })
        }
        Binding::Demo { name } => demo(name, call).await,
    }
}

/// POSTs `body` to `endpoint` and takes its JSON answer, with the failures an HTTP agent's call
/// has (a tool's endpoint, say).
pub async fn call_endpoint(
    endpoint: &str,
    body: &str,
    timeout_ms: u64,
    bytes_max: usize,
) -> Result<String, Failure> {
    let controller = worker::AbortController::default();
    let out = http(endpoint, body, timeout_ms, bytes_max, &controller.signal()).await;
    if out.is_err() {
        controller.abort(); // a timed-out request is not left open
    }
    out
}

fn js_message(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "the JS agent failed".into())
}

async fn http(
    endpoint: &str,
    body: &str,
    timeout_ms: u64,
    bytes_max: usize,
    signal: &worker::AbortSignal,
) -> Result<String, Failure> {
    let headers = Headers::new();
    headers
        .set("content-type", "application/json")
        .map_err(|e| failure("internal", e.to_string()))?;
    let mut init = RequestInit::new();
    // A redirect is not followed: fetch would turn a 301/302/303 into a GET without the call's
    // body (the agent's answer to that would complete the task), and to a host never
    // registered. The 3xx is the answer, a failure like any other non-2xx.
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(body)))
        .with_redirect(RequestRedirect::Manual);
    let req = Request::new_with_init(endpoint, &init)
        .map_err(|e| failure("validation", format!("bad endpoint '{endpoint}': {e}")))?;
    let fetch = Fetch::Request(req);
    // One deadline covers sending the call and reading the whole answer.
    let exchange = async {
        let mut resp = fetch
            .send_with_signal(signal)
            .await
            .map_err(|e| failure("agent", format!("the agent could not be reached: {e}")))?;
        let status = resp.status_code();
        let after = resp.headers().get("retry-after").ok().flatten();
        let location = resp.headers().get("location").ok().flatten();
        // Kept as a result: a failure's status says more than its body could not be read.
        let text = read_capped(&mut resp, bytes_max).await;
        Ok::<_, Failure>((status, text, after, location))
    };
    let timer = Delay::from(std::time::Duration::from_millis(timeout_ms));
    futures_util::pin_mut!(exchange);
    futures_util::pin_mut!(timer);
    let (status, text, after, location) = match futures_util::future::select(exchange, timer).await
    {
        futures_util::future::Either::Left((r, _)) => r?,
        futures_util::future::Either::Right(_) => {
            // The caller aborts the request.
            return Err(failure(
                "timeout",
                format!("the agent did not answer within {timeout_ms} ms"),
            ));
        }
    };
    if !(200..300).contains(&status) {
        let text = text.unwrap_or_default();
        let class = match status {
            400 | 422 => "validation",
            401 | 403 => "permission",
            429 => "rate_limit",
            _ => "agent",
        };
        let excerpt: String = text.chars().take(200).collect();
        let mut f = failure(
            class,
            match (status, location) {
                (300..=399, Some(to)) => format!(
                    "the agent answered HTTP {status}, a redirect to '{to}', which is not followed: register the endpoint that answers"
                ),
                _ => format!("the agent answered HTTP {status}: {excerpt}"),
            },
        );
        if status == 429 || status == 503 {
            f.retry_after_ms = after.as_deref().and_then(retry_after_ms);
        }
        return Err(f);
    }
    let mut text = text?;
    // A byte-order mark before the JSON (as `text()` would drop it) is not part of the answer.
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    // "No Content" is an answer with no output; any other empty body is not the JSON promised.
    if text.trim().is_empty() {
        if status == 204 || status == 205 {
            return Ok("null".into());
        }
        let why = format!("the agent answered HTTP {status} with an empty body, which is not JSON (answer 204 for no output)");
        return Err(failure("validation", why));
    }
    // Decoded whole, not only checked as JSON text: a number no f64 holds (`1e999`) is
    // refused here rather than read back as `null`.
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(_) => Ok(text),
        Err(e) => Err(failure(
            "validation",
            format!("the agent's answer is not JSON: {e}"),
        )),
    }
}

/// The answer's body as text, refused once it is over `bytes_max`: at once by its
/// Content-Length, or as its chunks arrive when it has none.
async fn read_capped(resp: &mut worker::Response, bytes_max: usize) -> Result<String, Failure> {
    let too_big = |what: String| {
        failure(
            "validation",
            format!("the agent's answer is {what}, over payload_bytes_max = {bytes_max} bytes"),
        )
    };
    let declared = (resp.headers().get("content-length").ok().flatten())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared.filter(|&len| len > bytes_max as u64) {
        return Err(too_big(format!("{len} bytes (Content-Length)")));
    }
    // No body at all (a 204) is an empty one.
    let Ok(mut stream) = resp.stream() else {
        return Ok(String::new());
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        let chunk = chunk.map_err(|e| failure("agent", e.to_string()))?;
        if bytes.len() + chunk.len() > bytes_max {
            return Err(too_big(format!("over {} bytes", bytes.len() + chunk.len())));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| {
        failure(
            "validation",
            "the agent's answer is not UTF-8 text, so not JSON",
        )
    })
}

async fn demo(name: &str, call: &Call<'_>) -> Result<String, Failure> {
    let input: serde_json::Value =
        serde_json::from_str(call.input.get()).unwrap_or(serde_json::Value::Null);
    match name {
        "echo" => Ok(call.input.get().to_owned()),
        "uppercase" => {
            let text = match &input {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Object(m) => m
                    .get("text")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_owned(),
                serde_json::Value::Null => {
                    // In a workflow, the upstream answers are the input.
                    let up: serde_json::Value =
                        serde_json::from_str(call.upstream.get()).unwrap_or_default();
                    up.as_object()
                        .and_then(|m| m.values().find_map(|v| v.as_str().map(str::to_owned)))
                        .unwrap_or_default()
                }
                other => other.to_string(),
            };
            Ok(serde_json::Value::String(text.to_uppercase()).to_string())
        }
        "sleep" => {
            let ms = input
                .get("ms")
                .and_then(|v| v.as_u64())
                .or(input.as_u64())
                .unwrap_or(100)
                .min(60_000);
            Delay::from(std::time::Duration::from_millis(ms)).await;
            Ok(serde_json::json!({ "sleptMs": ms }).to_string())
        }
        "fail" => {
            let message = input
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("the demo agent 'fail' always fails");
            Err(failure("agent", message))
        }
        other => Err(failure(
            "internal",
            format!(
                "no demo agent '{other}' (there are {})",
                DEMO_AGENTS.join(", ")
            ),
        )),
    }
}
