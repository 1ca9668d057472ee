//! Errors a user can cause. Each variant has a stable `code` (snake_case) that the JS driver puts on
//! the thrown `Error` and the Worker puts in `{ "error": { "code", "message" } }`. Messages name the
//! culprit so a user can fix the call without reading Baton's source.

use crate::core::agent::AgentStatus;
use crate::core::ids::shown;
use crate::core::task::TaskStatus;

/// Everything a command can refuse. A refused command leaves the state unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No agent has this id. Register it first, or check the spelling.
    #[error("unknown agent '{}'", shown(.0))]
    UnknownAgent(String),
    /// No task has this id.
    #[error("unknown task '{}'", shown(.0))]
    UnknownTask(String),
    /// No workflow has this id.
    #[error("unknown workflow '{}'", shown(.0))]
    UnknownWorkflow(String),
    /// No snapshot has this id (it may have been pruned: see `snapshots_kept_max`).
    #[error("unknown snapshot '{}'", shown(.0))]
    UnknownSnapshot(String),
    /// An id that must be unique is already taken.
    #[error("duplicate {kind} id '{}'", shown(.id))]
    DuplicateId { kind: &'static str, id: String },
    /// The agent lifecycle has no such edge; the message names both states.
    #[error("agent '{agent}' cannot go from {from} to {to}{}", .needs.map(|n| format!(": {n}")).unwrap_or_default())]
    IllegalTransition {
        agent: String,
        from: AgentStatus,
        to: AgentStatus,
        /// For a command that takes only some states (`resume`, `recover`): which.
        needs: Option<&'static str>,
    },
    /// The task is not in a status that allows this operation.
    #[error("task '{task}' is {status}; {action} needs it {expected}")]
    TaskState {
        task: String,
        status: TaskStatus,
        action: &'static str,
        expected: &'static str,
    },
    /// The agent cannot take this task in its current status.
    #[error("agent '{agent}' is {status} and cannot take tasks")]
    AgentUnavailable { agent: String, status: AgentStatus },
    /// A workflow task depends on a task id the workflow does not have.
    #[error("workflow '{workflow}': task '{task}' depends on unknown task '{dependency}'")]
    UnknownDependency {
        workflow: String,
        task: String,
        dependency: String,
    },
    /// A key of a workflow's `dependencies` that is not one of its tasks.
    #[error("workflow '{workflow}': dependencies names '{task}', which is not one of its tasks")]
    UnknownDependent { workflow: String, task: String },
    /// The workflow's dependencies form a cycle; the message lists it.
    #[error("workflow '{workflow}' has a dependency cycle: {}", cycle_text(cycle))]
    Cycle {
        workflow: String,
        cycle: Vec<String>,
    },
    /// A field has a value outside what Baton accepts; the message says what is allowed.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// A limit was reached; the message names the limit and its value.
    #[error("limit reached: {limit} = {value}")]
    LimitReached { limit: &'static str, value: u64 },
    /// A snapshot or journal could not be decoded.
    #[error("cannot decode {what}: {reason}")]
    Decode { what: &'static str, reason: String },
    /// A payload is not valid JSON or is larger than the limit.
    #[error("payload: {0}")]
    Payload(String),
    /// The orchestrator was terminated (the `terminate` strategy) and takes no new work.
    #[error("the orchestrator was terminated: {0}")]
    Terminated(String),
    /// No template has this name (and version).
    #[error("unknown template '{}'", shown(.0))]
    UnknownTemplate(String),
    /// No message has this id.
    #[error("unknown message '{}'", shown(.0))]
    UnknownMessage(String),
    /// No tool has this name: register it first.
    #[error("unknown tool '{}'", shown(.0))]
    UnknownTool(String),
    /// The agent was not granted the tool.
    #[error("agent '{agent}' may not call tool '{tool}': grant it with grantTools")]
    Permission { agent: String, tool: String },
    /// The tool's rate limit is spent; its next token comes in `retry_after_ms`. The message
    /// says when in whole seconds, as an HTTP `Retry-After` would.
    #[error("tool '{tool}' is over its rate limit; retry after {} s", retry_after_ms.div_ceil(1000).max(1))]
    RateLimited { tool: String, retry_after_ms: u64 },
    /// No job has this id.
    #[error("unknown job '{}'", shown(.0))]
    UnknownJob(String),
    /// A job or workflow cannot do this in its current state (pause a paused job, cancel a
    /// finished workflow): a conflict with the state, not a bad argument.
    #[error("{what} {reason}")]
    InvalidState { what: &'static str, reason: String },
    /// A cron expression that does not parse.
    #[error("invalid cron: {0}")]
    InvalidCron(String),
    /// No pattern run has this id.
    #[error("unknown run '{}'", shown(.0))]
    UnknownRun(String),
    /// No running agent has the capability a fallback or a routed task asks for.
    #[error("no agent available for capability {0}")]
    NoCapableAgent(String),
}

impl Error {
    /// An illegal transition refused by a command that takes only some states, saying which.
    pub(crate) fn needing(self, needs: &'static str) -> Error {
        match self {
            Error::IllegalTransition {
                agent, from, to, ..
            } => Error::IllegalTransition {
                agent,
                from,
                to,
                needs: Some(needs),
            },
            other => other,
        }
    }

    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::UnknownAgent(_) => "unknown_agent",
            Error::UnknownTask(_) => "unknown_task",
            Error::UnknownWorkflow(_) => "unknown_workflow",
            Error::UnknownSnapshot(_) => "unknown_snapshot",
            Error::DuplicateId { .. } => "duplicate_id",
            Error::IllegalTransition { .. } => "illegal_transition",
            Error::TaskState { .. } => "invalid_task_state",
            Error::AgentUnavailable { .. } => "agent_unavailable",
            Error::UnknownDependency { .. } | Error::UnknownDependent { .. } => {
                "unknown_dependency"
            }
            Error::Cycle { .. } => "cycle",
            Error::Invalid { .. } => "invalid_argument",
            Error::LimitReached { .. } => "limit_reached",
            Error::Decode { .. } => "decode_error",
            Error::Payload(_) => "invalid_payload",
            Error::Terminated(_) => "terminated",
            Error::NoCapableAgent(_) => "no_capable_agent",
            Error::UnknownTemplate(_) => "unknown_template",
            Error::UnknownMessage(_) => "unknown_message",
            Error::UnknownTool(_) => "unknown_tool",
            Error::Permission { .. } => "permission",
            Error::RateLimited { .. } => "rate_limit",
            Error::UnknownJob(_) => "unknown_job",
            Error::InvalidState { .. } => "invalid_state",
            Error::InvalidCron(_) => "invalid_cron",
            Error::UnknownRun(_) => "unknown_run",
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A cycle as a message shows it: whole while short, else its ends and its length (a cycle
/// through 100,000 tasks made a message of a megabyte).
fn cycle_text(cycle: &[String]) -> String {
    const SHOWN_IDS: usize = 8;
    let ids = |ids: &[String]| {
        let shown: Vec<_> = ids.iter().map(|id| shown(id)).collect();
        shown.join(" -> ")
    };
    if cycle.len() <= SHOWN_IDS {
        return ids(cycle);
    }
    let (head, tail) = (
        &cycle[..SHOWN_IDS / 2],
        &cycle[cycle.len() - SHOWN_IDS / 2..],
    );
    // The first task closes the cycle at its end too.
    let tasks = cycle.len() - usize::from(cycle.first() == cycle.last());
    format!("{} -> … -> {} ({tasks} tasks)", ids(head), ids(tail))
}

/// Decodes a command's JSON argument. A refusal names the field at fault
/// (`invalid agent.retry.maxAttempts: ...`), the same in every driver.
pub fn decode<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| refused(what, json, &e))
}

/// The refusal `decode` gives: not generic, so compiled once rather than per argument type.
fn refused(what: &str, json: &str, e: &serde_json::Error) -> Error {
    let path = crate::core::json_path::shown(&crate::core::json_path::path_of(json, e));
    let field = if path == "." {
        what.to_owned()
    } else {
        format!("{what}.{path}")
    };
    let mut reason = e.to_string();
    if let Some(cut) = reason.find(" at line ") {
        reason.truncate(cut);
    }
    // What JS's JSON.stringify writes for a string holding half a surrogate pair.
    if reason.contains("hex escape") && json.to_ascii_lowercase().contains("\\ud") {
        reason = "a string holds a lone UTF-16 surrogate (half of a pair, \\uD800 to \\uDFFF), which is not Unicode text".into();
    }
    Error::invalid(field, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_surrogate_is_named() {
        let e =
            decode::<crate::core::agent::AgentSpec>("agent", r#"{"id":"x\ud800y"}"#).unwrap_err();
        assert_eq!(e.code(), "invalid_argument");
        assert!(
            e.to_string()
                .contains("agent.id: a string holds a lone UTF-16 surrogate"),
            "{e}"
        );
    }

    #[test]
    fn transition_error_names_both_states() {
        let e = Error::IllegalTransition {
            needs: None,
            agent: "a".into(),
            from: AgentStatus::Created,
            to: AgentStatus::Paused,
        };
        assert_eq!(e.code(), "illegal_transition");
        assert_eq!(e.to_string(), "agent 'a' cannot go from Created to Paused");
    }
}
