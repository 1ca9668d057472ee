//! A growable array in fixed-size chunks, indexed like a `Vec`.
//!
//! A `Vec` grows by doubling, and in wasm every buffer it outgrows stays a hole that memory
//! never gives back: a million tasks in one `Vec` cost about twice their size in wasm memory.
//! Here only the first chunk grows (by doubling, up to [`CHUNK_LEN`]); every later chunk is
//! allocated once at full size, so n elements cost their size plus at most one chunk.

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::{Index, IndexMut};

const CHUNK_SHIFT: u32 = 10;
/// Elements per chunk (a power of two, so an index splits with a shift and a mask).
pub const CHUNK_LEN: usize = 1 << CHUNK_SHIFT;
const CHUNK_MASK: usize = CHUNK_LEN - 1;

#[derive(Debug, Clone, PartialEq)]
pub struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Chunked<T> {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    pub fn new() -> Chunked<T> {
        Chunked::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK_LEN => chunk.push(value),
            _ => {
                // The first chunk starts small and doubles (a short array stays short); later
                // ones are allocated once, whole.
                let mut chunk =
                    Vec::with_capacity(if self.chunks.is_empty() { 4 } else { CHUNK_LEN });
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    pub fn get(&self, ix: usize) -> Option<&T> {
        self.chunks.get(ix >> CHUNK_SHIFT)?.get(ix & CHUNK_MASK)
    }

    pub fn get_mut(&mut self, ix: usize) -> Option<&mut T> {
        self.chunks
            .get_mut(ix >> CHUNK_SHIFT)?
            .get_mut(ix & CHUNK_MASK)
    }

    pub fn last(&self) -> Option<&T> {
        self.chunks.last()?.last()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut T> + '_ {
        self.chunks.iter_mut().flatten()
    }

    /// Bytes allocated for elements, used or not.
    pub fn allocated_bytes(&self) -> usize {
        let elements: usize = self.chunks.iter().map(Vec::capacity).sum();
        elements * std::mem::size_of::<T>()
    }
}

impl<T> Index<usize> for Chunked<T> {
    type Output = T;
    #[inline]
    fn index(&self, ix: usize) -> &T {
        &self.chunks[ix >> CHUNK_SHIFT][ix & CHUNK_MASK]
    }
}

impl<T> IndexMut<usize> for Chunked<T> {
    #[inline]
    fn index_mut(&mut self, ix: usize) -> &mut T {
        &mut self.chunks[ix >> CHUNK_SHIFT][ix & CHUNK_MASK]
    }
}

impl<T> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Chunked<T> {
        let mut out = Chunked::new();
        for x in items {
            out.push(x);
        }
        out
    }
}

impl<T: Serialize> Serialize for Chunked<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Chunked<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Chunked<T>, D::Error> {
        struct Seq<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Seq<T> {
            type Value = Chunked<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Chunked<T>, A::Error> {
                let mut out = Chunked::new();
                while let Some(x) = seq.next_element()? {
                    out.push(x);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Seq(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_like_a_vec_across_chunks() {
        let n = 3 * CHUNK_LEN + 17;
        let mut c: Chunked<u32> = Chunked::new();
        assert!(c.is_empty() && c.get(0).is_none() && c.last().is_none());
        for i in 0..n as u32 {
            c.push(i);
        }
        assert_eq!(c.len(), n);
        for i in [0, 1, CHUNK_LEN - 1, CHUNK_LEN, 2 * CHUNK_LEN + 5, n - 1] {
            assert_eq!(c[i], i as u32);
        }
        assert!(c.get(n).is_none());
        c[CHUNK_LEN] = 7;
        *c.get_mut(0).unwrap() = 9;
        assert_eq!(
            (c[0], c[CHUNK_LEN], *c.last().unwrap()),
            (9, 7, n as u32 - 1)
        );
        assert_eq!(c.iter().count(), n);
        assert_eq!(c.iter().next_back(), Some(&(n as u32 - 1)));
        c.iter_mut().for_each(|x| *x = 1);
        assert_eq!(c.iter().sum::<u32>(), n as u32);
    }

    #[test]
    fn later_chunks_are_allocated_once_at_full_size() {
        let mut c: Chunked<u64> = Chunked::new();
        for i in 0..3 {
            c.push(i);
        }
        // A short array is a short allocation.
        assert!(c.allocated_bytes() <= 4 * 8);
        let n = 10 * CHUNK_LEN + 1;
        for i in 3..n as u64 {
            c.push(i);
        }
        assert_eq!(c.allocated_bytes(), 11 * CHUNK_LEN * 8);
        assert!(c.chunks.iter().all(|x| x.capacity() == CHUNK_LEN));
    }

    #[test]
    fn serializes_as_a_json_array() {
        let c: Chunked<u32> = (0..2_000).collect();
        let json = serde_json::to_string(&c).unwrap();
        let v: Vec<u32> = serde_json::from_str(&json).unwrap();
        assert_eq!(v, (0..2_000).collect::<Vec<_>>());
        let back: Chunked<u32> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        assert!(serde_json::from_str::<Chunked<u32>>("{}").is_err());
    }
}
