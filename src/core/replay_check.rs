//! Checks that a decoded journal record fits the state before it is applied, so a corrupt or
//! hand-edited journal is refused with an error naming the record instead of tripping an
//! invariant inside [`State::apply`].

use crate::core::event::{Event, Record};
use crate::core::ids::TaskIx;
use crate::core::state::State;
use crate::core::task::TaskStatus;
use crate::core::workflow::WorkflowStatus;

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
        Event::TaskCreated { task: nt, .. } => match &nt.custom_id {
            Some(id) if s.task_ix(id).is_some() => Err(format!("task '{id}' is created twice")),
            None if nt.ix.usize() != s.tasks.len() => {
                Err("generated task ids must follow creation order".into())
            }
            _ => Ok(()),
        },
        Event::TaskQueued { task: t } if task(t.0).status != TaskStatus::Pending => Err(format!(
            "task.queued needs a pending task, not {}",
            task(t.0).status
        )),
        Event::TaskRequeued { task: t, .. } if task(t.0).status != TaskStatus::Running => {
            Err("task.requeued needs a running task".into())
        }
        Event::TaskStarted { task: t, call, .. } => {
            let tk = task(t.0);
            let ok = match tk.status {
                TaskStatus::Queued => *call != 0 && s.call_task(*call).is_none(),
                TaskStatus::Pending => tk.manual && *call == 0,
                _ => false,
            };
            if ok {
                Ok(())
            } else {
                Err(format!("task.started does not fit a {} task", tk.status))
            }
        }
        Event::TaskCompleted { task: t, .. } => {
            open(t.0)?;
            let Some(w) = task(t.0).workflow else {
                return Ok(());
            };
            let wf = &s.workflows[w.usize()];
            let starved = wf.dependents[wf.local(t.0) as usize]
                .iter()
                .any(|&d| task(wf.task(d)).waiting_on == 0);
            if starved {
                Err("a dependent was released twice".into())
            } else {
                Ok(())
            }
        }
        Event::TaskFailed { task: t, .. }
        | Event::TaskCancelled { task: t, .. }
        | Event::TaskSkipped { task: t, .. } => open(t.0),
        Event::WorkflowSubmitted { workflow } => {
            let n = workflow.tasks.len() as u32;
            if s.workflow_ix(&workflow.id).is_some() {
                Err(format!("workflow '{}' is submitted twice", workflow.id))
            } else if workflow
                .tasks
                .iter()
                .any(|t| t.depends_on.iter().any(|&d| d >= n))
            {
                Err(format!(
                    "workflow '{}' names a dependency out of range",
                    workflow.id
                ))
            } else {
                Ok(())
            }
        }
        Event::WorkflowCompleted { workflow: w } | Event::WorkflowFailed { workflow: w, .. }
            if s.workflows[w.0.usize()].status != WorkflowStatus::Running =>
        {
            Err("a workflow ends once".into())
        }
        _ => Ok(()),
    }
}
