//! How state and events become JSON and back.
//!
//! Inside the core, events name tasks and agents by index and carry payloads by [`PayloadId`]:
//! nothing is formatted or copied on the hot path. Serialization happens only when the journal or
//! a snapshot is written out, inside [`with_context`], which lends the serializers the state (to
//! turn an index into its user-facing id) and the payload table (to inline the payload's JSON).
//! Deserialization uses the same context in reverse: ids are looked up in the state being rebuilt
//! and payload JSON is stored into the table, byte for byte (no re-formatting, so a journal
//! replayed and written out again is byte-identical).

use crate::core::ids::{AgentIx, PayloadId, TaskIx, WorkflowIx};
use crate::core::payload::Payloads;
use crate::core::state::State;
use serde::de::{self, Deserializer};
use serde::ser::{Error as _, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::cell::{Cell, RefCell};

/// What serializers may look at while a journal or snapshot is written or read.
pub(crate) struct Context<'a> {
    pub state: Option<&'a State>,
    pub payloads: &'a RefCell<Payloads>,
}

thread_local! {
    static CONTEXT: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` with `ctx` lent to the serializers of this module.
pub(crate) fn with_context<R>(ctx: &Context<'_>, f: impl FnOnce() -> R) -> R {
    struct Restore(*const ());
    impl Drop for Restore {
        fn drop(&mut self) {
            CONTEXT.with(|c| c.set(self.0));
        }
    }
    let previous = CONTEXT.with(|c| c.replace(ctx as *const Context<'_> as *const ()));
    let _restore = Restore(previous);
    f()
}

fn current<R>(f: impl FnOnce(&Context<'_>) -> R) -> Option<R> {
    let p = CONTEXT.with(|c| c.get());
    if p.is_null() {
        return None;
    }
    // SAFETY: a non-null pointer was set by `with_context` from a `&Context` that outlives the
    // closure it runs, and is reset when that closure returns (or unwinds); `current` is only
    // reached from serializers called inside that closure, on the same thread.
    Some(f(unsafe { &*(p as *const Context<'_>) }))
}

const NO_CONTEXT: &str = "serialized outside a journal/snapshot context";

impl Serialize for PayloadId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_none() {
            return s.serialize_none();
        }
        current(|c| match c.payloads.borrow().get(*self) {
            Some(raw) => raw.serialize(s),
            None => Err(S::Error::custom(format!(
                "payload {} was never resolved by the driver",
                self.0
            ))),
        })
        .unwrap_or_else(|| Err(S::Error::custom(NO_CONTEXT)))
    }
}

impl<'de> Deserialize<'de> for PayloadId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        current(|c| c.payloads.borrow_mut().alloc_raw(raw))
            .ok_or_else(|| de::Error::custom(NO_CONTEXT))
    }
}

/// A task named in an event: written as its user-facing id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskRef(pub TaskIx);
/// An agent named in an event: written as its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentRef(pub AgentIx);
/// A workflow named in an event: written as its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkflowRef(pub WorkflowIx);

macro_rules! ref_serde {
    ($ty:ident, $what:literal, $name:ident, $lookup:ident) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match current(|c| c.state.and_then(|st| st.$name(self.0))) {
                    Some(Some(id)) => s.serialize_str(&id),
                    _ => Err(S::Error::custom(NO_CONTEXT)),
                }
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let id = std::borrow::Cow::<str>::deserialize(d)?;
                match current(|c| c.state.and_then(|st| st.$lookup(&id))) {
                    Some(Some(ix)) => Ok($ty(ix)),
                    Some(None) => Err(de::Error::custom(format!(
                        concat!("unknown ", $what, " '{}'"),
                        id
                    ))),
                    None => Err(de::Error::custom(NO_CONTEXT)),
                }
            }
        }
    };
}
ref_serde!(TaskRef, "task", task_id, task_ix);
ref_serde!(AgentRef, "agent", agent_id, agent_ix);
ref_serde!(WorkflowRef, "workflow", workflow_id, workflow_ix);
