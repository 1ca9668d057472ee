//! Conversions at the JS boundary, in one place: errors become `Error` objects with a stable
//! `code`, times become integer milliseconds, JSON text becomes Rust values.

use crate::core::Error;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

/// Every user error reaches JS here: an `Error` whose `code` is [`Error::code`].
pub(crate) fn js_error(e: Error) -> JsValue {
    let err = coded(e.code(), &e.to_string());
    if let Error::RateLimited { retry_after_ms, .. } = e {
        // Read by the driver when the refusal fails a task: its retry waits for the token.
        js_sys::Reflect::set(
            &err,
            &"retryAfterMs".into(),
            &(retry_after_ms as f64).into(),
        )
        .expect("setting a property on a fresh Error");
    }
    err
}

pub(crate) fn coded(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("BatonError");
    js_sys::Reflect::set(&err, &"code".into(), &code.into())
        .expect("setting a property on a fresh Error");
    err.into()
}

pub(crate) type JsResult<T> = Result<T, JsValue>;

pub(crate) trait IntoJs<T> {
    fn js(self) -> JsResult<T>;
}

impl<T> IntoJs<T> for crate::core::Result<T> {
    fn js(self) -> JsResult<T> {
        self.map_err(js_error)
    }
}

/// A time from JS (`Date.now()` or the virtual clock). Drivers pass integers; anything else is
/// clamped rather than trusted, since time only ever moves forward inside the core.
pub(crate) fn ms(now: f64) -> u64 {
    if now.is_finite() && now > 0.0 {
        now.min(crate::core::SEED_MAX as f64) as u64
    } else {
        0
    }
}

/// Parses a JSON argument; the error names the field at fault (`retry.maxAttempts`).
pub(crate) fn parse<T: DeserializeOwned>(what: &str, json: &str) -> JsResult<T> {
    crate::core::error::decode(what, json).js()
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("views serialize")
}
