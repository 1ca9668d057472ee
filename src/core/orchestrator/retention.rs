//! Bounding what finished work keeps: a long-lived orchestrator (a Durable Object that runs for
//! months) would otherwise hold every input and output it ever saw, in memory and in each
//! snapshot.

use super::Orchestrator;
use crate::core::pattern::RunStatus;
use crate::core::state::State;
use crate::core::task::Task;
use crate::core::workflow::WorkflowStatus;
use std::collections::BTreeSet;

impl Orchestrator {
    /// Once the payloads hold more than `bytes_max` bytes of JSON, releases those of the oldest
    /// finished work until they hold half of it: each becomes [`crate::core::payload::RELEASED`].
    /// Work that ended less than `grace_ms` before `now` is left for its reader (a client that
    /// polls for a workflow's result), unless the payloads hold twice `bytes_max` even so: then
    /// the oldest go until they hold twice `bytes_max`, no further. What goes is always the
    /// oldest until a bound, so a restart that reads released payloads back from the journal
    /// releases the same ones again (or fewer), never a task that was still readable before.
    /// Returns how many were released.
    ///
    /// Only what nothing can read again goes: tasks that ended, outside a running workflow or
    /// pattern run, in no session (contracts hash their payloads) and not compressing one, and
    /// never a schedule's input (each slot's task shares it). Call it only once the journal
    /// records that carry those payloads have been written out: the journal in memory and the
    /// views read the marker afterwards. No decision reads them, so the journal is the same.
    pub fn release_finished_payloads(
        &mut self,
        bytes_max: usize,
        now: u64,
        grace_ms: u64,
    ) -> usize {
        if self.payloads.get_mut().bytes() <= bytes_max {
            return 0;
        }
        let ended_before = now.saturating_sub(grace_ms);
        let mut released = self.release_ended_before(bytes_max / 2, ended_before);
        if self.payloads.get_mut().bytes() > bytes_max.saturating_mul(2) {
            released += self.release_ended_before(bytes_max.saturating_mul(2), u64::MAX);
        }
        released
    }

    fn release_ended_before(&mut self, target: usize, ended_before: u64) -> usize {
        let s = &self.state;
        let kept: BTreeSet<_> = s.jobs.iter().map(|j| j.input).collect();
        let payloads = self.payloads.get_mut();
        let mut released = 0;
        for t in s.tasks.iter().filter(|t| finished(s, t, ended_before)) {
            if payloads.bytes() <= target {
                break;
            }
            for id in [t.input, t.output, t.metadata] {
                if !id.is_none() && !kept.contains(&id) && payloads.release(id) > 0 {
                    released += 1;
                }
            }
        }
        released
    }
}

/// Whether nothing can read the task's payloads again, and it (and its workflow) ended before
/// `ended_before`.
fn finished(s: &State, t: &Task, ended_before: u64) -> bool {
    t.status.is_terminal()
        && t.completed_at.get().is_none_or(|at| at < ended_before)
        && t.session().is_none()
        && t.compresses().is_none()
        && t.run()
            .is_none_or(|r| s.runs[r as usize].status != RunStatus::Running)
        && t.workflow.get().is_none_or(|w| {
            let wf = &s.workflows[w.usize()];
            wf.status != WorkflowStatus::Running
                && wf.finished_at.is_none_or(|at| at < ended_before)
        })
}
