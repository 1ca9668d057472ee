//! The calls in flight, each with its task, in call order.
//!
//! Calls are numbered in increasing order and mostly answered in about that order, so a sorted
//! deque serves them better than a B-tree: a new call goes on the back and an early answer comes
//! off the front in O(1), any other is found by binary search, and nothing is allocated per call.

use crate::core::ids::TaskIx;
use std::collections::VecDeque;

#[derive(Debug, Clone, Default)]
pub struct Calls(VecDeque<(u32, TaskIx)>);

impl Calls {
    fn find(&self, call: u32) -> Result<usize, usize> {
        self.0.binary_search_by_key(&call, |&(c, _)| c)
    }

    /// The table of these calls (each once), in any order.
    pub fn from_unsorted(mut calls: Vec<(u32, TaskIx)>) -> Calls {
        calls.sort_unstable_by_key(|&(c, _)| c);
        Calls(calls.into())
    }

    /// Records `call` as `task`'s; a call already there is given the new task.
    pub fn insert(&mut self, call: u32, task: TaskIx) {
        if self.0.back().is_none_or(|&(last, _)| last < call) {
            self.0.push_back((call, task));
            return;
        }
        match self.find(call) {
            Ok(i) => self.0[i].1 = task,
            Err(i) => self.0.insert(i, (call, task)),
        }
    }

    pub fn get(&self, call: u32) -> Option<TaskIx> {
        match self.0.front() {
            Some(&(first, task)) if first == call => Some(task),
            _ => self.find(call).ok().map(|i| self.0[i].1),
        }
    }

    pub fn remove(&mut self, call: u32) -> Option<TaskIx> {
        if self.0.front().is_some_and(|&(first, _)| first == call) {
            return self.0.pop_front().map(|(_, t)| t);
        }
        let i = self.find(call).ok()?;
        self.0.remove(i).map(|(_, t)| t)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `(call, task)` in call order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, TaskIx)> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_an_ordered_map() {
        let mut calls = Calls::default();
        let mut model = std::collections::BTreeMap::new();
        // In order, out of order, repeats, answers from the front, the back and the middle.
        let ops: [(bool, u32); 14] = [
            (true, 1),
            (true, 2),
            (true, 3),
            (true, 7),
            (true, 5),
            (false, 1),
            (true, 4),
            (false, 5),
            (false, 9),
            (true, 3),
            (false, 7),
            (true, 8),
            (false, 2),
            (false, 4),
        ];
        for (i, &(add, call)) in ops.iter().enumerate() {
            if add {
                calls.insert(call, TaskIx(i as u32));
                model.insert(call, TaskIx(i as u32));
            } else {
                assert_eq!(calls.remove(call), model.remove(&call), "remove {call}");
            }
            assert_eq!(
                calls.iter().collect::<Vec<_>>(),
                model.iter().map(|(&c, &t)| (c, t)).collect::<Vec<_>>()
            );
            for c in 0..10 {
                assert_eq!(calls.get(c), model.get(&c).copied());
            }
        }
        assert_eq!(calls.len(), model.len());
    }
}
