//! Checks that a decoded journal record fits the state before it is applied, so a corrupt or
//! hand-edited journal is refused with an error naming the record instead of tripping an
//! invariant inside [`State::apply`].

use crate::core::event::{Event, Record};
use crate::core::ids::TaskIx;
use crate::core::state::State;
use crate::core::task::TaskStatus;
use crate::core::workflow::WorkflowStatus;

/// The `seq` of a journal line, read before the line is decoded against the state.
pub(crate) fn peek_seq(line: &str) -> Result<u64, String> {
    #[derive(serde::Deserialize)]
    struct Seq {
        seq: u64,
    }
    serde_json::from_str::<Seq>(line)
        .map(|s| s.seq)
        .map_err(|e| e.to_string())
}

pub(crate) fn check(s: &State, rec: &Record) -> Result<(), String> {
    let task = |t: TaskIx| s.task(t);
    let open = |t: TaskIx| {
        if task(t).status.is_terminal() {
            Err(format!(
                "task {} has already ended",
                s.task_id(t).unwrap_or_default()
            ))
        } else {
            Ok(())
        }
    };
    match &rec.event {
        Event::Started { .. } if rec.seq != 1 => {
            Err("orchestrator.started must be the first record".into())
        }
        Event::AgentRegistered { spec } if s.agent_ix(&spec.id).is_some() => {
            Err(format!("agent '{}' is registered twice", spec.id))
        }
        Event::AgentRemoved { agent } => {
            let a = s.agent(agent.0);
            if a.status != crate::core::agent::AgentStatus::Terminated || a.removed {
                Err(format!("agent '{}' is removed while {}", a.id, a.status))
            } else {
                Ok(())
            }
        }
        Event::AgentStatus {
            agent, from, to, ..
        } => {
            let now = s.agent(agent.0).status;
            if now != *from || !from.can_go_to(*to) {
                Err(format!(
                    "agent '{}' is {now}, cannot go from {from} to {to}",
                    s.agent(agent.0).id
                ))
            } else {
                Ok(())
            }
        }
        Event::TaskCreated { extra: Some(x), .. }
            if x.run.is_some_and(|r| r as usize >= s.runs.len()) =>
        {
            Err("task.created names an unknown run".into())
        }
        Event::TaskCreated { task: nt, .. } => match &nt.custom_id {
            Some(id) if s.task_ix(id).is_some() => Err(format!("task '{id}' is created twice")),
            None if nt.ix.usize() != s.tasks.len() => {
                Err("generated task ids must follow creation order".into())
            }
            _ => Ok(()),
        },
        Event::TaskQueued { task: t }
            if !matches!(task(t.0).status, TaskStatus::Pending | TaskStatus::Retrying) =>
        {
            Err(format!(
                "task.queued needs a pending or retrying task, not {}",
                task(t.0).status
            ))
        }
        Event::TaskRequeued { task: t, .. } if task(t.0).status != TaskStatus::Running => {
            Err("task.requeued needs a running task".into())
        }
        Event::TaskStarted { task: t, call, .. } => {
            let tk = task(t.0);
            let ok = match tk.status {
                TaskStatus::Queued => *call != 0 && s.call_task(*call).is_none() && !tk.manual,
                TaskStatus::Pending => tk.manual && *call == 0,
                _ => false,
            };
            if ok {
                Ok(())
            } else {
                Err(format!("task.started does not fit a {} task", tk.status))
            }
        }
        Event::TaskCompleted { task: t, call, .. } => {
            let tk = task(t.0);
            if tk.status != TaskStatus::Running || tk.call != *call {
                return Err(format!(
                    "task.completed needs the task's running call, not a {} task",
                    tk.status
                ));
            }
            released_once(s, t.0)
        }
        Event::TaskAttemptFailed { task: t, call, .. } => {
            let tk = task(t.0);
            if tk.status != TaskStatus::Running || tk.call != *call || tk.manual {
                return Err(format!(
                    "task.attempt_failed needs the task's running call, not a {} task",
                    tk.status
                ));
            }
            Ok(())
        }
        Event::TaskRetrying { task: t, .. } if task(t.0).status != TaskStatus::Retrying => {
            Err("task.retrying follows a failed attempt".into())
        }
        // Pending: a task routed by capability, routed again as it becomes ready.
        Event::TaskReassigned { task: t, .. }
            if !matches!(
                task(t.0).status,
                TaskStatus::Retrying | TaskStatus::Queued | TaskStatus::Pending
            ) =>
        {
            Err("task.reassigned needs a waiting task".into())
        }
        Event::AgentBreaker { agent, from, .. } if s.agent(agent.0).breaker.state != *from => {
            Err("agent.breaker does not start from the breaker's state".into())
        }
        Event::TaskSkipped { task: t, .. } => {
            open(t.0)?;
            released_once(s, t.0)
        }
        Event::TaskFailed { task: t, .. } | Event::TaskCancelled { task: t, .. } => open(t.0),
        Event::WorkflowSubmitted { workflow } => {
            let n = workflow.tasks.len() as u32;
            if s.workflow_ix(&workflow.id).is_some() {
                Err(format!("workflow '{}' is submitted twice", workflow.id))
            } else if workflow.deps.items().iter().any(|&d| d >= n) {
                Err(format!(
                    "workflow '{}' names a dependency out of range",
                    workflow.id
                ))
            } else {
                Ok(())
            }
        }
        // The task a failed or cancelled workflow names is one of its own (views look it up in
        // the workflow).
        Event::WorkflowFailed {
            workflow: w, task, ..
        }
        | Event::WorkflowCancelled { workflow: w, task }
            if s.task(task.0).workflow.get() != Some(w.0) =>
        {
            Err(format!(
                "workflow '{}' names task '{}', not one of its own",
                s.workflows[w.0.usize()].id,
                s.task_id(task.0).unwrap_or_default()
            ))
        }
        Event::WorkflowCompleted { workflow: w }
        | Event::WorkflowFailed { workflow: w, .. }
        | Event::WorkflowCancelled { workflow: w, .. }
            if s.workflows[w.0.usize()].status != WorkflowStatus::Running =>
        {
            Err("a workflow ends once".into())
        }
        Event::MessageDelivered { message, .. } | Event::MessageAcknowledged { message }
            if crate::core::message::parse_message_id(message)
                .is_none_or(|m| m >= s.messages.len()) =>
        {
            Err(format!("unknown message '{message}'"))
        }
        Event::ToolCalled { tool, call, .. }
            if !s.tools.contains_key(tool) || s.tool_calls_open.contains_key(call) =>
        {
            Err(format!("tool.called does not fit tool '{tool}'"))
        }
        Event::JobFired { job, .. }
        | Event::JobPaused { job }
        | Event::JobResumed { job }
        | Event::JobDeleted { job }
            if crate::core::schedule::parse_job_id(job).is_none_or(|j| j >= s.jobs.len()) =>
        {
            Err(format!("unknown job '{job}'"))
        }
        Event::PatternProgressed { run, .. }
        | Event::PatternCompleted { run, .. }
        | Event::PatternFailed { run, .. }
            if crate::core::pattern::parse_run_id(run)
                .is_none_or(|r| r as usize >= s.runs.len()) =>
        {
            Err(format!("unknown run '{run}'"))
        }
        _ => Ok(()),
    }
}

/// A task that ends well releases each dependent once: none may already be released.
fn released_once(s: &State, t: TaskIx) -> Result<(), String> {
    let Some(w) = s.task(t).workflow.get() else {
        return Ok(());
    };
    let wf = &s.workflows[w.usize()];
    if wf.dependents[wf.local(t) as usize]
        .iter()
        .any(|&d| s.task(wf.task(d)).waiting_on == 0)
    {
        Err("a dependent was released twice".into())
    } else {
        Ok(())
    }
}
