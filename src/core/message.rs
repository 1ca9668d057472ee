//! Messages between agents: a mailbox per agent, and each message's status goes
//! sent → delivered (the recipient read its inbox) → acknowledged.

use crate::core::ids::{AgentIx, PayloadId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Sent,
    Delivered,
    Acknowledged,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub from: AgentIx,
    pub to: AgentIx,
    pub payload: PayloadId,
    pub status: MessageStatus,
    pub sent_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<u64>,
}

/// Message ids are `msg-<n>`, n counting from 1 in sending order.
pub fn message_id(ix: usize) -> String {
    format!("msg-{}", ix + 1)
}

pub fn parse_message_id(id: &str) -> Option<usize> {
    let n: usize = id.strip_prefix("msg-")?.parse().ok()?;
    (n > 0 && id == message_id(n - 1)).then_some(n - 1)
}
