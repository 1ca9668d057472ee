//! Sessions and contracts, for provenance. Every call of a task in a session records a REQUEST
//! contract when it starts and a RESPONSE contract when it ends. Each contract carries the hash of
//! the previous contract of its session, so an exported list can be checked for tampering. Hashes
//! are computed when contracts are read (they need the payloads' JSON, which the JS driver hands
//! over only when asked), so recording costs no hashing on the hot path.

use crate::core::ids::{PayloadId, TaskIx};
use crate::core::task::TaskError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ContractKind {
    Request,
    Response,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractStatus {
    Sent,
    Completed,
    Failed,
    Cancelled,
    /// The process died with the call in flight; it was issued again.
    Lost,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contract {
    pub n: u64,
    pub kind: ContractKind,
    pub task: TaskIx,
    pub call: u32,
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<Box<str>>,
    pub status: ContractStatus,
    /// The input (REQUEST) or the result (RESPONSE).
    pub payload: PayloadId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    pub at: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub contracts: Vec<Contract>,
    /// The summarizer's answer from `compressSession`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<PayloadId>,
    /// How many contracts the memory block summarizes.
    #[serde(default)]
    pub memory_covers: u32,
}

/// A contract as users see it, in the order its fields are hashed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractView {
    pub id: String,
    pub kind: ContractKind,
    pub session_id: String,
    pub task_id: String,
    pub call: u32,
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    pub status: ContractStatus,
    pub payload: Box<serde_json::value::RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    pub at: u64,
    #[serde(default)]
    pub prev_hash: String,
    #[serde(default)]
    pub hash: String,
}

/// The hash of a contract: SHA-256 over the previous hash and the contract's JSON without its
/// hashes, hex.
pub fn contract_hash(prev_hash: &str, view: &ContractView) -> String {
    let mut bare = view.clone();
    bare.prev_hash = String::new();
    bare.hash = String::new();
    let json = serde_json::to_string(&bare).expect("a contract serializes");
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(json.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a list of contracts (as `contracts()` returned them, perhaps stored elsewhere since):
/// each `prevHash` is the previous `hash` and each `hash` matches the contract's content.
/// Returns the id of the first broken contract.
pub fn verify_chain(list: &[ContractView]) -> Result<usize, String> {
    let mut prev = String::new();
    for c in list {
        if c.prev_hash != prev {
            return Err(format!(
                "contract {} does not follow the previous one (prevHash differs)",
                c.id
            ));
        }
        let want = contract_hash(&prev, c);
        if c.hash != want {
            return Err(format!(
                "contract {} was altered (its hash does not match its content)",
                c.id
            ));
        }
        prev = want;
    }
    Ok(list.len())
}

/// A contract's payload is its task's input (REQUEST) or output (RESPONSE), one slot for both
/// while the run lives; a snapshot writes each out whole, so a load gives them a slot each. This
/// points the contracts back at their tasks' slots, so that a restarted run holds a session's
/// payloads once, as the run before it did.
pub(crate) fn share_payloads(
    state: &mut crate::core::state::State,
    payloads: &mut crate::core::payload::Payloads,
) {
    let tasks = &state.tasks;
    // A session's memory is the output of its last summarizer task.
    let mut summarized: BTreeMap<&str, PayloadId> = BTreeMap::new();
    for task in tasks.iter() {
        if let Some(s) = task.extra.as_ref().and_then(|x| x.compresses.as_deref()) {
            if task.output != PayloadId::NONE {
                summarized.insert(s, task.output);
            }
        }
    }
    let same = |payloads: &crate::core::payload::Payloads, a: PayloadId, b: PayloadId| {
        a != b
            && matches!((payloads.get(a), payloads.get(b)), (Some(x), Some(y)) if x.get() == y.get())
    };
    for (name, session) in state.sessions.iter_mut() {
        if let (Some(memory), Some(&own)) = (session.memory, summarized.get(name.as_str())) {
            if same(payloads, own, memory) {
                payloads.forget(memory);
                session.memory = Some(own);
            }
        }
        for c in &mut session.contracts {
            let Some(task) = tasks.get(c.task.0 as usize) else {
                continue;
            };
            let own = match c.kind {
                ContractKind::Request => task.input,
                ContractKind::Response => task.output,
            };
            if same(payloads, own, c.payload) {
                payloads.forget(c.payload);
                c.payload = own;
            }
        }
    }
}
