//! A list of `u32` lists in two flat vectors: a workflow's dependencies and dependents.
//!
//! A `Vec<Vec<u32>>` takes 24 bytes per list (12 in wasm) plus an allocation for each non-empty
//! one; this takes 4 per list and 4 per item, and nothing per list when every list is empty (a
//! workflow without dependencies: 8 bytes per task saved, its dependencies and dependents).
//! Written and read as the nested arrays it stands for.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::Index;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Adjacency {
    len: usize,
    /// Where each list ends in `items`; empty when every list is.
    ends: Vec<u32>,
    items: Vec<u32>,
}

impl Adjacency {
    pub fn from_lists<L: AsRef<[u32]>>(lists: impl IntoIterator<Item = L>) -> Adjacency {
        let lists = lists.into_iter();
        let hint = lists.size_hint().0;
        let mut out = Adjacency::default();
        for list in lists {
            out.items.extend_from_slice(list.as_ref());
            if !out.items.is_empty() {
                if out.ends.len() < out.len {
                    // The first item: the lists before it were empty.
                    out.ends.reserve(hint.max(out.len + 1) - out.ends.len());
                    out.ends.resize(out.len, 0);
                }
                out.ends.push(out.items.len() as u32);
            }
            out.len += 1;
        }
        out
    }

    /// The reverse edges: list `j` holds every `i` whose list holds `j`, in increasing `i`.
    /// Every item must be below `self.len()`.
    pub fn reversed(&self) -> Adjacency {
        let n = self.len();
        if self.items.is_empty() {
            return Adjacency {
                len: n,
                ..Adjacency::default()
            };
        }
        let mut ends = vec![0u32; n];
        for &j in &self.items {
            ends[j as usize] += 1;
        }
        let mut total = 0;
        for e in &mut ends {
            total += *e;
            *e = total;
        }
        // Filled back to front, so each list comes out in increasing order.
        let mut next = ends.clone();
        let mut items = vec![0u32; self.items.len()];
        for i in (0..n).rev() {
            for &j in self[i].iter().rev() {
                next[j as usize] -= 1;
                items[next[j as usize] as usize] = i as u32;
            }
        }
        Adjacency {
            len: n,
            ends,
            items,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every item of every list, in order.
    pub fn items(&self) -> &[u32] {
        &self.items
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u32]> + '_ {
        (0..self.len()).map(|i| &self[i])
    }
}

impl Index<usize> for Adjacency {
    type Output = [u32];

    fn index(&self, i: usize) -> &[u32] {
        if self.items.is_empty() {
            assert!(i < self.len, "list {i} of {}", self.len);
            return &[];
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.items[start as usize..self.ends[i] as usize]
    }
}

impl<'a> IntoIterator for &'a Adjacency {
    type Item = &'a [u32];
    type IntoIter = Box<dyn Iterator<Item = &'a [u32]> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl Serialize for Adjacency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Adjacency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Adjacency, D::Error> {
        Ok(Adjacency::from_lists(Vec::<Vec<u32>>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_reverse_and_round_trip() {
        let deps = Adjacency::from_lists([vec![], vec![0], vec![0, 1], vec![], vec![2, 0]]);
        assert_eq!(deps.len(), 5);
        assert_eq!(&deps[2], &[0, 1]);
        assert!(deps[3].is_empty());
        let rev = deps.reversed();
        let lists: Vec<Vec<u32>> = rev.iter().map(<[u32]>::to_vec).collect();
        assert_eq!(lists, vec![vec![1, 2, 4], vec![2], vec![4], vec![], vec![]]);
        let json = serde_json::to_string(&deps).unwrap();
        assert_eq!(json, "[[],[0],[0,1],[],[2,0]]");
        assert_eq!(serde_json::from_str::<Adjacency>(&json).unwrap(), deps);
    }

    #[test]
    fn lists_that_are_all_empty_cost_nothing_per_list() {
        let none = Adjacency::from_lists([[0u32; 0]; 4]);
        assert_eq!(
            (none.len(), none.ends.capacity(), &none[3]),
            (4, 0, &[][..])
        );
        let rev = none.reversed();
        assert_eq!((rev.len(), rev.ends.capacity()), (4, 0));
        assert_eq!(serde_json::to_string(&rev).unwrap(), "[[],[],[],[]]");
        // Empty lists before the first item are still there.
        let late = Adjacency::from_lists([vec![], vec![], vec![1]]);
        let lists: Vec<Vec<u32>> = late.iter().map(<[u32]>::to_vec).collect();
        assert_eq!(lists, vec![vec![], vec![], vec![1]]);
        assert_eq!(late.reversed()[1], [2]);
    }
}
