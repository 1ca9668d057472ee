//! Limits and settings of one orchestrator. Every limit has its unit in its name.

use crate::core::policy::{ErrorPolicy, RetryPolicy};
use crate::core::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Options {
    /// Agent calls in flight at once, over all agents; `None` is unlimited.
    pub max_concurrency: Option<u32>,
    /// Tasks waiting (pending or queued) at once; `submit` beyond it is refused.
    pub queue_depth_max: u32,
    pub agents_max: u32,
    pub workflow_tasks_max: u32,
    /// Largest JSON of one payload (input, output, metadata, event data).
    pub payload_bytes_max: u32,
    /// Snapshot summaries kept in the list; older ones are dropped.
    pub snapshots_kept_max: u32,
    /// Lifecycle transitions kept per agent; older ones are dropped.
    pub history_rows_max: u32,
    /// Journal records kept in memory; older ones are dropped (take snapshots to keep a
    /// restorable point).
    pub journal_rows_max: u32,
    /// Aborted calls (timed out, cancelled) remembered so their late results are recognised.
    pub late_calls_max: u32,
    /// The retry policy of tasks whose task and agent set none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// The per-attempt timeout of tasks whose task and agent set none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Strategies per error class, under the task's and the agent's.
    #[serde(skip_serializing_if = "ErrorPolicy::is_empty")]
    pub on_error: ErrorPolicy,
    /// A listed snapshot (reason `every`) each time this many records have been written since
    /// the last one: DESIGN's "every N events". Off when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_every_events: Option<u32>,
    /// The driver runs this orchestrator on a virtual clock. The core reads no clock either way:
    /// this is recorded so that a restore or a reopened store goes on on the clock the run had.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub virtual_clock: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_concurrency: None,
            queue_depth_max: 2_000_000,
            agents_max: 100_000,
            workflow_tasks_max: 100_000,
            payload_bytes_max: crate::core::payload::PAYLOAD_BYTES_MAX_DEFAULT as u32,
            snapshots_kept_max: 100,
            history_rows_max: 1_000,
            journal_rows_max: 10_000_000,
            late_calls_max: 100_000,
            retry: None,
            timeout_ms: None,
            on_error: ErrorPolicy::new(),
            snapshot_every_events: None,
            virtual_clock: false,
        }
    }
}

impl Options {
    /// The keys of `given` (JSON options, as a new run takes them) whose value differs from
    /// these, each compared with its defaults filled in: a resumed run keeps its recorded
    /// options, and only a real difference is worth telling the caller about.
    pub fn differing(&self, given: &str) -> Result<Vec<String>> {
        let keys: serde_json::Map<String, serde_json::Value> =
            crate::core::error::decode("options", given)?;
        let given: Options = crate::core::error::decode("options", given)?;
        let (given, recorded) = (serde_json::to_value(given), serde_json::to_value(self));
        let (Ok(given), Ok(recorded)) = (given, recorded) else {
            return Ok(keys.into_iter().map(|(k, _)| k).collect());
        };
        Ok((keys.into_iter().map(|(k, _)| k))
            .filter(|k| given.get(k) != recorded.get(k))
            .collect())
    }

    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("maxConcurrency", self.max_concurrency.unwrap_or(1)),
            ("queueDepthMax", self.queue_depth_max),
            ("agentsMax", self.agents_max),
            ("workflowTasksMax", self.workflow_tasks_max),
            ("payloadBytesMax", self.payload_bytes_max),
            ("snapshotsKeptMax", self.snapshots_kept_max),
            ("historyRowsMax", self.history_rows_max),
            ("journalRowsMax", self.journal_rows_max),
            ("lateCallsMax", self.late_calls_max),
            (
                "snapshotEveryEvents",
                self.snapshot_every_events.unwrap_or(1),
            ),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(Error::invalid(name, "must be at least 1"));
            }
        }
        let defaults = crate::core::policy::Policy {
            retry: self.retry.clone(),
            timeout_ms: self.timeout_ms,
            on_error: self.on_error.clone(),
            fallback: None,
        };
        defaults.validate("options")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_compares_with_defaults_filled_in() {
        let recorded = Options {
            max_concurrency: Some(4),
            ..Options::default()
        };
        let same = r#"{"maxConcurrency":4}"#;
        assert_eq!(recorded.differing(same).unwrap(), Vec::<String>::new());
        let other = r#"{"maxConcurrency":5,"agentsMax":10}"#;
        assert_eq!(
            recorded.differing(other).unwrap(),
            ["maxConcurrency", "agentsMax"]
        );
    }
}
