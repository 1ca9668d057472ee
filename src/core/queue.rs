//! The ready queue: tasks whose dependencies are done, waiting for their agent to have room.
//!
//! Order is priority (1 first), then submission order (the task index). Each agent has its own
//! queue; the heads of the agents that can take a task now are kept in one ordered set, so taking
//! the best runnable task is O(log agents) however many tasks wait behind a paused or busy agent.
//! An agent's queue is a FIFO per priority: tasks mostly arrive in index order, so queueing and
//! taking one are O(1), and 100,000 waiting tasks cost no more per task than 10,000.

use crate::core::ids::{AgentIx, TaskIx};
use std::collections::{BTreeSet, VecDeque};

type Key = (u8, u32); // (priority, task index)

/// One agent's waiting tasks: a FIFO per priority in use, each in task-index order, the buckets
/// sorted by priority (a handful at most, so a short vector beats a tree).
#[derive(Debug, Default, Clone)]
struct AgentQueue {
    buckets: Vec<(u8, VecDeque<u32>)>,
    len: usize,
}

impl AgentQueue {
    fn insert(&mut self, priority: u8, task: u32) -> bool {
        let b = match self.buckets.binary_search_by_key(&priority, |(p, _)| *p) {
            Ok(b) => b,
            Err(b) => {
                self.buckets.insert(b, (priority, VecDeque::new()));
                b
            }
        };
        let q = &mut self.buckets[b].1;
        match q.back() {
            Some(&last) if last >= task => match q.binary_search(&task) {
                Ok(_) => return false,
                // A retry (an older task) goes back to its place.
                Err(i) => q.insert(i, task),
            },
            _ => q.push_back(task),
        }
        self.len += 1;
        true
    }

    fn remove(&mut self, priority: u8, task: u32) -> bool {
        let Ok(b) = self.buckets.binary_search_by_key(&priority, |(p, _)| *p) else {
            return false;
        };
        let q = &mut self.buckets[b].1;
        let at = if q.front() == Some(&task) {
            0
        } else {
            match q.binary_search(&task) {
                Ok(i) => i,
                Err(_) => return false,
            }
        };
        q.remove(at);
        if q.is_empty() {
            self.buckets.remove(b);
        }
        self.len -= 1;
        true
    }

    fn first(&self) -> Option<Key> {
        let (p, q) = self.buckets.first()?;
        Some((*p, *q.front().expect("empty buckets are removed")))
    }
}

type Head = (u8, u32, u32); // (priority, task index, agent index)

/// The heads of the agents that can take a task, in order. Most runs have a few agents, and
/// each task taken changes its agent's head: for a few, moving entries in a sorted vector costs
/// less than a B-tree's search and rebalancing; past [`HEADS_SMALL_MAX`], a B-tree.
#[derive(Debug, Clone)]
enum Heads {
    Small(Vec<Head>),
    Large(BTreeSet<Head>),
}

const HEADS_SMALL_MAX: usize = 32;

impl Default for Heads {
    fn default() -> Heads {
        Heads::Small(Vec::new())
    }
}

impl Heads {
    fn insert(&mut self, head: Head) {
        match self {
            Heads::Small(v) => {
                if let Err(i) = v.binary_search(&head) {
                    v.insert(i, head);
                }
                if v.len() > HEADS_SMALL_MAX {
                    *self = Heads::Large(v.drain(..).collect());
                }
            }
            Heads::Large(s) => {
                s.insert(head);
            }
        }
    }

    fn remove(&mut self, head: &Head) {
        match self {
            Heads::Small(v) => {
                if let Ok(i) = v.binary_search(head) {
                    v.remove(i);
                }
            }
            Heads::Large(s) => {
                s.remove(head);
            }
        }
    }

    fn first(&self) -> Option<&Head> {
        match self {
            Heads::Small(v) => v.first(),
            Heads::Large(s) => s.first(),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct ReadyQueue {
    per_agent: Vec<AgentQueue>,
    /// The head each agent has in `heads`, if it is there.
    head_of: Vec<Option<Key>>,
    heads: Heads,
    len: usize,
}

impl ReadyQueue {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn agent_len(&self, agent: AgentIx) -> usize {
        self.per_agent.get(agent.usize()).map_or(0, |q| q.len)
    }

    pub fn add_agent(&mut self) {
        self.per_agent.push(AgentQueue::default());
        self.head_of.push(None);
    }

    pub fn push(&mut self, agent: AgentIx, priority: u8, task: TaskIx, eligible: bool) {
        let inserted = self.per_agent[agent.usize()].insert(priority, task.0);
        debug_assert!(inserted, "a task is queued once");
        self.len += 1;
        self.refresh(agent, eligible);
    }

    pub fn remove(&mut self, agent: AgentIx, priority: u8, task: TaskIx, eligible: bool) -> bool {
        let removed = self.per_agent[agent.usize()].remove(priority, task.0);
        if removed {
            self.len -= 1;
            self.refresh(agent, eligible);
        }
        removed
    }

    /// `agent`'s waiting tasks of its best priority from the `from`th, up to `n` of them, in the
    /// order it will most likely take them. A hint for [`crate::core::state::State::touch`].
    pub fn upcoming(
        &self,
        agent: AgentIx,
        from: usize,
        n: usize,
    ) -> impl Iterator<Item = TaskIx> + '_ {
        let first = self
            .per_agent
            .get(agent.usize())
            .and_then(|q| q.buckets.first());
        let tasks = first
            .into_iter()
            .flat_map(move |(_, q)| q.range(from.min(q.len())..));
        tasks.take(n).map(|&t| TaskIx(t))
    }

    /// The best task among agents that can take one, without removing it.
    pub fn peek(&self) -> Option<(AgentIx, TaskIx)> {
        self.heads.first().map(|&(_, t, a)| (AgentIx(a), TaskIx(t)))
    }

    /// Re-reads whether `agent` can take a task now and updates its place among the heads.
    /// Call it whenever the agent's status or running count changes.
    pub fn refresh(&mut self, agent: AgentIx, eligible: bool) {
        let a = agent.usize();
        let want = if eligible {
            self.per_agent[a].first()
        } else {
            None
        };
        if self.head_of[a] == want {
            return;
        }
        if let Some((p, t)) = self.head_of[a] {
            self.heads.remove(&(p, t, agent.0));
        }
        if let Some((p, t)) = want {
            self.heads.insert((p, t, agent.0));
        }
        self.head_of[a] = want;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_then_submission_order_across_agents() {
        let mut q = ReadyQueue::default();
        q.add_agent();
        q.add_agent();
        q.push(AgentIx(0), 5, TaskIx(0), true);
        q.push(AgentIx(1), 5, TaskIx(1), true);
        q.push(AgentIx(1), 1, TaskIx(2), true);
        assert_eq!(q.peek(), Some((AgentIx(1), TaskIx(2))));
        q.remove(AgentIx(1), 1, TaskIx(2), true);
        assert_eq!(q.peek(), Some((AgentIx(0), TaskIx(0))));
        q.refresh(AgentIx(0), false); // paused: its tasks wait, others go first
        assert_eq!(q.peek(), Some((AgentIx(1), TaskIx(1))));
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn an_older_task_queued_again_goes_back_to_its_place() {
        let mut q = ReadyQueue::default();
        q.add_agent();
        for t in [3, 5, 1, 4] {
            q.push(AgentIx(0), 2, TaskIx(t), true);
        }
        let mut order = Vec::new();
        while let Some((a, t)) = q.peek() {
            order.push(t.0);
            assert!(q.remove(a, 2, t, true));
        }
        assert_eq!(order, [1, 3, 4, 5]);
        assert!(!q.remove(AgentIx(0), 2, TaskIx(3), true), "removed twice");
        assert!(q.is_empty());
    }

    #[test]
    fn upcoming_lists_an_agents_next_tasks_of_its_best_priority() {
        let mut q = ReadyQueue::default();
        q.add_agent();
        for t in 0..10 {
            q.push(AgentIx(0), if t % 2 == 0 { 1 } else { 3 }, TaskIx(t), true);
        }
        let up = |from, n| {
            q.upcoming(AgentIx(0), from, n)
                .map(|t| t.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(up(0, 3), [0, 2, 4]);
        assert_eq!(up(3, 5), [6, 8], "only what there is");
        assert_eq!(up(9, 2), Vec::<u32>::new(), "past the end");
        assert_eq!(q.upcoming(AgentIx(7), 0, 4).count(), 0, "an unknown agent");
    }

    #[test]
    fn heads_keep_their_order_below_and_above_the_small_size() {
        let mut heads = Heads::default();
        let mut model = BTreeSet::new();
        // A deterministic mix of inserts and removes that crosses HEADS_SMALL_MAX both ways.
        let mut x = 7u32;
        for step in 0..2_000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let head = ((x >> 8) as u8 % 4, (x >> 12) % 50, (x >> 20) % 60);
            let grow = (step / 250) % 2 == 0;
            if grow == (x % 4 != 0) {
                heads.insert(head);
                model.insert(head);
            } else {
                heads.remove(&head);
                model.remove(&head);
            }
            assert_eq!(heads.first(), model.first(), "step {step}");
        }
        assert!(
            matches!(heads, Heads::Large(_)),
            "the test reaches the large form"
        );
    }
}
