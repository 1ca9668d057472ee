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
        format!("'{}' {problem}", shown(id)),
    ))
}

/// A value as an error message quotes it: whole up to 64 bytes, else its start and its length
/// (a message that echoed a 5 MB id would be 5 MB).
pub(crate) fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN_BYTES: usize = 64;
    if text.len() <= SHOWN_BYTES {
        return text.into();
    }
    let cut = (0..=SHOWN_BYTES)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}… ({} bytes)", &text[..cut], text.len()).into()
}

/// The longest message (a reported error, a failed task's, an agent's answer to a failure) kept,
/// in bytes: each is journaled, and a journal row stays far under 1 MiB.
pub const MESSAGE_BYTES_MAX: usize = 16 * 1024;

/// Refuses a text over `max` bytes that the user gives (a name, a reason, a description).
pub(crate) fn check_text(field: &str, text: &str, max: usize) -> crate::core::Result<()> {
    if text.len() > max {
        let why = format!("'{}' is over {max} bytes", shown(text));
        return Err(crate::core::Error::invalid(field, why));
    }
    Ok(())
}

/// An agent's failure message as kept: cut to [`MESSAGE_BYTES_MAX`] (an agent may throw anything;
/// its failure is not refused for being long).
pub(crate) fn kept_message(message: String) -> String {
    if message.len() <= MESSAGE_BYTES_MAX {
        return message;
    }
    let cut = (0..=MESSAGE_BYTES_MAX - 64)
        .rev()
        .find(|&i| message.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}… ({} bytes in all)", &message[..cut], message.len())
}
