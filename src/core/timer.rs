//! The timer table. The core keeps every deadline and reports the soonest; the driver arms one
//! platform timer for it (`setTimeout`, a Durable Object alarm, or the virtual clock jumping
//! straight there) and calls `handle_timeout(now)` when it fires. A timer that fires early or
//! twice does nothing: only deadlines at or before `now` are taken.

use crate::core::ids::{AgentIx, TaskIx};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// `ctx.sleep(ms)` inside an agent: the driver resumes the agent when it fires.
    Sleep,
    /// A `Retrying` task's next attempt is due.
    Retry(TaskIx),
    /// A call's per-attempt timeout.
    Timeout(u32),
    /// An open breaker may let a trial call through.
    Breaker(AgentIx),
    /// A throttled agent's bucket holds a token again.
    Throttle(AgentIx),
    /// A scheduled job's slot.
    Job(u32),
}

/// Where a timer sorts: its deadline, then an order that depends on what it is for, not on when
/// it was set. A restore, a restart or a fork sets the state's timers again in another order than
/// the run first did; timers due at the same ms must still fire as they would have.
type Key = (u64, u8, u32, u32);

fn key(deadline_ms: u64, kind: TimerKind, id: u32) -> Key {
    let (rank, of) = match kind {
        // A failure sets its breaker's timer before its retry's, and a job's slot is set long
        // before: in that order, a retry due as its breaker half-opens is the trial call.
        TimerKind::Timeout(call) => (0, call),
        TimerKind::Breaker(agent) => (1, agent.index()),
        TimerKind::Throttle(agent) => (2, agent.index()),
        TimerKind::Job(job) => (3, job),
        TimerKind::Retry(task) => (4, task.index()),
        // The driver's; never set again by a restore.
        TimerKind::Sleep => (5, id),
    };
    (deadline_ms, rank, of, id)
}

#[derive(Debug, Default, Clone)]
pub struct Timers {
    by_deadline: BTreeMap<Key, TimerKind>,
    key_of: BTreeMap<u32, Key>,
    next_id: u32,
}

impl Timers {
    pub fn add(&mut self, deadline_ms: u64, kind: TimerKind) -> u32 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let id = self.next_id;
        let k = key(deadline_ms, kind, id);
        self.by_deadline.insert(k, kind);
        self.key_of.insert(id, k);
        id
    }

    pub fn cancel(&mut self, id: u32) -> bool {
        match self.key_of.remove(&id) {
            Some(k) => self.by_deadline.remove(&k).is_some(),
            None => false,
        }
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.by_deadline.first_key_value().map(|(k, _)| k.0)
    }

    /// The earliest timer: its deadline, id and kind.
    pub fn first(&self) -> Option<(u64, u32, TimerKind)> {
        self.by_deadline
            .first_key_value()
            .map(|(k, &kind)| (k.0, k.3, kind))
    }

    /// Removes and returns the earliest timer due at `now`, in [`key`] order.
    pub fn pop_due(&mut self, now: u64) -> Option<(u32, TimerKind)> {
        let (&k, _) = self.by_deadline.first_key_value()?;
        if k.0 > now {
            return None;
        }
        let kind = self.by_deadline.remove(&k).expect("present");
        self.key_of.remove(&k.3);
        Some((k.3, kind))
    }

    /// Drops every timer but the driver's sleeps (which do not survive a restore anyway).
    pub fn clear_state_timers(&mut self) {
        self.by_deadline.retain(|_, k| *k == TimerKind::Sleep);
        let keep: std::collections::BTreeSet<u32> = self.by_deadline.keys().map(|k| k.3).collect();
        self.key_of.retain(|id, _| keep.contains(id));
    }

    pub fn len(&self) -> usize {
        self.by_deadline.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_deadline.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_in_order_and_never_early() {
        let mut t = Timers::default();
        let a = t.add(20, TimerKind::Sleep);
        let b = t.add(10, TimerKind::Sleep);
        let c = t.add(10, TimerKind::Sleep);
        assert_eq!(t.next_deadline(), Some(10));
        assert_eq!(t.pop_due(9), None);
        assert_eq!(t.pop_due(10).map(|x| x.0), Some(b));
        assert!(t.cancel(c));
        assert_eq!(t.pop_due(15), None);
        assert_eq!(t.pop_due(25).map(|x| x.0), Some(a));
        assert!(t.is_empty());
    }

    #[test]
    fn timers_due_together_fire_in_the_same_order_however_they_were_set() {
        let kinds = [
            TimerKind::Retry(TaskIx(3)),
            TimerKind::Retry(TaskIx(1)),
            TimerKind::Timeout(7),
            TimerKind::Job(0),
        ];
        let fired = |order: &[usize]| {
            let mut t = Timers::default();
            for &i in order {
                t.add(50, kinds[i]);
            }
            std::iter::from_fn(|| t.pop_due(50).map(|(_, k)| k)).collect::<Vec<_>>()
        };
        assert_eq!(fired(&[0, 1, 2, 3]), fired(&[3, 2, 1, 0]));
        assert_eq!(
            fired(&[0, 1, 2, 3])[..3],
            [
                TimerKind::Timeout(7),
                TimerKind::Job(0),
                TimerKind::Retry(TaskIx(1))
            ]
        );
    }
}
