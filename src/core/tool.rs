//! The tool registry: named tools (the functions stay with the driver), per-agent grants and a
//! rate limit per tool. A call that is not granted is refused with class `permission`, one over
//! the limit with class `rate_limit`; every call and refusal is in the journal.

use crate::core::policy::{Bucket, RateLimit};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    pub spec: ToolSpec,
    #[serde(default)]
    pub bucket: Bucket,
    #[serde(default)]
    pub calls: u64,
    #[serde(default)]
    pub failures: u64,
}

/// A tool call in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCall {
    pub tool: String,
    pub agent: crate::core::ids::AgentIx,
}
