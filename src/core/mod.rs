//! The deterministic core: a state machine with no clock, no I/O, no JS and no awaits.
//!
//! # The run loop
//!
//! A driver (the JS package, the Worker, or a test) owns one [`Orchestrator`] and repeats:
//!
//! 1. feed one input — a command (`register_agent`, `submit`, `pause_agent`, ...), an agent's
//!    outcome (`complete`, `fail`), or the passage of time (`handle_timeout`) — each with `now`,
//!    the time in milliseconds the driver read;
//! 2. drain [`Orchestrator::poll_effect`] until it returns `None`, carrying out each [`Effect`]
//!    (start an agent call, abort one, wake a waiter);
//! 3. arm its one timer for [`Orchestrator::next_deadline`].
//!
//! # Invariants
//!
//! - Every state change is an [`event::Event`] with a sequence number, appended to the journal and
//!   then applied by [`state::State::apply`], which decides nothing. Replaying a journal therefore
//!   rebuilds the state exactly, and a snapshot is only a cache of that fold.
//! - Iteration order is fixed everywhere (`Vec`, `BTreeMap`, `VecDeque`); randomness comes from
//!   one PRNG seeded at construction and recorded in the journal's first record. The same seed,
//!   the same inputs and the same times give a byte-identical journal on every platform.
//! - A refused command returns an [`Error`] and changes nothing.
//! - Agents' inputs and outputs are [`ids::PayloadId`] handles: the core never copies a payload
//!   on the hot path; drivers resolve handles to JSON only when the journal or a snapshot is written.

pub mod adjacency;
pub mod agent;
pub mod calls;
mod capability;
pub mod chunked;
pub mod error;
pub mod event;
pub mod ids;
pub mod journal;
pub(crate) mod json_path;
pub mod message;
pub mod names;
mod options;
pub mod orchestrator;
pub mod pattern;
pub mod payload;
pub mod policy;
pub mod queue;
pub(crate) mod replay_check;
pub mod schedule;
pub mod session;
pub mod snapshot;
pub mod state;
pub(crate) mod tagged;
pub mod task;
pub mod template;
pub mod timer;
pub mod tool;
pub mod verify;
pub mod views;
pub(crate) mod width;
pub(crate) mod wire;
pub mod workflow;

pub use error::{Error, Result};
pub use options::Options;
pub use orchestrator::{AbortReason, Effect, Orchestrator};

/// The version of the journal and snapshot formats this build writes.
pub const FORMAT_VERSION: u32 = 1;

/// Seeds must survive a trip through a JS number.
pub const SEED_MAX: u64 = (1 << 53) - 1;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_failures;
#[cfg(test)]
mod tests_model;
