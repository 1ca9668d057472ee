//! The payload table: task inputs, outputs and event data, as JSON text.
//!
//! A driver that holds live values (the JS driver keeps them in an array indexed by `PayloadId`)
//! allocates an *unresolved* slot on the hot path and fills it only when the journal or a snapshot is
//! written out. So payloads are serialized once, when needed, never per task. Drivers whose payloads
//! are JSON anyway (the Worker) allocate resolved slots directly.

use crate::core::ids::PayloadId;
use crate::core::{Error, Result};
use serde_json::value::RawValue;

#[derive(Debug, Default, Clone)]
pub struct Payloads {
    slots: Vec<Option<Box<RawValue>>>,
    /// Ids of unresolved slots as runs `start..end`: ids are handed out in order, so a
    /// workflow's inputs are one run, not a list of ids.
    unresolved: Vec<(u32, u32)>,
    bytes_max: usize,
    /// The JSON bytes held, over every resolved slot.
    bytes: usize,
    /// Whether [`Payloads::release`] released any since this table was built: records read
    /// back from memory no longer carry all they were written with.
    released_any: bool,
}

/// What a released payload reads as: its slot stays (ids are positions), its JSON goes.
pub const RELEASED: &str = r#"{"$released":"the payload of finished work, beyond the bytes kept"}"#;

/// The default limit on one payload's JSON size: a Durable Object row holds at most 2 MB.
pub const PAYLOAD_BYTES_MAX_DEFAULT: usize = 1 << 20;

impl Payloads {
    pub fn new(bytes_max: usize) -> Payloads {
        Payloads {
            slots: Vec::new(),
            unresolved: Vec::new(),
            bytes_max,
            bytes: 0,
            released_any: false,
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Forgets the slots from `len` on: those a command allocated before it was refused, which
    /// nothing refers to. Without it, each refused request would keep its payload for good.
    pub fn truncate(&mut self, len: usize) {
        let dropped: usize = (self.slots.iter().skip(len).flatten())
            .map(|r| r.get().len())
            .sum();
        self.bytes -= dropped;
        self.slots.truncate(len);
        let end = u32::try_from(len).unwrap_or(u32::MAX);
        self.unresolved.retain(|&(start, _)| start < end);
        if let Some((_, e)) = self.unresolved.last_mut() {
            *e = (*e).min(end);
        }
    }

    /// A slot whose JSON the driver will supply later through [`Payloads::resolve`].
    pub fn alloc_unresolved(&mut self) -> PayloadId {
        let id = self.next_id();
        self.slots.push(None);
        match self.unresolved.last_mut() {
            Some((_, end)) if *end == id.0 => *end += 1,
            _ => self.unresolved.push((id.0, id.0 + 1)),
        }
        id
    }

    /// `n` unresolved slots with consecutive ids; returns the first.
    pub fn alloc_unresolved_many(&mut self, n: u32) -> PayloadId {
        let first = self.next_id();
        self.slots.reserve(n as usize);
        for _ in 0..n {
            self.alloc_unresolved();
        }
        first
    }

    /// A slot filled now; `null` gives [`PayloadId::NONE`].
    pub fn alloc_json(&mut self, json: &str) -> Result<PayloadId> {
        let raw = self.parse(json)?;
        if raw.get() == "null" {
            return Ok(PayloadId::NONE);
        }
        let id = self.next_id();
        self.bytes += raw.get().len();
        self.slots.push(Some(raw));
        Ok(id)
    }

    pub(crate) fn alloc_raw(&mut self, raw: Box<RawValue>) -> PayloadId {
        if raw.get() == "null" {
            return PayloadId::NONE;
        }
        let id = self.next_id();
        self.bytes += raw.get().len();
        self.slots.push(Some(raw));
        id
    }

    /// Fills an unresolved slot. `json` of `undefined` (an empty string) is stored as `null`.
    pub fn resolve(&mut self, id: PayloadId, json: &str) -> Result<()> {
        let slot = self
            .slots
            .get_mut(id.0 as usize)
            .ok_or_else(|| Error::Payload(format!("no payload slot {}", id.0)))?;
        let json = if json.is_empty() { "null" } else { json };
        let raw = Self::parse_limited(json, self.bytes_max)?;
        self.bytes += raw.get().len();
        if let Some(old) = slot.replace(raw) {
            self.bytes -= old.get().len();
        }
        Ok(())
    }

    /// Slots the driver has not filled yet, oldest first; the list is emptied.
    pub fn take_unresolved(&mut self) -> Vec<u32> {
        let slots = &self.slots;
        std::mem::take(&mut self.unresolved)
            .into_iter()
            .flat_map(|(start, end)| start..end)
            .filter(|&i| slots[i as usize].is_none())
            .collect()
    }

    pub fn has_unresolved(&self) -> bool {
        (self.unresolved.iter())
            .flat_map(|&(start, end)| start..end)
            .any(|i| self.slots[i as usize].is_none())
    }

    /// The JSON of a payload, `None` for [`PayloadId::NONE`] or a slot not yet resolved.
    pub fn get(&self, id: PayloadId) -> Option<&RawValue> {
        self.slots.get(id.0 as usize)?.as_deref()
    }

    /// The JSON bytes held in all resolved slots.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Replaces a resolved payload longer than [`RELEASED`] with it; returns the bytes freed.
    pub fn released_any(&self) -> bool {
        self.released_any
    }

    pub fn release(&mut self, id: PayloadId) -> usize {
        let Some(Some(raw)) = self.slots.get_mut(id.0 as usize) else {
            return 0;
        };
        let len = raw.get().len();
        if len <= RELEASED.len() {
            return 0;
        }
        *raw = RawValue::from_string(RELEASED.to_owned()).expect("the marker is JSON");
        self.released_any = true;
        self.bytes -= len - RELEASED.len();
        len - RELEASED.len()
    }

    /// Empties a slot nothing refers to any more (its id stays taken: ids are positions).
    pub fn forget(&mut self, id: PayloadId) {
        if let Some(slot) = self.slots.get_mut(id.0 as usize) {
            if let Some(raw) = slot.take() {
                self.bytes -= raw.get().len();
            }
        }
    }

    /// How many slots hold a payload.
    pub fn held(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    fn next_id(&self) -> PayloadId {
        let n = u32::try_from(self.slots.len()).expect("fewer than 2^32 payloads");
        assert!(n != u32::MAX, "payload table full");
        PayloadId(n)
    }

    fn parse(&self, json: &str) -> Result<Box<RawValue>> {
        Self::parse_limited(json, self.bytes_max)
    }

    fn parse_limited(json: &str, bytes_max: usize) -> Result<Box<RawValue>> {
        if json.len() > bytes_max {
            return Err(Error::Payload(format!(
                "{} bytes is over payload_bytes_max = {bytes_max}",
                json.len()
            )));
        }
        RawValue::from_string(json.to_owned())
            .map_err(|e| Error::Payload(format!("not valid JSON: {e}")))
    }
}

impl Payloads {
    pub fn set_bytes_max(&mut self, bytes_max: usize) {
        self.bytes_max = bytes_max;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unresolved_slots_are_listed_once_and_filled_later() {
        let mut p = Payloads::new(64);
        let a = p.alloc_unresolved();
        let b = p.alloc_json("{\"x\":1}").unwrap();
        assert_eq!(p.take_unresolved(), vec![a.0]);
        assert!(p.take_unresolved().is_empty());
        p.resolve(a, "[1,2]").unwrap();
        assert_eq!(p.get(a).unwrap().get(), "[1,2]");
        assert_eq!(p.get(b).unwrap().get(), "{\"x\":1}");
    }

    #[test]
    fn unresolved_runs_list_each_open_slot_in_order() {
        let mut p = Payloads::new(64);
        let first = p.alloc_unresolved_many(3);
        p.alloc_json("1").unwrap();
        let d = p.alloc_unresolved();
        let e = p.alloc_unresolved();
        p.resolve(PayloadId(first.0 + 1), "2").unwrap();
        assert!(p.has_unresolved());
        assert_eq!(p.take_unresolved(), vec![first.0, first.0 + 2, d.0, e.0]);
        assert!(!p.has_unresolved());
    }

    #[test]
    fn truncating_forgets_the_last_slots_and_their_open_runs() {
        let mut p = Payloads::new(64);
        let a = p.alloc_json("1").unwrap();
        let b = p.alloc_unresolved_many(2);
        let mark = p.len();
        p.alloc_unresolved_many(3);
        p.alloc_json("[2]").unwrap();
        p.truncate(mark);
        assert_eq!(p.len(), mark);
        assert_eq!(p.get(a).unwrap().get(), "1");
        assert_eq!(p.take_unresolved(), vec![b.0, b.0 + 1]);
        p.truncate(b.0 as usize + 1);
        assert_eq!(p.len(), 2);
        assert!(p.take_unresolved().is_empty(), "taken already");
        assert_eq!(
            p.alloc_json("3").unwrap(),
            PayloadId(2),
            "ids go on from there"
        );
    }

    #[test]
    fn bytes_are_counted_and_released_payloads_read_as_the_marker() {
        let mut p = Payloads::new(1 << 20);
        let big = format!("\"{}\"", "x".repeat(500));
        let a = p.alloc_json(&big).unwrap();
        let small = p.alloc_json("[1]").unwrap();
        let u = p.alloc_unresolved();
        assert_eq!(p.bytes(), 502 + 3);
        p.resolve(u, "{\"y\":2}").unwrap();
        assert_eq!(p.bytes(), 502 + 3 + 7);
        assert_eq!(p.release(small), 0, "no smaller than the marker");
        assert_eq!(p.release(a), 502 - RELEASED.len());
        assert_eq!(p.get(a).unwrap().get(), RELEASED);
        assert_eq!(p.release(a), 0, "once");
        assert_eq!(p.bytes(), RELEASED.len() + 3 + 7);
        p.truncate(1);
        assert_eq!(p.bytes(), RELEASED.len());
    }

    #[test]
    fn null_is_none_and_limits_hold() {
        let mut p = Payloads::new(8);
        assert_eq!(p.alloc_json("null").unwrap(), PayloadId::NONE);
        let refused = p.alloc_json("\"123456789\"").unwrap_err().to_string();
        assert!(refused.contains("over"), "{refused}");
        assert!(p.alloc_json("{").is_err());
    }
}
