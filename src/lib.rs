//! Baton: a deterministic multi-agent orchestrator.
//!
//! [`core`] is the pure state machine (no clock, no I/O, no JS); [`js`] is the wasm-bindgen layer
//! that the npm package's JavaScript driver uses. See `README.md` for the user-facing manual.

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod js;
