//! Sessions and contracts, for provenance. Every call of a task in a session records a REQUEST
//! contract when it starts and a RESPONSE contract when it ends. Each contract carries the hash of
//! the previous contract of its session, so an exported list can be checked for tampering. Hashes
//! are computed when contracts are read (they need the payloads' JSON, which the JS driver hands
//! over only when asked), so recording costs no hashing on the hot path.

use crate::core::ids::{PayloadId, TaskIx};
use crate::core::task::TaskError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
