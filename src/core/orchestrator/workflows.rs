//! Workflow commands: validation and submission, cancellation, and the end of a workflow.

use super::{Effect, Orchestrator};
use crate::core::agent::AgentStatus;
use crate::core::event::Event;
use crate::core::ids::{check_id, PayloadId, TaskIx, WorkflowIx};
use crate::core::task::{validate_priority, TaskStatus};
use crate::core::wire::{AgentRef, TaskRef, WorkflowRef};
use crate::core::workflow::{
    validate_shape, NewWorkflow, WorkflowSpec, WorkflowStatus, WorkflowTask,
};
use crate::core::{Error, Result};

impl Orchestrator {
    pub fn workflow(&self, id: &str) -> Result<WorkflowIx> {
        self.state
            .workflow_ix(id)
            .ok_or_else(|| Error::UnknownWorkflow(id.to_owned()))
    }

    /// Validates and submits a workflow. `payloads[i]` is (input, metadata) of `spec.tasks[i]`.
    pub fn submit_workflow(
        &mut self,
        spec: WorkflowSpec,
        payloads: &[(PayloadId, PayloadId)],
        now: u64,
    ) -> Result<WorkflowIx> {
        self.check_live()?;
        let id = match &spec.id {
            Some(id) => {
                check_id("workflow id", id)?;
                if self.state.workflow_ix(id).is_some() {
                    return Err(Error::DuplicateId {
                        kind: "workflow",
                        id: id.clone(),
                    });
                }
                id.clone()
            }
            None => self.fresh_workflow_id(),
        };
        let max = self.state.options.workflow_tasks_max;
        if spec.tasks.len() as u64 > max as u64 {
            return Err(Error::LimitReached {
                limit: "workflowTasksMax",
                value: max as u64,
            });
        }
        assert_eq!(
            payloads.len(),
            spec.tasks.len(),
            "one payload pair per task"
        );
        let deps = validate_shape(&id, &spec)?;
        let width = spec.width()?;
        if let Some(s) = &spec.session {
            check_id("session", s)?;
        }
        let mut tasks = Vec::with_capacity(spec.tasks.len());
        for ((t, d), &(input, metadata)) in spec.tasks.into_iter().zip(deps).zip(payloads) {
            let agent = match (&t.capability, t.agent.is_empty()) {
                (Some(_), false) => {
                    return Err(Error::invalid(
                        "tasks",
                        format!("task '{}': give an agent or a capability, not both", t.id),
                    ))
                }
                (Some(cap), true) => self.route(cap)?,
                (None, true) => {
                    return Err(Error::invalid(
                        "tasks",
                        format!("task '{}' needs an agent or a capability", t.id),
                    ))
                }
                (None, false) => self.agent(&t.agent)?,
            };
            let status = self.state.status_of(agent);
            if status == AgentStatus::Terminated {
                return Err(Error::AgentUnavailable {
                    agent: self.state.agent(agent).id.clone(),
                    status,
                });
            }
            let priority = validate_priority(t.priority)?;
            let policy = t.policy();
            if let Some(p) = &policy {
                p.validate(&format!("workflow '{id}' task '{}'", t.id))?;
            }
            tasks.push(WorkflowTask {
                policy,
                id: t.id,
                agent: AgentRef(agent),
                name: t.name,
                priority,
                input,
                metadata,
                depends_on: d,
                capability: t.capability,
            });
        }
        self.check_queue_room(tasks.len() as u64)?;
        let w = WorkflowIx(self.state.workflows.len() as u32);
        let nw = NewWorkflow {
            id,
            name: spec.name,
            policy: spec.failure_policy,
            width,
            session: spec.session,
            tasks,
        };
        self.emit(
            now,
            Event::WorkflowSubmitted {
                workflow: Box::new(nw),
            },
        );
        self.admit(w, now);
        self.dispatch(now);
        Ok(w)
    }

    /// Queues the workflow's ready tasks (dependencies done), as many as its width allows, best
    /// first (priority, then order in the workflow).
    pub(super) fn admit(&mut self, w: WorkflowIx, now: u64) {
        let wf = &self.state.workflows[w.usize()];
        let active = match wf.width {
            None => 0,
            Some(_) => wf
                .tasks()
                .filter(|&t| {
                    matches!(
                        self.state.task(t).status,
                        TaskStatus::Queued | TaskStatus::Running | TaskStatus::Retrying
                    )
                })
                .count() as u32,
        };
        let room = wf.width.unwrap_or(u32::MAX).saturating_sub(active);
        let mut ready: Vec<TaskIx> = wf
            .tasks()
            .filter(|&t| {
                let task = self.state.task(t);
                task.status == TaskStatus::Pending && task.waiting_on == 0
            })
            .collect();
        ready.sort_by_key(|&t| (self.state.task(t).priority, t));
        for t in ready.into_iter().take(room as usize) {
            self.emit(now, Event::TaskQueued { task: TaskRef(t) });
        }
    }

    fn fresh_workflow_id(&self) -> String {
        let mut n = self.state.workflows.len() + 1;
        loop {
            let id = format!("workflow-{n}");
            if self.state.workflow_ix(&id).is_none() {
                return id;
            }
            n += 1;
        }
    }

    /// Cancels every unfinished task of a workflow; the workflow fails.
    pub fn cancel_workflow(&mut self, w: WorkflowIx, reason: &str, now: u64) -> Result<()> {
        let wf = &self.state.workflows[w.usize()];
        if wf.status != WorkflowStatus::Running {
            return Err(Error::invalid(
                "workflow",
                format!("'{}' has already finished", wf.id),
            ));
        }
        let open: Vec<TaskIx> = wf
            .tasks()
            .filter(|&t| !self.state.task(t).status.is_terminal())
            .collect();
        for t in open {
            if !self.state.task(t).status.is_terminal() {
                self.cancel_one(t, reason, false, now);
                self.after_task_end(t, now);
            }
        }
        self.dispatch(now);
        Ok(())
    }

    /// Every unfinished task downstream of `local`, in index order.
    pub(super) fn open_dependents(&self, w: WorkflowIx, local: u32) -> Vec<TaskIx> {
        let wf = &self.state.workflows[w.usize()];
        let mut seen = vec![false; wf.len() as usize];
        let mut stack = vec![local];
        while let Some(l) = stack.pop() {
            for &d in &wf.dependents[l as usize] {
                if !seen[d as usize] {
                    seen[d as usize] = true;
                    stack.push(d);
                }
            }
        }
        (0..wf.len())
            .filter(|&l| seen[l as usize])
            .map(|l| wf.task(l))
            .filter(|&t| !self.state.task(t).status.is_terminal())
            .collect()
    }

    pub(super) fn finish_workflow_if_done(&mut self, w: WorkflowIx, now: u64) {
        let wf = &self.state.workflows[w.usize()];
        if wf.remaining > 0 || wf.status != WorkflowStatus::Running {
            return;
        }
        // The first task (by end time, then index) that did not complete is the culprit.
        let culprit = wf
            .tasks()
            .filter(|&t| {
                !matches!(
                    self.state.task(t).status,
                    TaskStatus::Completed | TaskStatus::Skipped
                )
            })
            .min_by_key(|&t| (self.state.task(t).completed_at, t));
        let policy = wf.policy;
        let id = wf.id.clone();
        match culprit {
            None => {
                self.emit(
                    now,
                    Event::WorkflowCompleted {
                        workflow: WorkflowRef(w),
                    },
                );
                self.auto_snapshot("workflow.completed", Some(id), now);
            }
            Some(task) => {
                self.emit(
                    now,
                    Event::WorkflowFailed {
                        workflow: WorkflowRef(w),
                        task: TaskRef(task),
                        policy,
                    },
                );
                self.auto_snapshot("workflow.failed", Some(id), now);
            }
        }
        self.effects
            .push_back(Effect::WorkflowSettled { workflow: w });
    }
}
