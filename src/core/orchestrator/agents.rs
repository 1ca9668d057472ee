//! Agent commands: registration, the lifecycle, error reports.

use super::Orchestrator;
use crate::core::agent::{AgentSpec, AgentStatus, AgentUpdate, BreakerSetting};
use crate::core::event::Event;
use crate::core::ids::{check_id, AgentIx, TaskIx, ID_BYTES_MAX};
use crate::core::wire::AgentRef;
use crate::core::{Error, Result};

/// The reason of a start's lifecycle records: the one command that walks several edges.
pub const START_REASON: &str = "start";

/// The longest agent name, in bytes.
pub const NAME_BYTES_MAX: usize = 256;

impl Orchestrator {
    pub fn register_agent(&mut self, spec: AgentSpec, now: u64) -> Result<AgentIx> {
        self.as_command(now, |o| o.register_agent_steps(spec, now))
    }

    fn register_agent_steps(&mut self, mut spec: AgentSpec, now: u64) -> Result<AgentIx> {
        self.check_live()?;
        check_id("agent id", &spec.id)?;
        if self.state.agent_ix(&spec.id).is_some() {
            return Err(Error::DuplicateId {
                kind: "agent",
                id: spec.id,
            });
        }
        // A tool the agent is given must exist, as when it is granted one later.
        if let Some(t) = spec
            .tools
            .iter()
            .find(|t| !self.state.tools.contains_key(*t))
        {
            return Err(Error::UnknownTool(t.clone()));
        }
        let max = self.state.options.agents_max;
        if self.state.agents.len() as u64 >= max as u64 {
            return Err(Error::LimitReached {
                limit: "agentsMax",
                value: max as u64,
            });
        }
        let owner = format!("agent '{}'", spec.id);
        if spec
            .name
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.len() > NAME_BYTES_MAX)
        {
            let name = crate::core::ids::shown(spec.name.as_deref().unwrap_or_default());
            return Err(Error::invalid(
                "name",
                format!("{owner}: '{name}' must be 1 to {NAME_BYTES_MAX} bytes"),
            ));
        }
        if spec.concurrency == Some(0) {
            return Err(Error::invalid(
                "concurrency",
                format!("{owner}: must be at least 1"),
            ));
        }
        if spec.max_errors == Some(0) {
            return Err(Error::invalid(
                "maxErrors",
                format!("{owner}: must be at least 1"),
            ));
        }
        for c in &spec.capabilities {
            if c.is_empty() || c.len() > ID_BYTES_MAX {
                return Err(Error::invalid(
                    "capabilities",
                    format!("{owner}: '{c}' must be 1 to 128 bytes"),
                ));
            }
        }
        spec.policy().validate(&owner)?;
        spec.circuit_breaker = spec.circuit_breaker.resolved();
        if let BreakerSetting::On(b) = &spec.circuit_breaker {
            b.validate(&owner)?;
        }
        if let Some(r) = &spec.rate_limit {
            r.validate(&owner)?;
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
        if matches!(to, AgentStatus::Running | AgentStatus::Initializing) {
            self.check_live()?;
        }
        super::tasks::check_reason(reason)?;
        self.check_path(agent, &[to])?;
        self.step(agent, to, reason, false, now);
        self.after_agent_change(agent, now);
        Ok(())
    }

    /// `Created`/`Stopped` → `Initializing` → `Ready` → `Running`; `Ready`/`Completed` → `Running`.
    pub fn start_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        use AgentStatus::*;
        self.check_live()?;
        let path: &[AgentStatus] = match self.state.status_of(agent) {
            Created | Stopped => &[Initializing, Ready, Running],
            Completed => &[Ready, Running],
            _ => &[Running],
        };
        self.walk(agent, path, START_REASON, now)
    }

    /// Changes an agent's name, capabilities, concurrency or maxErrors; what is not given stays.
    /// More room starts its waiting tasks at once; less lets the calls in flight finish.
    pub fn update_agent(&mut self, agent: AgentIx, update: AgentUpdate, now: u64) -> Result<()> {
        self.check_live()?;
        let owner = format!("agent '{}'", self.state.agent(agent).id);
        if update.is_empty() {
            return Err(Error::invalid(
                "update",
                format!("{owner}: give name, capabilities, concurrency or maxErrors"),
            ));
        }
        if update
            .name
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.len() > NAME_BYTES_MAX)
        {
            let name = crate::core::ids::shown(update.name.as_deref().unwrap_or_default());
            let reason = format!("{owner}: '{name}' must be 1 to {NAME_BYTES_MAX} bytes");
            return Err(Error::invalid("name", reason));
        }
        for (field, v) in [
            ("concurrency", update.concurrency),
            ("maxErrors", update.max_errors),
        ] {
            if v == Some(Some(0)) {
                return Err(Error::invalid(
                    field,
                    format!("{owner}: must be at least 1"),
                ));
            }
        }
        for c in update.capabilities.iter().flatten() {
            if c.is_empty() || c.len() > ID_BYTES_MAX {
                return Err(Error::invalid(
                    "capabilities",
                    format!("{owner}: '{c}' must be 1 to 128 bytes"),
                ));
            }
        }
        self.emit(
            now,
            Event::AgentUpdated {
                agent: AgentRef(agent),
                update: Box::new(update),
            },
        );
        // A maxErrors at or below the errors it has puts it in Error now, not at the next one.
        self.check_error_threshold(agent, now);
        self.dispatch(now);
        Ok(())
    }

    pub fn pause_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        self.walk(agent, &[AgentStatus::Paused], "pause", now)
    }

    pub fn resume_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        self.check_live()?;
        if self.state.status_of(agent) != AgentStatus::Paused {
            let e = self.illegal(agent, AgentStatus::Running);
            return Err(e.needing("resume takes a Paused agent (start takes a Ready one)"));
        }
        self.walk(agent, &[AgentStatus::Running], "resume", now)
    }

    pub fn stop_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        self.walk(agent, &[AgentStatus::Stopped], "stop", now)
    }

    /// `Error` → `Ready`; start the agent again to give it tasks.
    pub fn recover_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        self.as_command(now, |o| o.recover_agent_steps(agent, now))
    }

    fn recover_agent_steps(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        // The first seed's pattern is report errors, pause, recover, resume: a paused agent
        // stays paused for the resume, its error count started again.
        if self.state.status_of(agent) == AgentStatus::Paused {
            self.check_live()?;
            self.emit(
                now,
                Event::AgentRecovered {
                    agent: AgentRef(agent),
                },
            );
            return Ok(());
        }
        if self.state.status_of(agent) != AgentStatus::Error {
            let e = self.illegal(agent, AgentStatus::Ready);
            return Err(e.needing("recover takes an agent in Error"));
        }
        self.walk(agent, &[AgentStatus::Ready], "recover", now)
    }

    /// `Running` → `Completed`: the agent finished its work; its queued tasks wait.
    pub fn complete_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        self.walk(agent, &[AgentStatus::Completed], "complete", now)
    }

    /// Final: cancels the agent's unfinished tasks (aborting calls in flight).
    pub fn terminate_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        self.walk(agent, &[AgentStatus::Terminated], "terminate", now)
    }

    /// Terminates the agent (its unfinished tasks are cancelled) if it is not already, then
    /// removes it: lookups and lists by id no longer find it and the id may be registered again.
    /// Its tasks, history and journal records keep naming it.
    pub fn remove_agent(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        self.as_command(now, |o| o.remove_agent_steps(agent, now))
    }

    fn remove_agent_steps(&mut self, agent: AgentIx, now: u64) -> Result<()> {
        if self.state.agent(agent).removed {
            return Err(Error::UnknownAgent(self.state.agent(agent).id.clone()));
        }
        if self.state.status_of(agent) != AgentStatus::Terminated {
            self.walk(agent, &[AgentStatus::Terminated], "removed", now)?;
        }
        self.emit(
            now,
            Event::AgentRemoved {
                agent: AgentRef(agent),
            },
        );
        Ok(())
    }

    /// Refuses an agent that was removed: a removed agent's handler still running must not
    /// write records that name it (its id may belong to another agent by then).
    pub(super) fn check_present(&self, agent: AgentIx) -> Result<()> {
        match self.state.agent(agent) {
            a if a.removed => Err(Error::UnknownAgent(a.id.clone())),
            _ => Ok(()),
        }
    }

    /// Counts an error against the agent; at its `maxErrors` it enters `Error`.
    pub fn report_error(&mut self, agent: AgentIx, message: &str, now: u64) -> Result<()> {
        crate::core::ids::check_text("message", message, crate::core::ids::MESSAGE_BYTES_MAX)?;
        self.count_error(agent, message, false, now);
        self.command_end(now);
        Ok(())
    }

    /// Records an error of the agent (reported by the user, or `auto`: a failed attempt) and
    /// puts the agent in `Error` once it reaches its `maxErrors`.
    pub(super) fn count_error(&mut self, agent: AgentIx, message: &str, auto: bool, now: u64) {
        self.emit(
            now,
            Event::AgentError {
                agent: AgentRef(agent),
                message: message.to_owned(),
                auto,
            },
        );
        self.check_error_threshold(agent, now);
    }

    fn check_error_threshold(&mut self, agent: AgentIx, now: u64) {
        let a = self.state.agent(agent);
        let over = a.max_errors.is_some_and(|m| a.error_count >= m);
        if over && a.status.can_go_to(AgentStatus::Error) {
            let reason = format!("{} errors reached maxErrors", a.error_count);
            self.step(agent, AgentStatus::Error, &reason, true, now);
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

    /// For `verify_replay`: a walk of several edges (a start's) is one command, as it was live.
    pub(crate) fn walk_as_recorded(
        &mut self,
        agent: AgentIx,
        path: &[AgentStatus],
        reason: &str,
        now: u64,
    ) -> Result<()> {
        if path
            .iter()
            .any(|s| matches!(s, AgentStatus::Running | AgentStatus::Initializing))
        {
            self.check_live()?;
        }
        self.walk(agent, path, reason, now)
    }

    fn walk(&mut self, agent: AgentIx, path: &[AgentStatus], reason: &str, now: u64) -> Result<()> {
        // The whole path is checked first: a refused command changes nothing.
        self.check_path(agent, path)?;
        for &to in path {
            self.step(agent, to, reason, false, now);
        }
        self.after_agent_change(agent, now);
        Ok(())
    }

    /// Walks a path a policy decided, skipping it if any edge is missing.
    pub(super) fn walk_auto(
        &mut self,
        agent: AgentIx,
        path: &[AgentStatus],
        reason: &str,
        now: u64,
    ) -> bool {
        if self.check_path(agent, path).is_err() {
            return false;
        }
        for &to in path {
            self.step(agent, to, reason, true, now);
        }
        self.after_agent_change(agent, now);
        true
    }

    /// One lifecycle edge. Entering `Error` takes an automatic snapshot.
    fn step(&mut self, agent: AgentIx, to: AgentStatus, reason: &str, auto: bool, now: u64) {
        let from = self.state.status_of(agent);
        self.emit(
            now,
            Event::AgentStatus {
                agent: AgentRef(agent),
                from,
                to,
                reason: reason.to_owned(),
                auto,
            },
        );
        if to == AgentStatus::Error {
            // Its waiting tasks routed by capability go to a capable agent that runs, if one
            // does: the task asked for the capability, and this agent waits for a recover.
            let routed: Vec<TaskIx> = (0..self.state.tasks.len() as u32)
                .map(TaskIx)
                .filter(|&t| {
                    let task = self.state.task(t);
                    task.agent == agent
                        && task.status == crate::core::task::TaskStatus::Queued
                        && task.capability().is_some()
                })
                .collect();
            for t in routed {
                self.route_again(t, "routed by capability: its agent entered Error", now);
            }
            self.snapshot_due("agent.error", Some(self.state.agent(agent).id.clone()), now);
        }
    }

    /// What follows any change of status: a terminated agent's tasks are cancelled; then the
    /// scheduler looks for work.
    fn after_agent_change(&mut self, agent: AgentIx, now: u64) {
        if self.state.status_of(agent) == AgentStatus::Terminated {
            let open: Vec<TaskIx> = (0..self.state.tasks.len() as u32)
                .map(TaskIx)
                .filter(|&t| {
                    let task = self.state.task(t);
                    task.agent == agent && !task.status.is_terminal()
                })
                .collect();
            for t in open {
                if !self.state.task(t).status.is_terminal() {
                    self.cancel_one(t, "agent terminated", true, now);
                    self.after_task_end(t, now);
                }
            }
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
            needs: None,
        }
    }
}
