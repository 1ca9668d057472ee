//! Read-only views of the state, shaped for users: statistics and per-agent status use the first
//! seed's snake_case keys (`agents_running`, `error_count`, ...) so its users find what they know.

use crate::core::agent::AgentStatus;
use crate::core::ids::{AgentIx, TaskIx};
use crate::core::state::State;
use crate::core::task::{TaskError, TaskStatus};
use crate::core::workflow::{FailurePolicy, WorkflowStatus};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statistics {
    pub total_agents: u64,
    pub agents_running: u64,
    pub agents_paused: u64,
    pub agents_error: u64,
    pub agents_stopped: u64,
    pub agent_errors: u64,
    pub total_tasks: u64,
    pub tasks_pending: u64,
    pub tasks_queued: u64,
    pub tasks_running: u64,
    pub tasks_completed: u64,
    pub tasks_failed: u64,
    pub tasks_cancelled: u64,
    pub tasks_skipped: u64,
    pub total_workflows: u64,
    pub workflows_running: u64,
    pub workflows_completed: u64,
    pub workflows_failed: u64,
    pub workflows_cancelled: u64,
    pub tasks_retrying: u64,
    pub tasks_timed_out: u64,
    pub snapshots: u64,
    pub terminated: bool,
    pub journal_seq: u64,
    pub now: u64,
}

pub fn statistics(s: &State) -> Statistics {
    // Removed agents are out of every count, as they are out of the lists.
    let listed = || s.agents.iter().filter(|a| !a.removed);
    let agents = |st: AgentStatus| listed().filter(|a| a.status == st).count() as u64;
    let wf = |st: WorkflowStatus| s.workflows.iter().filter(|w| w.status == st).count() as u64;
    Statistics {
        total_agents: listed().count() as u64,
        agents_running: agents(AgentStatus::Running),
        agents_paused: agents(AgentStatus::Paused),
        agents_error: agents(AgentStatus::Error),
        agents_stopped: agents(AgentStatus::Stopped) + agents(AgentStatus::Terminated),
        agent_errors: s.agent_errors,
        total_tasks: s.tasks.len() as u64,
        tasks_pending: s.count(TaskStatus::Pending),
        tasks_queued: s.count(TaskStatus::Queued),
        tasks_running: s.count(TaskStatus::Running),
        tasks_completed: s.count(TaskStatus::Completed),
        tasks_failed: s.count(TaskStatus::Failed),
        tasks_cancelled: s.count(TaskStatus::Cancelled),
        tasks_skipped: s.count(TaskStatus::Skipped),
        total_workflows: s.workflows.len() as u64,
        workflows_running: wf(WorkflowStatus::Running),
        workflows_completed: wf(WorkflowStatus::Completed),
        workflows_failed: wf(WorkflowStatus::Failed),
        workflows_cancelled: wf(WorkflowStatus::Cancelled),
        tasks_retrying: s.count(TaskStatus::Retrying),
        tasks_timed_out: s.count(TaskStatus::TimedOut),
        snapshots: s.snapshots_taken,
        terminated: s.terminated.is_some(),
        journal_seq: s.seq,
        now: s.now,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentView {
    pub id: String,
    pub name: String,
    pub status: AgentStatus,
    pub capabilities: Vec<String>,
    pub error_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub running_tasks: u32,
    pub queued_tasks: u64,
    pub completed_tasks: u64,
    pub failed_tasks: u64,
    pub concurrency: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<u32>,
    /// `closed`, `open` or `half-open` (always `closed` without a circuit breaker).
    pub breaker: crate::core::policy::BreakerState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttled_until: Option<u64>,
}

/// Every agent not removed, in the order they were registered (as the first seed lists them),
/// serialized as an object by id.
pub fn agents_status(s: &State) -> AgentsStatus {
    AgentsStatus(
        s.agents
            .iter()
            .enumerate()
            .filter(|(_, a)| !a.removed)
            .map(|(i, a)| (a.id.clone(), agent_view(s, AgentIx(i as u32))))
            .collect(),
    )
}

/// One agent's view.
pub fn agent_view(s: &State, ix: AgentIx) -> AgentView {
    let a = &s.agents[ix.0 as usize];
    AgentView {
        id: a.id.clone(),
        name: a.name.clone(),
        status: a.status,
        capabilities: a.capabilities.clone(),
        error_count: a.error_count,
        last_error: a.last_error.clone(),
        running_tasks: a.running,
        queued_tasks: s.queue().agent_len(ix) as u64,
        completed_tasks: a.completed,
        failed_tasks: a.failed,
        concurrency: a.concurrency,
        max_errors: a.max_errors,
        breaker: a.breaker.state,
        throttled_until: a.bucket.throttled_until,
    }
}

/// Agents' views by id, in registration order.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentsStatus(pub Vec<(String, AgentView)>);

impl Serialize for AgentsStatus {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = ser.serialize_map(Some(self.0.len()))?;
        for (id, view) in &self.0 {
            m.serialize_entry(id, view)?;
        }
        m.end()
    }
}

/// A task as users see it; the driver adds `input`, `output` and `metadata` from its payloads.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub agent: String,
    /// The capability it was routed by, when it was given one instead of an agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    pub status: TaskStatus,
    pub priority: u8,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    pub created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    pub manual: bool,
    /// While `Retrying`: when the next attempt is queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<u64>,
}

pub fn task_view(s: &State, ix: TaskIx) -> TaskView {
    let t = s.task(ix);
    TaskView {
        id: s.task_id(ix).expect("task exists"),
        name: t.name().map(str::to_owned),
        agent: s.agent(t.agent).id.clone(),
        capability: t.capability().map(str::to_owned),
        status: t.status,
        priority: t.priority,
        attempts: t.attempts,
        // A completed task's earlier attempts' errors are not its error.
        error: t
            .error
            .as_deref()
            .filter(|_| t.status != TaskStatus::Completed)
            .cloned(),
        created_at: t.created_at.get().unwrap_or_default(),
        started_at: t.started_at.get(),
        completed_at: t.completed_at.get(),
        workflow: t.workflow.get().and_then(|w| s.workflow_id(w)),
        manual: t.manual,
        next_attempt_at: t.next_attempt_at(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowTaskView {
    pub id: String,
    pub agent: String,
    pub status: TaskStatus,
    /// The ids (within the workflow) of the tasks this one waits for: the DAG's edges.
    pub depends_on: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
}

/// A workflow without its tasks: what a finished run's result needs at once (the tasks' details
/// can be read later, from [`workflow_view`] or, for a completed plain workflow, from its shape).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowHead {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub status: WorkflowStatus,
    pub failure_policy: FailurePolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_task: Option<String>,
    pub submitted_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
}

/// A workflow as users see it; the driver adds `outputs` (by task id) from its payloads.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowView {
    #[serde(flatten)]
    pub head: WorkflowHead,
    /// By task id within the workflow.
    #[serde(serialize_with = "ordered_map")]
    pub tasks: Vec<(String, WorkflowTaskView)>,
    /// The task ids in the workflow's order (a JS object would put integer-like keys first).
    pub order: Vec<String>,
}

pub fn workflow_head(s: &State, w: crate::core::ids::WorkflowIx) -> WorkflowHead {
    let wf = &s.workflows[w.usize()];
    WorkflowHead {
        id: wf.id.clone(),
        name: wf.name.clone(),
        status: wf.status,
        failure_policy: wf.policy,
        // By its id within the workflow, as `tasks`, `outputs` and `dependsOn` name it.
        failed_task: (wf.failed_task).map(|t| wf.local_ids[wf.local(t) as usize].to_string()),
        submitted_at: wf.submitted_at,
        finished_at: wf.finished_at,
    }
}

pub fn workflow_view(s: &State, w: crate::core::ids::WorkflowIx) -> WorkflowView {
    let wf = &s.workflows[w.usize()];
    let tasks = wf
        .tasks()
        .map(|ix| {
            let t = s.task(ix);
            let local = wf.local_ids[wf.local(ix) as usize].to_string();
            let deps = &wf.deps[wf.local(ix) as usize];
            let view = WorkflowTaskView {
                id: s.task_id(ix).expect("task exists"),
                agent: s.agent(t.agent).id.clone(),
                status: t.status,
                depends_on: deps
                    .iter()
                    .map(|d| wf.local_ids[*d as usize].to_string())
                    .collect(),
                error: t
                    .error
                    .as_deref()
                    .filter(|_| t.status != TaskStatus::Completed)
                    .cloned(),
            };
            (local, view)
        })
        .collect();
    WorkflowView {
        head: workflow_head(s, w),
        order: wf.local_ids.iter().map(|l| l.to_string()).collect(),
        tasks,
    }
}

fn ordered_map<S: serde::Serializer>(
    entries: &[(String, WorkflowTaskView)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(entries.len()))?;
    for (k, v) in entries {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

fn status_any_case<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<TaskStatus>, D::Error> {
    use crate::core::json_path::{checked, Scalar};
    let names = || {
        let names: Vec<String> = TaskStatus::ALL.iter().map(|s| format!("{s:?}")).collect();
        names.join(", ")
    };
    checked(d, "a task status", |v| match v {
        Scalar::Null => Ok(None),
        Scalar::Str(given) => {
            let plain = given.replace('_', "");
            TaskStatus::ALL
                .into_iter()
                .find(|s| format!("{s:?}").eq_ignore_ascii_case(&plain))
                .map(Some)
                .ok_or_else(|| format!("unknown status '{given}' (one of {})", names()))
        }
        _ => Err(format!("a status is a string (one of {})", names())),
    })
}

/// Which tasks `task_list` returns: every field given must match; `offset`/`limit` page the rest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskFilter {
    /// `Completed`, or as metrics and statistics write it, `completed` (`timed_out` too).
    #[serde(default, deserialize_with = "status_any_case")]
    pub status: Option<TaskStatus>,
    pub agent: Option<String>,
    pub workflow: Option<String>,
    #[serde(default)]
    pub offset: u32,
    pub limit: Option<u32>,
}

/// The tasks matching `f`, oldest first, as task views (a dashboard's table).
pub fn task_list(s: &State, f: &TaskFilter) -> Vec<TaskView> {
    task_page(s, f).0
}

/// [`task_list`], and how many tasks match in all (before `offset` and `limit`).
pub fn task_page(s: &State, f: &TaskFilter) -> (Vec<TaskView>, usize) {
    // By id, as the views show it: a removed agent's tasks, and those of a later agent with its
    // id, all match.
    let agents: Option<Vec<AgentIx>> = f.agent.as_deref().map(|a| {
        (0..s.agents.len() as u32)
            .map(AgentIx)
            .filter(|&ix| s.agent(ix).id == a)
            .collect()
    });
    let workflow = f.workflow.as_deref().map(|w| s.workflow_ix(w));
    // An unknown agent or workflow matches nothing rather than everything.
    if agents.as_ref().is_some_and(Vec::is_empty) || matches!(workflow, Some(None)) {
        return (Vec::new(), 0);
    }
    let (from, limit) = (
        f.offset as usize,
        f.limit.map_or(usize::MAX, |l| l as usize),
    );
    let mut page = Vec::new();
    let mut total = 0;
    for ix in (0..s.tasks.len() as u32).map(TaskIx) {
        let t = s.task(ix);
        let wanted = f.status.is_none_or(|st| t.status == st)
            && agents.as_ref().is_none_or(|a| a.contains(&t.agent))
            && workflow.is_none_or(|w| t.workflow.get().is_some() && t.workflow.get() == w);
        if wanted {
            if total >= from && page.len() < limit {
                page.push(task_view(s, ix));
            }
            total += 1;
        }
    }
    (page, total)
}

/// A workflow in a list: no per-task detail.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSummary {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub status: WorkflowStatus,
    pub task_count: u32,
    pub remaining: u32,
    pub submitted_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
}

/// Every workflow, oldest first.
pub fn workflow_list(s: &State) -> Vec<WorkflowSummary> {
    s.workflows
        .iter()
        .map(|w| WorkflowSummary {
            id: w.id.clone(),
            name: w.name.clone(),
            status: w.status,
            task_count: w.len(),
            remaining: w.remaining,
            submitted_at: w.submitted_at,
            finished_at: w.finished_at,
        })
        .collect()
}

/// A message as both drivers show it; each adds its payload (a handle in JS, the JSON itself in
/// the Worker).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: String,
    pub from: String,
    pub to: String,
    pub status: crate::core::message::MessageStatus,
    pub sent_at: u64,
    pub delivered_at: Option<u64>,
    pub acknowledged_at: Option<u64>,
    #[serde(skip)]
    pub payload: crate::core::ids::PayloadId,
}

pub fn message_view(s: &State, ix: usize) -> MessageView {
    let m = &s.messages[ix];
    MessageView {
        id: crate::core::message::message_id(ix),
        from: s.agent(m.from).id.clone(),
        to: s.agent(m.to).id.clone(),
        status: m.status,
        sent_at: m.sent_at,
        delivered_at: m.delivered_at,
        acknowledged_at: m.acknowledged_at,
        payload: m.payload,
    }
}
