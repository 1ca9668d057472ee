//! The state: everything the journal says, folded. [`State::apply`] is the only place that mutates
//! it, and it decides nothing: it carries out an event that a command handler already decided and
//! validated. That is what makes replay exact.

use crate::core::agent::{Agent, AgentStatus, Transition};
use crate::core::chunked::Chunked;
use crate::core::event::{Event, Record};
use crate::core::ids::{AgentIx, PayloadId, TaskIx, WorkflowIx};
use crate::core::message::{parse_message_id, MessageStatus};
use crate::core::pattern::{parse_run_id, RunStatus};
use crate::core::policy::{BreakerState, RateLimit, TOKEN_MILLI};
use crate::core::queue::ReadyQueue;
use crate::core::schedule::JobStatus;
use crate::core::session::{Contract, ContractKind, ContractStatus, Session};
use crate::core::snapshot::SnapshotSummary;
use crate::core::task::{
    auto_task_id, parse_auto_task_id, ErrorClass, Stamp, Task, TaskError, TaskStatus,
};
use crate::core::workflow::{Workflow, WorkflowStatus};
use crate::core::Options;
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// The reason of a snapshot taken for `snapshotEveryEvents`.
pub const EVERY_EVENTS: &str = "every";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub options: Options,
    pub seed: u64,
    pub run_id: String,
    #[serde(with = "rng_text")]
    pub(crate) rng: Pcg64Mcg,
    #[serde(deserialize_with = "crate::core::snapshot::sized_agents")]
    pub agents: Vec<Agent>,
    /// In chunks: a million tasks in one doubling `Vec` would cost twice their size in wasm.
    pub tasks: Chunked<Task>,
    pub workflows: Vec<Workflow>,
    /// The most recent snapshot summaries, oldest first (at most `snapshots_kept_max`).
    pub snapshots: VecDeque<SnapshotSummary>,
    pub snapshots_taken: u64,
    /// The seq of the last snapshot taken for `snapshotEveryEvents`.
    #[serde(default)]
    pub every_snapshot_seq: u64,
    pub next_call: u32,
    pub agent_errors: u64,
    /// Calls that ended without their own answer, so a late answer is recognised and recorded.
    #[serde(default)]
    pub late_calls: BTreeMap<u32, TaskIx>,
    /// Sessions by id, with their contracts.
    #[serde(default)]
    pub sessions: BTreeMap<String, Session>,
    #[serde(default)]
    pub contracts_recorded: u64,
    /// User-defined templates by `name@version` (built-ins are in code).
    #[serde(default)]
    pub templates: BTreeMap<String, crate::core::template::Template>,
    #[serde(default)]
    pub messages: Vec<crate::core::message::Message>,
    #[serde(default)]
    pub tools: BTreeMap<String, crate::core::tool::Tool>,
    #[serde(default)]
    pub tool_calls_open: BTreeMap<u32, crate::core::tool::ToolCall>,
    #[serde(default)]
    pub next_tool_call: u32,
    #[serde(default)]
    pub jobs: Vec<crate::core::schedule::Job>,
    #[serde(default)]
    pub runs: Vec<crate::core::pattern::Run>,
    /// Set by the `terminate` strategy: no new work is taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated: Option<String>,
    /// The seq of the last applied record.
    pub seq: u64,
    /// The time of the last applied record.
    pub now: u64,
    #[serde(skip)]
    pub(crate) derived: Derived,
}

/// Indexes and counters recomputed from the rest on restore; never serialized.
#[derive(Debug, Clone, Default)]
pub(crate) struct Derived {
    pub agent_index: BTreeMap<String, AgentIx>,
    pub task_index: BTreeMap<Box<str>, TaskIx>,
    pub workflow_index: BTreeMap<String, WorkflowIx>,
    pub queue: ReadyQueue,
    pub running: u32,
    pub calls: crate::core::calls::Calls,
    pub by_status: [u64; 9],
    pub widths: crate::core::width::WidthPools,
}

/// The PRNG's first draw names the run; everything random after comes from the same stream.
pub(crate) fn seeded(seed: u64) -> (Pcg64Mcg, String) {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let run_id = format!("{:016x}", rng.next_u64());
    (rng, run_id)
}

impl State {
    pub(crate) fn new(seed: u64, options: Options) -> State {
        let (rng, run_id) = seeded(seed);
        State {
            options,
            seed,
            run_id,
            rng,
            agents: Vec::new(),
            tasks: Chunked::new(),
            workflows: Vec::new(),
            snapshots: VecDeque::new(),
            snapshots_taken: 0,
            every_snapshot_seq: 0,
            next_call: 1,
            agent_errors: 0,
            late_calls: BTreeMap::new(),
            sessions: BTreeMap::new(),
            contracts_recorded: 0,
            templates: BTreeMap::new(),
            messages: Vec::new(),
            tools: BTreeMap::new(),
            tool_calls_open: BTreeMap::new(),
            next_tool_call: 1,
            jobs: Vec::new(),
            runs: Vec::new(),
            terminated: None,
            seq: 0,
            now: 0,
            derived: Derived::default(),
        }
    }

    // ---- lookups -------------------------------------------------------------------------

    pub fn agent_ix(&self, id: &str) -> Option<AgentIx> {
        self.derived.agent_index.get(id).copied()
    }

    pub fn agent_id(&self, ix: AgentIx) -> Option<String> {
        self.agents.get(ix.usize()).map(|a| a.id.clone())
    }

    pub fn workflow_ix(&self, id: &str) -> Option<WorkflowIx> {
        self.derived.workflow_index.get(id).copied()
    }

    pub fn workflow_id(&self, ix: WorkflowIx) -> Option<String> {
        self.workflows.get(ix.usize()).map(|w| w.id.clone())
    }

    /// A task's user-facing id: the user's, `workflow/task`, or the generated `task-<n>`.
    pub fn task_id(&self, ix: TaskIx) -> Option<String> {
        let t = self.tasks.get(ix.usize())?;
        Some(match (&t.id, t.workflow.get()) {
            (Some(id), _) => id.to_string(),
            (None, Some(w)) => {
                let wf = &self.workflows[w.usize()];
                format!("{}/{}", wf.id, &wf.local_ids[wf.local(ix) as usize])
            }
            (None, None) => auto_task_id(ix.0),
        })
    }

    pub fn task_ix(&self, id: &str) -> Option<TaskIx> {
        if let Some(&ix) = self.derived.task_index.get(id) {
            return Some(ix);
        }
        if let Some((w, local)) = id.split_once('/') {
            let wf = &self.workflows[self.workflow_ix(w)?.usize()];
            return wf.local_of(local).map(|l| wf.task(l));
        }
        let ix = parse_auto_task_id(id)?;
        let t = self.tasks.get(ix as usize)?;
        (t.id.is_none() && t.workflow.is_none()).then_some(TaskIx(ix))
    }

    pub fn agent(&self, ix: AgentIx) -> &Agent {
        &self.agents[ix.usize()]
    }

    pub fn task(&self, ix: TaskIx) -> &Task {
        &self.tasks[ix.usize()]
    }

    /// Reads the first line or two of each task (what starting one reads and writes), all at
    /// once. A task started from a long queue was last touched when it was queued, long out of
    /// cache; reading the next few together lets their misses overlap instead of costing one
    /// full miss per task started (100,000 waiting tasks cost about +140 ns per task before).
    pub fn touch(&self, tasks: impl Iterator<Item = TaskIx>) {
        let mut sum = 0u32;
        for t in tasks {
            let task = &self.tasks[t.usize()];
            sum = sum.wrapping_add(task.attempts) ^ task.started_at.raw_hi();
        }
        std::hint::black_box(sum);
    }

    pub fn running(&self) -> u32 {
        self.derived.running
    }

    pub fn queue(&self) -> &ReadyQueue {
        &self.derived.queue
    }

    /// Whether the task is a workflow's that may have waited before it was ready: it has
    /// dependencies of its own, or its workflow has a width (and it was not admitted with it).
    pub fn waited(&self, task: TaskIx) -> bool {
        self.tasks[task.usize()].workflow.get().is_some_and(|w| {
            let wf = &self.workflows[w.usize()];
            wf.width.is_some() || !wf.deps[wf.local(task) as usize].is_empty()
        })
    }

    pub fn call_task(&self, call: u32) -> Option<TaskIx> {
        self.derived.calls.get(call)
    }

    pub fn count(&self, s: TaskStatus) -> u64 {
        self.derived.by_status[s as usize]
    }

    // ---- the fold ------------------------------------------------------------------------

    /// Carries out one decided event. Panics only on a broken invariant (an event that does not
    /// fit the state), which would be a bug in a command handler or a corrupt journal that got
    /// past decoding; decoding checks what it can.
    pub(crate) fn apply(&mut self, rec: &Record) {
        let at = rec.at;
        self.seq = rec.seq;
        self.now = self.now.max(at);
        match &rec.event {
            Event::Started { seed, options, .. } => {
                let (rng, run_id) = seeded(*seed);
                self.seed = *seed;
                self.rng = rng;
                self.run_id = run_id;
                self.options = (**options).clone();
            }
            Event::Terminated { reason, .. } => {
                self.terminated = Some(reason.clone());
                self.end_jobs();
            }
            Event::AgentRegistered { spec } => {
                let spec: &crate::core::agent::AgentSpec = spec;
                let ix = AgentIx(self.agents.len() as u32);
                self.derived.agent_index.insert(spec.id.clone(), ix);
                self.agents.push(Agent::new(spec.clone(), at));
                self.derived.queue.add_agent();
            }
            Event::AgentStatus {
                agent,
                from,
                to,
                reason,
                auto,
            } => {
                let rows_max = self.options.history_rows_max as usize;
                let a = &mut self.agents[agent.0.usize()];
                assert_eq!(a.status, *from, "agent.status applies to its from-state");
                a.status = *to;
                // Leaving Error by the user's hand (recovered, or paused to be resumed) starts the
                // count towards maxErrors again; a policy's `reset` does not, or maxErrors could
                // never be reached under it. The orchestrator's total (`agent_errors`) keeps all.
                if *from == crate::core::agent::AgentStatus::Error && !*auto {
                    a.error_count = 0;
                }
                if a.history.len() >= rows_max {
                    a.history.remove(0);
                }
                a.history.push(Transition {
                    from: *from,
                    to: *to,
                    reason: reason.clone(),
                    at,
                });
                self.refresh_agent(agent.0);
            }
            Event::AgentError { agent, message, .. } => {
                let a = &mut self.agents[agent.0.usize()];
                a.error_count += 1;
                a.last_error = Some(message.clone());
                self.agent_errors += 1;
            }
            Event::AgentRecovered { agent } => self.agents[agent.0.usize()].error_count = 0,
            Event::AgentRemoved { agent } => {
                let a = &mut self.agents[agent.0.usize()];
                a.removed = true;
                // No timer of its own fires again: a closed breaker and no throttle.
                a.breaker = Default::default();
                a.bucket.throttled_until = None;
                if self.derived.agent_index.get(&a.id) == Some(&agent.0) {
                    self.derived.agent_index.remove(&a.id);
                }
            }
            Event::AgentBreaker { agent, to, .. } => {
                let b = &mut self.agents[agent.0.usize()].breaker;
                b.state = *to;
                b.half_open_successes = 0;
                match to {
                    BreakerState::Open => b.opened_at = Some(at),
                    BreakerState::Closed => {
                        b.opened_at = None;
                        b.consecutive_failures = 0;
                    }
                    BreakerState::HalfOpen => {}
                }
                self.refresh_agent(agent.0);
            }
            Event::AgentThrottled { agent, until } => {
                self.agents[agent.0.usize()].bucket.throttled_until = Some(*until);
                self.refresh_agent(agent.0);
            }
            Event::AgentUpdated { agent, update } => {
                let a = &mut self.agents[agent.0.usize()];
                if let Some(name) = &update.name {
                    a.name = name.clone();
                }
                if let Some(c) = &update.capabilities {
                    a.capabilities = c.clone();
                }
                if let Some(c) = update.concurrency {
                    a.concurrency = c;
                }
                if let Some(m) = update.max_errors {
                    a.max_errors = m;
                }
                self.refresh_agent(agent.0);
            }
            Event::AgentUnthrottled { agent } => {
                self.agents[agent.0.usize()].bucket.throttled_until = None;
                self.refresh_agent(agent.0);
            }
            Event::TaskCreated {
                task,
                agent,
                name,
                priority,
                input,
                metadata,
                manual,
                policy,
                extra,
            } => {
                let ix = TaskIx(self.tasks.len() as u32);
                if let Some(id) = &task.custom_id {
                    self.derived.task_index.insert(id.clone(), ix);
                }
                let mut t = Task::new(agent.0, *priority, *input, *metadata, at);
                t.id = task.custom_id.clone().map(Box::new);
                t.manual = *manual;
                t.policy = policy.clone();
                if name.is_some() {
                    let x = t.extra.get_or_insert_with(Default::default);
                    x.name = name.clone();
                }
                if let Some(x) = extra {
                    t.extra = Some(Box::new(crate::core::event::TaskExtra {
                        name: name.clone(),
                        ..(**x).clone()
                    }));
                    if let Some(r) = x.run {
                        let run = &mut self.runs[r as usize];
                        run.tasks.push(ix);
                        run.pending
                            .push((ix, x.role.as_deref().unwrap_or_default().to_owned()));
                    }
                    if let Some(s) = &x.session {
                        self.sessions.entry(s.to_string()).or_default();
                    }
                }
                self.push_task(t);
            }
            Event::TaskQueued { task } => self.enqueue(task.0, false),
            Event::TaskRequeued { task, .. } => {
                self.contract(
                    task.0,
                    ContractKind::Response,
                    ContractStatus::Lost,
                    PayloadId::NONE,
                    None,
                    at,
                );
                self.enqueue(task.0, true);
            }
            Event::TaskStarted {
                task,
                call,
                attempt,
                deadline,
            } => {
                let ix = task.0;
                let input = self.tasks[ix.usize()].input;
                self.tasks[ix.usize()].call = *call;
                self.contract(
                    ix,
                    ContractKind::Request,
                    ContractStatus::Sent,
                    input,
                    None,
                    at,
                );
                self.leave_queue(ix);
                self.set_status(ix, TaskStatus::Running);
                let t = &mut self.tasks[ix.usize()];
                t.attempts = *attempt;
                t.call = *call;
                t.due = (*deadline).into();
                if t.started_at.is_none() {
                    t.started_at = Stamp::at(at);
                }
                let agent = t.agent;
                let a = &mut self.agents[agent.usize()];
                a.running += 1;
                if let Some(rl) = &a.rate_limit {
                    let level = rl.level_at(a.bucket.level_milli, a.bucket.at, at);
                    a.bucket.level_milli = level.saturating_sub(TOKEN_MILLI);
                    a.bucket.at = at;
                }
                self.derived.running += 1;
                if *call != 0 {
                    self.derived.calls.insert(*call, ix);
                }
                self.next_call = self.next_call.max(call + 1);
                self.refresh_agent(agent);
            }
            Event::TaskCompleted { task, output, .. } => {
                self.contract(
                    task.0,
                    ContractKind::Response,
                    ContractStatus::Completed,
                    *output,
                    None,
                    at,
                );
                if let Some(s) = self.tasks[task.0.usize()].compresses().map(str::to_owned) {
                    let session = self.sessions.entry(s.to_string()).or_default();
                    session.memory = Some(*output);
                }
                let manual = self.tasks[task.0.usize()].manual;
                self.finish(task.0, TaskStatus::Completed, at, false);
                let t = &mut self.tasks[task.0.usize()];
                t.output = *output;
                let agent = t.agent;
                let a = &mut self.agents[agent.usize()];
                a.completed += 1;
                if !manual {
                    a.breaker.consecutive_failures = 0;
                    if a.breaker.state == BreakerState::HalfOpen {
                        a.breaker.half_open_successes += 1;
                    }
                }
                self.release_dependents(task.0);
            }
            Event::TaskAttemptFailed {
                task, error, auto, ..
            } => {
                self.failed_contract(task.0, error, at);
                self.leave_running(task.0, *auto);
                self.set_status(task.0, TaskStatus::Retrying);
                let t = &mut self.tasks[task.0.usize()];
                t.error = Some(error.clone());
                t.failures = t.failures.saturating_add(1);
                let agent = t.agent;
                if breaker_counts(error.class) {
                    let b = &mut self.agents[agent.usize()].breaker;
                    b.consecutive_failures = b.consecutive_failures.saturating_add(1);
                }
            }
            Event::TaskRetrying {
                task,
                next_attempt_at,
                jitter,
                ..
            } => {
                self.tasks[task.0.usize()].due = Stamp::at(*next_attempt_at);
                if *jitter {
                    // The handler drew from a copy of the PRNG; the state's PRNG moves here.
                    self.rng.next_u64();
                }
            }
            Event::TaskReassigned { task, to, .. } => {
                let queued = self.tasks[task.0.usize()].status == TaskStatus::Queued;
                if queued {
                    self.leave_queue(task.0);
                }
                self.tasks[task.0.usize()].agent = to.0;
                if queued {
                    let t = &self.tasks[task.0.usize()];
                    let room = self.agents[to.0.usize()].has_room();
                    self.derived.queue.push(to.0, t.priority, task.0, room);
                }
            }
            Event::TaskFailed { task, error, .. } => {
                if self.tasks[task.0.usize()].status == TaskStatus::Running {
                    self.failed_contract(task.0, error, at);
                }
                let to = if error.class == ErrorClass::Timeout {
                    TaskStatus::TimedOut
                } else {
                    TaskStatus::Failed
                };
                self.finish(task.0, to, at, false);
                let t = &mut self.tasks[task.0.usize()];
                t.error = Some(error.clone());
                let agent = t.agent;
                self.agents[agent.usize()].failed += 1;
            }
            Event::TaskCancelled { task, reason, .. } => {
                if self.tasks[task.0.usize()].status == TaskStatus::Running {
                    let error = TaskError::new(ErrorClass::Cancelled, reason.clone());
                    self.contract(
                        task.0,
                        ContractKind::Response,
                        ContractStatus::Cancelled,
                        PayloadId::NONE,
                        Some(&error),
                        at,
                    );
                }
                self.finish(task.0, TaskStatus::Cancelled, at, true);
                self.tasks[task.0.usize()].error = Some(Box::new(TaskError::new(
                    ErrorClass::Cancelled,
                    reason.clone(),
                )));
            }
            Event::TaskSkipped { task, reason } => {
                self.finish(task.0, TaskStatus::Skipped, at, true);
                // The class of the failure it was skipped after (the `skip` strategy), if any.
                let t = &mut self.tasks[task.0.usize()];
                let class = t.error.as_ref().map_or(ErrorClass::Cancelled, |e| e.class);
                t.error = Some(Box::new(TaskError::new(class, reason.clone())));
                self.release_dependents(task.0);
            }
            Event::CallIgnored { call, .. } => {
                self.late_calls.remove(call);
            }
            Event::Escalation { .. } => {}
            Event::WorkflowSubmitted { workflow } => self.create_workflow(workflow, at),
            Event::WorkflowCompleted { workflow } => {
                let w = &mut self.workflows[workflow.0.usize()];
                w.status = WorkflowStatus::Completed;
                w.finished_at = Some(at);
            }
            Event::WorkflowFailed { workflow, task, .. } => {
                let w = &mut self.workflows[workflow.0.usize()];
                w.status = WorkflowStatus::Failed;
                w.failed_task = Some(task.0);
                w.finished_at = Some(at);
            }
            Event::WorkflowCancelled { workflow, task } => {
                let w = &mut self.workflows[workflow.0.usize()];
                w.status = WorkflowStatus::Cancelled;
                w.failed_task = Some(task.0);
                w.finished_at = Some(at);
            }
            Event::SnapshotCreated { summary } => {
                let summary: &SnapshotSummary = summary;
                if self.snapshots.len() >= self.options.snapshots_kept_max as usize {
                    self.snapshots.pop_front();
                }
                self.snapshots.push_back(summary.clone());
                self.snapshots_taken += 1;
                if summary.reason == EVERY_EVENTS {
                    self.every_snapshot_seq = summary.seq;
                }
            }
            Event::TemplateDefined { template } => {
                self.templates
                    .insert(template.reference(), (**template).clone());
            }
            Event::MessageSent {
                from, to, payload, ..
            } => self.messages.push(crate::core::message::Message {
                from: from.0,
                to: to.0,
                payload: *payload,
                status: MessageStatus::Sent,
                sent_at: at,
                delivered_at: None,
                acknowledged_at: None,
            }),
            Event::MessageDelivered { message, .. } => {
                let m = &mut self.messages[parse_message_id(message).expect("checked")];
                m.status = MessageStatus::Delivered;
                m.delivered_at = Some(at);
            }
            Event::MessageAcknowledged { message } => {
                let m = &mut self.messages[parse_message_id(message).expect("checked")];
                m.status = MessageStatus::Acknowledged;
                m.delivered_at.get_or_insert(at);
                m.acknowledged_at = Some(at);
            }
            Event::ToolRegistered { tool } => {
                let level = tool
                    .rate_limit
                    .as_ref()
                    .map_or(0, RateLimit::capacity_milli);
                let bucket = crate::core::policy::Bucket {
                    level_milli: level,
                    at,
                    throttled_until: None,
                };
                self.tools.insert(
                    tool.name.clone(),
                    crate::core::tool::Tool {
                        spec: (**tool).clone(),
                        bucket,
                        calls: 0,
                        failures: 0,
                    },
                );
            }
            Event::ToolsGranted { agent, tools } => self.agents[agent.0.usize()]
                .tools
                .extend(tools.iter().cloned()),
            Event::ToolsRevoked { agent, tools } => {
                let granted = &mut self.agents[agent.0.usize()].tools;
                for t in tools {
                    granted.remove(t);
                }
            }
            Event::ToolCalled {
                call, tool, agent, ..
            } => {
                let t = self.tools.get_mut(tool).expect("checked");
                t.calls += 1;
                if let Some(rl) = &t.spec.rate_limit {
                    let level = rl.level_at(t.bucket.level_milli, t.bucket.at, at);
                    t.bucket.level_milli = level.saturating_sub(TOKEN_MILLI);
                    t.bucket.at = at;
                }
                self.tool_calls_open.insert(
                    *call,
                    crate::core::tool::ToolCall {
                        tool: tool.clone(),
                        agent: agent.0,
                    },
                );
                self.next_tool_call = self.next_tool_call.max(call + 1);
            }
            Event::ToolCompleted { call, .. } => {
                self.tool_calls_open.remove(call);
            }
            Event::ToolFailed { call, .. } => {
                if let Some(c) = self.tool_calls_open.remove(call) {
                    if let Some(t) = self.tools.get_mut(&c.tool) {
                        t.failures += 1;
                    }
                }
            }
            Event::ToolRefused { .. } => {}
            Event::JobScheduled { job } => self.jobs.push((**job).clone()),
            Event::JobFired {
                job,
                slot,
                next,
                task,
                ..
            } => {
                let j = &mut self.jobs[parse_job(job)];
                j.runs += 1;
                j.last_run = Some(*slot);
                if task.is_some() {
                    j.last_task = task.clone();
                }
                j.next_run = next.get();
                if next.is_none() && j.status == JobStatus::Active {
                    j.status = JobStatus::Done;
                }
            }
            Event::JobPaused { job } => self.jobs[parse_job(job)].status = JobStatus::Paused,
            Event::JobResumed { job } => self.jobs[parse_job(job)].status = JobStatus::Active,
            Event::JobDeleted { job } => {
                let j = &mut self.jobs[parse_job(job)];
                j.status = JobStatus::Deleted;
                j.next_run = None;
            }
            Event::PatternStarted { spec, session, .. } => {
                if let Some(s) = session {
                    self.sessions.entry(s.to_string()).or_default();
                }
                self.runs.push(crate::core::pattern::Run {
                    state: crate::core::pattern::initial_state(spec),
                    spec: (**spec).clone(),
                    status: RunStatus::Running,
                    step: 0,
                    pending: Vec::new(),
                    tasks: Vec::new(),
                    result: None,
                    error: None,
                    started_at: at,
                    finished_at: None,
                    session: session.clone(),
                })
            }
            Event::PatternProgressed { run, step, state } => {
                let r = &mut self.runs[parse_run(run)];
                r.step = *step;
                r.state = (**state).clone();
                r.pending.clear();
            }
            Event::PatternCompleted { run, result } => {
                let r = &mut self.runs[parse_run(run)];
                r.status = RunStatus::Completed;
                r.result = Some(*result);
                r.finished_at = Some(at);
                r.pending.clear();
            }
            Event::PatternFailed { run, error } => {
                let r = &mut self.runs[parse_run(run)];
                r.status = RunStatus::Failed;
                r.error = Some(error.clone());
                r.finished_at = Some(at);
                r.pending.clear();
            }
            Event::Custom { .. } => {}
        }
    }
    fn failed_contract(&mut self, ix: TaskIx, error: &TaskError, at: u64) {
        self.contract(
            ix,
            ContractKind::Response,
            ContractStatus::Failed,
            PayloadId::NONE,
            Some(error),
            at,
        );
    }

    /// Records a contract for a call of a task in a session (nothing for other tasks). Inlined
    /// to the check: most tasks are in none, and the call alone was 1.5% of a 1,000-task
    /// workflow in wasm.
    #[inline]
    fn contract(
        &mut self,
        ix: TaskIx,
        kind: ContractKind,
        status: ContractStatus,
        payload: PayloadId,
        error: Option<&TaskError>,
        at: u64,
    ) {
        if self.tasks[ix.usize()].extra.is_some() {
            self.session_contract(ix, kind, status, payload, error, at);
        }
    }

    #[inline(never)]
    fn session_contract(
        &mut self,
        ix: TaskIx,
        kind: ContractKind,
        status: ContractStatus,
        payload: PayloadId,
        error: Option<&TaskError>,
        at: u64,
    ) {
        let t = &self.tasks[ix.usize()];
        let Some(session) = t.session() else {
            return;
        };
        let agent = self.agents[t.agent.usize()].id.clone();
        let (from, to) = match kind {
            ContractKind::Request => ("baton".to_owned(), agent),
            ContractKind::Response => (agent, "baton".to_owned()),
        };
        self.contracts_recorded += 1;
        let c = Contract {
            n: self.contracts_recorded,
            kind,
            task: ix,
            call: t.call,
            from,
            to,
            capability: t.capability().map(Into::into),
            status,
            payload,
            error: error.cloned(),
            at,
        };
        self.sessions
            .entry(session.to_owned())
            .or_default()
            .contracts
            .push(c);
    }

    fn push_task(&mut self, task: Task) {
        self.derived.by_status[task.status as usize] += 1;
        self.tasks.push(task);
    }

    fn set_status(&mut self, ix: TaskIx, to: TaskStatus) {
        let t = &mut self.tasks[ix.usize()];
        let from = t.status;
        self.derived.by_status[from as usize] -= 1;
        self.derived.by_status[to as usize] += 1;
        t.status = to;
        if let Some(m) = self.width_member(ix) {
            self.derived.widths.moved(m, Some(from), to);
        }
    }

    /// The task as its workflow's width pool sees it, if its workflow has a width.
    fn width_member(&self, ix: TaskIx) -> Option<crate::core::width::Member> {
        let t = &self.tasks[ix.usize()];
        let w = t.workflow.get()?;
        self.workflows[w.usize()].width?;
        Some(crate::core::width::Member {
            workflow: w,
            task: ix,
            priority: t.priority,
            unblocked: t.waiting_on == 0,
        })
    }

    /// The ready tasks of a workflow with a width that it has room for now, best first.
    pub(crate) fn admissible(&self, w: WorkflowIx) -> Vec<TaskIx> {
        match self.workflows[w.usize()].width {
            Some(width) => self.derived.widths.admissible(w, width),
            None => Vec::new(),
        }
    }

    fn refresh_agent(&mut self, agent: AgentIx) {
        let room = self.agents[agent.usize()].has_room();
        self.derived.queue.refresh(agent, room);
    }

    /// Puts a pending or retrying task (or, `requeue`, a running one) in the ready queue.
    fn enqueue(&mut self, ix: TaskIx, requeue: bool) {
        self.leave_running(ix, requeue);
        self.set_status(ix, TaskStatus::Queued);
        let t = &mut self.tasks[ix.usize()];
        t.due = Stamp::NONE;
        let (agent, priority) = (t.agent, t.priority);
        let room = self.agents[agent.usize()].has_room();
        self.derived.queue.push(agent, priority, ix, room);
    }

    fn leave_queue(&mut self, ix: TaskIx) {
        let t = &self.tasks[ix.usize()];
        if t.status == TaskStatus::Queued {
            let room = self.agents[t.agent.usize()].has_room();
            self.derived.queue.remove(t.agent, t.priority, ix, room);
        }
    }

    /// Takes a task out of the queue or off its agent, whichever holds it. `aborted`: the call
    /// in flight ends without its own answer (timeout, cancel, restore), so a late answer is
    /// recognised.
    fn leave_running(&mut self, ix: TaskIx, aborted: bool) {
        let t = &self.tasks[ix.usize()];
        let agent = t.agent;
        match t.status {
            TaskStatus::Running => {
                let call = t.call;
                self.agents[agent.usize()].running -= 1;
                self.derived.running -= 1;
                self.derived.calls.remove(call);
                if aborted && call != 0 {
                    if self.late_calls.len() >= self.options.late_calls_max as usize {
                        self.late_calls.pop_first();
                    }
                    self.late_calls.insert(call, ix);
                }
                let t = &mut self.tasks[ix.usize()];
                t.call = 0;
                t.due = Stamp::NONE;
                self.refresh_agent(agent);
            }
            TaskStatus::Queued => self.leave_queue(ix),
            _ => {}
        }
    }

    fn finish(&mut self, ix: TaskIx, to: TaskStatus, at: u64, aborted: bool) {
        assert!(
            !self.tasks[ix.usize()].status.is_terminal(),
            "a task ends once"
        );
        self.leave_running(ix, aborted);
        self.set_status(ix, to);
        let t = &mut self.tasks[ix.usize()];
        t.completed_at = Stamp::at(at);
        t.due = Stamp::NONE;
        if let Some(w) = t.workflow.get() {
            self.workflows[w.usize()].remaining -= 1;
        }
    }

    fn release_dependents(&mut self, ix: TaskIx) {
        let Some(w) = self.tasks[ix.usize()].workflow.get() else {
            return;
        };
        let wf = &self.workflows[w.usize()];
        let local = wf.local(ix);
        let width = wf.width.is_some();
        for &d in &wf.dependents[local as usize] {
            let t = wf.task(d);
            let task = &mut self.tasks[t.usize()];
            task.waiting_on -= 1;
            if width && task.waiting_on == 0 && task.status == TaskStatus::Pending {
                let m = self.width_member(t).expect("a task of a width workflow");
                self.derived.widths.unblocked(m);
            }
        }
    }

    fn create_workflow(&mut self, nw: &crate::core::workflow::NewWorkflow, at: u64) {
        let wix = WorkflowIx(self.workflows.len() as u32);
        let first = TaskIx(self.tasks.len() as u32);
        // The ids and dependencies are the record's, shared; only the reverse edges are new.
        let dependents = nw.deps.reversed();
        let wf = Workflow {
            id: nw.id.clone(),
            name: nw.name.clone(),
            policy: nw.policy,
            width: nw.width,
            first,
            local_ids: nw.ids.clone(),
            deps: nw.deps.clone(),
            dependents,
            status: WorkflowStatus::Running,
            remaining: nw.tasks.len() as u32,
            failed_task: None,
            submitted_at: at,
            finished_at: None,
            local_index: Default::default(),
        };
        self.derived.workflow_index.insert(nw.id.clone(), wix);
        if let Some(s) = &nw.session {
            self.sessions.entry(s.clone()).or_default();
        }
        self.workflows.push(wf);
        for (i, t) in nw.tasks.iter().enumerate() {
            let mut task = Task::new(t.agent.0, t.priority, t.input, t.metadata, at);
            task.workflow = Some(wix).into();
            task.waiting_on = nw.deps[i].len() as u32;
            task.policy = t.policy().cloned().map(Box::new);
            // Most workflow tasks have none of these: nothing to build and drop for them.
            let (name, capability) = (t.name(), t.capability());
            if name.is_some() || capability.is_some() || nw.session.is_some() {
                let extra = crate::core::event::TaskExtra {
                    name: name.map(Into::into),
                    capability: capability.map(Into::into),
                    session: nw.session.as_deref().map(Into::into),
                    ..Default::default()
                };
                task.extra = (!extra.is_empty()).then(|| Box::new(extra));
            }
            self.push_task(task);
        }
        if nw.width.is_some() {
            self.derived.widths.add(wix);
            for t in (first.0..first.0 + nw.tasks.len() as u32).map(TaskIx) {
                let m = self.width_member(t).expect("a task of a width workflow");
                self.derived.widths.count(m, TaskStatus::Pending);
            }
        }
    }

    /// Recomputes [`Derived`] after deserialization.
    /// A terminated orchestrator takes no new work: its jobs will not fire again. (Also on load:
    /// a snapshot an older build took after terminating kept them active.)
    pub(crate) fn end_jobs(&mut self) {
        for job in &mut self.jobs {
            if matches!(job.status, JobStatus::Active | JobStatus::Paused) {
                job.status = JobStatus::Done;
                job.next_run = None;
            }
        }
    }

    pub(crate) fn rebuild_derived(&mut self) {
        // Indexes collected, not inserted one by one: a map built from its pairs is sorted once
        // and filled in bulk. A repeated id leaves the map shorter (see snapshot::check_ids).
        let mut d = Derived {
            agent_index: (self.agents.iter().enumerate())
                .filter(|(_, a)| !a.removed)
                .map(|(i, a)| (a.id.clone(), AgentIx(i as u32)))
                .collect(),
            workflow_index: (self.workflows.iter().enumerate())
                .map(|(i, w)| (w.id.clone(), WorkflowIx(i as u32)))
                .collect(),
            ..Derived::default()
        };
        for _ in &self.agents {
            d.queue.add_agent();
        }
        for a in &mut self.agents {
            a.running = 0;
        }
        let mut calls = Vec::new();
        for (i, t) in self.tasks.iter().enumerate() {
            let ix = TaskIx(i as u32);
            d.by_status[t.status as usize] += 1;
            if let Some(id) = &t.id {
                d.task_index.insert((**id).clone(), ix);
            }
            match t.status {
                TaskStatus::Running => {
                    self.agents[t.agent.usize()].running += 1;
                    d.running += 1;
                    if t.call != 0 {
                        calls.push((t.call, ix));
                    }
                }
                TaskStatus::Queued => d.queue.push(t.agent, t.priority, ix, false),
                _ => {}
            }
        }
        d.calls = crate::core::calls::Calls::from_unsorted(calls);
        for (i, a) in self.agents.iter().enumerate() {
            d.queue.refresh(AgentIx(i as u32), a.has_room());
        }
        self.derived = d;
        for w in 0..self.workflows.len() {
            let wf = &self.workflows[w];
            if wf.width.is_none() {
                continue;
            }
            self.derived.widths.add(WorkflowIx(w as u32));
            for t in (wf.first.0..wf.first.0 + wf.len()).map(TaskIx) {
                let m = self.width_member(t).expect("a task of a width workflow");
                let status = self.tasks[t.usize()].status;
                self.derived.widths.count(m, status);
            }
        }
    }

    pub(crate) fn status_of(&self, agent: AgentIx) -> AgentStatus {
        self.agents[agent.usize()].status
    }
}

/// The PRNG's state is a 128-bit integer, which a JS number cannot hold: it travels as a string
/// (JSON of the generator) so snapshots survive `JSON.parse` and `JSON.stringify`.
mod rng_text {
    use rand_pcg::Pcg64Mcg;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(rng: &Pcg64Mcg, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&serde_json::to_string(rng).map_err(serde::ser::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Pcg64Mcg, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        serde_json::from_str(&text).map_err(D::Error::custom)
    }
}

/// Failures that count towards opening an agent's breaker: the agent's own troubles, not the
/// caller's (validation, permission) nor a cancellation.
pub(crate) fn breaker_counts(class: ErrorClass) -> bool {
    !matches!(
        class,
        ErrorClass::Validation | ErrorClass::Permission | ErrorClass::Cancelled
    )
}

fn parse_job(id: &str) -> usize {
    crate::core::schedule::parse_job_id(id).expect("job ids are checked before apply")
}

fn parse_run(id: &str) -> usize {
    parse_run_id(id).expect("run ids are checked before apply") as usize
}
