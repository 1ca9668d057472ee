//! The wasm-bindgen layer: one low-level class, `Core`, that the package's JavaScript driver
//! (`js/driver.js`) wraps into the user-facing `Orchestrator`.
//!
//! The split follows what crossings cost (DESIGN.md §6): JS calling wasm with integers is nearly
//! free, wasm calling JS is not. So `Core` never calls JS: it takes small integers and strings,
//! returns small integers, and hands out effects one by one through `poll()`. JS values (handlers,
//! inputs, outputs) stay in the driver's arrays, indexed by the integers the core hands out.
//! Structured values cross as JSON text, only off the hot path.

mod agents;
mod core;
mod interop;
mod model;
mod tasks;

pub use self::core::Core;
