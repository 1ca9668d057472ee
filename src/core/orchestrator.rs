//! The orchestrator: command handlers that validate, decide and emit events, and the effects a
//! driver carries out.
//!
//! Methods come in four groups, in the order a driver uses them:
//! - **commands** (`register_agent`, `start_agent`, `submit`, `submit_workflow`, `create_task`, ...)
//!   and **outcomes** (`complete`, `fail`, `handle_timeout`): each takes `now` and either returns an
//!   [`Error`] having changed nothing, or applies its events and queues effects;
//! - **effects**: drain [`Orchestrator::poll_effect`] after every command or outcome;
//! - **the timer**: [`Orchestrator::next_deadline`] after draining;
//! - **reads** (`state`, views, `journal_json`, `snapshot`), which never change anything except
//!   that `snapshot` records a `snapshot.created` event.

use crate::core::agent::{AgentSpec, AgentStatus};
use crate::core::event::{topic_matches, validate_topic, Event, Record, BUILT_IN_TOPICS};
use crate::core::ids::{check_id, AgentIx, PayloadId, TaskIx, WorkflowIx};
use crate::core::payload::Payloads;
use crate::core::snapshot::{
    SnapshotIn, SnapshotOut, SnapshotSummary, SNAPSHOT_FORMAT, SNAPSHOT_VERSION,
};
use crate::core::state::State;
use crate::core::task::{
    parse_auto_task_id, validate_priority, ErrorClass, TaskError, TaskSpec, TaskStatus,
};
use crate::core::timer::{TimerKind, Timers};
use crate::core::wire::{with_context, AgentRef, Context, TaskRef, WorkflowRef};
use crate::core::workflow::{
    validate_shape, FailurePolicy, NewTask, NewWorkflow, WorkflowSpec, WorkflowStatus, WorkflowTask,
};
use crate::core::{Error, Options, Result, FORMAT_VERSION, SEED_MAX};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

/// Something the driver must do. Drain with [`Orchestrator::poll_effect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Call the agent with the task's input; report with `complete(call, ..)` or `fail(call, ..)`.
    Invoke {
        call: u32,
        task: TaskIx,
        agent: AgentIx,
        attempt: u32,
        input: PayloadId,
    },
    /// The call's task was cancelled: fire its `AbortSignal`. Its late result will be ignored.
    Abort { call: u32 },
    /// The task reached a terminal status: wake whoever waits for it.
    TaskSettled { task: TaskIx },
    /// The workflow finished: wake whoever waits for it.
    WorkflowSettled { workflow: WorkflowIx },
    /// A timer from [`Orchestrator::add_timer`] is due.
    TimerFired { timer: u32 },
}

pub struct Orchestrator {
    state: State,
    payloads: RefCell<Payloads>,
    journal: VecDeque<Record>,
    effects: VecDeque<Effect>,
    timers: Timers,
    subscriptions: BTreeMap<u32, String>,
    next_subscription: u32,
}

impl Orchestrator {
    /// A new orchestrator whose first journal record says its seed and options.
    pub fn new(seed: u64, options: Options, now: u64) -> Result<Orchestrator> {
        if seed > SEED_MAX {
            return Err(Error::invalid("seed", format!("{seed} is above 2^53 - 1")));
        }
        options.validate()?;
        let payloads = Payloads::new(options.payload_bytes_max as usize);
        let mut o = Orchestrator::empty(State::new(seed, options.clone()), payloads);
        let run_id = o.state.run_id.clone();
        o.emit(
            now,
            Event::Started {
                version: FORMAT_VERSION,
                seed,
                run_id,
                options: Box::new(options),
            },
        );
        Ok(o)
    }

    fn empty(state: State, payloads: Payloads) -> Orchestrator {
        Orchestrator {
            state,
            payloads: RefCell::new(payloads),
            journal: VecDeque::new(),
            effects: VecDeque::new(),
            timers: Timers::default(),
            subscriptions: BTreeMap::new(),
            next_subscription: 1,
        }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn payloads(&self) -> std::cell::Ref<'_, Payloads> {
        self.payloads.borrow()
    }

    pub fn payloads_mut(&mut self) -> &mut Payloads {
        self.payloads.get_mut()
    }

    // ---- agents ------------------------------------------------------------------------------

    pub fn register_agent(&mut self, spec: AgentSpec, now: u64) -> Result<AgentIx> {
        check_id("agent id", &spec.id)?;
        if self.state.agent_ix(&spec.id).is_some() {
            return Err(Error::DuplicateId {
                kind: "agent",
                id: spec.id,
            });
        }
        if self.state.agents.len() as u64 >= self.state.options.agents_max as u64 {
            return Err(Error::LimitReached {
                limit: "agentsMax",
                value: self.state.options.agents_max as u64,
            });
        }
        if spec.concurrency == Some(0) {
            return Err(Error::invalid(
                "concurrency",
                format!("agent '{}': must be at least 1", spec.id),
            ));
        }
        if spec.max_errors == Some(0) {
            return Err(Error::invalid(
                "maxErrors",
                format!("agent '{}': must be at least 1", spec.id),
            ));
        }
        for c in &spec.capabilities {
            if c.is_empty() || c.len() > crate::core::ids::ID_BYTES_MAX {
                return Err(Error::invalid(
                    "capabilities",
                    format!("agent '{}': '{c}' must be 1 to 128 bytes", spec.id),
                ));
            }
        }
        let ix = AgentIx(self.state.agents.len() as u32);
        self.emit(
            now,
            Event::AgentRegistered {
                spec: Box::new(spec),
            },
        );
        Ok(ix)
    }

    pub fn agent(&self, id: &str) -> Result<AgentIx> {
        self.state
            .agent_ix(id)
            .ok_or_else(|| Error::UnknownAgent(id.to_owned()))
    }

    /// Moves an agent along one edge of the lifecycle table.
    pub fn transition(
        &mut self,
        agent: AgentIx,
        to: AgentStatus,
        reason: &str,
        now: u64,
    ) -> Result<()> {
        self.check_path(agent, &[to])?;
        self.step(agent, to, reason, now);
        self.after_agent_change(agent, now);
        Ok(())
    }

    /// `Created`/`Stopped` → `Initializing` → `Ready` → `Running`; `Ready`/`Completed` → `Running`.
    pub fn start_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        use AgentStatus::*;
        let path: &[AgentStatus] = match self.state.status_of(agent) {
            Created | Stopped => &[Initializing, Ready, Running],
            Completed => &[Ready, Running],
            _ => &[Running],
        };
        self.walk(agent, path, "start", now)
    }

    pub fn pause_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        self.walk(agent, &[AgentStatus::Paused], "pause", now)
    }

    pub fn resume_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        if self.state.status_of(agent) != AgentStatus::Paused {
            return Err(self.illegal(agent, AgentStatus::Running));
        }
        self.walk(agent, &[AgentStatus::Running], "resume", now)
    }

    pub fn stop_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        self.walk(agent, &[AgentStatus::Stopped], "stop", now)
    }

    /// `Error` → `Ready`; start the agent again to give it tasks.
    pub fn recover_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        if self.state.status_of(agent) != AgentStatus::Error {
            return Err(self.illegal(agent, AgentStatus::Ready));
        }
        self.walk(agent, &[AgentStatus::Ready], "recover", now)
    }

    /// `Running` → `Completed`: the agent finished its work; its queued tasks wait.
    pub fn complete_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        self.walk(agent, &[AgentStatus::Completed], "complete", now)
    }

    /// Final: cancels the agent's unfinished tasks (aborting calls in flight).
    pub fn terminate_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        self.walk(agent, &[AgentStatus::Terminated], "terminate", now)?;
        let open: Vec<TaskIx> = (0..self.state.tasks.len() as u32)
            .map(TaskIx)
            .filter(|&t| {
                let task = self.state.task(t);
                task.agent == agent && !task.status.is_terminal()
            })
            .collect();
        for t in open {
            if !self.state.task(t).status.is_terminal() {
                self.cancel_one(t, "agent terminated", now);
                self.after_task_end(t, now);
            }
        }
        self.dispatch(now);
        Ok(())
    }

    /// Counts an error against the agent; at its `maxErrors` it enters `Error`.
    pub fn report_error(&mut self, agent: AgentIx, message: &str, now: u64) -> Result<()> {
        self.emit(
            now,
            Event::AgentError {
                agent: AgentRef(agent),
                message: message.to_owned(),
            },
        );
        self.check_error_threshold(agent, now);
        Ok(())
    }

    fn check_error_threshold(&mut self, agent: AgentIx, now: u64) {
        let a = self.state.agent(agent);
        let over = a.max_errors.is_some_and(|m| a.error_count >= m);
        if over && a.status.can_go_to(AgentStatus::Error) {
            let reason = format!("{} errors reached maxErrors", a.error_count);
            self.step(agent, AgentStatus::Error, &reason, now);
            self.auto_snapshot("agent.error", Some(self.state.agent(agent).id.clone()), now);
        }
    }

    fn check_path(&self, agent: AgentIx, path: &[AgentStatus]) -> Result<()> {
        let mut at = self.state.status_of(agent);
        for &to in path {
            if !at.can_go_to(to) {
                return Err(self.illegal_from(agent, at, to));
            }
            at = to;
        }
        Ok(())
    }

    fn walk(&mut self, agent: AgentIx, path: &[AgentStatus], reason: &str, now: u64) -> Result<()> {
        // The whole path is checked first: a refused command changes nothing.
        self.check_path(agent, path)?;
        for &to in path {
            self.step(agent, to, reason, now);
        }
        self.after_agent_change(agent, now);
        Ok(())
    }

    fn step(&mut self, agent: AgentIx, to: AgentStatus, reason: &str, now: u64) {
        let from = self.state.status_of(agent);
        self.emit(
            now,
            Event::AgentStatus {
                agent: AgentRef(agent),
                from,
                to,
                reason: reason.to_owned(),
            },
        );
    }

    fn after_agent_change(&mut self, agent: AgentIx, now: u64) {
        if self.state.status_of(agent) == AgentStatus::Error {
            self.auto_snapshot("agent.error", Some(self.state.agent(agent).id.clone()), now);
        }
        self.dispatch(now);
    }

    fn illegal(&self, agent: AgentIx, to: AgentStatus) -> Error {
        self.illegal_from(agent, self.state.status_of(agent), to)
    }

    fn illegal_from(&self, agent: AgentIx, from: AgentStatus, to: AgentStatus) -> Error {
        Error::IllegalTransition {
            agent: self.state.agent(agent).id.clone(),
            from,
            to,
        }
    }

    // ---- tasks -------------------------------------------------------------------------------

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
        let ix = self.create(
            custom_id, agent, spec.name, priority, input, metadata, false, now,
        );
        self.emit(now, Event::TaskQueued { task: TaskRef(ix) });
        self.dispatch(now);
        Ok(ix)
    }

    /// The first seed's manual style: a `Pending` task that the caller runs and reports itself.
    pub fn create_task(&mut self, spec: TaskSpec, metadata: PayloadId, now: u64) -> Result<TaskIx> {
        let (agent, custom_id, priority) = self.check_new_task(&spec)?;
        Ok(self.create(
            custom_id,
            agent,
            spec.name,
            priority,
            PayloadId::NONE,
            metadata,
            true,
            now,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        custom_id: Option<Box<str>>,
        agent: AgentIx,
        name: Option<String>,
        priority: u8,
        input: PayloadId,
        metadata: PayloadId,
        manual: bool,
        now: u64,
    ) -> TaskIx {
        let ix = TaskIx(self.state.tasks.len() as u32);
        self.emit(
            now,
            Event::TaskCreated {
                task: NewTask { ix, custom_id },
                agent: AgentRef(agent),
                name: name.map(Into::into),
                priority,
                input,
                metadata,
                manual,
            },
        );
        ix
    }

    fn check_new_task(&self, spec: &TaskSpec) -> Result<(AgentIx, Option<Box<str>>, u8)> {
        let agent = self.agent(&spec.agent)?;
        let status = self.state.status_of(agent);
        if status == AgentStatus::Terminated {
            return Err(Error::AgentUnavailable {
                agent: spec.agent.clone(),
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
                if self.state.task_ix(id).is_some() {
                    return Err(Error::DuplicateId {
                        kind: "task",
                        id: id.clone(),
                    });
                }
                Some(id.as_str().into())
            }
        };
        self.check_queue_room(1)?;
        Ok((agent, custom_id, priority))
    }

    fn check_queue_room(&self, adding: u64) -> Result<()> {
        let waiting = self.state.count(TaskStatus::Pending) + self.state.count(TaskStatus::Queued);
        let max = self.state.options.queue_depth_max as u64;
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
        let t = self.state.task(task);
        self.expect_manual(task, "startTask", &[TaskStatus::Pending], "Pending")?;
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
                output,
            },
        );
        self.after_task_end(task, now);
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
        self.record_failure(task, ErrorClass::Agent, message, now);
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
        self.cancel_one(task, reason, now);
        self.after_task_end(task, now);
        self.dispatch(now);
        Ok(())
    }

    fn cancel_one(&mut self, task: TaskIx, reason: &str, now: u64) {
        let t = self.state.task(task);
        if t.status == TaskStatus::Running && t.call != 0 {
            self.effects.push_back(Effect::Abort { call: t.call });
        }
        self.emit(
            now,
            Event::TaskCancelled {
                task: TaskRef(task),
                reason: reason.to_owned(),
            },
        );
        self.effects.push_back(Effect::TaskSettled { task });
    }

    // ---- agent outcomes ----------------------------------------------------------------------

    /// An agent call succeeded. Returns `false` (and changes nothing) for a call that is no longer
    /// current: its task was cancelled or already settled.
    pub fn complete(&mut self, call: u32, output: PayloadId, now: u64) -> bool {
        let Some(task) = self.state.call_task(call) else {
            return false;
        };
        self.emit(
            now,
            Event::TaskCompleted {
                task: TaskRef(task),
                output,
            },
        );
        self.after_task_end(task, now);
        self.dispatch(now);
        true
    }

    /// An agent call failed (threw, rejected, or answered in a shape the caller refused).
    pub fn fail(&mut self, call: u32, class: ErrorClass, message: &str, now: u64) -> bool {
        let Some(task) = self.state.call_task(call) else {
            return false;
        };
        self.record_failure(task, class, message, now);
        self.dispatch(now);
        true
    }

    fn record_failure(&mut self, task: TaskIx, class: ErrorClass, message: &str, now: u64) {
        let error = Box::new(TaskError {
            class,
            message: message.to_owned(),
        });
        self.emit(
            now,
            Event::TaskFailed {
                task: TaskRef(task),
                error,
            },
        );
        let agent = self.state.task(task).agent;
        if class == ErrorClass::Agent {
            self.emit(
                now,
                Event::AgentError {
                    agent: AgentRef(agent),
                    message: message.to_owned(),
                },
            );
            self.check_error_threshold(agent, now);
        }
        self.after_task_end(task, now);
    }

    /// Consequences of a task reaching a terminal status: wake waiters, release or skip its
    /// dependents, finish its workflow.
    fn after_task_end(&mut self, task: TaskIx, now: u64) {
        if !self
            .effects
            .back()
            .is_some_and(|e| *e == Effect::TaskSettled { task })
        {
            self.effects.push_back(Effect::TaskSettled { task });
        }
        let Some(w) = self.state.task(task).workflow else {
            return;
        };
        let wf = &self.state.workflows[w.usize()];
        if wf.status != WorkflowStatus::Running {
            return;
        }
        let local = wf.local(task);
        if self.state.task(task).status == TaskStatus::Completed {
            let ready: Vec<TaskIx> = wf.dependents[local as usize]
                .iter()
                .map(|&d| wf.task(d))
                .filter(|&t| {
                    let t = self.state.task(t);
                    t.waiting_on == 0 && t.status == TaskStatus::Pending
                })
                .collect();
            for t in ready {
                self.emit(now, Event::TaskQueued { task: TaskRef(t) });
            }
        } else {
            let culprit = self.state.task_id(task).expect("task exists");
            match wf.policy {
                FailurePolicy::FailFast => {
                    let open: Vec<TaskIx> = wf
                        .tasks()
                        .filter(|&t| !self.state.task(t).status.is_terminal())
                        .collect();
                    let reason = format!("workflow failed fast: task '{culprit}' did not complete");
                    for t in open {
                        self.cancel_one(t, &reason, now);
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
                        self.effects.push_back(Effect::TaskSettled { task: t });
                    }
                }
            }
        }
        self.finish_workflow_if_done(w, now);
    }

    /// Every unfinished task downstream of `local`, in index order.
    fn open_dependents(&self, w: WorkflowIx, local: u32) -> Vec<TaskIx> {
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

    fn finish_workflow_if_done(&mut self, w: WorkflowIx, now: u64) {
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

    /// Hands out calls while there is room: best ready task first, among agents that can take one.
    fn dispatch(&mut self, now: u64) {
        let max = self.state.options.max_concurrency.unwrap_or(u32::MAX);
        while self.state.running() < max {
            let Some((agent, task)) = self.state.queue().peek() else {
                break;
            };
            let call = self.state.next_call;
            let t = self.state.task(task);
            let (attempt, input) = (t.attempts + 1, t.input);
            self.emit(
                now,
                Event::TaskStarted {
                    task: TaskRef(task),
                    call,
                    attempt,
                },
            );
            self.effects.push_back(Effect::Invoke {
                call,
                task,
                agent,
                attempt,
                input,
            });
        }
    }

    // ---- workflows ---------------------------------------------------------------------------

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
        let mut tasks = Vec::with_capacity(spec.tasks.len());
        for ((t, d), &(input, metadata)) in spec.tasks.into_iter().zip(deps).zip(payloads) {
            let agent = self.agent(&t.agent)?;
            let status = self.state.status_of(agent);
            if status == AgentStatus::Terminated {
                return Err(Error::AgentUnavailable {
                    agent: t.agent,
                    status,
                });
            }
            let priority = validate_priority(t.priority)?;
            tasks.push(WorkflowTask {
                id: t.id,
                agent: AgentRef(agent),
                name: t.name,
                priority,
                input,
                metadata,
                depends_on: d,
            });
        }
        self.check_queue_room(tasks.len() as u64)?;
        let w = WorkflowIx(self.state.workflows.len() as u32);
        let roots: Vec<u32> = (0..tasks.len() as u32)
            .filter(|&i| tasks[i as usize].depends_on.is_empty())
            .collect();
        let nw = NewWorkflow {
            id,
            name: spec.name,
            policy: spec.failure_policy,
            tasks,
        };
        self.emit(
            now,
            Event::WorkflowSubmitted {
                workflow: Box::new(nw),
            },
        );
        let first = self.state.workflows[w.usize()].first;
        for r in roots {
            self.emit(
                now,
                Event::TaskQueued {
                    task: TaskRef(TaskIx(first.0 + r)),
                },
            );
        }
        self.dispatch(now);
        Ok(w)
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
                self.cancel_one(t, reason, now);
                self.after_task_end(t, now);
            }
        }
        self.dispatch(now);
        Ok(())
    }

    // ---- events ------------------------------------------------------------------------------

    /// Records a custom event. Built-in topics are refused.
    pub fn emit_custom(&mut self, topic: &str, data: PayloadId, now: u64) -> Result<()> {
        validate_topic("topic", topic)?;
        if BUILT_IN_TOPICS.contains(&topic) {
            return Err(Error::invalid(
                "topic",
                format!("'{topic}' is a built-in topic"),
            ));
        }
        self.emit(
            now,
            Event::Custom {
                topic: topic.to_owned(),
                data,
            },
        );
        Ok(())
    }

    pub fn subscribe(&mut self, pattern: &str) -> Result<u32> {
        if pattern != "*" {
            validate_topic("pattern", pattern)?;
        }
        let id = self.next_subscription;
        self.next_subscription += 1;
        self.subscriptions.insert(id, pattern.to_owned());
        Ok(id)
    }

    pub fn unsubscribe(&mut self, id: u32) -> bool {
        self.subscriptions.remove(&id).is_some()
    }

    pub fn has_subscriptions(&self) -> bool {
        !self.subscriptions.is_empty()
    }

    fn emit(&mut self, now: u64, event: Event) {
        let rec = Record {
            seq: self.state.seq + 1,
            at: now.max(self.state.now),
            event,
        };
        self.state.apply(&rec);
        if self.journal.len() >= self.state.options.journal_rows_max as usize {
            self.journal.pop_front();
        }
        self.journal.push_back(rec);
    }

    // ---- effects and time --------------------------------------------------------------------

    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    pub fn add_timer(&mut self, deadline_ms: u64) -> u32 {
        self.timers.add(deadline_ms, TimerKind::Sleep)
    }

    pub fn cancel_timer(&mut self, id: u32) -> bool {
        self.timers.cancel(id)
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.next_deadline()
    }

    /// Fires every timer due at `now`. Early or repeated calls do nothing harmful.
    pub fn handle_timeout(&mut self, now: u64) {
        while let Some((id, kind)) = self.timers.pop_due(now) {
            match kind {
                TimerKind::Sleep => self.effects.push_back(Effect::TimerFired { timer: id }),
            }
        }
    }

    // ---- journal and snapshots ---------------------------------------------------------------

    /// The seq of the first record still held in memory (1 unless rows were dropped or the
    /// state was restored from a snapshot).
    pub fn journal_first_seq(&self) -> u64 {
        self.journal.front().map_or(self.state.seq + 1, |r| r.seq)
    }

    pub fn journal_len(&self) -> usize {
        self.journal.len()
    }

    /// The journal as JSON Lines (one record per line, each ending in `\n`), from `after_seq`.
    /// Fails with [`Error::Payload`] if a payload it names was never resolved.
    pub fn journal_json(&self, after_seq: u64) -> Result<String> {
        let mut out = String::new();
        self.with_ctx(|| {
            for rec in self.journal.iter().filter(|r| r.seq > after_seq) {
                out.push_str(
                    &serde_json::to_string(rec).map_err(|e| Error::Payload(e.to_string()))?,
                );
                out.push('\n');
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Records after `after_seq` that match a subscription, as a JSON array of
    /// `{"subs": [ids], "event": record}`.
    pub fn deliveries_json(&self, after_seq: u64) -> Result<String> {
        let mut out = String::from("[");
        self.with_ctx(|| {
            for rec in self.journal.iter().filter(|r| r.seq > after_seq) {
                let topic = rec.event.topic();
                let subs: Vec<u32> = self
                    .subscriptions
                    .iter()
                    .filter(|(_, p)| topic_matches(p, topic))
                    .map(|(&id, _)| id)
                    .collect();
                if subs.is_empty() {
                    continue;
                }
                if out.len() > 1 {
                    out.push(',');
                }
                let rec = serde_json::to_string(rec).map_err(|e| Error::Payload(e.to_string()))?;
                let subs: Vec<String> = subs.iter().map(u32::to_string).collect();
                out.push_str(&format!(
                    "{{\"subs\":[{}],\"event\":{rec}}}",
                    subs.join(",")
                ));
            }
            Ok(())
        })?;
        out.push(']');
        Ok(out)
    }

    fn with_ctx<R>(&self, f: impl FnOnce() -> R) -> R {
        let ctx = Context {
            state: Some(&self.state),
            payloads: &self.payloads,
        };
        with_context(&ctx, f)
    }

    fn auto_snapshot(&mut self, reason: &str, subject: Option<String>, now: u64) -> String {
        let n = self.state.snapshots_taken + 1;
        let id = format!("snapshot-{n}");
        let summary = SnapshotSummary {
            id: id.clone(),
            reason: reason.to_owned(),
            subject,
            seq: self.state.seq + 1,
            at: now.max(self.state.now),
            agents_status: self
                .state
                .agents
                .iter()
                .map(|a| (a.id.clone(), a.status))
                .collect(),
            task_count: self.state.tasks.len() as u64,
            completed_count: self.state.count(TaskStatus::Completed),
        };
        self.emit(
            now,
            Event::SnapshotCreated {
                summary: Box::new(summary),
            },
        );
        id
    }

    /// Takes a snapshot: records `snapshot.created` and returns the whole state as JSON.
    /// Every payload must be resolved first (drivers resolve before calling).
    pub fn snapshot(&mut self, now: u64) -> Result<String> {
        if self.payloads.borrow().has_unresolved() {
            return Err(Error::Payload(
                "resolve every payload before taking a snapshot".into(),
            ));
        }
        let id = self.auto_snapshot("manual", None, now);
        self.snapshot_json(&id)
    }

    fn snapshot_json(&self, id: &str) -> Result<String> {
        let doc = SnapshotOut {
            format: SNAPSHOT_FORMAT,
            version: SNAPSHOT_VERSION,
            id,
            seq: self.state.seq,
            at: self.state.now,
            state: &self.state,
        };
        self.with_ctx(|| serde_json::to_string(&doc))
            .map_err(|e| Error::Payload(e.to_string()))
    }

    /// Rebuilds an orchestrator from a snapshot. Calls that were in flight are queued again
    /// (`task.requeued`): their agents will be called once more with the next attempt number.
    pub fn restore(json: &str, now: u64) -> Result<Orchestrator> {
        let payloads = RefCell::new(Payloads::new(usize::MAX));
        let ctx = Context {
            state: None,
            payloads: &payloads,
        };
        let doc: SnapshotIn =
            with_context(&ctx, || serde_json::from_str(json)).map_err(|e| Error::Decode {
                what: "snapshot",
                reason: e.to_string(),
            })?;
        if doc.format != SNAPSHOT_FORMAT || doc.version != SNAPSHOT_VERSION {
            return Err(Error::Decode {
                what: "snapshot",
                reason: format!(
                    "format {} v{} is not {SNAPSHOT_FORMAT} v{SNAPSHOT_VERSION}",
                    doc.format, doc.version
                ),
            });
        }
        let mut state = doc.state;
        state.options.validate()?;
        crate::core::snapshot::check(&state, payloads.borrow().len())?;
        state.seq = doc.seq;
        state.rebuild_derived();
        let mut payloads = payloads.into_inner();
        payloads.set_bytes_max(state.options.payload_bytes_max as usize);
        let mut o = Orchestrator::empty(state, payloads);
        let in_flight: Vec<TaskIx> = o.state.derived.calls.values().copied().collect();
        for t in in_flight {
            o.emit(
                now,
                Event::TaskRequeued {
                    task: TaskRef(t),
                    reason: "restored from a snapshot while running".into(),
                },
            );
        }
        o.dispatch(now);
        Ok(o)
    }

    /// Rebuilds the state by applying a journal (JSON Lines, as [`Orchestrator::journal_json`]
    /// writes it) without calling any agent, up to and including `upto_seq` if given. The journal
    /// must start at its `orchestrator.started` record.
    pub fn replay(journal: &str, upto_seq: Option<u64>) -> Result<Orchestrator> {
        let mut lines = journal.lines().filter(|l| !l.trim().is_empty()).enumerate();
        let decode = |line: usize, reason: String| Error::Decode {
            what: "journal",
            reason: format!("line {}: {reason}", line + 1),
        };
        let mut o: Option<Orchestrator> = None;
        for (n, line) in &mut lines {
            let rec: Record = match &o {
                None => {
                    let scratch = RefCell::new(Payloads::new(usize::MAX));
                    let ctx = Context {
                        state: None,
                        payloads: &scratch,
                    };
                    let rec: Record = with_context(&ctx, || serde_json::from_str(line))
                        .map_err(|e| decode(n, e.to_string()))?;
                    let Event::Started { seed, options, .. } = &rec.event else {
                        return Err(decode(
                            n,
                            "the first record must be orchestrator.started".into(),
                        ));
                    };
                    if *seed > SEED_MAX || rec.seq != 1 {
                        return Err(decode(
                            n,
                            "a journal starts at seq 1 with a seed below 2^53".into(),
                        ));
                    }
                    options.validate()?;
                    let payloads = Payloads::new(options.payload_bytes_max as usize);
                    o = Some(Orchestrator::empty(
                        State::new(*seed, (**options).clone()),
                        payloads,
                    ));
                    rec
                }
                Some(orch) => {
                    let rec: Record = orch
                        .with_ctx(|| serde_json::from_str(line))
                        .map_err(|e| decode(n, e.to_string()))?;
                    if rec.seq != orch.state.seq + 1 {
                        return Err(decode(
                            n,
                            format!("seq {} follows {}", rec.seq, orch.state.seq),
                        ));
                    }
                    rec
                }
            };
            let orch = o.as_mut().expect("set by the first record");
            if upto_seq.is_some_and(|u| rec.seq > u) {
                break;
            }
            crate::core::replay_check::check(&orch.state, &rec).map_err(|r| decode(n, r))?;
            orch.state.apply(&rec);
            orch.journal.push_back(rec);
        }
        o.ok_or_else(|| Error::Decode {
            what: "journal",
            reason: "it is empty".into(),
        })
    }

    /// The snapshot summaries kept, newest first, at most `limit`.
    pub fn snapshots(&self, limit: usize) -> Vec<SnapshotSummary> {
        self.state
            .snapshots
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect()
    }
}
