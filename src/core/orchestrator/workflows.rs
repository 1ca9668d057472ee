//! Workflow commands: validation and submission, cancellation, and the end of a workflow.

use super::shape::{misaligned, PlainShape};
use super::{Effect, Orchestrator, NAME_BYTES_MAX};
use crate::core::agent::AgentStatus;
use crate::core::event::Event;
use crate::core::ids::check_text;
use crate::core::ids::{check_id, PayloadId, TaskIx, WorkflowIx};
use crate::core::names::Names;
use crate::core::task::{validate_priority, TaskStatus};
use crate::core::wire::{AgentRef, TaskRef, WorkflowRef};
use crate::core::workflow::{
    validate_shape, NewWorkflow, WorkflowSpec, WorkflowStatus, WorkflowTask,
};
use crate::core::{Error, Result};
use std::sync::Arc;

/// A plain workflow's tasks as arrays, one entry per task: `ids` joined by `\n`, agent indices,
/// priorities (0 for the default), each task's dependencies (indices into the workflow) from
/// `dep_offsets[i]` to `dep_offsets[i + 1]` in `deps`, and its input and metadata payload ids in
/// pairs.
#[derive(Debug, Clone, Copy)]
pub struct PlainTasks<'a> {
    pub ids: &'a str,
    pub agents: &'a [u32],
    pub priorities: &'a [u32],
    pub dep_offsets: &'a [u32],
    pub deps: &'a [u32],
    pub payloads: &'a [u32],
}

/// What a plain workflow's submission adds to its shape, one entry per task: agent indices,
/// priorities (0 for the default), and input and metadata payload ids in pairs.
#[derive(Debug, Clone, Copy)]
pub struct EachTask<'a> {
    pub agents: &'a [u32],
    pub priorities: &'a [u32],
    pub payloads: &'a [u32],
}

impl Orchestrator {
    pub fn workflow(&self, id: &str) -> Result<WorkflowIx> {
        self.state
            .workflow_ix(id)
            .ok_or_else(|| Error::UnknownWorkflow(id.to_owned()))
    }

    /// Validates and submits a workflow. `payloads[i]` is (input, metadata) of `spec.tasks[i]`.
    pub fn submit_workflow(
        &mut self,
        mut spec: WorkflowSpec,
        payloads: &[(PayloadId, PayloadId)],
        now: u64,
    ) -> Result<WorkflowIx> {
        let id =
            self.check_new_workflow(spec.id.clone(), spec.name.as_deref(), spec.tasks.len())?;
        for (i, t) in spec.tasks.iter_mut().enumerate() {
            if let Some(name) = &t.name {
                check_text("name", name, NAME_BYTES_MAX)?;
            }
            if t.id.is_empty() {
                let Some(name) = &t.name else {
                    let why = format!("task #{i} needs an id (or a name, which is then its id)");
                    return Err(Error::invalid("tasks", why));
                };
                // The name serves as the id, so it must be one: give an id for a longer name.
                check_id("task id (its name, as it has no id)", name)?;
                t.id = name.clone();
            }
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
        let ids: Names = spec.tasks.iter().map(|t| &t.id).collect();
        let mut tasks = Vec::with_capacity(spec.tasks.len());
        let mut assigned = std::collections::BTreeMap::new();
        for (t, &(input, metadata)) in spec.tasks.into_iter().zip(payloads) {
            let agent = match (&t.capability, t.agent.is_empty()) {
                (Some(_), false) => {
                    return Err(Error::invalid(
                        "tasks",
                        format!("task '{}': give an agent or a capability, not both", t.id),
                    ))
                }
                (Some(cap), true) => {
                    // Count the tasks this workflow already gave each agent, so they spread.
                    let a = self
                        .route_by(cap, None, &assigned)
                        .ok_or_else(|| Error::NoCapableAgent(cap.clone()))?;
                    *assigned.entry(a).or_insert(0) += 1;
                    a
                }
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
                agent: AgentRef(agent),
                priority,
                input,
                metadata,
                rare: WorkflowTask::rare(
                    t.name.map(Into::into),
                    t.capability.map(Into::into),
                    policy,
                ),
            });
        }
        self.commit_workflow(
            NewWorkflow {
                id,
                name: spec.name,
                policy: spec.failure_policy,
                width,
                session: spec.session,
                tasks,
                ids: Arc::new(ids),
                deps: Arc::new(deps),
            },
            now,
        )
    }

    /// Queues the workflow's ready tasks (dependencies done): all of them, or as many as its
    /// width allows, best first (priority, then order in the workflow).
    pub(super) fn admit(&mut self, w: WorkflowIx, now: u64) {
        let wf = &self.state.workflows[w.usize()];
        if wf.width.is_none() {
            // Every ready task is queued, in index order: the ready queue orders them by
            // priority itself, and the tasks are visited in the order they lie in memory (in
            // priority order, 100,000 tasks would be 100,000 cache misses).
            let tasks = wf.first.0..wf.first.0 + wf.len();
            for t in tasks.map(TaskIx) {
                let task = self.state.task(t);
                if task.status == TaskStatus::Pending && task.waiting_on == 0 {
                    self.queue_task(t, now);
                }
            }
            return;
        }
        // A width: the best ready tasks by priority, as many as there is room for.
        for t in self.state.admissible(w) {
            self.queue_task(t, now);
        }
    }

    /// The hot path for plain workflows (tasks with an id, an agent, maybe a priority and
    /// dependencies, nothing else): the same validation and events as [`Self::submit_workflow`],
    /// from indices instead of JSON (see [`PlainTasks`]).
    pub fn submit_workflow_plain(
        &mut self,
        id: Option<String>,
        name: Option<String>,
        policy: crate::core::workflow::FailurePolicy,
        tasks: PlainTasks<'_>,
        now: u64,
    ) -> Result<WorkflowIx> {
        let planned = self.plan_workflow_plain(id, name, policy, tasks)?;
        self.commit_workflow(planned, now)
    }

    /// [`Self::submit_workflow_plain`]'s checks, and the workflow it would record; nothing
    /// changes. A driver can free its copies of the arrays before [`Self::commit_workflow`]:
    /// in wasm, memory freed before the workflow's state is built is memory that state reuses.
    pub(crate) fn plan_workflow_plain(
        &self,
        id: Option<String>,
        name: Option<String>,
        policy: crate::core::workflow::FailurePolicy,
        tasks: PlainTasks<'_>,
    ) -> Result<NewWorkflow> {
        let n = tasks.agents.len();
        if tasks.dep_offsets.len() != n + 1 {
            self.check_live()?;
            return Err(misaligned());
        }
        let shape = PlainShape::new(tasks.ids, tasks.dep_offsets, tasks.deps);
        let each = EachTask {
            agents: tasks.agents,
            priorities: tasks.priorities,
            payloads: tasks.payloads,
        };
        self.plan_workflow_shaped(id, name, policy, &shape, each)
    }

    /// A plain workflow from a shape checked before ([`PlainShape`], made once for many
    /// submissions) and this submission's agents, priorities and payloads: the same checks, in
    /// the same order, and the same workflow as [`Self::plan_workflow_plain`].
    pub(crate) fn plan_workflow_shaped(
        &self,
        id: Option<String>,
        name: Option<String>,
        policy: crate::core::workflow::FailurePolicy,
        shape: &PlainShape,
        each: EachTask<'_>,
    ) -> Result<NewWorkflow> {
        let EachTask {
            agents,
            priorities,
            payloads,
        } = each;
        self.check_live()?;
        let n = agents.len();
        if priorities.len() != n || payloads.len() != 2 * n || !shape.lines_up() {
            return Err(misaligned());
        }
        let id = self.check_new_workflow(id, name.as_deref(), n)?;
        if n == 0 {
            return Err(Error::invalid(
                "tasks",
                format!("workflow '{id}' has no tasks"),
            ));
        }
        if shape.len() != n {
            return Err(Error::invalid("workflow", "one task id per agent"));
        }
        shape.check(&id)?;
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            let agent = crate::core::ids::AgentIx(agents[i]);
            if agents[i] as usize >= self.state.agents.len() {
                return Err(Error::UnknownAgent(format!("#{}", agents[i])));
            }
            let status = self.state.status_of(agent);
            if status == AgentStatus::Terminated {
                return Err(Error::AgentUnavailable {
                    agent: self.state.agent(agent).id.clone(),
                    status,
                });
            }
            let priority = validate_priority((priorities[i] != 0).then_some(priorities[i]))?;
            let (input, metadata) = (PayloadId(payloads[2 * i]), PayloadId(payloads[2 * i + 1]));
            tasks.push(WorkflowTask {
                agent: AgentRef(agent),
                priority,
                input,
                metadata,
                rare: None,
            });
        }
        let (ids, deps) = shape.shared();
        Ok(NewWorkflow {
            id,
            name,
            policy,
            width: None,
            session: None,
            tasks,
            ids,
            deps,
        })
    }

    /// Records a validated workflow and queues its first tasks.
    pub(crate) fn commit_workflow(&mut self, nw: NewWorkflow, now: u64) -> Result<WorkflowIx> {
        self.check_queue_room(nw.len() as u64)?;
        let w = WorkflowIx(self.state.workflows.len() as u32);
        self.emit(
            now,
            Event::WorkflowSubmitted {
                workflow: Box::new(nw),
            },
        );
        self.admitting_new = true;
        self.admit(w, now);
        self.admitting_new = false;
        self.dispatch(now);
        Ok(w)
    }

    /// A new workflow's id (the one given, checked, or a fresh one) once its size is allowed.
    fn check_new_workflow(
        &self,
        id: Option<String>,
        name: Option<&str>,
        tasks: usize,
    ) -> Result<String> {
        self.check_live()?;
        if let Some(name) = name {
            check_text("name", name, NAME_BYTES_MAX)?;
        }
        let id = match id {
            Some(id) => {
                check_id("workflow id", &id)?;
                // `getWorkflow` and `wait` take a pattern run's id too: one id, one thing.
                if crate::core::pattern::parse_run_id(&id).is_some() {
                    let why = format!("'{id}' has the form of a pattern run's id (run-<n>)");
                    return Err(Error::invalid("workflow id", why));
                }
                if crate::core::task::parse_auto_task_id(&id).is_some() {
                    let why = format!("'{id}' has the form Baton generates for tasks (task-<n>)");
                    return Err(Error::invalid("workflow id", why));
                }
                if self.state.workflow_ix(&id).is_some() {
                    return Err(Error::DuplicateId {
                        kind: "workflow",
                        id,
                    });
                }
                // (Said of the id the caller gave: a workflow's, though a task has it.)
                if self.state.task_ix(&id).is_some() {
                    return Err(Error::DuplicateId {
                        kind: "workflow",
                        id,
                    });
                }
                id
            }
            None => self.fresh_workflow_id(),
        };
        let max = self.state.options.workflow_tasks_max;
        if tasks as u64 > max as u64 {
            return Err(Error::LimitReached {
                limit: "workflowTasksMax",
                value: max as u64,
            });
        }
        Ok(id)
    }

    fn fresh_workflow_id(&self) -> String {
        let mut n = self.state.workflows.len() + 1;
        loop {
            let id = format!("workflow-{n}");
            if self.state.workflow_ix(&id).is_none() && self.state.task_ix(&id).is_none() {
                return id;
            }
            n += 1;
        }
    }

    /// Cancels every unfinished task of a workflow; the workflow fails.
    pub fn cancel_workflow(&mut self, w: WorkflowIx, reason: &str, now: u64) -> Result<()> {
        super::tasks::check_reason(reason)?;
        let wf = &self.state.workflows[w.usize()];
        if wf.status != WorkflowStatus::Running {
            return Err(Error::InvalidState {
                what: "workflow",
                reason: format!("'{}' has already finished", wf.id),
            });
        }
        let mut open: Vec<TaskIx> = wf
            .tasks()
            .filter(|&t| !self.state.task(t).status.is_terminal())
            .collect();
        // The tasks that hold no slot go first, then those holding a width slot only, then the
        // running ones: a cancel that frees a slot then finds none of this workflow's tasks left
        // to start in it, so no agent is called for a workflow being cancelled.
        open.sort_by_key(|&t| match self.state.task(t).status {
            TaskStatus::Pending => 0,
            TaskStatus::Running => 2,
            _ => 1,
        });
        for t in open {
            if !self.state.task(t).status.is_terminal() {
                // One cancel at a time, each followed by dispatch, exactly as `cancel_task`: a
                // journal of this replays (and verifies) as the same cancels one by one.
                self.cancel_one(t, reason, false, now);
                self.after_task_end(t, now);
                self.dispatch(now);
            }
        }
        self.dispatch(now);
        Ok(())
    }

    /// Every unfinished task downstream of `local`, in index order.
    pub(super) fn open_dependents(&self, w: WorkflowIx, local: u32) -> Vec<TaskIx> {
        let wf = &self.state.workflows[w.usize()];
        // A set of what is reached, not a flag per task: a workflow where many tasks fail must
        // not pay for all of its tasks at each failure.
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![local];
        while let Some(l) = stack.pop() {
            for &d in &wf.dependents[l as usize] {
                if seen.insert(d) {
                    stack.push(d);
                }
            }
        }
        (seen.into_iter().map(|l| wf.task(l)))
            .filter(|&t| !self.state.task(t).status.is_terminal())
            .collect()
    }

    /// Whether every task of the workflow that did not complete (or was skipped) was cancelled.
    fn only_cancelled(&self, w: WorkflowIx) -> bool {
        self.state.workflows[w.usize()].tasks().all(|t| {
            matches!(
                self.state.task(t).status,
                TaskStatus::Completed | TaskStatus::Skipped | TaskStatus::Cancelled
            )
        })
    }

    pub(super) fn finish_workflow_if_done(&mut self, w: WorkflowIx, now: u64) {
        let wf = &self.state.workflows[w.usize()];
        if wf.remaining > 0 || wf.status != WorkflowStatus::Running {
            return;
        }
        // The culprit is the first task (by end time, then index) that did not complete, one
        // that failed before one cancelled: a fail-fast's cancels end at the failure's time, and
        // the failure, not a task listed before it, is why the workflow failed.
        let culprit = wf
            .tasks()
            .filter(|&t| {
                !matches!(
                    self.state.task(t).status,
                    TaskStatus::Completed | TaskStatus::Skipped
                )
            })
            .min_by_key(|&t| {
                let task = self.state.task(t);
                (
                    task.status == TaskStatus::Cancelled,
                    task.completed_at.get(),
                    t,
                )
            });
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
                self.snapshot_due("workflow.completed", Some(id), now);
            }
            // Only cancels kept it from completing: it was cancelled, not failed.
            Some(task) if self.only_cancelled(w) => {
                self.emit(
                    now,
                    Event::WorkflowCancelled {
                        workflow: WorkflowRef(w),
                        task: TaskRef(task),
                    },
                );
                self.snapshot_due("workflow.cancelled", Some(id), now);
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
                self.snapshot_due("workflow.failed", Some(id), now);
            }
        }
        self.effects
            .push_back(Effect::WorkflowSettled { workflow: w });
    }
}
