//! Baton: a deterministic multi-agent orchestrator.
//!
//! [`core`] is the pure state machine (no clock, no I/O, no JS); `js` is the wasm-bindgen layer
//! that the npm package's JavaScript driver uses; `worker` (feature `worker`) is the Cloudflare
//! Worker entry. See `README.md` for the user-facing manual.

pub mod core;

#[cfg(all(target_arch = "wasm32", not(feature = "worker")))]
pub mod js;

#[cfg(all(target_arch = "wasm32", feature = "worker"))]
mod worker;
