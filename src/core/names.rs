//! A list of short strings (a workflow's task ids) in one buffer.
//!
//! A `Vec<Box<str>>` costs a pointer and a length per string plus an allocation each (16 bytes
//! of heap at least in wasm); this costs the bytes and a 4-byte end. The buffer is the strings
//! joined by `\n`, which no id contains (ids refuse control characters), so a driver can take
//! it whole. Written and read as a JSON array of strings.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::Index;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Names {
    /// The names joined by `\n`.
    text: Box<str>,
    /// Where each name ends in `text`.
    ends: Vec<u32>,
}

impl Names {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|i| &self[i])
    }

    /// Every name, joined by `\n`.
    pub fn joined(&self) -> &str {
        &self.text
    }
}

impl<S: AsRef<str>> FromIterator<S> for Names {
    fn from_iter<I: IntoIterator<Item = S>>(names: I) -> Names {
        let names = names.into_iter();
        let mut text = String::new();
        let mut ends = Vec::with_capacity(names.size_hint().0);
        for name in names {
            if !ends.is_empty() {
                text.push('\n');
            }
            text.push_str(name.as_ref());
            ends.push(text.len() as u32);
        }
        Names {
            text: text.into(),
            ends,
        }
    }
}

impl Index<usize> for Names {
    type Output = str;

    fn index(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.ends[i - 1] as usize + 1
        };
        &self.text[start..self.ends[i] as usize]
    }
}

impl Serialize for Names {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Names, D::Error> {
        Ok(Vec::<String>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_index_join_and_round_trip() {
        let names: Names = ["a", "bb", "", "dé"].into_iter().collect();
        assert_eq!(names.len(), 4);
        assert_eq!(
            (&names[0], &names[1], &names[2], &names[3]),
            ("a", "bb", "", "dé")
        );
        assert_eq!(names.joined(), "a\nbb\n\ndé");
        assert_eq!(names.iter().collect::<Vec<_>>(), ["a", "bb", "", "dé"]);
        let json = serde_json::to_string(&names).unwrap();
        assert_eq!(json, r#"["a","bb","","dé"]"#);
        assert_eq!(serde_json::from_str::<Names>(&json).unwrap(), names);
        let none: Names = Vec::<String>::new().into_iter().collect();
        assert!(none.is_empty() && none.joined().is_empty());
    }
}
