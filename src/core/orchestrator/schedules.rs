//! Scheduled jobs: each slot submits the job's task. A slot missed while paused or down fires
//! once; the next slot is the first one after now. A job has at most one task waiting to start.

use super::Orchestrator;
use crate::core::event::Event;
use crate::core::ids::PayloadId;
use crate::core::schedule::{job_id, parse_job_id, Job, JobStatus, Trigger};
use crate::core::task::TaskSpec;
use crate::core::task::TaskStatus;
use crate::core::timer::TimerKind;
use crate::core::{Error, Result};

impl Orchestrator {
    /// Schedules `task` (with `input`, a resolved payload: it is submitted again at each slot).
    pub fn schedule(
        &mut self,
        trigger: Trigger,
        task: TaskSpec,
        input: PayloadId,
        now: u64,
    ) -> Result<usize> {
        self.as_command(now, |o| o.schedule_steps(trigger, task, input, now))
    }

    fn schedule_steps(
        &mut self,
        trigger: Trigger,
        task: TaskSpec,
        input: PayloadId,
        now: u64,
    ) -> Result<usize> {
        trigger.validate()?;
        // The task must be submittable now (its agent or capability known, its policy valid).
        super::tasks::check_target(&task)?;
        if task.capability.is_none() {
            // As `submit`: a terminated agent takes no task, so no job of slots for it either.
            let agent = self.agent(&task.agent)?;
            let status = self.state.status_of(agent);
            if status == crate::core::agent::AgentStatus::Terminated {
                return Err(Error::AgentUnavailable {
                    agent: self.state.agent(agent).id.clone(),
                    status,
                });
            }
        }
        if task.id.is_some() {
            return Err(Error::invalid(
                "task id",
                "a scheduled task gets a new id at each slot",
            ));
        }
        if let Some(p) = task.policy() {
            p.validate("scheduled task")?;
        }
        crate::core::task::validate_priority(task.priority)?;
        if !input.is_none() && self.payloads.borrow().get(input).is_none() {
            return Err(Error::Payload(
                "a scheduled task's input must be resolved JSON".into(),
            ));
        }
        self.check_live()?;
        let ix = self.state.jobs.len();
        // A one-off job at or before now fires now; recurring ones at their first slot.
        let next_run = match trigger.at {
            Some(at) => Some(at.max(now)),
            None => trigger.next_after(now, now),
        };
        let job = Job {
            id: job_id(ix),
            trigger,
            task,
            input,
            status: JobStatus::Active,
            next_run,
            created_at: now,
            runs: 0,
            last_run: None,
            last_task: None,
        };
        self.emit(now, Event::JobScheduled { job: Box::new(job) });
        Ok(ix)
    }

    pub fn job(&self, id: &str) -> Result<usize> {
        parse_job_id(id)
            .filter(|&j| j < self.state.jobs.len())
            .ok_or_else(|| Error::UnknownJob(id.to_owned()))
    }

    pub fn pause_job(&mut self, job: usize, now: u64) -> Result<()> {
        self.as_command(now, |o| o.pause_job_steps(job, now))
    }

    fn pause_job_steps(&mut self, job: usize, now: u64) -> Result<()> {
        self.expect_job(job, JobStatus::Active, "pause")?;
        self.emit(now, Event::JobPaused { job: job_id(job) });
        Ok(())
    }

    /// Resumes a paused job; a slot it missed while paused fires now, once.
    pub fn resume_job(&mut self, job: usize, now: u64) -> Result<()> {
        self.expect_job(job, JobStatus::Paused, "resume")?;
        self.emit(now, Event::JobResumed { job: job_id(job) });
        self.fire_due_jobs(now);
        self.dispatch(now);
        Ok(())
    }

    pub fn delete_job(&mut self, job: usize, now: u64) -> Result<()> {
        self.as_command(now, |o| o.delete_job_steps(job, now))
    }

    fn delete_job_steps(&mut self, job: usize, now: u64) -> Result<()> {
        if self.state.jobs[job].status == JobStatus::Deleted {
            return Err(Error::UnknownJob(job_id(job)));
        }
        self.emit(now, Event::JobDeleted { job: job_id(job) });
        Ok(())
    }

    fn expect_job(&self, job: usize, status: JobStatus, action: &str) -> Result<()> {
        let j = &self.state.jobs[job];
        if j.status == JobStatus::Deleted {
            // As `deleteJob` says twice over, and as `jobs()`, which no longer lists it.
            return Err(Error::UnknownJob(job_id(job)));
        }
        if j.status != status {
            return Err(Error::InvalidState {
                what: "job",
                reason: format!("'{}' cannot {action}: it is {:?}", j.id, j.status).to_lowercase(),
            });
        }
        Ok(())
    }

    /// Fires every active job whose slot has come: one task each, however many slots passed.
    pub(super) fn fire_due_jobs(&mut self, now: u64) {
        for j in 0..self.state.jobs.len() {
            self.fire_job(j, now);
        }
    }

    /// Fires job `j` if it is active and its slot has come. Its timer calls this for it alone:
    /// a driver that wakes late takes the timers due meanwhile in their order, and a later job's
    /// slot must not jump ahead of them.
    pub(super) fn fire_job(&mut self, j: usize, now: u64) {
        if self.state.terminated.is_some() {
            return; // a terminated orchestrator takes no new work: its jobs fire no more
        }
        let job = &self.state.jobs[j];
        let Some(slot) = job
            .next_run
            .filter(|&at| at <= now && job.status == JobStatus::Active)
        else {
            return;
        };
        let next = job.trigger.next_after(now, job.created_at);
        let (spec, input) = (job.task.clone(), job.input);
        // A job whose agent has gone away records why and goes on; the schedule stays.
        let mut error = self
            .check_new_task(&spec)
            .err()
            .map(|e| e.to_string().into());
        // One waiting task per job: while its last one has not started (its agent paused,
        // busy or down), a slot adds nothing, so no burst is run when the agent is back.
        if let Some(last) = self.state.jobs[j].last_task.as_deref() {
            let waiting = self.task(last).is_ok_and(|t| {
                matches!(
                    self.state.task(t).status,
                    TaskStatus::Pending | TaskStatus::Queued
                )
            });
            if waiting && error.is_none() {
                error = Some(format!("its last task, {last}, has not started yet").into());
            }
        }
        let submit = error.is_none();
        let task = submit.then(|| match &spec.id {
            Some(id) => id.as_str().into(),
            None => crate::core::task::auto_task_id(self.state.tasks.len() as u32).into(),
        });
        self.emit(
            now,
            Event::JobFired {
                job: job_id(j),
                slot,
                next: next.into(),
                error,
                task,
            },
        );
        if let Some(at) = next {
            self.timers.add(at, TimerKind::Job(j as u32));
        }
        if submit {
            self.submit(spec, input, PayloadId::NONE, now)
                .expect("checked just before");
        }
    }
}
