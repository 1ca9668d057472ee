//! The journal held in memory: records in seq order, in chunks.
//!
//! One contiguous buffer would double as it grows, and in wasm every doubling leaves the old
//! buffer as a hole that memory never gives back: a journal of n records would cost up to three
//! times their size. Chunks of at most [`CHUNK_RECORDS_MAX`] records cost their records plus one
//! chunk, and the oldest chunk goes whole when the journal is trimmed. Reads after a seq skip
//! whole chunks.

use crate::core::event::Record;
use std::collections::VecDeque;

/// Records per chunk, once the journal is long enough; earlier chunks are smaller, so a short
/// journal stays small.
pub const CHUNK_RECORDS_MAX: usize = 4096;
const CHUNK_RECORDS_MIN: usize = 32;

#[derive(Debug, Default, Clone)]
pub struct Journal {
    chunks: VecDeque<VecDeque<Record>>,
    len: usize,
}

impl Journal {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push_back(&mut self, rec: Record) {
        match self.chunks.back_mut() {
            // Never past its capacity: a chunk is allocated once.
            Some(chunk) if chunk.len() < chunk.capacity() => chunk.push_back(rec),
            _ => {
                let size = self.len.clamp(CHUNK_RECORDS_MIN, CHUNK_RECORDS_MAX);
                let mut chunk = VecDeque::with_capacity(size);
                chunk.push_back(rec);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    pub fn pop_front(&mut self) -> Option<Record> {
        let chunk = self.chunks.front_mut()?;
        let rec = chunk.pop_front();
        if chunk.is_empty() {
            self.chunks.pop_front();
        }
        self.len -= rec.is_some() as usize;
        rec
    }

    pub fn front(&self) -> Option<&Record> {
        self.chunks.front()?.front()
    }

    pub fn back(&self) -> Option<&Record> {
        self.chunks.back()?.back()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Record> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// The records with a seq above `seq`, in order.
    pub fn after(&self, seq: u64) -> impl Iterator<Item = &Record> + '_ {
        let skip = self
            .chunks
            .iter()
            .take_while(|c| c.back().is_some_and(|r| r.seq <= seq))
            .count();
        (self.chunks.iter().skip(skip))
            .flat_map(|c| c.iter())
            .skip_while(move |r| r.seq <= seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::Event;

    fn rec(seq: u64) -> Record {
        Record {
            seq,
            at: seq * 10,
            event: Event::JobPaused {
                job: format!("j{seq}"),
            },
        }
    }

    #[test]
    fn a_queue_of_records_in_chunks() {
        let mut j = Journal::default();
        assert!(j.front().is_none() && j.is_empty());
        for s in 1..=20_000 {
            j.push_back(rec(s));
            if j.len() > 9_000 {
                assert_eq!(j.pop_front().unwrap().seq, s - 9_000);
            }
        }
        assert_eq!(j.len(), 9_000);
        assert_eq!(j.front().unwrap().seq, 11_001);
        let seqs: Vec<u64> = j.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (11_001..=20_000).collect::<Vec<_>>());
        for after in [0, 11_000, 11_001, 15_000, 16_383, 19_999, 20_000, 25_000] {
            let got: Vec<u64> = j.after(after).map(|r| r.seq).collect();
            let want: Vec<u64> = seqs.iter().copied().filter(|&s| s > after).collect();
            assert_eq!(got, want, "after {after}");
        }
        assert!(j
            .chunks
            .iter()
            .all(|c| c.capacity() <= CHUNK_RECORDS_MAX + 64));
        while j.pop_front().is_some() {}
        assert!(j.is_empty() && j.chunks.is_empty());
    }
}
