//! Small index types. Inside the core, agents, tasks and workflows are named by their index in a
//! `Vec` (stable for the life of the state: nothing is ever removed). They cross into JS as plain
//! integers, which is what keeps the hot path cheap; user-facing ids are strings.

use serde::{Deserialize, Serialize};

macro_rules! index_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub(crate) u32);

        impl $name {
            /// The raw index, for drivers that hold per-item values in their own arrays.
            pub fn index(self) -> u32 {
                self.0
            }
            pub(crate) fn usize(self) -> usize {
                self.0 as usize
            }
        }
    };
}

index_type!(
    /// An agent's position in registration order.
    AgentIx
);
index_type!(
    /// A task's position in creation order (also its submission sequence number).
    TaskIx
);
index_type!(
    /// A workflow's position in submission order.
    WorkflowIx
);

/// A handle to a JSON payload (task input, output, metadata, custom event data). The driver may
/// hold the live value and hand the core its JSON only when the journal or a snapshot is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PayloadId(pub(crate) u32);

impl PayloadId {
    /// No payload (JS `undefined` or `null`).
    pub const NONE: PayloadId = PayloadId(u32::MAX);

    pub fn index(self) -> u32 {
        self.0
    }
    pub fn is_none(self) -> bool {
        self == PayloadId::NONE
    }

    /// For `skip_serializing_if`.
    pub fn is_none_ref(&self) -> bool {
        self.is_none()
    }
}

/// The longest id Baton accepts, in bytes.
pub const ID_BYTES_MAX: usize = 128;

/// User-chosen ids: non-empty, at most [`ID_BYTES_MAX`] bytes, no `/` (it joins a workflow id and
/// a task id) and no control characters.
pub(crate) fn check_id(field: &str, id: &str) -> crate::core::Result<()> {
    let problem = if id.is_empty() {
        "must not be empty"
    } else if id.len() > ID_BYTES_MAX {
        "must be at most 128 bytes"
    } else if id.contains('/') {
        "must not contain '/'"
    } else if id.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(crate::core::Error::invalid(
        field,
        format!("'{id}' {problem}"),
    ))
}
