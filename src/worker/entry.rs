//! The Worker's front door: health and the OpenAPI document, CORS, a per-client rate limit, the
//! bearer token (compared in constant time), the body size cap, and the hand-off of each
//! request to its namespace's Durable Object.

use super::api::{error, error_response, json_response, ApiError, BODY_BYTES_MAX};
use serde_json::json;
use std::cell::RefCell;
use std::collections::BTreeMap;
use worker::{Env, Headers, Method, Request, RequestInit, Response};

/// The Durable Object binding in wrangler.toml.
pub const BINDING: &str = "BATON";
const RATE_PER_MINUTE_DEFAULT: f64 = 1200.0;
const CLIENTS_TRACKED_MAX: usize = 10_000;

thread_local! {
    /// Token buckets by client address: tokens left and when they were counted. Per isolate,
    /// so on Cloudflare a client spread over isolates gets somewhat more.
    static BUCKETS: RefCell<BTreeMap<String, (f64, u64)>> = const { RefCell::new(BTreeMap::new()) };
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .ok()
        .or_else(|| env.var(name).map(|v| v.to_string()).ok())
        .filter(|s| !s.is_empty())
}

/// Equal without an early exit, so the time taken says nothing about where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // Lengths that differ at all make it unequal (folding the difference into a byte would let
    // lengths 65,536 apart pass); the bytes are compared to the longer's end either way.
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

fn take_token(client: &str, per_minute: f64, now: u64) -> Result<(), u64> {
    BUCKETS.with(|b| {
        let mut b = b.borrow_mut();
        if b.len() >= CLIENTS_TRACKED_MAX && !b.contains_key(client) {
            b.clear();
        }
        let (tokens, at) = b.entry(client.to_owned()).or_insert((per_minute, now));
        let refill = (now.saturating_sub(*at)) as f64 * per_minute / 60_000.0;
        *tokens = (*tokens + refill).min(per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - *tokens) * 60_000.0 / per_minute) / 1000.0)
                .ceil()
                .max(1.0) as u64)
        }
    })
}

fn cors_headers(env: &Env, req: &Request) -> Option<Headers> {
    let origin = req.headers().get("origin").ok().flatten()?;
    let allowed = var(env, "BATON_CORS_ORIGINS").unwrap_or_default();
    let ok = allowed
        .split(',')
        .map(str::trim)
        .any(|o| o == "*" || o == origin);
    if !ok {
        return None;
    }
    let h = Headers::new();
    let _ = h.set("access-control-allow-origin", &origin);
    let _ = h.set(
        "access-control-allow-methods",
        "GET, POST, PUT, DELETE, OPTIONS",
    );
    let _ = h.set(
        "access-control-allow-headers",
        "authorization, content-type, x-baton-namespace, last-event-id",
    );
    // So that a page can read a 429's Retry-After and a 405's Allow.
    let _ = h.set("access-control-expose-headers", "retry-after, allow");
    let _ = h.set("access-control-max-age", "600");
    let _ = h.set("vary", "origin");
    Some(h)
}

/// Adds the CORS headers. A response from the Durable Object has immutable headers, so they are
/// copied into a new `Headers` with the CORS ones added.
fn with_cors(resp: Response, cors: &Option<Headers>) -> Response {
    let Some(c) = cors else {
        return resp;
    };
    let h = Headers::new();
    for (k, v) in resp.headers().entries().chain(c.entries()) {
        let _ = h.set(&k, &v);
    }
    resp.with_headers(h)
}

pub async fn handle(req: Request, env: Env) -> worker::Result<Response> {
    let cors = cors_headers(&env, &req);
    let head = req.method() == Method::Head;
    let resp = match route(req, &env).await {
        Ok(r) => r,
        Err(e) => {
            let mut r = error_response(&e);
            if e.status == 401 {
                let _ = r.headers_mut().set("www-authenticate", "Bearer");
            }
            r
        }
    };
    // HEAD is answered as GET is, without the body.
    let resp = if head {
        let status = resp.status_code();
        let headers = resp.headers().clone();
        Response::empty()?.with_status(status).with_headers(headers)
    } else {
        resp
    };
    Ok(with_cors(resp, &cors))
}

async fn route(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let url = req
        .url()
        .map_err(|e| error(400, "bad_request", e.to_string()))?;
    let path = url.path().to_owned();
    let method = match req.method() {
        // A HEAD is a GET whose body `handle` drops; a stream has no HEAD.
        Method::Head if path.trim_end_matches('/').ends_with("/events") => {
            return Err(super::api::not_allowed("GET"))
        }
        Method::Head => Method::Get,
        m => m,
    };
    if method == Method::Options {
        let has_origin = req.headers().get("origin").ok().flatten().is_some();
        return if cors_headers(env, &req).is_some() {
            Ok(Response::empty().expect("empty").with_status(204))
        } else if !has_origin {
            // Not a CORS preflight: say what the API takes.
            let mut r = Response::empty().expect("empty").with_status(204);
            let _ = (r.headers_mut()).set("allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
            Ok(r)
        } else {
            Err(error(
                403,
                "cors_refused",
                "this origin is not in BATON_CORS_ORIGINS",
            ))
        };
    }
    // A trailing slash is the same route, here as for every other one.
    match path.trim_end_matches('/') {
        "/v1/health" | "/health" => {
            return if method == Method::Get {
                Ok(json_response(200, &json!({ "status": "ok" })))
            } else {
                Err(super::api::not_allowed("GET"))
            };
        }
        "/openapi.json" => {
            return if method == Method::Get {
                // Like every route but health, it needs a token: any namespace's will do (and,
                // as they are, it is rate limited: no unlimited guessing of tokens here).
                rate_limit(&req, env)?;
                authorize(&req, env, None, "/openapi.json", &url)?;
                Ok(json_response(200, &super::openapi::document()))
            } else {
                Err(super::api::not_allowed("GET"))
            };
        }
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/v1/") else {
        return Err(error(
            404,
            "not_found",
            format!("no route {path}; the API is under /v1 (see /openapi.json)"),
        ));
    };

    rate_limit(&req, env)?;

    // The namespace: /v1/ns/{ns}/..., or the X-Baton-Namespace header, or "default".
    let (ns, inner) = match rest.strip_prefix("ns/") {
        Some(r) => {
            let (ns, inner) = r.split_once('/').unwrap_or((r, ""));
            (ns.to_owned(), format!("/{inner}"))
        }
        None => (
            req.headers()
                .get("x-baton-namespace")
                .ok()
                .flatten()
                .unwrap_or_else(|| "default".into()),
            format!("/{rest}"),
        ),
    };
    if ns.is_empty()
        || ns.len() > 64
        || !ns
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(error(
            400,
            "invalid_namespace",
            "a namespace is 1 to 64 letters, digits, '-' or '_'",
        ));
    }

    // Health under a namespace too, with no token, as at /v1/health.
    if inner.trim_end_matches('/') == "/health" {
        return if method == Method::Get {
            Ok(json_response(200, &json!({ "status": "ok" })))
        } else {
            Err(super::api::not_allowed("GET"))
        };
    }
    authorize(&req, env, Some(&ns), &inner, &url)?;

    if let Some(len) = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|l| l.parse::<usize>().ok())
    {
        if len > BODY_BYTES_MAX {
            return Err(error(
                413,
                "payload_too_large",
                format!("the body is {len} bytes; the limit is {BODY_BYTES_MAX}"),
            ));
        }
    }
    let body = if method == Method::Get || method == Method::Head {
        Vec::new()
    } else {
        req.bytes()
            .await
            .map_err(|e| error(400, "bad_request", e.to_string()))?
    };
    if body.len() > BODY_BYTES_MAX {
        return Err(error(
            413,
            "payload_too_large",
            format!(
                "the body is {} bytes; the limit is {BODY_BYTES_MAX}",
                body.len()
            ),
        ));
    }

    let headers = Headers::new();
    for (k, v) in req.headers().entries() {
        if k != "authorization" {
            let _ = headers.set(&k, &v);
        }
    }
    let mut init = RequestInit::new();
    init.with_method(method.clone()).with_headers(headers);
    if !body.is_empty() {
        init.with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
    }
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    let inner_req = Request::new_with_init(&format!("https://baton.internal{inner}{query}"), &init)
        .map_err(|e| error(500, "internal", e.to_string()))?;
    let stub = env
        .durable_object(BINDING)
        .and_then(|ns_binding| ns_binding.id_from_name(&ns)?.get_stub())
        .map_err(|e| {
            error(
                500,
                "internal",
                format!("the Durable Object binding '{BINDING}' is missing: {e}"),
            )
        })?;
    stub.fetch_with_request(inner_req)
        .await
        .map_err(|e| error(503, "unavailable", e.to_string()))
}

/// The per-client rate limit (by the connecting IP): 429 with `Retry-After` beyond it.
fn rate_limit(req: &Request, env: &Env) -> Result<(), ApiError> {
    let client = req
        .headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .or_else(|| req.headers().get("x-forwarded-for").ok().flatten())
        .unwrap_or_else(|| "local".into());
    let per_minute = var(env, "BATON_RATE_LIMIT_PER_MINUTE")
        .and_then(|v| v.parse().ok())
        .unwrap_or(RATE_PER_MINUTE_DEFAULT);
    take_token(&client, per_minute, super::runtime::now()).map_err(|secs| {
        error(
            429,
            "rate_limit",
            format!("too many requests; retry after {secs} s"),
        )
    })
}

/// Every route but health needs `Authorization: Bearer <BATON_API_TOKEN>` (or, for the event
/// stream, which browsers open without headers, `?token=`). A token listed for one namespace in
/// BATON_NAMESPACE_TOKENS (`ns=token,...`) opens that namespace only; `ns` is None for a route
/// of no namespace (`/openapi.json`), which any valid token opens.
fn authorize(
    req: &Request,
    env: &Env,
    ns: Option<&str>,
    inner: &str,
    url: &worker::Url,
) -> Result<(), ApiError> {
    let given = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        // The scheme's name is case-insensitive (RFC 7235).
        .and_then(|h| {
            let (scheme, token) = h.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        })
        .or_else(|| {
            (inner.trim_end_matches('/') == "/events")
                .then(|| {
                    url.query_pairs()
                        .find(|(k, _)| k == "token")
                        .map(|(_, v)| v.into_owned())
                })
                .flatten()
        });
    let Some(given) = given else {
        return Err(error(
            401,
            "unauthorized",
            "send Authorization: Bearer <token>",
        ));
    };
    let admin = var(env, "BATON_API_TOKEN").ok_or_else(|| error(503, "not_configured", "set the BATON_API_TOKEN secret (wrangler secret put BATON_API_TOKEN, or .dev.vars locally)"))?;
    if constant_time_eq(given.as_bytes(), admin.as_bytes()) {
        return Ok(());
    }
    let scoped = var(env, "BATON_NAMESPACE_TOKENS").unwrap_or_default();
    for pair in scoped.split(',') {
        if let Some((n, t)) = pair.trim().split_once('=') {
            if n.is_empty() || t.is_empty() {
                continue;
            }
            if constant_time_eq(given.as_bytes(), t.as_bytes()) {
                return match ns {
                    Some(ns) if n != ns => Err(error(
                        403,
                        "forbidden",
                        format!("this token is for another namespace, not '{ns}'"),
                    )),
                    _ => Ok(()),
                };
            }
        }
    }
    Err(error(401, "unauthorized", "the token is not valid"))
}
