//! Task commands (submitted and manual), agent outcomes, cancellation and the dispatcher.

use super::{AbortReason, Effect, Orchestrator};
use crate::core::agent::AgentStatus;
use crate::core::event::{Event, TaskExtra};
use crate::core::ids::MESSAGE_BYTES_MAX;
use crate::core::ids::{check_id, check_text, kept_message, AgentIx, PayloadId, TaskIx};
use crate::core::policy::{BreakerState, RateLimit};
use crate::core::task::{
    parse_auto_task_id, validate_priority, ErrorClass, TaskError, TaskSpec, TaskStatus,
};
use crate::core::wire::{AgentRef, TaskRef};
use crate::core::workflow::NewTask;
use crate::core::workflow::{FailurePolicy, WorkflowStatus};
use crate::core::{Error, Result};

/// A task names its agent or a capability: one of the two.
pub(super) fn check_target(spec: &TaskSpec) -> Result<()> {
    match (&spec.capability, spec.agent.is_empty()) {
        (Some(_), false) => Err(Error::invalid(
            "task",
            "give an agent or a capability, not both",
        )),
        (None, true) => Err(Error::invalid(
            "agent",
            "a task needs an agent or a capability",
        )),
        _ => Ok(()),
    }
}

impl Orchestrator {
    pub fn task(&self, id: &str) -> Result<TaskIx> {
        self.state
            .task_ix(id)
            .ok_or_else(|| Error::UnknownTask(id.to_owned()))
    }

    /// Submits a task for the scheduler to run. `input` and `metadata` are payload handles.
    pub fn submit(
        &mut self,
        spec: TaskSpec,
        input: PayloadId,
        metadata: PayloadId,
        now: u64,
    ) -> Result<TaskIx> {
        let (agent, custom_id, priority) = self.check_new_task(&spec)?;
        let ix = self.create_queued(
            custom_id,
            agent,
            &spec,
            priority,
            input,
            metadata,
            spec_extra(&spec),
            now,
        );
        self.dispatch(now);
        Ok(ix)
    }

    /// The hot path: a task for an agent by index, with a priority (`None`: the default) and an
    /// input, and nothing else: no strings, no JSON.
    pub fn submit_to(
        &mut self,
        agent: AgentIx,
        priority: Option<u32>,
        input: PayloadId,
        now: u64,
    ) -> Result<TaskIx> {
        self.check_live()?;
        if agent.usize() >= self.state.agents.len() {
            return Err(Error::UnknownAgent(format!("#{}", agent.index())));
        }
        let status = self.state.status_of(agent);
        if status == AgentStatus::Terminated {
            return Err(Error::AgentUnavailable {
                agent: self.state.agent(agent).id.clone(),
                status,
            });
        }
        let priority = validate_priority(priority)?;
        self.check_queue_room(1)?;
        let ix = self.create_queued(
            None,
            agent,
            &TaskSpec::default(),
            priority,
            input,
            PayloadId::NONE,
            TaskExtra::default(),
            now,
        );
        self.dispatch(now);
        Ok(ix)
    }

    /// A task Baton creates for itself (a pattern step, a summarizer), from JSON input, queued.
    pub(super) fn submit_internal(
        &mut self,
        agent: &str,
        name: String,
        input: &str,
        extra: TaskExtra,
        now: u64,
    ) -> Result<TaskIx> {
        let spec = TaskSpec {
            agent: agent.to_owned(),
            name: Some(name),
            ..TaskSpec::default()
        };
        let (agent, custom_id, priority) = self.check_new_task(&spec)?;
        let input = self.payloads.get_mut().alloc_json(input)?;
        Ok(self.create_queued(
            custom_id,
            agent,
            &spec,
            priority,
            input,
            PayloadId::NONE,
            extra,
            now,
        ))
    }

    /// Creates a submitted task and queues it.
    #[allow(clippy::too_many_arguments)]
    fn create_queued(
        &mut self,
        custom_id: Option<Box<str>>,
        agent: AgentIx,
        spec: &TaskSpec,
        priority: u8,
        input: PayloadId,
        metadata: PayloadId,
        extra: TaskExtra,
        now: u64,
    ) -> TaskIx {
        let ix = self.create(
            custom_id, agent, spec, priority, input, metadata, false, extra, now,
        );
        self.queue_task(ix, now);
        ix
    }

    /// The first seed's manual style: a `Pending` task that the caller runs and reports itself.
    pub fn create_task(&mut self, spec: TaskSpec, metadata: PayloadId, now: u64) -> Result<TaskIx> {
        self.as_command(now, |o| o.create_task_steps(spec, metadata, now))
    }

    fn create_task_steps(
        &mut self,
        spec: TaskSpec,
        metadata: PayloadId,
        now: u64,
    ) -> Result<TaskIx> {
        let (agent, custom_id, priority) = self.check_new_task(&spec)?;
        Ok(self.create(
            custom_id,
            agent,
            &spec,
            priority,
            PayloadId::NONE,
            metadata,
            true,
            spec_extra(&spec),
            now,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn create(
        &mut self,
        custom_id: Option<Box<str>>,
        agent: AgentIx,
        spec: &TaskSpec,
        priority: u8,
        input: PayloadId,
        metadata: PayloadId,
        manual: bool,
        extra: TaskExtra,
        now: u64,
    ) -> TaskIx {
        let ix = TaskIx(self.state.tasks.len() as u32);
        self.emit(
            now,
            Event::TaskCreated {
                task: NewTask { ix, custom_id },
                agent: AgentRef(agent),
                name: spec.name.as_deref().map(Into::into),
                priority,
                input,
                metadata,
                manual,
                policy: spec.policy(),
                extra: (!extra.is_empty()).then(|| Box::new(extra)),
            },
        );
        ix
    }

    pub(super) fn check_new_task(
        &self,
        spec: &TaskSpec,
    ) -> Result<(AgentIx, Option<Box<str>>, u8)> {
        self.check_live()?;
        check_target(spec)?;
        let agent = match &spec.capability {
            Some(cap) => self.route(cap)?,
            None => self.agent(&spec.agent)?,
        };
        if let Some(s) = &spec.session {
            check_id("session", s)?;
        }
        if let Some(name) = &spec.name {
            check_text("name", name, super::NAME_BYTES_MAX)?;
        }
        let status = self.state.status_of(agent);
        if status == AgentStatus::Terminated {
            return Err(Error::AgentUnavailable {
                agent: self.state.agent(agent).id.clone(),
                status,
            });
        }
        let priority = validate_priority(spec.priority)?;
        let custom_id = match &spec.id {
            None => None,
            Some(id) => {
                check_id("task id", id)?;
                if parse_auto_task_id(id).is_some() {
                    return Err(Error::invalid(
                        "task id",
                        format!("'{id}' has the form Baton generates (task-<n>)"),
                    ));
                }
                // `wait` and `getWorkflow` take a workflow's or a pattern run's id too: one id,
                // one thing.
                if crate::core::pattern::parse_run_id(id).is_some() {
                    let why = format!("'{id}' has the form of a pattern run's id (run-<n>)");
                    return Err(Error::invalid("task id", why));
                }
                if self.state.task_ix(id).is_some() {
                    return Err(Error::DuplicateId {
                        kind: "task",
                        id: id.clone(),
                    });
                }
                // (Said of the id the caller gave: a task's, though a workflow has it.)
                if self.state.workflow_ix(id).is_some() {
                    return Err(Error::DuplicateId {
                        kind: "task",
                        id: id.clone(),
                    });
                }
                Some(id.as_str().into())
            }
        };
        if let Some(p) = spec.policy() {
            p.validate(&format!("task for '{}'", self.state.agent(agent).id))?;
        }
        self.check_queue_room(1)?;
        Ok((agent, custom_id, priority))
    }

    pub(super) fn check_queue_room(&self, adding: u64) -> Result<()> {
        let s = &self.state;
        let waiting = s.count(TaskStatus::Pending)
            + s.count(TaskStatus::Queued)
            + s.count(TaskStatus::Retrying);
        let max = s.options.queue_depth_max as u64;
        if waiting + adding > max {
            return Err(Error::LimitReached {
                limit: "queueDepthMax",
                value: max,
            });
        }
        Ok(())
    }

    /// Manual tasks: `Pending` → `Running`.
    pub fn start_task(&mut self, task: TaskIx, now: u64) -> Result<()> {
        self.as_command(now, |o| o.start_task_steps(task, now))
    }

    fn start_task_steps(&mut self, task: TaskIx, now: u64) -> Result<()> {
        self.expect_manual(task, "startTask", &[TaskStatus::Pending], "Pending")?;
        let t = self.state.task(task);
        let status = self.state.status_of(t.agent);
        if matches!(
            status,
            AgentStatus::Paused
                | AgentStatus::Stopped
                | AgentStatus::Terminated
                | AgentStatus::Error
        ) {
            return Err(Error::AgentUnavailable {
                agent: self.state.agent(t.agent).id.clone(),
                status,
            });
        }
        let attempt = t.attempts + 1;
        self.emit(
            now,
            Event::TaskStarted {
                task: TaskRef(task),
                call: 0,
                attempt,
                deadline: None,
            },
        );
        Ok(())
    }

    /// Manual tasks: `Running` → `Completed` with `output`.
    pub fn complete_task(&mut self, task: TaskIx, output: PayloadId, now: u64) -> Result<()> {
        self.expect_manual(task, "completeTask", &[TaskStatus::Running], "Running")?;
        self.emit(
            now,
            Event::TaskCompleted {
                task: TaskRef(task),
                call: 0,
                output,
            },
        );
        self.after_task_end(task, now);
        // The slot it held (its agent's, the orchestrator's) may be what a queued task waits for.
        self.dispatch(now);
        Ok(())
    }

    /// Manual tasks: `Pending` or `Running` → `Failed`; counts as an error of the agent.
    pub fn fail_task(&mut self, task: TaskIx, message: &str, now: u64) -> Result<()> {
        self.expect_manual(
            task,
            "failTask",
            &[TaskStatus::Pending, TaskStatus::Running],
            "Pending or Running",
        )?;
        check_text("message", message, MESSAGE_BYTES_MAX)?;
        let error = Box::new(TaskError::new(ErrorClass::Agent, message));
        self.emit(
            now,
            Event::TaskFailed {
                task: TaskRef(task),
                error,
                auto: false,
            },
        );
        let agent = self.state.task(task).agent;
        self.count_error(agent, message, true, now);
        self.after_task_end(task, now);
        self.dispatch(now);
        Ok(())
    }

    fn expect_manual(
        &self,
        task: TaskIx,
        action: &'static str,
        ok: &[TaskStatus],
        expected: &'static str,
    ) -> Result<()> {
        let t = self.state.task(task);
        let id = || self.state.task_id(task).expect("task exists");
        if !t.manual {
            return Err(Error::TaskState {
                task: id(),
                status: t.status,
                action,
                expected: "created with createTask",
            });
        }
        if !ok.contains(&t.status) {
            return Err(Error::TaskState {
                task: id(),
                status: t.status,
                action,
                expected,
            });
        }
        Ok(())
    }

    /// Cancels a task that has not finished; a call in flight gets an [`Effect::Abort`].
    pub fn cancel_task(&mut self, task: TaskIx, reason: &str, now: u64) -> Result<()> {
        check_reason(reason)?;
        let t = self.state.task(task);
        if t.status.is_terminal() {
            let id = self.state.task_id(task).expect("task exists");
            return Err(Error::TaskState {
                task: id,
                status: t.status,
                action: "cancel",
                expected: "not finished",
            });
        }
        self.cancel_one(task, reason, false, now);
        self.after_task_end(task, now);
        self.dispatch(now);
        Ok(())
    }

    /// Cancels every task of the agent that waits (pending, queued or retrying); running calls
    /// go on. Returns how many were cancelled.
    pub fn cancel_agent_tasks(&mut self, agent: AgentIx, reason: &str, now: u64) -> Result<usize> {
        check_reason(reason)?;
        let waiting: Vec<TaskIx> = (0..self.state.tasks.len() as u32)
            .map(TaskIx)
            .filter(|&t| {
                let task = self.state.task(t);
                task.agent == agent
                    && !task.manual
                    && matches!(
                        task.status,
                        TaskStatus::Pending | TaskStatus::Queued | TaskStatus::Retrying
                    )
            })
            .collect();
        let mut n = 0;
        for t in waiting {
            if !self.state.task(t).status.is_terminal() {
                // As `cancel_task` does, so the journal replays as the same cancels one by one.
                self.cancel_one(t, reason, false, now);
                self.after_task_end(t, now);
                self.dispatch(now);
                n += 1;
            }
        }
        self.dispatch(now);
        Ok(n)
    }

    pub(super) fn cancel_one(&mut self, task: TaskIx, reason: &str, auto: bool, now: u64) {
        let t = self.state.task(task);
        if t.status == TaskStatus::Running && t.call != 0 {
            self.effects.push_back(Effect::Abort {
                call: t.call,
                reason: AbortReason::Cancelled,
            });
        }
        self.emit(
            now,
            Event::TaskCancelled {
                task: TaskRef(task),
                reason: reason.to_owned(),
                auto,
            },
        );
        self.task_settled(task);
    }

    // ---- agent outcomes ----------------------------------------------------------------------

    /// An agent call succeeded. Returns `false` for a call that is no longer current (its
    /// attempt timed out or was cancelled, or it already answered): the answer is recorded as
    /// `call.ignored` and never applied.
    pub fn complete(&mut self, call: u32, output: PayloadId, now: u64) -> bool {
        let Some(task) = self.state.call_task(call) else {
            self.ignore_call(call, now);
            return false;
        };
        if let Some(problem) = self.answer_problem(task, output) {
            // A pattern task answered in the wrong shape: that is the attempt failing.
            let error = TaskError::new(ErrorClass::Validation, problem);
            self.attempt_failed(task, call, error, false, now);
            self.dispatch(now);
            return true;
        }
        self.emit(
            now,
            Event::TaskCompleted {
                task: TaskRef(task),
                call,
                output,
            },
        );
        let agent = self.state.task(task).agent;
        self.breaker_after_success(agent, now);
        self.after_task_end(task, now);
        self.dispatch(now);
        true
    }

    /// An agent call failed (threw, rejected, or answered in a shape the caller refused). The
    /// task's policy decides what follows. Returns `false` for a call that is no longer current.
    pub fn fail(&mut self, call: u32, class: ErrorClass, message: &str, now: u64) -> bool {
        self.fail_with(call, TaskError::new(class, message), now)
    }

    /// [`Orchestrator::fail`] with the whole error, its `retry_after_ms` included.
    pub fn fail_with(&mut self, call: u32, mut error: TaskError, now: u64) -> bool {
        let Some(task) = self.state.call_task(call) else {
            self.ignore_call(call, now);
            return false;
        };
        error.message = kept_message(error.message);
        self.attempt_failed(task, call, error, false, now);
        self.dispatch(now);
        true
    }

    fn ignore_call(&mut self, call: u32, now: u64) {
        let task = self.state.late_calls.get(&call).copied();
        let reason = match task {
            Some(_) => "late: the attempt had already timed out or been cancelled",
            None => "not a call in flight: it answered already, or never existed",
        };
        self.emit(
            now,
            Event::CallIgnored {
                call,
                task: task.map(TaskRef),
                reason: reason.into(),
            },
        );
        self.command_end(now);
    }

    /// Consequences of a task reaching a terminal status: wake waiters, release or skip its
    /// dependents, finish its workflow.
    pub(super) fn after_task_end(&mut self, task: TaskIx, now: u64) {
        self.task_settled(task);
        self.pattern_task_ended(task, now);
        let Some(w) = self.state.task(task).workflow.get() else {
            return;
        };
        let wf = &self.state.workflows[w.usize()];
        if wf.status != WorkflowStatus::Running {
            return;
        }
        let local = wf.local(task);

        if matches!(
            self.state.task(task).status,
            TaskStatus::Completed | TaskStatus::Skipped
        ) && wf.width.is_some()
        {
            self.admit(w, now);
        } else if matches!(
            self.state.task(task).status,
            TaskStatus::Completed | TaskStatus::Skipped
        ) {
            // By index rather than collected: no allocation per completed task.
            for k in 0..wf.dependents[local as usize].len() {
                let wf = &self.state.workflows[w.usize()];
                let t = wf.task(wf.dependents[local as usize][k]);
                let task = self.state.task(t);
                if task.waiting_on == 0 && task.status == TaskStatus::Pending {
                    self.queue_task(t, now);
                }
            }
        } else {
            let culprit = self.state.task_id(task).expect("task exists");
            match wf.policy {
                FailurePolicy::FailFast => {
                    let open: Vec<TaskIx> = wf
                        .tasks()
                        .filter(|&t| !self.state.task(t).status.is_terminal())
                        .collect();
                    // A cancel's reason goes to the rest as given: cancelling a workflow (whose
                    // first cancel lands here) says why once for all of its tasks, not "failed".
                    let ended = self.state.task(task);
                    let reason = match (ended.status, ended.error.as_deref()) {
                        (TaskStatus::Cancelled, Some(e)) => e.message.clone(),
                        _ => format!("workflow failed fast: task '{culprit}' did not complete"),
                    };
                    for t in open {
                        self.cancel_one(t, &reason, true, now);
                    }
                }
                FailurePolicy::Continue => {
                    let reason = format!("upstream task '{culprit}' did not complete");
                    for t in self.open_dependents(w, local) {
                        self.emit(
                            now,
                            Event::TaskSkipped {
                                task: TaskRef(t),
                                reason: reason.clone(),
                            },
                        );
                        self.task_settled(t);
                    }
                    if self.state.workflows[w.usize()].width.is_some() {
                        self.admit(w, now);
                    }
                }
            }
        }
        self.finish_workflow_if_done(w, now);
    }

    /// Hands out calls while there is room: best ready task first, among agents that can take one.
    pub(super) fn dispatch(&mut self, now: u64) {
        self.start_ready(now);
        // A command's last step, unless within a failure's handling (see `deciding`).
        if self.deciding == 0 {
            self.settle_snapshots(now);
        }
    }

    fn start_ready(&mut self, now: u64) {
        if self.state.terminated.is_some() {
            return;
        }
        let max = self.state.options.max_concurrency.unwrap_or(u32::MAX);
        while self.state.running() < max {
            let Some((agent, task)) = self.state.queue().peek() else {
                break;
            };
            let call = self.state.next_call;
            let t = self.state.task(task);
            let (attempt, input) = (t.attempts + 1, t.input);
            let deadline = self.timeout_ms(task).map(|ms| now.saturating_add(ms));
            self.emit(
                now,
                Event::TaskStarted {
                    task: TaskRef(task),
                    call,
                    attempt,
                    deadline,
                },
            );
            self.effects.push_back(Effect::Invoke {
                call,
                task,
                agent,
                attempt,
                input,
            });
            self.throttle_if_spent(agent, now);
            if call % TOUCH_AHEAD_TASKS == 0 {
                // The batch after next: by the time they start, their lines have arrived.
                let (queue, n) = (self.state.queue(), TOUCH_AHEAD_TASKS as usize);
                self.state.touch(queue.upcoming(agent, n, n));
            }
        }
    }

    /// After a call starts: an agent whose bucket is empty waits for its next token.
    fn throttle_if_spent(&mut self, agent: AgentIx, now: u64) {
        let a = self.state.agent(agent);
        let Some(rl) = &a.rate_limit else { return };
        let level = rl.level_at(a.bucket.level_milli, a.bucket.at, now);
        if level < crate::core::policy::TOKEN_MILLI {
            let until = RateLimit::next_token_at(rl, level, now);
            self.emit(
                now,
                Event::AgentThrottled {
                    agent: AgentRef(agent),
                    until,
                },
            );
        }
    }

    pub(super) fn breaker_after_success(&mut self, agent: AgentIx, now: u64) {
        let a = self.state.agent(agent);
        let (Some(cfg), BreakerState::HalfOpen) = (&a.breaker_config, a.breaker.state) else {
            return;
        };
        if a.breaker.half_open_successes >= cfg.success_threshold {
            let ev = Event::AgentBreaker {
                agent: AgentRef(agent),
                from: BreakerState::HalfOpen,
                to: BreakerState::Closed,
            };
            self.emit(now, ev);
        }
    }
}

/// Every this many calls started, the tasks to be started next are read together (see
/// [`crate::core::state::State::touch`]).
const TOUCH_AHEAD_TASKS: u32 = 16;

/// The routing and provenance facts a spec gives a new task.
fn spec_extra(spec: &TaskSpec) -> TaskExtra {
    TaskExtra {
        capability: spec.capability.as_deref().map(Into::into),
        session: spec.session.as_deref().map(Into::into),
        ..TaskExtra::default()
    }
}

/// The longest cancel reason, in bytes: a workflow's or an agent's cancel writes it once per
/// task it cancels.
pub const REASON_BYTES_MAX: usize = 1024;

pub(super) fn check_reason(reason: &str) -> Result<()> {
    if reason.len() > REASON_BYTES_MAX {
        let why = format!(
            "'{}' is over {REASON_BYTES_MAX} bytes",
            crate::core::ids::shown(reason)
        );
        return Err(crate::core::Error::invalid("reason", why));
    }
    Ok(())
}
