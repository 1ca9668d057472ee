//! Workflows with a width (`sequential`, `parallel`): how many of their tasks are in flight and
//! which are ready but held back, kept up to date as tasks change status. Admitting the next
//! tasks after one ends then costs O(log n) instead of a scan of the whole workflow; the scan
//! made a 10,000-task sequential workflow quadratic (0.5 s, where the same tasks as a DAG took
//! 26 ms).
//!
//! Derived state: rebuilt from the tasks on restore, never serialized.

use crate::core::ids::{TaskIx, WorkflowIx};
use crate::core::task::TaskStatus;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default)]
pub(crate) struct WidthPools(BTreeMap<WorkflowIx, Pool>);

#[derive(Debug, Clone, Default)]
struct Pool {
    /// Tasks queued, running or waiting to retry: what the width limits.
    active: u32,
    /// Pending tasks with no dependency left, best first: priority (1 first), then index.
    ready: BTreeSet<(u8, TaskIx)>,
}

/// What a task of a width workflow looks like to its pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member {
    pub workflow: WorkflowIx,
    pub task: TaskIx,
    pub priority: u8,
    /// No dependency left to complete.
    pub unblocked: bool,
}

fn active(s: TaskStatus) -> bool {
    matches!(
        s,
        TaskStatus::Queued | TaskStatus::Running | TaskStatus::Retrying
    )
}

impl WidthPools {
    /// Starts keeping a pool for a workflow with a width.
    pub fn add(&mut self, w: WorkflowIx) {
        self.0.entry(w).or_default();
    }

    /// A member now in `status` that was not counted before (a new task, or one seen on
    /// restore).
    pub fn count(&mut self, m: Member, status: TaskStatus) {
        self.moved(m, None, status);
    }

    /// A member's status changed from `from` to `to`.
    pub fn moved(&mut self, m: Member, from: Option<TaskStatus>, to: TaskStatus) {
        let pool = self
            .0
            .get_mut(&m.workflow)
            .expect("a width workflow has a pool");
        if from.is_some_and(active) {
            pool.active -= 1;
        }
        if active(to) {
            pool.active += 1;
        }
        if m.unblocked {
            if from == Some(TaskStatus::Pending) {
                pool.ready.remove(&(m.priority, m.task));
            }
            if to == TaskStatus::Pending {
                pool.ready.insert((m.priority, m.task));
            }
        }
    }

    /// A pending member's last dependency completed.
    pub fn unblocked(&mut self, m: Member) {
        let pool = self
            .0
            .get_mut(&m.workflow)
            .expect("a width workflow has a pool");
        pool.ready.insert((m.priority, m.task));
    }

    /// The ready tasks of `w` that its `width` has room for, best first.
    pub fn admissible(&self, w: WorkflowIx, width: u32) -> Vec<TaskIx> {
        let Some(pool) = self.0.get(&w) else {
            return Vec::new();
        };
        let room = width.saturating_sub(pool.active) as usize;
        pool.ready.iter().take(room).map(|&(_, t)| t).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_is_in_flight_and_offers_the_best_ready_tasks() {
        let w = WorkflowIx(0);
        let m = |t: u32, priority: u8, unblocked: bool| Member {
            workflow: w,
            task: TaskIx(t),
            priority,
            unblocked,
        };
        let mut pools = WidthPools::default();
        pools.add(w);
        pools.count(m(0, 5, true), TaskStatus::Pending);
        pools.count(m(1, 1, true), TaskStatus::Pending);
        pools.count(m(2, 1, false), TaskStatus::Pending);
        pools.count(m(3, 5, true), TaskStatus::Pending);
        assert_eq!(pools.admissible(w, 2), [TaskIx(1), TaskIx(0)]);
        pools.moved(m(1, 1, true), Some(TaskStatus::Pending), TaskStatus::Queued);
        assert_eq!(pools.admissible(w, 2), [TaskIx(0)]);
        pools.unblocked(m(2, 1, true));
        assert_eq!(pools.admissible(w, 2), [TaskIx(2)]);
        pools.moved(m(1, 1, true), Some(TaskStatus::Queued), TaskStatus::Running);
        pools.moved(
            m(1, 1, true),
            Some(TaskStatus::Running),
            TaskStatus::Completed,
        );
        assert_eq!(pools.admissible(w, 2), [TaskIx(2), TaskIx(0)]);
        assert_eq!(pools.admissible(WorkflowIx(9), 2), []);
    }
}
