//! Events: every state change is one, numbered and appended to the journal. The state is a fold of
//! the journal ([`crate::core::state::State::apply`]); events are facts, decided by the command
//! handlers before they are applied, so replay never re-decides anything.

use crate::core::agent::{AgentSpec, AgentStatus};
use crate::core::ids::PayloadId;
use crate::core::policy::{BreakerState, Policy};
use crate::core::snapshot::SnapshotSummary;
use crate::core::tagged::{DataOnly, Tagged};
use crate::core::task::TaskError;
use crate::core::wire::{AgentRef, TaskRef, WorkflowRef};
use crate::core::workflow::{FailurePolicy, NewTask, NewWorkflow};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A built-in event. Custom events (`emit`) are [`Event::Custom`] and use their own topic.
///
/// Events that can be either commanded by the user or decided by a policy carry `auto: true`
/// when decided; `verify_replay` feeds the first kind back as inputs and expects the second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase")]
pub enum Event {
    /// The first record of every journal: what the run was configured with.
    #[serde(rename = "orchestrator.started")]
    Started {
        version: u32,
        seed: u64,
        run_id: String,
        options: Box<crate::core::Options>,
    },
    /// The `terminate` strategy: the orchestrator takes no new work.
    #[serde(rename = "orchestrator.terminated")]
    Terminated {
        reason: String,
        /// Decided by the core (a `terminate` strategy), not commanded.
        #[serde(default, skip_serializing_if = "is_false")]
        auto: bool,
    },
    #[serde(rename = "agent.registered")]
    AgentRegistered { spec: Box<AgentSpec> },
    #[serde(rename = "agent.status")]
    AgentStatus {
        agent: AgentRef,
        from: AgentStatus,
        to: AgentStatus,
        reason: String,
        #[serde(default, skip_serializing_if = "is_false")]
        auto: bool,
    },
    #[serde(rename = "agent.error")]
    AgentError {
        agent: AgentRef,
        message: String,
        #[serde(default, skip_serializing_if = "is_false")]
        auto: bool,
    },
    #[serde(rename = "agent.breaker")]
    AgentBreaker {
        agent: AgentRef,
        from: BreakerState,
        to: BreakerState,
    },
    /// The agent's rate limit is spent until `until`; its tasks wait.
    #[serde(rename = "agent.throttled")]
    AgentThrottled { agent: AgentRef, until: u64 },
    #[serde(rename = "agent.unthrottled")]
    AgentUnthrottled { agent: AgentRef },
    /// A paused agent recovered (`recover_agent`): its error count starts again.
    #[serde(rename = "agent.recovered")]
    AgentRecovered { agent: AgentRef },
    /// A terminated agent was removed (`remove_agent`): its id is free to register again, and
    /// lists and lookups by id no longer show it. Its tasks keep naming it.
    #[serde(rename = "agent.removed")]
    AgentRemoved { agent: AgentRef },
    /// The agent's name, capabilities or limits changed (`update_agent`).
    #[serde(rename = "agent.updated")]
    AgentUpdated {
        agent: AgentRef,
        update: Box<crate::core::agent::AgentUpdate>,
    },
    #[serde(rename = "task.created")]
    TaskCreated {
        task: NewTask,
        agent: AgentRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<Box<str>>,
        priority: u8,
        input: PayloadId,
        metadata: PayloadId,
        manual: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<Box<Policy>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extra: Option<Box<TaskExtra>>,
    },
    #[serde(rename = "task.queued")]
    TaskQueued { task: TaskRef },
    /// `call` is 0 for a manual task; `deadline` is when the attempt times out.
    #[serde(rename = "task.started")]
    TaskStarted {
        task: TaskRef,
        call: u32,
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<u64>,
    },
    /// `call` is the call that answered (0 for a manual task).
    #[serde(rename = "task.completed")]
    TaskCompleted {
        task: TaskRef,
        call: u32,
        output: PayloadId,
    },
    /// One attempt failed: reported by its call, or (`auto`) timed out. A decision follows.
    #[serde(rename = "task.attempt_failed")]
    TaskAttemptFailed {
        task: TaskRef,
        call: u32,
        attempt: u32,
        error: Box<TaskError>,
        #[serde(default, skip_serializing_if = "is_false")]
        auto: bool,
    },
    /// The next attempt is queued after `delayMs`, at `nextAttemptAt`.
    #[serde(rename = "task.retrying")]
    TaskRetrying {
        task: TaskRef,
        attempt: u32,
        delay_ms: u64,
        next_attempt_at: u64,
        #[serde(default, skip_serializing_if = "is_false")]
        jitter: bool,
    },
    /// The task moves to another agent (the `fallback` strategy, or an open breaker).
    #[serde(rename = "task.reassigned")]
    TaskReassigned {
        task: TaskRef,
        from: AgentRef,
        to: AgentRef,
        reason: String,
    },
    #[serde(rename = "task.failed")]
    TaskFailed {
        task: TaskRef,
        error: Box<TaskError>,
        #[serde(default, skip_serializing_if = "is_false")]
        auto: bool,
    },
    #[serde(rename = "task.cancelled")]
    TaskCancelled {
        task: TaskRef,
        reason: String,
        #[serde(default, skip_serializing_if = "is_false")]
        auto: bool,
    },
    #[serde(rename = "task.skipped")]
    TaskSkipped { task: TaskRef, reason: String },
    /// An attempt in flight when the state was restored goes back to the queue.
    #[serde(rename = "task.requeued")]
    TaskRequeued { task: TaskRef, reason: String },
    /// A result for a call that is no longer current (late after a timeout or a cancel, or a
    /// second answer): recorded, never applied.
    #[serde(rename = "call.ignored")]
    CallIgnored {
        call: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<TaskRef>,
        reason: String,
    },
    /// The `escalate` strategy: someone should look at this agent.
    #[serde(rename = "escalation")]
    Escalation {
        agent: AgentRef,
        task: TaskRef,
        error: Box<TaskError>,
    },
    #[serde(rename = "workflow.submitted")]
    WorkflowSubmitted { workflow: Box<NewWorkflow> },
    #[serde(rename = "workflow.completed")]
    WorkflowCompleted { workflow: WorkflowRef },
    #[serde(rename = "workflow.failed")]
    WorkflowFailed {
        workflow: WorkflowRef,
        task: TaskRef,
        policy: FailurePolicy,
    },
    /// Ended short because tasks were cancelled, none failed; `task` is the first cancelled.
    #[serde(rename = "workflow.cancelled")]
    WorkflowCancelled {
        workflow: WorkflowRef,
        task: TaskRef,
    },
    #[serde(rename = "snapshot.created")]
    SnapshotCreated { summary: Box<SnapshotSummary> },
    #[serde(rename = "template.defined")]
    TemplateDefined {
        template: Box<crate::core::template::Template>,
    },
    #[serde(rename = "message.sent")]
    MessageSent {
        message: String,
        from: AgentRef,
        to: AgentRef,
        payload: PayloadId,
    },
    /// Read from the inbox, or (`onAck`) acknowledged before it was read: delivered first, so
    /// every message goes sent → delivered → acknowledged.
    #[serde(rename = "message.delivered")]
    MessageDelivered {
        message: String,
        #[serde(default, rename = "onAck", skip_serializing_if = "is_false")]
        on_ack: bool,
    },
    #[serde(rename = "message.acknowledged")]
    MessageAcknowledged { message: String },
    #[serde(rename = "tool.registered")]
    ToolRegistered {
        tool: Box<crate::core::tool::ToolSpec>,
    },
    #[serde(rename = "tool.granted")]
    ToolsGranted { agent: AgentRef, tools: Vec<String> },
    #[serde(rename = "tool.revoked")]
    ToolsRevoked { agent: AgentRef, tools: Vec<String> },
    #[serde(rename = "tool.called")]
    ToolCalled {
        call: u32,
        tool: String,
        agent: AgentRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<TaskRef>,
        args: PayloadId,
    },
    #[serde(rename = "tool.completed")]
    ToolCompleted { call: u32, result: PayloadId },
    #[serde(rename = "tool.failed")]
    ToolFailed { call: u32, message: String },
    /// A call refused for its class: `permission` (not granted) or `rate_limit`.
    #[serde(rename = "tool.refused")]
    ToolRefused {
        tool: String,
        agent: AgentRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<TaskRef>,
        class: crate::core::task::ErrorClass,
    },
    #[serde(rename = "job.scheduled")]
    JobScheduled {
        job: Box<crate::core::schedule::Job>,
    },
    /// The job's slot came: its task is created next; `next` is the following slot, if any.
    #[serde(rename = "job.fired")]
    JobFired {
        job: String,
        slot: u64,
        #[serde(default, skip_serializing_if = "crate::core::task::Stamp::is_none")]
        next: crate::core::task::Stamp,
        /// Why no task was submitted for this slot (its agent is gone, say).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<Box<str>>,
        /// The task submitted for this slot (the `task.created` that follows), to wait on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<Box<str>>,
    },
    #[serde(rename = "job.paused")]
    JobPaused { job: String },
    #[serde(rename = "job.resumed")]
    JobResumed { job: String },
    #[serde(rename = "job.deleted")]
    JobDeleted { job: String },
    #[serde(rename = "pattern.started")]
    PatternStarted {
        run: String,
        spec: Box<crate::core::pattern::PatternSpec>,
        /// The session whose contracts record the run's calls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<Box<str>>,
    },
    #[serde(rename = "pattern.progressed")]
    PatternProgressed {
        run: String,
        step: u32,
        state: Box<serde_json::Value>,
    },
    #[serde(rename = "pattern.completed")]
    PatternCompleted { run: String, result: PayloadId },
    #[serde(rename = "pattern.failed")]
    PatternFailed { run: String, error: String },
    /// A user event from `emit(topic, data)`; written with its own topic as the type.
    #[serde(skip)]
    Custom { topic: String, data: PayloadId },
}

/// The rarer facts of a new task, kept out of line so the common event stays small.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskExtra {
    /// A task's name, in the state only: `task.created` and `workflow.submitted` carry it in
    /// their own `name` field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Box<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<Box<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Box<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compresses: Option<Box<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u32>,
    /// The task's part in its pattern run (`vote`, `pro`, `judge`, `plan`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Box<str>>,
}

impl TaskExtra {
    pub fn is_empty(&self) -> bool {
        *self == TaskExtra::default()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Event {
    /// The topic subscribers match against (the `type` in the journal).
    pub fn topic(&self) -> &str {
        match self {
            Event::Started { .. } => "orchestrator.started",
            Event::AgentRegistered { .. } => "agent.registered",
            Event::AgentStatus { .. } => "agent.status",
            Event::AgentError { .. } => "agent.error",
            Event::AgentBreaker { .. } => "agent.breaker",
            Event::AgentThrottled { .. } => "agent.throttled",
            Event::AgentUnthrottled { .. } => "agent.unthrottled",
            Event::AgentUpdated { .. } => "agent.updated",
            Event::AgentRecovered { .. } => "agent.recovered",
            Event::AgentRemoved { .. } => "agent.removed",
            Event::TaskAttemptFailed { .. } => "task.attempt_failed",
            Event::TaskRetrying { .. } => "task.retrying",
            Event::TaskReassigned { .. } => "task.reassigned",
            Event::CallIgnored { .. } => "call.ignored",
            Event::Escalation { .. } => "escalation",
            Event::Terminated { .. } => "orchestrator.terminated",
            Event::TemplateDefined { .. } => "template.defined",
            Event::MessageSent { .. } => "message.sent",
            Event::MessageDelivered { .. } => "message.delivered",
            Event::MessageAcknowledged { .. } => "message.acknowledged",
            Event::ToolRegistered { .. } => "tool.registered",
            Event::ToolsGranted { .. } => "tool.granted",
            Event::ToolsRevoked { .. } => "tool.revoked",
            Event::ToolCalled { .. } => "tool.called",
            Event::ToolCompleted { .. } => "tool.completed",
            Event::ToolFailed { .. } => "tool.failed",
            Event::ToolRefused { .. } => "tool.refused",
            Event::JobScheduled { .. } => "job.scheduled",
            Event::JobFired { .. } => "job.fired",
            Event::JobPaused { .. } => "job.paused",
            Event::JobResumed { .. } => "job.resumed",
            Event::JobDeleted { .. } => "job.deleted",
            Event::PatternStarted { .. } => "pattern.started",
            Event::PatternProgressed { .. } => "pattern.progressed",
            Event::PatternCompleted { .. } => "pattern.completed",
            Event::PatternFailed { .. } => "pattern.failed",
            Event::TaskCreated { .. } => "task.created",
            Event::TaskQueued { .. } => "task.queued",
            Event::TaskStarted { .. } => "task.started",
            Event::TaskCompleted { .. } => "task.completed",
            Event::TaskFailed { .. } => "task.failed",
            Event::TaskCancelled { .. } => "task.cancelled",
            Event::TaskSkipped { .. } => "task.skipped",
            Event::TaskRequeued { .. } => "task.requeued",
            Event::WorkflowSubmitted { .. } => "workflow.submitted",
            Event::WorkflowCompleted { .. } => "workflow.completed",
            Event::WorkflowFailed { .. } => "workflow.failed",
            Event::WorkflowCancelled { .. } => "workflow.cancelled",
            Event::SnapshotCreated { .. } => "snapshot.created",
            Event::Custom { topic, .. } => topic,
        }
    }
}

/// Topics Baton writes itself; `emit` refuses them so a user event is never mistaken for one.
pub const BUILT_IN_TOPICS: [&str; 49] = [
    "template.defined",
    "message.sent",
    "message.delivered",
    "message.acknowledged",
    "tool.registered",
    "tool.granted",
    "tool.revoked",
    "tool.called",
    "tool.completed",
    "tool.failed",
    "tool.refused",
    "job.scheduled",
    "job.fired",
    "job.paused",
    "job.resumed",
    "job.deleted",
    "pattern.started",
    "pattern.progressed",
    "pattern.completed",
    "pattern.failed",
    "orchestrator.started",
    "orchestrator.terminated",
    "agent.breaker",
    "agent.throttled",
    "agent.unthrottled",
    "agent.updated",
    "agent.recovered",
    "agent.removed",
    "task.attempt_failed",
    "task.retrying",
    "task.reassigned",
    "call.ignored",
    "escalation",
    "agent.registered",
    "agent.status",
    "agent.error",
    "task.created",
    "task.queued",
    "task.started",
    "task.completed",
    "task.failed",
    "task.cancelled",
    "task.skipped",
    "task.requeued",
    "workflow.submitted",
    "workflow.completed",
    "workflow.failed",
    "workflow.cancelled",
    "snapshot.created",
];

/// One journal row: `{"seq": n, "at": ms, "type": topic, "data": {...}}`, keys in that order.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub seq: u64,
    pub at: u64,
    pub event: Event,
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// A built-in event's fields, written as the row's `data`.
        struct Data<'a>(&'a Event);
        impl Serialize for Data<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(DataOnly(s))
            }
        }
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("seq", &self.seq)?;
        m.serialize_entry("at", &self.at)?;
        m.serialize_entry("type", self.event.topic())?;
        match &self.event {
            Event::Custom { data, .. } => m.serialize_entry("data", data)?,
            event => m.serialize_entry("data", &Data(event))?,
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a journal record {seq, at, type, data}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let (mut seq, mut at, mut topic, mut event) = (None, None, None::<String>, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<str>>()? {
            match key.as_ref() {
                "seq" => seq = Some(map.next_value()?),
                "at" => at = Some(map.next_value()?),
                "type" => topic = Some(map.next_value()?),
                "data" => {
                    let t = topic
                        .as_deref()
                        .ok_or_else(|| de::Error::custom("\"type\" must come before \"data\""))?;
                    event = Some(map.next_value_seed(EventSeed(t))?);
                }
                other => {
                    return Err(de::Error::unknown_field(
                        other,
                        &["seq", "at", "type", "data"],
                    ))
                }
            }
        }
        Ok(Record {
            seq: seq.ok_or_else(|| de::Error::missing_field("seq"))?,
            at: at.ok_or_else(|| de::Error::missing_field("at"))?,
            event: event.ok_or_else(|| de::Error::missing_field("data"))?,
        })
    }
}

struct EventSeed<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = Event;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Event, D::Error> {
        if BUILT_IN_TOPICS.contains(&self.0) {
            Event::deserialize(Tagged {
                tag: self.0,
                content: d,
            })
        } else {
            Ok(Event::Custom {
                topic: self.0.to_owned(),
                data: PayloadId::deserialize(d)?,
            })
        }
    }
}

/// Whether `topic` matches a subscription `pattern`: segments split on `.`; `*` matches one
/// segment, `**` any number (including none); the pattern `*` alone matches every topic.
pub fn topic_matches(pattern: &str, topic: &str) -> bool {
    if pattern == "*" || pattern == "**" {
        return true;
    }
    fn go(p: &[&str], t: &[&str]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(&"**"), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(&"*"), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let t: Vec<&str> = topic.split('.').collect();
    go(&p, &t)
}

/// Checks a subscription pattern: a topic whose segments may be wildcards, each a whole segment
/// (`x*` would match nothing and say nothing).
pub fn validate_pattern(field: &str, pattern: &str) -> crate::core::Result<()> {
    if pattern == "*" {
        return Ok(());
    }
    validate_topic(field, pattern)?;
    let partial = (pattern.split('.')).find(|s| s.contains('*') && *s != "*" && *s != "**");
    match partial {
        None => Ok(()),
        Some(segment) => Err(crate::core::Error::invalid(
            field,
            format!("'{pattern}': a wildcard is a whole segment, '*' or '**', not '{segment}'"),
        )),
    }
}

/// Checks a subscription pattern or a custom topic: non-empty segments of printable ASCII.
pub fn validate_topic(field: &str, topic: &str) -> crate::core::Result<()> {
    let ok = !topic.is_empty()
        && topic.len() <= 200
        && topic
            .split('.')
            .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()));
    if ok {
        Ok(())
    } else {
        Err(crate::core::Error::invalid(
            field,
            format!("'{topic}' must be dot-separated non-empty segments of printable ASCII, at most 200 bytes"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::topic_matches;

    #[test]
    fn wildcards() {
        assert!(topic_matches("task.*", "task.completed"));
        assert!(!topic_matches("task.*", "task"));
        assert!(!topic_matches("task.*", "workflow.completed"));
        assert!(topic_matches("task.completed", "task.completed"));
        assert!(topic_matches("*", "custom.deep.topic"));
        assert!(topic_matches("custom.**", "custom.deep.topic"));
        assert!(topic_matches("*.failed", "workflow.failed"));
        assert!(!topic_matches("task.*", "task.a.b"));
    }
}
