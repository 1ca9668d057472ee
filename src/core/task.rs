//! Tasks: one unit of work for one agent, either submitted (the scheduler runs it) or manual (the
//! caller runs it and reports, the first seed's style).

use crate::core::ids::{AgentIx, PayloadId, WorkflowIx};
use crate::core::policy::{ErrorPolicy, Fallback, Policy, RetryPolicy};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a task is. `Pending` waits for dependencies (or, manual, for `startTask`); `Queued` is in
/// the ready queue; the last five are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaskStatus {
    Pending,
    Queued,
    Running,
    Retrying,
    Completed,
    Failed,
    Cancelled,
    TimedOut,
    Skipped,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 9] = [
        TaskStatus::Pending,
        TaskStatus::Queued,
        TaskStatus::Running,
        TaskStatus::Retrying,
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
        TaskStatus::TimedOut,
        TaskStatus::Skipped,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed
                | TaskStatus::Failed
                | TaskStatus::Cancelled
                | TaskStatus::TimedOut
                | TaskStatus::Skipped
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            TaskStatus::Pending => "Pending",
            TaskStatus::Queued => "Queued",
            TaskStatus::Running => "Running",
            TaskStatus::Retrying => "Retrying",
            TaskStatus::Completed => "Completed",
            TaskStatus::Failed => "Failed",
            TaskStatus::Cancelled => "Cancelled",
            TaskStatus::TimedOut => "TimedOut",
            TaskStatus::Skipped => "Skipped",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an attempt failed; each class will map to a recovery strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    Agent,
    Tool,
    Timeout,
    Validation,
    Permission,
    /// DESIGN writes it `rate-limit`.
    #[serde(alias = "rate-limit", alias = "rateLimit")]
    RateLimit,
    Cancelled,
    Internal,
}

impl ErrorClass {
    /// The class as the journal and the JS API write it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Agent => "agent",
            ErrorClass::Tool => "tool",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Validation => "validation",
            ErrorClass::Permission => "permission",
            ErrorClass::RateLimit => "rate_limit",
            ErrorClass::Cancelled => "cancelled",
            ErrorClass::Internal => "internal",
        }
    }

    /// The class's name with its article, as a message says it: "an agent", "a timeout".
    pub fn with_article(self) -> String {
        let name = self.name();
        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {name}")
    }

    pub fn parse(s: &str) -> Option<ErrorClass> {
        Some(match s {
            "agent" => ErrorClass::Agent,
            "tool" => ErrorClass::Tool,
            "timeout" => ErrorClass::Timeout,
            "validation" => ErrorClass::Validation,
            "permission" => ErrorClass::Permission,
            "rate_limit" | "rate-limit" | "rateLimit" => ErrorClass::RateLimit,
            "cancelled" => ErrorClass::Cancelled,
            "internal" => ErrorClass::Internal,
            _ => return None,
        })
    }
}

/// A failure, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskError {
    pub class: ErrorClass,
    pub message: String,
    /// How long the agent asked to be left alone (an HTTP 429's `Retry-After`, or an error's
    /// `retryAfterMs`): a retry waits at least this long, at most [`RETRY_AFTER_MS_MAX`].
    #[serde(
        default,
        rename = "retryAfterMs",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_after_ms: Option<u64>,
}

/// The longest wait an agent's `retryAfterMs` can ask of a retry: an hour.
pub const RETRY_AFTER_MS_MAX: u64 = 3_600_000;

impl TaskError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> TaskError {
        TaskError {
            class,
            message: message.into(),
            retry_after_ms: None,
        }
    }
}

/// What the user gives to submit a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskSpec {
    #[serde(default)]
    pub id: Option<String>,
    /// The agent to run it; or leave it empty and give a `capability`.
    #[serde(default)]
    pub agent: String,
    /// Routes the task to the least-loaded running agent with this capability.
    #[serde(default)]
    pub capability: Option<String>,
    /// A session groups calls for provenance: each call records REQUEST and RESPONSE contracts.
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// 1 is the highest; the default is [`PRIORITY_DEFAULT`].
    #[serde(default)]
    pub priority: Option<u32>,
    #[serde(default)]
    pub retry: Option<RetryPolicy>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default, alias = "errorPolicy", alias = "recovery")]
    pub on_error: ErrorPolicy,
    #[serde(default)]
    pub fallback: Option<Fallback>,
}

impl TaskSpec {
    /// The task's own policy, if it sets anything.
    pub(crate) fn policy(&self) -> Option<Box<Policy>> {
        Policy::of_task(&self.retry, self.timeout_ms, &self.on_error, &self.fallback)
    }
}

/// A time in ms that may not have come yet (started, completed, due). An `Option<u64>` takes 16
/// bytes; a sentinel takes 8, and a task holds four. Kept as two 32-bit halves (high first, so
/// the derived order is the time's), aligned to 4: in wasm32 a `u64` would align the whole task
/// to 8 and pad it. Written like the option: a number, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Stamp([u32; 2]);

impl Stamp {
    /// The high half, for [`crate::core::state::State::touch`]: a read of the stamp's bytes.
    pub(crate) fn raw_hi(&self) -> u32 {
        self.0[0]
    }

    /// Zero: times are stored plus one, so that time 0 is a time too.
    pub const NONE: Stamp = Stamp([0, 0]);

    pub fn at(ms: u64) -> Stamp {
        let n = ms.saturating_add(1);
        Stamp([(n >> 32) as u32, n as u32])
    }
    pub fn get(self) -> Option<u64> {
        let n = (u64::from(self.0[0]) << 32) | u64::from(self.0[1]);
        n.checked_sub(1)
    }
    pub fn is_none(&self) -> bool {
        *self == Stamp::NONE
    }
}

/// A task's workflow, if any: `Option<WorkflowIx>` in four bytes instead of eight (the index is
/// stored plus one, as `Stamp` stores its time). Written like the option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InWorkflow(Option<std::num::NonZeroU32>);

impl InWorkflow {
    pub const NONE: InWorkflow = InWorkflow(None);

    pub fn get(self) -> Option<WorkflowIx> {
        self.0.map(|n| WorkflowIx(n.get() - 1))
    }
    pub fn is_none(&self) -> bool {
        self.0.is_none()
    }
}

impl From<Option<WorkflowIx>> for InWorkflow {
    fn from(w: Option<WorkflowIx>) -> InWorkflow {
        InWorkflow(w.and_then(|w| std::num::NonZeroU32::new(w.0.wrapping_add(1))))
    }
}

impl Serialize for InWorkflow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> Deserialize<'de> for InWorkflow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<WorkflowIx>::deserialize(d).map(InWorkflow::from)
    }
}

impl From<Option<u64>> for Stamp {
    fn from(ms: Option<u64>) -> Stamp {
        ms.map_or(Stamp::NONE, Stamp::at)
    }
}

impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Stamp, D::Error> {
        Option::<u64>::deserialize(d).map(Stamp::from)
    }
}

pub const PRIORITY_DEFAULT: u8 = 5;
pub const PRIORITY_LOWEST: u8 = 255;

/// A task as the core keeps it. Kept small: a million pending tasks must fit a Durable Object.
///
/// Laid out in this order (`repr(C)`): the fields read when the task starts or ends come first,
/// and fill one 64-byte cache line (natively the task is aligned to one). A workflow's
/// tasks start in priority order, far apart in memory once thousands wait, so starting a task
/// is a cache miss; one line instead of two or three is what keeps 100,000 waiting tasks from
/// costing more each than 10,000.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[repr(C)]
#[cfg_attr(not(target_arch = "wasm32"), repr(align(64)))]
pub struct Task {
    pub status: TaskStatus,
    pub priority: u8,
    #[serde(default, skip_serializing_if = "is_false")]
    pub manual: bool,
    pub agent: AgentIx,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// The call id of the attempt in flight (0 when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub call: u32,
    #[serde(default = "no_payload", skip_serializing_if = "PayloadId::is_none_ref")]
    pub input: PayloadId,
    #[serde(default = "no_payload", skip_serializing_if = "PayloadId::is_none_ref")]
    pub output: PayloadId,
    /// Dependencies not yet completed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub waiting_on: u32,
    /// Read whenever the task ends, so it is on the first line (in four bytes).
    #[serde(default, skip_serializing_if = "InWorkflow::is_none")]
    pub workflow: InWorkflow,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Box<Policy>>,
    /// The rarer facts (name, capability, session, summarizer, pattern run), out of line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Box<crate::core::event::TaskExtra>>,
    /// While `Running`: when the attempt times out (its deadline). While `Retrying`: when the
    /// next attempt is queued. One stamp for both, as a task is never in both states; older
    /// snapshots wrote them as `deadline` and `nextAttemptAt`.
    #[serde(
        default,
        skip_serializing_if = "Stamp::is_none",
        alias = "deadline",
        alias = "nextAttemptAt"
    )]
    pub due: Stamp,
    #[serde(default, skip_serializing_if = "Stamp::is_none")]
    pub started_at: Stamp,
    // The second line.
    #[serde(default, skip_serializing_if = "Stamp::is_none")]
    pub completed_at: Stamp,
    /// Always set (a `Stamp` for its alignment; see there).
    pub created_at: Stamp,
    /// Attempts that failed (a call lost to a crash and issued again is not one): the retry
    /// budget counts these, so a crash never costs a task its last try.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures: u32,
    #[serde(default = "no_payload", skip_serializing_if = "PayloadId::is_none_ref")]
    pub metadata: PayloadId,
    /// The user's id, or `None` for a generated one (`task-<n>`, n = index + 1). Boxed twice: a
    /// thin pointer (4 bytes in wasm32, not 8) for what most tasks (a workflow's) do not have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Box<Box<str>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Box<TaskError>>,
}

// A million pending tasks must fit a Durable Object (128 MB): in wasm32 a task is 88 bytes.
#[cfg(target_arch = "wasm32")]
const _: () = assert!(std::mem::size_of::<Task>() <= 88);

impl Task {
    pub(crate) fn new(
        agent: AgentIx,
        priority: u8,
        input: PayloadId,
        metadata: PayloadId,
        at: u64,
    ) -> Task {
        Task {
            id: None,
            agent,
            priority,
            status: TaskStatus::Pending,
            manual: false,
            input,
            metadata,
            output: PayloadId::NONE,
            error: None,
            attempts: 0,
            call: 0,
            created_at: Stamp::at(at),
            started_at: Stamp::NONE,
            completed_at: Stamp::NONE,
            workflow: InWorkflow::NONE,
            waiting_on: 0,
            policy: None,
            failures: 0,
            due: Stamp::NONE,
            extra: None,
        }
    }
}

impl Task {
    /// While running: when the attempt times out, if it can.
    pub fn deadline(&self) -> Option<u64> {
        (self.status == TaskStatus::Running).then(|| self.due.get())?
    }
    /// While retrying: when the next attempt is queued.
    pub fn next_attempt_at(&self) -> Option<u64> {
        (self.status == TaskStatus::Retrying).then(|| self.due.get())?
    }
    /// The task's display name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.extra.as_ref()?.name.as_deref()
    }
    /// The capability the task was routed by.
    pub fn capability(&self) -> Option<&str> {
        self.extra.as_ref()?.capability.as_deref()
    }
    /// The session whose contracts record the task's calls.
    pub fn session(&self) -> Option<&str> {
        self.extra.as_ref()?.session.as_deref()
    }
    /// The session a summarizer task compresses.
    pub fn compresses(&self) -> Option<&str> {
        self.extra.as_ref()?.compresses.as_deref()
    }
    /// The pattern run the task belongs to.
    pub fn run(&self) -> Option<u32> {
        self.extra.as_ref()?.run
    }
}

pub(crate) fn auto_task_id(ix: u32) -> String {
    format!("task-{}", ix as u64 + 1)
}

/// The index a generated id stands for, if `id` has the generated form.
pub(crate) fn parse_auto_task_id(id: &str) -> Option<u32> {
    let n: u64 = id.strip_prefix("task-")?.parse().ok()?;
    if n == 0 || n > u32::MAX as u64 || id != format!("task-{n}") {
        return None;
    }
    Some((n - 1) as u32)
}

pub(crate) fn validate_priority(p: Option<u32>) -> crate::core::Result<u8> {
    match p {
        None => Ok(PRIORITY_DEFAULT),
        Some(p) if (1..=PRIORITY_LOWEST as u32).contains(&p) => Ok(p as u8),
        Some(p) => Err(crate::core::Error::invalid(
            "priority",
            format!("{p} is outside 1..=255 (1 is the highest)"),
        )),
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn no_payload() -> PayloadId {
    PayloadId::NONE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_task_reads_when_it_starts_or_ends_is_on_its_first_line() {
        use std::mem::{offset_of, size_of};
        // Natively a task is aligned to 64 bytes: these fields share its first cache line.
        assert_eq!(std::mem::align_of::<Task>(), 64);
        for end in [
            offset_of!(Task, workflow) + size_of::<InWorkflow>(),
            offset_of!(Task, extra) + 8,
            offset_of!(Task, policy) + 8,
            offset_of!(Task, due) + 8,
            offset_of!(Task, started_at) + 8,
        ] {
            assert!(end <= 64, "a hot field ends at byte {end}");
        }
        assert_eq!(size_of::<InWorkflow>(), 4);
        assert_eq!((size_of::<Stamp>(), std::mem::align_of::<Stamp>()), (8, 4));
        let times = [0, 1, u32::MAX as u64, 1 << 32, 1 << 40, u64::MAX - 1];
        for w in times.windows(2) {
            assert!(Stamp::NONE < Stamp::at(w[0]) && Stamp::at(w[0]) < Stamp::at(w[1]));
            assert_eq!(Stamp::at(w[1]).get(), Some(w[1]));
        }
        assert_eq!((Stamp::NONE.get(), Stamp::at(0).get()), (None, Some(0)));
        let w = InWorkflow::from(Some(WorkflowIx(7)));
        assert_eq!(
            (w.get(), InWorkflow::NONE.get()),
            (Some(WorkflowIx(7)), None)
        );
    }

    #[test]
    fn auto_ids_round_trip_and_reject_lookalikes() {
        assert_eq!(auto_task_id(0), "task-1");
        assert_eq!(parse_auto_task_id("task-1"), Some(0));
        assert_eq!(parse_auto_task_id("task-01"), None);
        assert_eq!(parse_auto_task_id("task-0"), None);
        assert_eq!(parse_auto_task_id("task-x"), None);
    }

    #[test]
    fn terminal_statuses() {
        let terminal: Vec<_> = TaskStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal.len(), 5);
        assert!(!TaskStatus::Retrying.is_terminal());
    }

    #[test]
    fn priority_bounds() {
        assert_eq!(validate_priority(None).unwrap(), PRIORITY_DEFAULT);
        assert_eq!(validate_priority(Some(1)).unwrap(), 1);
        assert!(validate_priority(Some(0)).is_err());
        assert!(validate_priority(Some(256)).is_err());
    }
}
