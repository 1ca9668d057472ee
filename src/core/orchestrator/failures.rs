//! What happens when an attempt fails or time passes: the error class's strategy (retry with
//! backoff, fallback, skip, escalate, reset, terminate), per-attempt timeouts, circuit breakers
//! and rate limits. Every decision here is an event; nothing reads a clock but `now`.

use super::{AbortReason, Effect, Orchestrator};
use crate::core::agent::AgentStatus;
use crate::core::event::Event;
use crate::core::ids::{AgentIx, TaskIx};
use crate::core::policy::{unit, BreakerState, Fallback, RetryPolicy, Strategy, ATTEMPTS_MAX};
use crate::core::state::breaker_counts;
use crate::core::task::{ErrorClass, TaskError, TaskStatus, RETRY_AFTER_MS_MAX};
use crate::core::timer::TimerKind;
use crate::core::wire::{AgentRef, TaskRef};
use rand_core::RngCore;
use std::collections::BTreeMap;

impl Orchestrator {
    // ---- the effective policy: task, then agent, then the orchestrator ------------------------

    pub(super) fn timeout_ms(&self, task: TaskIx) -> Option<u64> {
        let t = self.state.task(task);
        let a = self.state.agent(t.agent);
        t.policy
            .as_ref()
            .and_then(|p| p.timeout_ms)
            .or(a.policy.timeout_ms)
            .or(self.state.options.timeout_ms)
    }

    fn retry_policy(&self, task: TaskIx) -> Option<&RetryPolicy> {
        let t = self.state.task(task);
        let a = self.state.agent(t.agent);
        t.policy
            .as_ref()
            .and_then(|p| p.retry.as_ref())
            .or(a.policy.retry.as_ref())
            .or(self.state.options.retry.as_ref())
    }

    fn strategy(&self, task: TaskIx, class: ErrorClass) -> Strategy {
        let t = self.state.task(task);
        let a = self.state.agent(t.agent);
        t.policy
            .as_ref()
            .and_then(|p| p.on_error.get(&class))
            .or(a.policy.on_error.get(&class))
            .or(self.state.options.on_error.get(&class))
            .copied()
            .unwrap_or(Strategy::default_for(class))
    }

    fn fallback(&self, task: TaskIx) -> Option<&Fallback> {
        let t = self.state.task(task);
        t.policy.as_ref().and_then(|p| p.fallback.as_ref()).or(self
            .state
            .agent(t.agent)
            .policy
            .fallback
            .as_ref())
    }

    /// The agent a task would go to under `fallback`: the named agent, or the least-loaded
    /// running agent with the capability (ties: registration order); never its own agent.
    fn fallback_target(&self, task: TaskIx) -> Option<AgentIx> {
        let current = self.state.task(task).agent;
        let f = self.fallback(task)?;
        if let Some(id) = &f.agent {
            let ix = self.state.agent_ix(id)?;
            let ok = ix != current && self.state.status_of(ix) != AgentStatus::Terminated;
            return ok.then_some(ix);
        }
        let cap = f.capability.as_deref()?;
        self.route_by(cap, Some(current), &std::collections::BTreeMap::new())
    }

    /// Why [`Self::fallback_target`] found no agent for the task.
    fn no_fallback(&self, task: TaskIx) -> String {
        let current = self.state.task(task).agent;
        let Some(f) = self.fallback(task) else {
            return "the task and its agent give none".into();
        };
        match (&f.agent, &f.capability) {
            (Some(id), _) => match self.state.agent_ix(id) {
                None => format!("agent '{id}' is unknown"),
                Some(ix) if ix == current => format!("agent '{id}' is the task's own"),
                Some(_) => format!("agent '{id}' is terminated"),
            },
            (None, Some(cap)) => format!("no other running agent has capability '{cap}'"),
            (None, None) => "it names no agent or capability".into(),
        }
    }

    // ---- failures ----------------------------------------------------------------------------

    /// One attempt failed; records it, counts it, and lets the class's strategy decide.
    pub(super) fn attempt_failed(
        &mut self,
        task: TaskIx,
        call: u32,
        mut error: TaskError,
        auto: bool,
        now: u64,
    ) {
        let attempt = self.state.task(task).attempts;
        error.retry_after_ms = error.retry_after_ms.map(|ms| ms.min(RETRY_AFTER_MS_MAX));
        let (class, message) = (error.class, error.message.clone());
        let message = message.as_str();
        self.emit(
            now,
            Event::TaskAttemptFailed {
                task: TaskRef(task),
                call,
                attempt,
                error: Box::new(error.clone()),
                auto,
            },
        );
        let agent = self.state.task(task).agent;
        // Whether the user had paused it, before maxErrors may move it on to Error.
        let paused = self.state.status_of(agent) == AgentStatus::Paused;
        // Every failed attempt is the agent's error (a timeout, a tool's failure and a wrong
        // shape included), as `maxErrors` promises; a cancellation is nobody's.
        if class != ErrorClass::Cancelled {
            self.count_error(agent, message, true, now);
        }
        if breaker_counts(class) {
            self.breaker_after_failure(agent, now);
        }
        // The agent's automatic snapshot (maxErrors) waits for the decision: a `reset` or an
        // `escalate` dispatches before it is made.
        self.deciding += 1;
        self.decide(task, error, paused, now);
        self.deciding -= 1;
        if self.deciding == 0 {
            self.record_due_snapshots();
        }
    }

    fn decide(&mut self, task: TaskIx, error: TaskError, paused: bool, now: u64) {
        let (class, message) = (error.class, error.message.clone());
        match self.strategy(task, class) {
            Strategy::Retry => self.retry_or_fail(task, error, now),
            Strategy::Fail => self.fail_final(task, error, now),
            Strategy::Fallback => match self.fallback_target(task) {
                Some(to) if self.state.task(task).failures < self.retry_budget(task) => {
                    self.reassign(
                        task,
                        to,
                        &format!("fallback after {} failure", class.with_article()),
                        now,
                    );
                    self.queue_task(task, now);
                }
                Some(_) => self.retry_or_fail(task, error, now),
                None => {
                    // Say why, or a task meant to fall back just fails with its own error.
                    let message = format!("{message} (no fallback: {})", self.no_fallback(task));
                    let error = TaskError { message, ..error };
                    self.retry_or_fail(task, error, now)
                }
            },
            Strategy::Skip => {
                let reason = format!("skipped after {} failure: {message}", class.with_article());
                self.emit(
                    now,
                    Event::TaskSkipped {
                        task: TaskRef(task),
                        reason,
                    },
                );
                self.after_task_end(task, now);
            }
            Strategy::Escalate => {
                let agent = self.state.task(task).agent;
                let e = Box::new(error.clone());
                self.emit(
                    now,
                    Event::Escalation {
                        agent: AgentRef(agent),
                        task: TaskRef(task),
                        error: e,
                    },
                );
                self.walk_auto(agent, &[AgentStatus::Error], "escalation", now);
                self.fail_final(task, error, now);
            }
            Strategy::Reset => {
                let agent = self.state.task(task).agent;
                let path: &[AgentStatus] = match self.state.status_of(agent) {
                    // Paused by the user: reset, but left paused (it takes tasks when resumed).
                    AgentStatus::Error if paused => &[AgentStatus::Paused],
                    AgentStatus::Paused => &[AgentStatus::Error, AgentStatus::Paused],
                    AgentStatus::Error => &[AgentStatus::Ready, AgentStatus::Running],
                    _ => &[AgentStatus::Error, AgentStatus::Ready, AgentStatus::Running],
                };
                self.walk_auto(agent, path, "reset", now);
                self.retry_or_fail(task, error, now);
            }
            Strategy::Terminate => {
                self.fail_final(task, error, now);
                let id = self.state.task_id(task).expect("task exists");
                self.terminate_as(
                    &format!(
                        "task '{id}' failed with {} error: {message}",
                        class.with_article()
                    ),
                    true,
                    now,
                );
            }
        }
    }

    /// Failed attempts a task may have before it fails for good. A fallback to another agent
    /// spends the same budget, with at least one move allowed.
    fn retry_budget(&self, task: TaskIx) -> u32 {
        self.retry_policy(task)
            .map_or(2, |r| r.max_attempts.max(2))
            .min(ATTEMPTS_MAX)
    }

    fn retry_or_fail(&mut self, task: TaskIx, error: TaskError, now: u64) {
        let (attempt, failures) = (
            self.state.task(task).attempts,
            self.state.task(task).failures,
        );
        let Some(policy) = self
            .retry_policy(task)
            .filter(|r| failures < r.max_attempts)
        else {
            return self.fail_final(task, error, now);
        };
        // Draw from a copy: the state's PRNG advances when the event is applied, so a replay
        // (which only applies) moves it the same way.
        let jitter = policy.jitter > 0.0;
        let u = if jitter {
            unit(self.state.rng.clone().next_u64())
        } else {
            0.0
        };
        // An agent that said when to come back is not called sooner.
        let delay_ms = policy
            .delay_ms(failures, u)
            .max(error.retry_after_ms.unwrap_or(0));
        let next_attempt_at = now.saturating_add(delay_ms);
        self.emit(
            now,
            Event::TaskRetrying {
                task: TaskRef(task),
                attempt,
                delay_ms,
                next_attempt_at,
                jitter,
            },
        );
    }

    fn fail_final(&mut self, task: TaskIx, error: TaskError, now: u64) {
        self.emit(
            now,
            Event::TaskFailed {
                task: TaskRef(task),
                error: Box::new(error),
                auto: true,
            },
        );
        self.after_task_end(task, now);
    }

    fn reassign(&mut self, task: TaskIx, to: AgentIx, reason: &str, now: u64) {
        let from = self.state.task(task).agent;
        self.emit(
            now,
            Event::TaskReassigned {
                task: TaskRef(task),
                from: AgentRef(from),
                to: AgentRef(to),
                reason: reason.into(),
            },
        );
    }

    /// Queues a task; if its agent's breaker is open and the task has somewhere else to go, it
    /// goes there rather than wait for the breaker.
    pub(super) fn queue_task(&mut self, task: TaskIx, now: u64) {
        // A task routed by capability that waited (on its dependencies, or for room in its
        // workflow's width) goes to the least-loaded capable agent now, not the one picked when
        // it was submitted: that one may since have been given long work, paused or stopped.
        // The rule is the one `submit` keeps (least loaded, ties to the first registered), so
        // among idle agents a task waiting on its dependencies goes to the first, as a new one
        // would. (The capability first: a plain task has none, and nothing else is read for it.)
        let t = self.state.task(task);
        if t.capability().is_some()
            && t.status == TaskStatus::Pending
            && !self.admitting_new
            && self.state.waited(task)
        {
            self.route_again(task, "routed by capability when ready", now);
        }
        self.emit(
            now,
            Event::TaskQueued {
                task: TaskRef(task),
            },
        );
        let agent = self.state.task(task).agent;
        if self.state.agent(agent).breaker.state == BreakerState::Open {
            if let Some(to) = self.fallback_target(task) {
                self.reassign(task, to, "the agent's circuit breaker is open", now);
            }
        }
    }

    /// A task routed by capability goes to the least-loaded capable agent now, if that is not
    /// its agent (a plain task has no capability, and nothing else is read for it).
    pub(super) fn route_again(&mut self, task: TaskIx, reason: &str, now: u64) {
        let t = self.state.task(task);
        let Some(cap) = t.capability() else { return };
        let from = t.agent;
        if let Some(to) = self.route_by(cap, None, &BTreeMap::new()) {
            if to != from {
                self.reassign(task, to, reason, now);
            }
        }
    }

    // ---- circuit breakers --------------------------------------------------------------------

    fn breaker_after_failure(&mut self, agent: AgentIx, now: u64) {
        let a = self.state.agent(agent);
        let Some(cfg) = &a.breaker_config else { return };
        let open = match a.breaker.state {
            BreakerState::Closed => a.breaker.consecutive_failures >= cfg.failure_threshold,
            BreakerState::HalfOpen => true,
            BreakerState::Open => false,
        };
        if !open {
            return;
        }
        let from = a.breaker.state;
        self.emit(
            now,
            Event::AgentBreaker {
                agent: AgentRef(agent),
                from,
                to: BreakerState::Open,
            },
        );
        // While the breaker is open, waiting tasks that have somewhere else to go, go there.
        let waiting: Vec<TaskIx> = (0..self.state.tasks.len() as u32)
            .map(TaskIx)
            .filter(|&t| {
                let task = self.state.task(t);
                task.agent == agent && task.status == TaskStatus::Queued
            })
            .collect();
        for t in waiting {
            if let Some(to) = self.fallback_target(t) {
                self.reassign(t, to, "the agent's circuit breaker is open", now);
            }
        }
    }

    /// When an open breaker lets a trial call through.
    pub(super) fn breaker_due(&self, agent: AgentIx) -> Option<u64> {
        let a = self.state.agent(agent);
        match (a.breaker.state, a.breaker.opened_at, &a.breaker_config) {
            (BreakerState::Open, Some(at), Some(cfg)) => Some(at.saturating_add(cfg.recovery_ms)),
            _ => None,
        }
    }

    // ---- time --------------------------------------------------------------------------------

    /// Fires every timer due at `now`: retries, timeouts, breakers, rate limits, sleeps. Early or
    /// repeated calls (an alarm delivered twice) do nothing harmful: each timer checks the state.
    pub fn handle_timeout(&mut self, now: u64) {
        while let Some((id, kind)) = self.timers.pop_due(now) {
            match kind {
                TimerKind::Sleep => self.effects.push_back(Effect::TimerFired { timer: id }),
                TimerKind::Retry(task) => {
                    let t = self.state.task(task);
                    if t.status == TaskStatus::Retrying
                        && t.next_attempt_at().is_some_and(|at| at <= now)
                    {
                        // A retry routed by capability is routed again: the agent that failed
                        // may since have entered Error, or been paused or stopped.
                        self.route_again(task, "routed by capability for its retry", now);
                        self.queue_task(task, now);
                    }
                }
                TimerKind::Timeout(call) => {
                    let Some(task) = self.state.call_task(call) else {
                        continue;
                    };
                    let t = self.state.task(task);
                    if t.deadline().is_some_and(|d| d <= now) {
                        let (attempt, started) = (t.attempts, t.deadline().unwrap_or(now));
                        let ms = self.timeout_ms(task).unwrap_or(0);
                        self.effects.push_back(Effect::Abort {
                            call,
                            reason: AbortReason::TimedOut,
                        });
                        let message = format!("attempt {attempt} timed out after {ms} ms");
                        let _ = started;
                        let error = TaskError::new(ErrorClass::Timeout, message);
                        self.attempt_failed(task, call, error, true, now);
                    }
                }
                TimerKind::Breaker(agent) => {
                    if self.breaker_due(agent).is_some_and(|due| due <= now) {
                        let ev = Event::AgentBreaker {
                            agent: AgentRef(agent),
                            from: BreakerState::Open,
                            to: BreakerState::HalfOpen,
                        };
                        self.emit(now, ev);
                    }
                }
                TimerKind::Job(j) => self.fire_job(j as usize, now),
                TimerKind::Throttle(agent) => {
                    if self
                        .state
                        .agent(agent)
                        .bucket
                        .throttled_until
                        .is_some_and(|u| u <= now)
                    {
                        self.emit(
                            now,
                            Event::AgentUnthrottled {
                                agent: AgentRef(agent),
                            },
                        );
                    }
                }
            }
        }
        self.dispatch(now);
    }

    // ---- termination -------------------------------------------------------------------------

    /// Stops the orchestrator cleanly: cancels every unfinished task (aborting calls in flight),
    /// stops the agents, and refuses new work from then on.
    pub fn terminate(&mut self, reason: &str, now: u64) {
        self.terminate_as(reason, false, now);
    }

    /// `auto`: decided by the core (a `terminate` strategy) rather than commanded, which a replay
    /// that finishes a command needs to tell apart.
    fn terminate_as(&mut self, reason: &str, auto: bool, now: u64) {
        if self.state.terminated.is_some() {
            return;
        }
        self.emit(
            now,
            Event::Terminated {
                reason: reason.to_owned(),
                auto,
            },
        );
        let open: Vec<TaskIx> = (0..self.state.tasks.len() as u32)
            .map(TaskIx)
            .filter(|&t| !self.state.task(t).status.is_terminal())
            .collect();
        for t in open {
            if !self.state.task(t).status.is_terminal() {
                self.cancel_one(t, "the orchestrator was terminated", true, now);
                self.after_task_end(t, now);
            }
        }
        for i in 0..self.state.agents.len() as u32 {
            let agent = AgentIx(i);
            if !matches!(
                self.state.status_of(agent),
                AgentStatus::Stopped | AgentStatus::Terminated
            ) {
                self.walk_auto(
                    agent,
                    &[AgentStatus::Stopped],
                    "orchestrator terminated",
                    now,
                );
            }
        }
    }
}
