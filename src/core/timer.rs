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

#[derive(Debug, Default, Clone)]
pub struct Timers {
    by_deadline: BTreeMap<(u64, u32), TimerKind>,
    deadline_of: BTreeMap<u32, u64>,
    next_id: u32,
}

impl Timers {
    pub fn add(&mut self, deadline_ms: u64, kind: TimerKind) -> u32 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let id = self.next_id;
        self.by_deadline.insert((deadline_ms, id), kind);
        self.deadline_of.insert(id, deadline_ms);
        id
    }

    pub fn cancel(&mut self, id: u32) -> bool {
        match self.deadline_of.remove(&id) {
            Some(d) => self.by_deadline.remove(&(d, id)).is_some(),
            None => false,
        }
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.by_deadline.first_key_value().map(|(&(d, _), _)| d)
    }

    /// The earliest timer: its deadline, id and kind.
    pub fn first(&self) -> Option<(u64, u32, TimerKind)> {
        self.by_deadline
            .first_key_value()
            .map(|(&(d, id), &kind)| (d, id, kind))
    }

    /// Removes and returns the earliest timer due at `now`, in (deadline, creation) order.
    pub fn pop_due(&mut self, now: u64) -> Option<(u32, TimerKind)> {
        let (&(d, id), _) = self.by_deadline.first_key_value()?;
        if d > now {
            return None;
        }
        let kind = self.by_deadline.remove(&(d, id)).expect("present");
        self.deadline_of.remove(&id);
        Some((id, kind))
    }

    /// Drops every timer but the driver's sleeps (which do not survive a restore anyway).
    pub fn clear_state_timers(&mut self) {
        self.by_deadline.retain(|_, k| *k == TimerKind::Sleep);
        let keep: std::collections::BTreeSet<u32> =
            self.by_deadline.keys().map(|&(_, id)| id).collect();
        self.deadline_of.retain(|id, _| keep.contains(id));
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
}
