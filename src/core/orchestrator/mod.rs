//! The orchestrator: command handlers that validate, decide and emit events, and the effects a
//! driver carries out.
//!
//! Methods come in four groups, in the order a driver uses them:
//! - **commands** (`register_agent`, `start_agent`, `submit`, `submit_workflow`, `create_task`,
//!   `cancel_task`, ...) and **outcomes** (`complete`, `fail`, `handle_timeout`): each takes `now`
//!   and either returns an [`Error`] having changed nothing, or applies its events and queues
//!   effects;
//! - **effects**: drain [`Orchestrator::poll_effect`] after every command or outcome;
//! - **the timer**: arm one platform timer for [`Orchestrator::next_deadline`] after draining;
//! - **reads** (`state`, views, `journal_json`, `snapshot`), which change nothing except that
//!   `snapshot` records a `snapshot.created` event.
//!
//! The handlers live in one file per concern: `agents`, `tasks`, `failures` (policies, timers),
//! `workflows`; this file holds the plumbing they share.

mod agents;
mod failures;
mod messages;
mod patterns;
mod retention;
mod schedules;
mod sessions;
mod shape;
mod tasks;
mod templates;
mod tools;
mod workflows;
pub use agents::{NAME_BYTES_MAX, START_REASON};
pub use sessions::COMPRESS_CAPABILITY;
pub use shape::PlainShape;
pub use workflows::{EachTask, PlainTasks};

use crate::core::event::{topic_matches, validate_topic, Event, Record, BUILT_IN_TOPICS};
use crate::core::ids::{PayloadId, TaskIx};
use crate::core::payload::Payloads;
use crate::core::policy::BreakerState;
use crate::core::snapshot::{
    SnapshotIn, SnapshotOut, SnapshotSummary, SNAPSHOT_FORMAT, SNAPSHOT_VERSION,
};
use crate::core::state::State;
use crate::core::task::TaskStatus;
use crate::core::timer::{TimerKind, Timers};
use crate::core::wire::{with_context, Context, TaskRef};
use crate::core::{Error, Options, Result, FORMAT_VERSION, SEED_MAX};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

/// Why a call in flight is aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortReason {
    Cancelled,
    TimedOut,
}

/// Something the driver must do. Drain with [`Orchestrator::poll_effect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Call the agent with the task's input; report with `complete(call, ..)` or `fail(call, ..)`.
    Invoke {
        call: u32,
        task: TaskIx,
        agent: crate::core::ids::AgentIx,
        attempt: u32,
        input: PayloadId,
    },
    /// Fire the call's `AbortSignal`. A late result of the call is recorded and ignored.
    Abort { call: u32, reason: AbortReason },
    /// The task reached a terminal status: wake whoever waits for it.
    TaskSettled { task: TaskIx },
    /// The workflow finished: wake whoever waits for it.
    WorkflowSettled {
        workflow: crate::core::ids::WorkflowIx,
    },
    /// A timer from [`Orchestrator::add_timer`] is due.
    TimerFired { timer: u32 },
    /// A pattern run ended: wake whoever waits for it.
    RunSettled { run: u32 },
}

pub struct Orchestrator {
    state: State,
    payloads: RefCell<Payloads>,
    journal: crate::core::journal::Journal,
    effects: VecDeque<Effect>,
    timers: Timers,
    subscriptions: BTreeMap<u32, String>,
    next_subscription: u32,
    /// Whether each task's end is an effect (see [`Orchestrator::watch_task_ends`]).
    task_ends_watched: bool,
    /// While a new workflow's first tasks are queued: routed just now, not routed again.
    admitting_new: bool,
    /// Automatic snapshots asked for during a command (an agent entering Error, a workflow's
    /// end), recorded once the command has made all its decisions (see
    /// [`Orchestrator::record_due_snapshots`]): a snapshot taken between a failure and its retry
    /// decision described a state no run rests in, and restored, it left the task stuck.
    snapshots_due: Vec<(&'static str, Option<String>, u64)>,
    /// While a failed attempt is being handled: its dispatches are not its command's end.
    deciding: u32,
    /// Whether this orchestrator decides `snapshotEveryEvents` snapshots (off in a read-only
    /// replay, which records nothing).
    decides_every: bool,
}

/// The reason of the `task.requeued` records [`Orchestrator::reissue_in_flight`] writes: a
/// driver's input (it restarted), which `verify_replay` feeds again.
pub const REISSUED: &str = "restored while running";

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
            journal: Default::default(),
            effects: VecDeque::new(),
            timers: Timers::default(),
            subscriptions: BTreeMap::new(),
            next_subscription: 1,
            task_ends_watched: true,
            admitting_new: false,
            snapshots_due: Vec::new(),
            deciding: 0,
            decides_every: true,
        }
    }

    /// Whether each task's end is reported as [`Effect::TaskSettled`] (on at first). A driver
    /// turns it off while nothing waits on a single task: a workflow's thousands of task ends
    /// then cost no effect each. Not part of the state: it changes no record, only what the
    /// driver is told.
    pub fn watch_task_ends(&mut self, on: bool) {
        self.task_ends_watched = on;
    }

    /// Reports a task's end to a driver that watches for it (once, however many paths end it).
    fn task_settled(&mut self, task: TaskIx) {
        if self.task_ends_watched
            && !(self.effects.back()).is_some_and(|e| *e == Effect::TaskSettled { task })
        {
            self.effects.push_back(Effect::TaskSettled { task });
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

    fn check_live(&self) -> Result<()> {
        match &self.state.terminated {
            Some(reason) => Err(Error::Terminated(reason.clone())),
            None => Ok(()),
        }
    }

    /// Appends one decided event to the journal and applies it.
    fn emit(&mut self, now: u64, event: Event) {
        let rec = Record {
            seq: self.state.seq + 1,
            at: now.max(self.state.now),
            event,
        };
        self.state.apply(&rec);
        self.schedule_timers(&rec.event);
        if self.journal.len() >= self.state.options.journal_rows_max as usize {
            self.journal.pop_front();
        }
        self.journal.push_back(rec);
    }

    // ---- custom events and subscriptions ---------------------------------------------------

    /// Records a custom event. Built-in topics are refused.
    pub fn emit_custom(&mut self, topic: &str, data: PayloadId, now: u64) -> Result<()> {
        validate_topic("topic", topic)?;
        if topic.split('.').any(|s| s == "*") {
            return Err(Error::invalid(
                "topic",
                format!("'{topic}': a wildcard segment is for subscribing (on), not for an event"),
            ));
        }
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
        self.command_end(now);
        Ok(())
    }

    pub fn subscribe(&mut self, pattern: &str) -> Result<u32> {
        crate::core::event::validate_pattern("pattern", pattern)?;
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

    // ---- effects and time --------------------------------------------------------------------

    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.record_due_snapshots();
        self.effects.pop_front()
    }

    /// A driver timer (`ctx.sleep`): fires as [`Effect::TimerFired`]. Not kept in snapshots.
    pub fn add_timer(&mut self, deadline_ms: u64) -> u32 {
        self.timers.add(deadline_ms, TimerKind::Sleep)
    }

    pub fn cancel_timer(&mut self, id: u32) -> bool {
        self.timers.cancel(id)
    }

    /// The soonest deadline of any timer still wanted: retries, timeouts, breakers, rate limits,
    /// sleeps. Timers that went stale (the attempt ended before its timeout, the retrying task
    /// was cancelled) are dropped from the front first: a deadline nothing waits for would move
    /// the virtual clock, and with it the times of every later record. Each is dropped once.
    pub fn next_deadline(&mut self) -> Option<u64> {
        while let Some((deadline, id, kind)) = self.timers.first() {
            if !self.timer_stale(deadline, kind) {
                break;
            }
            self.timers.cancel(id);
        }
        self.timers.next_deadline()
    }

    /// Whether a timer can no longer do anything when it fires (see `handle_timeout`).
    fn timer_stale(&self, deadline: u64, kind: TimerKind) -> bool {
        match kind {
            TimerKind::Timeout(call) => self.state.call_task(call).is_none(),
            TimerKind::Retry(task) => self.state.task(task).next_attempt_at() != Some(deadline),
            TimerKind::Breaker(agent) => self.breaker_due(agent) != Some(deadline),
            TimerKind::Throttle(agent) => {
                self.state.agent(agent).bucket.throttled_until != Some(deadline)
            }
            // A job's slot while it is still scheduled there (`rebuild_timers` sets no other).
            TimerKind::Job(j) => {
                let job = &self.state.jobs[j as usize];
                let scheduled = matches!(
                    job.status,
                    crate::core::schedule::JobStatus::Active
                        | crate::core::schedule::JobStatus::Paused
                );
                self.state.terminated.is_some() || !(scheduled && job.next_run == Some(deadline))
            }
            // The driver's.
            TimerKind::Sleep => false,
        }
    }

    /// The timers an event implies. Every one is checked again when it fires, so a timer that
    /// became stale (a task cancelled while it waited to retry) does nothing.
    fn schedule_timers(&mut self, event: &Event) {
        match event {
            Event::TaskRetrying {
                task,
                next_attempt_at,
                ..
            } => {
                self.timers.add(*next_attempt_at, TimerKind::Retry(task.0));
            }
            Event::TaskStarted {
                call,
                deadline: Some(d),
                ..
            } if *call != 0 => {
                self.timers.add(*d, TimerKind::Timeout(*call));
            }
            Event::AgentBreaker {
                agent,
                to: BreakerState::Open,
                ..
            } => {
                if let Some(due) = self.breaker_due(agent.0) {
                    self.timers.add(due, TimerKind::Breaker(agent.0));
                }
            }
            Event::AgentThrottled { agent, until } => {
                self.timers.add(*until, TimerKind::Throttle(agent.0));
            }
            Event::JobScheduled { job } => {
                if let Some(at) = job.next_run {
                    self.timers
                        .add(at, TimerKind::Job(self.state.jobs.len() as u32 - 1));
                }
            }
            _ => {}
        }
    }

    /// Rebuilds the state's timers (after a restore or a replay) from the state itself.
    pub(crate) fn rebuild_timers(&mut self) {
        self.timers.clear_state_timers();
        for i in 0..self.state.tasks.len() {
            let t = &self.state.tasks[i];
            match (t.status, t.due.get()) {
                (TaskStatus::Retrying, Some(at)) => {
                    self.timers.add(at, TimerKind::Retry(TaskIx(i as u32)));
                }
                (TaskStatus::Running, Some(d)) if t.call != 0 => {
                    let call = t.call;
                    self.timers.add(d, TimerKind::Timeout(call));
                }
                _ => {}
            }
        }
        for i in 0..self.state.agents.len() {
            let ix = crate::core::ids::AgentIx(i as u32);
            if let Some(due) = self.breaker_due(ix) {
                self.timers.add(due, TimerKind::Breaker(ix));
            }
            if let Some(until) = self.state.agent(ix).bucket.throttled_until {
                self.timers.add(until, TimerKind::Throttle(ix));
            }
        }
        let jobs = if self.state.terminated.is_some() {
            0
        } else {
            self.state.jobs.len()
        };
        for j in 0..jobs {
            let job = &self.state.jobs[j];
            if let (
                Some(at),
                crate::core::schedule::JobStatus::Active | crate::core::schedule::JobStatus::Paused,
            ) = (job.next_run, job.status)
            {
                self.timers.add(at, TimerKind::Job(j as u32));
            }
        }
    }

    // ---- journal and snapshots ---------------------------------------------------------------

    /// The seq of the first record still held in memory.
    pub fn journal_first_seq(&self) -> u64 {
        self.journal.front().map_or(self.state.seq + 1, |r| r.seq)
    }

    pub fn journal_len(&self) -> usize {
        self.journal.len()
    }

    pub fn journal_records(&self) -> impl Iterator<Item = &Record> {
        self.journal.iter()
    }

    /// The journal as JSON Lines (one record per line, each ending in `\n`), after `after_seq`.
    /// Fails with [`Error::Payload`] if a payload it names was never resolved.
    pub fn journal_json(&self, after_seq: u64) -> Result<String> {
        let mut out = String::new();
        self.with_ctx(|| {
            for rec in self.journal.after(after_seq) {
                out.push_str(
                    &serde_json::to_string(rec).map_err(|e| Error::Payload(e.to_string()))?,
                );
                out.push('\n');
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// One record as JSON.
    pub fn record_json(&self, rec: &Record) -> Result<String> {
        self.with_ctx(|| serde_json::to_string(rec))
            .map_err(|e| Error::Payload(e.to_string()))
    }

    /// Records after `after_seq` that match a subscription, as a JSON array of
    /// `{"subs": [ids], "event": record}`.
    pub fn deliveries_json(&self, after_seq: u64) -> Result<String> {
        let mut out = String::from("[");
        for rec in self.journal.after(after_seq) {
            let topic = rec.event.topic();
            let subs: Vec<String> = self
                .subscriptions
                .iter()
                .filter(|(_, p)| topic_matches(p, topic))
                .map(|(id, _)| id.to_string())
                .collect();
            if subs.is_empty() {
                continue;
            }
            if out.len() > 1 {
                out.push(',');
            }
            let rec = self.record_json(rec)?;
            out.push_str(&format!(
                "{{\"subs\":[{}],\"event\":{rec}}}",
                subs.join(",")
            ));
        }
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

    /// An automatic snapshot, recorded when the command asking for it has made its decisions.
    pub(super) fn snapshot_due(&mut self, reason: &'static str, subject: Option<String>, now: u64) {
        self.snapshots_due.push((reason, subject, now));
    }

    /// `snapshotEveryEvents`: a snapshot is due once that many records were written since the
    /// last. Asked where a command's dispatch ends, in the core's own steps, which replay and
    /// `verify_replay` take alike; not when a driver polls, which depends on the driver (a
    /// restored run, a fork, or a handler's nested calls poll elsewhere).
    pub(super) fn every_events_due(&mut self, now: u64) {
        let Some(every) = self.state.options.snapshot_every_events else {
            return;
        };
        if !self.decides_every {
            return;
        }
        let due = self.state.seq >= self.state.every_snapshot_seq + every as u64;
        let queued = (self.snapshots_due.iter()).any(|d| d.0 == crate::core::state::EVERY_EVENTS);
        if due && !queued {
            self.snapshot_due(crate::core::state::EVERY_EVENTS, None, now);
        }
    }

    /// The end of a command that does not dispatch (a custom event, a message, a reported
    /// error): the every-N-events snapshot is decided here, as at a dispatch's end, so that events
    /// of every kind count toward it.
    pub(super) fn command_end(&mut self, now: u64) {
        if self.deciding == 0 {
            self.settle_snapshots(now);
        }
    }

    /// A command made of steps that may dispatch or give other commands (registering an agent
    /// from a template, removing an agent): the every-N snapshot is decided once, at its end,
    /// over all its records, never between two of them. Nested, only the outermost decides.
    pub(super) fn as_command<R>(
        &mut self,
        now: u64,
        steps: impl FnOnce(&mut Self) -> Result<R>,
    ) -> Result<R> {
        let seq = self.state.seq;
        self.deciding += 1;
        let done = steps(self);
        self.deciding -= 1;
        // A refused command records nothing, but one may record why it refused (`tool.refused`).
        if done.is_ok() || self.state.seq != seq {
            self.command_end(now);
        }
        done
    }

    /// A command's automatic snapshots, then the every-N one if the records so far (those
    /// snapshots' own included) bring the count to N: so a run at rest has always fewer than N
    /// since the last, and a run resumed there (restored, reopened, forked) takes its next one
    /// where the uninterrupted run does.
    #[inline]
    fn settle_snapshots(&mut self, now: u64) {
        self.record_due_snapshots();
        self.every_events_due(now);
        self.record_due_snapshots();
    }

    /// Records the automatic snapshots asked for (see `snapshots_due`). A command ends with a
    /// dispatch, which calls this, but for a failed attempt's handling, which dispatches midway
    /// (a `reset` strategy restarts the agent, then decides the retry) and calls it at its end.
    /// Polling for effects calls it too.
    #[inline]
    pub fn record_due_snapshots(&mut self) {
        if !self.snapshots_due.is_empty() {
            self.record_snapshots_due();
        }
    }

    #[inline(never)]
    fn record_snapshots_due(&mut self) {
        for (reason, subject, now) in std::mem::take(&mut self.snapshots_due) {
            self.auto_snapshot(reason, subject, now);
        }
    }

    /// Off for a read-only replay, which records nothing.
    pub fn decide_every_snapshots(&mut self, on: bool) {
        self.decides_every = on;
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
            agents_status: (self.state.agents.iter())
                .filter(|a| !a.removed)
                .take(crate::core::snapshot::SNAPSHOT_AGENTS_LISTED_MAX)
                .map(|a| (a.id.clone(), a.status))
                .collect(),
            agent_counts: (self.state.agents.iter().filter(|a| !a.removed)).fold(
                BTreeMap::new(),
                |mut n, a| {
                    *n.entry(a.status).or_default() += 1;
                    n
                },
            ),
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
        self.record_due_snapshots();
        let id = self.auto_snapshot("manual", None, now);
        let json = self.snapshot_json(&id);
        // Its record counts toward the every-N snapshot, decided as any command's end decides it.
        self.command_end(now);
        json
    }

    /// The state as a snapshot document, without recording anything (for drivers that persist
    /// snapshots themselves, and for tests).
    pub fn snapshot_json(&self, id: &str) -> Result<String> {
        let doc = SnapshotOut {
            format: SNAPSHOT_FORMAT,
            version: SNAPSHOT_VERSION,
            id,
            seq: self.state.seq,
            at: self.state.now,
            counts: crate::core::snapshot::Counts {
                agents: self.state.agents.len() as u32,
                tasks: self.state.tasks.len() as u32,
            },
            state: &self.state,
        };
        self.with_ctx(|| serde_json::to_string(&doc))
            .map_err(|e| Error::Payload(e.to_string()))
    }

    /// Rebuilds an orchestrator from a snapshot. Calls that were in flight are queued again
    /// (`task.requeued`): their agents are called once more with the next attempt number.
    pub fn restore(snapshot: &str, now: u64) -> Result<Orchestrator> {
        Orchestrator::recover(snapshot, "", now)
    }

    /// Crash recovery: a snapshot plus the journal written after it (JSON Lines; records the
    /// snapshot already holds are skipped). Calls in flight are queued again.
    pub fn recover(snapshot: &str, journal_tail: &str, now: u64) -> Result<Orchestrator> {
        let mut o = Orchestrator::load(snapshot, journal_tail)?;
        o.reissue_in_flight(now);
        Ok(o)
    }

    /// The state a snapshot plus a journal tail describe, exactly (calls in flight still count
    /// as running: see [`Orchestrator::reissue_in_flight`]).
    pub fn load(snapshot: &str, journal_tail: &str) -> Result<Orchestrator> {
        Orchestrator::load_upto(snapshot, journal_tail, None)
    }

    /// [`Orchestrator::load`], stopping after record `upto_seq` (time travel from a snapshot).
    pub fn load_upto(
        snapshot: &str,
        journal_tail: &str,
        upto_seq: Option<u64>,
    ) -> Result<Orchestrator> {
        let payloads = RefCell::new(Payloads::new(usize::MAX));
        let ctx = Context {
            state: None,
            payloads: &payloads,
        };
        let doc: SnapshotIn = with_context(&ctx, || crate::core::snapshot::parse(snapshot))
            .map_err(|e| Error::Decode {
                what: "snapshot",
                reason: e.to_string(),
            })?;
        if doc.format != SNAPSHOT_FORMAT
            || !crate::core::snapshot::SNAPSHOT_VERSIONS_READ.contains(&doc.version)
        {
            return Err(Error::Decode {
                what: "snapshot",
                reason: format!(
                    "format {} v{} is not {SNAPSHOT_FORMAT} v1 to v{SNAPSHOT_VERSION}",
                    doc.format, doc.version
                ),
            });
        }
        if let Some(upto) = upto_seq.filter(|&u| u < doc.seq) {
            // The state before the snapshot is not in it: time travel there needs the journal
            // from the start (a replay without the snapshot).
            return Err(Error::invalid(
                "uptoSeq",
                format!(
                    "{upto} is before the snapshot's seq {}: replay the whole journal to go there",
                    doc.seq
                ),
            ));
        }
        let mut state = doc.state;
        state.options.validate()?;
        crate::core::snapshot::check(&state, payloads.borrow().len())?;
        state.seq = doc.seq;
        if state.terminated.is_some() {
            state.end_jobs();
        }
        state.rebuild_derived();
        crate::core::snapshot::check_ids(&state)?;
        let mut payloads = payloads.into_inner();
        payloads.set_bytes_max(state.options.payload_bytes_max as usize);
        crate::core::session::share_payloads(&mut state, &mut payloads);
        let mut o = Orchestrator::empty(state, payloads);
        o.apply_lines(journal_tail, upto_seq)?;
        o.rebuild_timers();
        Ok(o)
    }

    /// After a restart, the calls that were in flight have no one to answer them: each goes back
    /// to the queue (`task.requeued`) and is issued again with the next attempt number.
    pub fn reissue_in_flight(&mut self, now: u64) {
        // The run's clock does not go back: a driver starting a virtual clock at 0 over a state
        // taken at 5,000 would give the re-issued calls deadlines already past.
        let now = now.max(self.state.now);
        // In call order, as the calls were made.
        let in_flight: Vec<TaskIx> = self.state.derived.calls.iter().map(|(_, t)| t).collect();
        for t in in_flight {
            let reason = REISSUED.into();
            self.emit(
                now,
                Event::TaskRequeued {
                    task: TaskRef(t),
                    reason,
                },
            );
        }
        self.dispatch(now);
    }

    /// Rebuilds the state by applying a journal (JSON Lines, as [`Orchestrator::journal_json`]
    /// writes it) without calling any agent, up to and including `upto_seq` if given. The journal
    /// must start at its `orchestrator.started` record.
    pub fn replay(journal: &str, upto_seq: Option<u64>) -> Result<Orchestrator> {
        let first = journal
            .lines()
            .find(|l| !l.trim().is_empty())
            .ok_or_else(|| Error::Decode {
                what: "journal",
                reason: "it is empty".into(),
            })?;
        // A restored or reopened run's journal starts after its snapshot: its records name
        // tasks and agents only that snapshot holds.
        if let Ok(seq) = crate::core::replay_check::peek_seq(first) {
            if seq != 1 {
                return Err(Error::Decode {
                    what: "journal",
                    reason: format!(
                        "it starts at seq {seq}, not 1: it follows a snapshot (a restored or reopened run's journal); replay it with that snapshot"
                    ),
                });
            }
        }
        let scratch = RefCell::new(Payloads::new(usize::MAX));
        let ctx = Context {
            state: None,
            payloads: &scratch,
        };
        let rec: Record =
            with_context(&ctx, || serde_json::from_str(first)).map_err(|e| Error::Decode {
                what: "journal",
                reason: format!("line 1: {e}"),
            })?;
        let Event::Started {
            seed,
            options,
            version,
            ..
        } = &rec.event
        else {
            return Err(Error::Decode {
                what: "journal",
                reason: "line 1: the first record must be orchestrator.started".into(),
            });
        };
        // A journal another format wrote may mean something else by the same records: refuse it
        // rather than rebuild a state it never had.
        if *version != FORMAT_VERSION {
            return Err(Error::Decode {
                what: "journal",
                reason: format!(
                    "line 1: journal format version {version}; this build reads version {FORMAT_VERSION}"
                ),
            });
        }
        if *seed > SEED_MAX || rec.seq != 1 {
            return Err(Error::Decode {
                what: "journal",
                reason: "a journal starts at seq 1 with a seed below 2^53".into(),
            });
        }
        options.validate()?;
        let payloads = Payloads::new(options.payload_bytes_max as usize);
        let mut o = Orchestrator::empty(State::new(*seed, (**options).clone()), payloads);
        o.apply_lines(journal, upto_seq)?;
        o.rebuild_timers();
        Ok(o)
    }

    /// Applies one more journal record (JSON), which must follow the state's seq.
    pub fn append_line(&mut self, line: &str) -> Result<()> {
        let seq = crate::core::replay_check::peek_seq(line).map_err(|reason| Error::Decode {
            what: "journal",
            reason,
        })?;
        if seq != self.state.seq + 1 {
            let reason = format!("seq {seq} does not follow {}", self.state.seq);
            return Err(Error::Decode {
                what: "journal",
                reason,
            });
        }
        self.apply_lines(line, None)
    }

    /// Applies journal lines whose seq follows the state's, checking each against the state.
    fn apply_lines(&mut self, text: &str, upto_seq: Option<u64>) -> Result<()> {
        let mut applied = false;
        for (n, line) in journal_lines(text) {
            let decode = line_error(n);
            let seq = crate::core::replay_check::peek_seq(line).map_err(decode)?;
            if seq <= self.state.seq {
                // Before the first record applied, it is already in the snapshot. After, it is a
                // repeat: the same record written twice is harmless, another one means two runs
                // wrote to one store, and which history is true cannot be told.
                if applied && self.holds_another(seq, line) {
                    return Err(decode(format!(
                        "seq {seq} comes again with a different record (two histories in one journal)"
                    )));
                }
                continue;
            }
            if upto_seq.is_some_and(|u| seq > u) {
                break;
            }
            if seq != self.state.seq + 1 {
                return Err(decode(format!(
                    "seq {seq} does not follow {}",
                    self.state.seq
                )));
            }
            let rec: Record = self
                .with_ctx(|| serde_json::from_str(line))
                .map_err(|e| decode(e.to_string()))?;
            self.apply_checked(rec).map_err(decode)?;
            applied = true;
        }
        Ok(())
    }

    /// Checks a decoded record against the state, applies it and keeps it in the journal.
    fn apply_checked(&mut self, rec: Record) -> std::result::Result<(), String> {
        crate::core::replay_check::check(&self.state, &rec)?;
        self.state.apply(&rec);
        if self.journal.len() >= self.state.options.journal_rows_max as usize {
            self.journal.pop_front();
        }
        self.journal.push_back(rec);
        Ok(())
    }

    /// After a replay that stopped at some record, applies the records of `journal` that finish
    /// that record's command: those that follow it at the same time and are decisions, not
    /// inputs. A run resumed from the middle of a command would rest in a state no run rests in
    /// (a failed attempt whose retry was never decided: stuck for ever). Returns the seq reached.
    pub fn finish_command(&mut self, journal: &str) -> Result<u64> {
        for (n, line) in journal_lines(journal) {
            let decode = line_error(n);
            let seq = crate::core::replay_check::peek_seq(line).map_err(decode)?;
            if seq <= self.state.seq {
                continue;
            }
            if seq != self.state.seq + 1 {
                break;
            }
            let rec: Record = self
                .with_ctx(|| serde_json::from_str(line))
                .map_err(|e| decode(e.to_string()))?;
            // An input starts the next command, but for the task a job's slot submits, which
            // reads as a submission and is the slot's own.
            let slots_task = matches!(rec.event, Event::TaskCreated { .. })
                && (self.journal.back())
                    .is_some_and(|r| matches!(&r.event, Event::JobFired { task: Some(_), .. }));
            // Nor does the next step of a lifecycle walk (`startAgent`'s Initializing → Ready →
            // Running): stopped after its first record, a fork's agent was left Initializing.
            let walks_on = self
                .journal
                .back()
                .is_some_and(|r| continues_walk(&r.event, &rec.event));
            if rec.at != self.state.now
                || (crate::core::verify::is_input(&rec.event) && !slots_task && !walks_on)
            {
                break;
            }
            self.apply_checked(rec).map_err(decode)?;
        }
        // The timers follow the state (a retry decided in the records applied here).
        self.rebuild_timers();
        Ok(self.state.seq)
    }

    /// Whether the journal holds record `seq` written otherwise than `line`. A record no longer
    /// held (journalRowsMax, or in the snapshot) cannot be compared: the repeat is let be.
    pub(crate) fn holds_another(&self, seq: u64, line: &str) -> bool {
        let Some(before) = seq.checked_sub(1) else {
            return true; // seq 0 is no record's
        };
        let held = self.journal.after(before).next().filter(|r| r.seq == seq);
        held.is_some_and(|r| self.record_json(r).is_ok_and(|json| json != line.trim()))
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

    /// The whole state at a listed snapshot (an automatic one too), rebuilt from the journal up
    /// to its record: restorable like `snapshot()`'s. Only the summaries are kept, so the
    /// journal must still hold everything from seq 1. Every payload must be resolved first.
    pub fn snapshot_by_id(&self, id: &str) -> Result<String> {
        let summary = (self.state.snapshots.iter())
            .find(|s| s.id == id)
            .ok_or_else(|| Error::UnknownSnapshot(id.to_owned()))?;
        // Nothing happened since: the state is the snapshot's.
        if summary.seq == self.state.seq {
            return self.snapshot_json(id);
        }
        if self.journal_first_seq() != 1 {
            return Err(Error::InvalidState {
                what: "snapshot",
                reason: format!("'{id}' cannot be rebuilt: the journal before it is no longer held in memory (a restored or reopened run starts from its snapshot; take snapshot() when you need one whole)"),
            });
        }
        // Rebuilt from records whose payloads were released since, it would lack them (a task
        // waiting then would run on the marker after a restore).
        if self.payloads.borrow().released_any() {
            return Err(Error::InvalidState {
                what: "snapshot",
                reason: format!("'{id}' cannot be rebuilt: payloads of finished work were released since (the object keeps their bytes bounded); take snapshot() when you need one whole"),
            });
        }
        let then = Orchestrator::replay(&self.journal_json(0)?, Some(summary.seq))?;
        then.snapshot_json(id)
    }
}

/// The lines of a journal that hold a record, each with its line number (from 1).
fn journal_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    (text.lines().enumerate())
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| (n + 1, l))
}

/// A journal line's decode error, naming the line.
fn line_error(n: usize) -> impl Fn(String) -> Error + Copy {
    move |reason| Error::Decode {
        what: "journal",
        reason: format!("line {n}: {reason}"),
    }
}

/// Whether `next` is the next edge of the same start as `last` (one command's records: the same
/// agent, on from where the last edge ended; only a start walks several edges).
fn continues_walk(last: &Event, next: &Event) -> bool {
    match (last, next) {
        (
            Event::AgentStatus {
                agent: a,
                to,
                reason: r,
                auto: false,
                ..
            },
            Event::AgentStatus {
                agent: b,
                from,
                reason: s,
                auto: false,
                ..
            },
        ) => a == b && to == from && r == s && r == agents::START_REASON,
        _ => false,
    }
}
