//! A plain workflow's shape: its task ids and dependencies, checked once.
//!
//! What a plain workflow's ids and dependencies allow (valid, distinct ids; dependencies in
//! range; no cycle) does not depend on the orchestrator, so a driver that submits the same
//! workflow many times (`compileWorkflow` in JS) has it checked once. A problem found is kept and
//! reported by each submission, at the point and in the words a fresh check would use: the
//! messages name the workflow, whose id is known only then.

use crate::core::adjacency::Adjacency;
use crate::core::ids::check_id;
use crate::core::names::Names;
use crate::core::{Error, Result};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct PlainShape {
    /// How many tasks the ids name.
    len: usize,
    /// Shared with every workflow submitted from this shape (and its journal record).
    ids: Arc<Names>,
    /// Each task's dependencies, repeats removed (first occurrence order, as the JSON path).
    deps: Arc<Adjacency>,
    problem: Option<Problem>,
}

#[derive(Debug, Clone)]
enum Problem {
    /// The arrays do not line up: a driver's mistake, not a user's.
    Misaligned,
    Invalid(Error),
    /// A task id used twice (the first repeat, in the workflow's order).
    Repeated(Box<str>),
    /// A cycle, by task id, read as "a -> b": a is needed by b.
    Cycle(Vec<String>),
}

pub(super) fn misaligned() -> Error {
    Error::invalid("workflow", "the arrays of a plain workflow do not line up")
}

impl PlainShape {
    /// Checks `ids` (joined by `\n`) and each task's dependencies, `deps[dep_offsets[i]..
    /// dep_offsets[i + 1]]` (indices into the workflow).
    pub fn new(ids: &str, dep_offsets: &[u32], deps: &[u32]) -> PlainShape {
        let names: Vec<&str> = ids.split('\n').collect();
        let n = names.len();
        let mut shape = PlainShape {
            len: n,
            ids: Arc::default(),
            deps: Arc::default(),
            problem: None,
        };
        let lines_up = dep_offsets.len() == n + 1
            && dep_offsets.windows(2).all(|w| w[0] <= w[1])
            && dep_offsets[n] as usize == deps.len();
        shape.problem = if !lines_up {
            Some(Problem::Misaligned)
        } else {
            shape.fill(&names, dep_offsets, deps).err()
        };
        shape
    }

    fn fill(&mut self, names: &[&str], dep_offsets: &[u32], deps: &[u32]) -> Result<(), Problem> {
        let n = names.len();
        for t in names {
            check_id("task id", t).map_err(Problem::Invalid)?;
        }
        if let Some(t) = first_repeat(names) {
            return Err(Problem::Repeated(t.into()));
        }
        let mut lists = Vec::with_capacity(n);
        for i in 0..n {
            let given = &deps[dep_offsets[i] as usize..dep_offsets[i + 1] as usize];
            if let Some(&bad) = given.iter().find(|&&d| d as usize >= n) {
                return Err(Problem::Invalid(Error::invalid(
                    "workflow",
                    format!("task '{}' depends on task #{bad}, out of range", names[i]),
                )));
            }
            let mut ds: Vec<u32> = Vec::with_capacity(given.len());
            for &d in given {
                if !ds.contains(&d) {
                    ds.push(d);
                }
            }
            lists.push(ds);
        }
        let adjacency = Adjacency::from_lists(&lists);
        drop(lists);
        if let Some(cycle) = crate::core::workflow::find_cycle(&adjacency) {
            let cycle = cycle.into_iter().map(|i| names[i as usize].to_owned());
            return Err(Problem::Cycle(cycle.collect()));
        }
        self.ids = Arc::new(names.iter().collect());
        self.deps = Arc::new(adjacency);
        Ok(())
    }

    /// How many tasks the ids name.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn lines_up(&self) -> bool {
        !matches!(self.problem, Some(Problem::Misaligned))
    }

    /// The shape's problem, if any, as the error a submission of workflow `workflow` gets.
    pub(super) fn check(&self, workflow: &str) -> Result<()> {
        match &self.problem {
            None | Some(Problem::Misaligned) => Ok(()),
            Some(Problem::Invalid(e)) => Err(e.clone()),
            Some(Problem::Repeated(t)) => Err(Error::DuplicateId {
                kind: "task",
                id: format!("{workflow}/{t}"),
            }),
            Some(Problem::Cycle(cycle)) => Err(Error::Cycle {
                workflow: workflow.to_owned(),
                cycle: cycle.clone(),
            }),
        }
    }

    /// The ids and dependencies, shared (only for a shape without a problem).
    pub(super) fn shared(&self) -> (Arc<Names>, Arc<Adjacency>) {
        (self.ids.clone(), self.deps.clone())
    }
}

/// The first id that repeats an earlier one, if any. Sorting the ids' 64-bit hashes finds out
/// whether any may repeat without a set's allocation per id or a string sort; only then (a real
/// repeat, or a rare collision) are the strings compared, in the workflow's order.
fn first_repeat<'a>(names: &[&'a str]) -> Option<&'a str> {
    let mut hashes: Vec<u64> = names.iter().map(|n| fnv1a(n.as_bytes())).collect();
    hashes.sort_unstable();
    if hashes.windows(2).all(|p| p[0] != p[1]) {
        return None;
    }
    drop(hashes);
    let mut seen = std::collections::BTreeSet::new();
    names.iter().copied().find(|t| !seen.insert(*t))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_repeat_names_the_earliest_repeat_in_order() {
        assert_eq!(first_repeat(&["a", "b", "c"]), None);
        assert_eq!(first_repeat(&["a", "b", "b", "a"]), Some("b"));
        assert_eq!(first_repeat(&["x", "a", "y", "x", "a"]), Some("x"));
        let many: Vec<String> = (0..10_000).map(|i| format!("t{i}")).collect();
        let mut names: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(first_repeat(&names), None);
        names.push("t9999");
        assert_eq!(first_repeat(&names), Some("t9999"));
    }

    #[test]
    fn a_shape_keeps_its_problem_and_names_the_workflow_when_asked() {
        let ok = PlainShape::new("a\nb\nc", &[0, 0, 1, 3], &[0, 0, 1]);
        assert_eq!(ok.len(), 3);
        assert!(ok.check("w").is_ok());
        let (ids, deps) = ok.shared();
        assert_eq!((&ids[2], &deps[2]), ("c", &[0u32, 1][..]));
        assert_eq!(&deps[1], &[0u32][..], "repeated dependencies are dropped");

        let cycle = PlainShape::new("a\nb", &[0, 1, 2], &[1, 0]);
        assert!(
            matches!(cycle.check("w7"), Err(Error::Cycle { workflow, .. }) if workflow == "w7")
        );
        let repeated = PlainShape::new("a\nb\na", &[0, 0, 0, 0], &[]);
        assert!(matches!(repeated.check("w"), Err(Error::DuplicateId { id, .. }) if id == "w/a"));
        let bad_id = PlainShape::new("a\nx/y", &[0, 0, 0], &[]);
        assert!(bad_id.check("w").is_err());
        let out_of_range = PlainShape::new("a", &[0, 1], &[4]);
        assert!(out_of_range.check("w").is_err());
        let misaligned = PlainShape::new("a\nb", &[0, 1], &[0]);
        assert!(!misaligned.lines_up() && misaligned.check("w").is_ok());
    }
}
