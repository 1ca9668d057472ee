//! The field a JSON decoding error is about, found from where serde_json stopped: the keys and
//! indexes open at that byte of the text (`retry.maxAttempts`, `tasks[2].id`). Tracking the
//! path while decoding (serde_path_to_error) compiled every argument type's deserializer a
//! second time, a twelfth of the wasm; an error is rare, and the text says where it is.

/// One step of a path: an object's key or an array's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// A path as the error names it: keys joined by `.`, indexes in brackets; `.` for the root.
pub(crate) fn shown(path: &[Segment]) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The path of the field `e` is about, in `json` (the text `e` came from). serde_json reports an
/// error where it stopped: after a bad value or an unknown key, or after the `}` of an object
/// missing a field; the containers still open there, with the key or index each was at, are
/// the path (a closed object is its parent's key).
pub(crate) fn path_of(json: &str, e: &serde_json::Error) -> Vec<Segment> {
    path_at(json, offset(json, e.line(), e.column()))
}

/// The byte at `line` (1-based) and `column` (bytes into the line) of `json`.
fn offset(json: &str, line: usize, column: usize) -> usize {
    let start = match line {
        0 | 1 => 0,
        _ => json
            .match_indices('\n')
            .nth(line - 2)
            .map_or(json.len(), |(i, _)| i + 1),
    };
    (start + column).min(json.len())
}

/// A container open at some point of the text.
enum Open {
    /// An object, with the key read last (until its value ends, and after).
    Object(Option<String>),
    /// An array, with the index of the element being read or read last.
    Array(Option<usize>),
}

/// Walks `json` up to byte `at`, keeping the containers open there, and names the path.
fn path_at(json: &str, at: usize) -> Vec<Segment> {
    let bytes = json.as_bytes();
    let mut stack: Vec<Open> = Vec::new();
    let mut expecting_key = false;
    let mut i = 0;
    while i < bytes.len() && i < at {
        match bytes[i] {
            b'{' => {
                start_value(&mut stack);
                stack.push(Open::Object(None));
                expecting_key = true;
                i += 1;
            }
            b'[' => {
                start_value(&mut stack);
                stack.push(Open::Array(None));
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                expecting_key = false;
                i += 1;
            }
            b',' => {
                expecting_key = matches!(stack.last(), Some(Open::Object(_)));
                i += 1;
            }
            b'"' => {
                let end = string_end(bytes, i);
                if expecting_key {
                    // (A key that is not valid JSON text, a lone surrogate say: as written.)
                    let key = serde_json::from_str::<String>(&json[i..end]).unwrap_or_else(|_| {
                        json[i + 1..end.saturating_sub(1).max(i + 1)].to_owned()
                    });
                    if let Some(Open::Object(k)) = stack.last_mut() {
                        *k = Some(key);
                    }
                    expecting_key = false;
                } else {
                    start_value(&mut stack);
                }
                i = end;
            }
            b':' => {
                expecting_key = false;
                i += 1;
            }
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            _ => {
                // A number, `true`, `false` or `null`: one value, to the next delimiter.
                start_value(&mut stack);
                while i < bytes.len() && !b",}] \t\n\r".contains(&bytes[i]) {
                    i += 1;
                }
            }
        }
    }
    stack
        .iter()
        .filter_map(|open| match open {
            Open::Object(k) => k.clone().map(Segment::Key),
            Open::Array(n) => n.map(Segment::Index),
        })
        .collect()
}

/// A value starts in the innermost container: an array's next element.
fn start_value(stack: &mut [Open]) {
    if let Some(Open::Array(n)) = stack.last_mut() {
        *n = Some(n.map_or(0, |n| n + 1));
    }
}

/// The byte after the string that starts at `start` (its closing quote), or the text's end.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// A JSON scalar, as [`checked`] hands it over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(&'a str),
}

/// Deserializes a scalar that `check` turns into a `T` or refuses. Refused inside the visitor,
/// the error is placed at the value, so that [`path_of`] names its field; a check after the
/// value was read (an untagged enum's variants, a `deserialize_with` that validates) is placed
/// where the enclosing object ends, and would name that object instead.
pub(crate) fn checked<'de, D, T>(
    d: D,
    expecting: &'static str,
    check: impl FnOnce(Scalar<'_>) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::{Error, Visitor};
    struct Check<F>(&'static str, F);
    impl<'de, T, F: FnOnce(Scalar<'_>) -> Result<T, String>> Visitor<'de> for Check<F> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(self.0)
        }
        fn visit_unit<E: Error>(self) -> Result<T, E> {
            (self.1)(Scalar::Null).map_err(E::custom)
        }
        fn visit_none<E: Error>(self) -> Result<T, E> {
            (self.1)(Scalar::Null).map_err(E::custom)
        }
        fn visit_bool<E: Error>(self, v: bool) -> Result<T, E> {
            (self.1)(Scalar::Bool(v)).map_err(E::custom)
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<T, E> {
            (self.1)(Scalar::U64(v)).map_err(E::custom)
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<T, E> {
            (self.1)(Scalar::I64(v)).map_err(E::custom)
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<T, E> {
            (self.1)(Scalar::F64(v)).map_err(E::custom)
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
            (self.1)(Scalar::Str(v)).map_err(E::custom)
        }
    }
    d.deserialize_any(Check(expecting, check))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agent::{AgentSpec, AgentUpdate};
    use crate::core::pattern::PatternSpec;
    use crate::core::schedule::Trigger;
    use crate::core::task::TaskSpec;
    use crate::core::tool::ToolSpec;
    use crate::core::views::TaskFilter;
    use crate::core::workflow::WorkflowSpec;
    use crate::core::Options;
    use serde::de::DeserializeOwned;

    /// The field serde_path_to_error names, as `decode` wrote it before.
    fn tracked<T: DeserializeOwned>(json: &str) -> Option<String> {
        let mut de = serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize::<_, T>(&mut de)
            .err()
            .map(|e| e.path().to_string())
    }

    /// The field `decode` names now.
    fn found<T: DeserializeOwned>(json: &str) -> Option<String> {
        (serde_json::from_str::<T>(json).err()).map(|e| shown(&path_of(json, &e)))
    }

    fn same<T: DeserializeOwned>(cases: &[&str]) {
        for json in cases {
            let (before, now) = (tracked::<T>(json), found::<T>(json));
            assert!(before.is_some(), "{json} decodes");
            // A map's enum key serde_path_to_error could not name (`?`) is named now.
            if let (Some(b), Some(n)) = (&before, &now) {
                let (b, n): (Vec<_>, Vec<_>) = (b.split('.').collect(), n.split('.').collect());
                let named =
                    b.len() == n.len() && b.iter().zip(&n).all(|(b, n)| b == n || *b == "?");
                if named && b.contains(&"?") {
                    continue;
                }
            }
            assert_eq!(now, before, "{json}");
        }
    }

    #[test]
    fn names_the_field_serde_path_to_error_named() {
        same::<AgentSpec>(&[
            r#"{}"#,
            r#"{"id":1}"#,
            r#"{"id":"a","bogus":1}"#,
            r#"{"id":"a","concurrency":-1}"#,
            r#"{"id":"a","concurrency":"x"}"#,
            r#"{"id":"a","retry":{"maxAttempts":"x"}}"#,
            r#"{"id":"a","retry":{"maxAttempts":2,"backoff":{"initialMs":-5}}}"#,
            r#"{"id":"a","retry":{"bogus":1}}"#,
            r#"{"id":"a","retry":[]}"#,
            r#"{"id":"a","retry":{"maxAttempts":2,"backoff":{"initialMs":5,"factor":"x"}}}"#,
            r#"{"id":"a","capabilities":[1]}"#,
            r#"{"id":"a","capabilities":["x",2]}"#,
            r#"{"id":"a","capabilities":"x"}"#,
            r#"{"id":"b","capabilities":[{"name":"n","description":{}},"x",5]}"#,
            r#"{"id":"b","capabilities":[{},"x",{"name":5}]}"#,
            r#"{"id":"a","onError":{"bogus":"retry"}}"#,
            r#"{"id":"a","onError":{"agent":"nope"}}"#,
            r#"{"id":"a","onError":{"agent":{"fallback":1}}}"#,
            r#"{"id":"a","fallback":1}"#,
            r#"{"id":"a","rateLimit":{"perMinute":"x"}}"#,
            r#"{"id":"a","rateLimit":{}}"#,
            r#"{"id":"a","circuitBreaker":{"failureThreshold":"x"}}"#,
            r#"{"id":"a","tools":[null]}"#,
            r#"{"id":"a","name":{"x":[1,2,{"y":3}]},"concurrency":true}"#,
            r#"{"id":"a\"b\\","timeoutMs":"soon"}"#,
            r#"{"id":"a","config":{"temperature":"hot"}}"#,
            r#"[]"#,
            r#""x""#,
        ]);
        same::<AgentUpdate>(&[r#"{"name":1}"#, r#"{"concurrency":-2}"#, r#"{"x":1}"#]);
        same::<TaskSpec>(&[
            r#"{"agent":1}"#,
            r#"{"agent":"a","priority":"high"}"#,
            r#"{"agent":"a","retry":{"maxAttempts":true}}"#,
            r#"{"agent":"a","bogus":[1,2]}"#,
            r#"{"agent":"a","timeoutMs":-1}"#,
        ]);
        same::<WorkflowSpec>(&[
            r#"{}"#,
            r#"{"tasks":{}}"#,
            r#"{"tasks":[{"id":"a"},{"id":2}]}"#,
            r#"{"tasks":[{"id":"a","agent":"x"},{"id":"b","dependsOn":"a"}]}"#,
            r#"{"tasks":[{"id":"a","agent":"x","priority":0.5}]}"#,
            r#"{"tasks":[],"dependencies":{"b":"a"}}"#,
            r#"{"tasks":[],"dependencies":{"b":["a",3]}}"#,
            r#"{"tasks":[],"failurePolicy":"sometimes"}"#,
            r#"{"tasks":[{"id":"a","agent":"a","onError":{}},"oops"]}"#,
            r#"{"tasks":[],"pattern":"sequential","width":"2"}"#,
            r#"{"tasks":[{"id":"a","agent":"x","retry":{"maxAttempts":1,"jitter":"x"}}]}"#,
        ]);
        same::<Trigger>(&[
            r#"{"everyMs":"x"}"#,
            r#"{"cron":5}"#,
            r#"{"at":true}"#,
            r#"{"at":-5}"#,
            r#"{"at":1.5}"#,
            r#"{"at":"yesterday"}"#,
            r#"{"bogus":1}"#,
        ]);
        same::<ToolSpec>(&[
            r#"{"name":1}"#,
            r#"{"name":"t","rateLimit":{"perMinute":-1}}"#,
        ]);
        same::<PatternSpec>(&[
            r#"{"kind":"consensus"}"#,
            r#"{"kind":"debate","topic":"t","pro":"a","con":"b","judge":"c","rounds":"3"}"#,
            r#"{"kind":"nope"}"#,
            r#"{"kind":"chainOfThought","problem":"p","reasoner":"r","steps":"three"}"#,
        ]);
        same::<TaskFilter>(&[r#"{"status":"Sleeping"}"#, r#"{"limit":"ten"}"#]);
        same::<Options>(&[
            r#"{"maxConcurrency":"x"}"#,
            r#"{"retry":{"maxAttempts":0.5}}"#,
            r#"{"onError":{"timeout":"sometimes"}}"#,
            r#"{"bogus":1}"#,
        ]);
        same::<Vec<String>>(&[r#"["a",1]"#, r#"{}"#]);
    }

    #[test]
    fn paths_read_through_strings_escapes_and_nesting() {
        let json = r#"{"a":[{"b":"x,}]\"{"},{"c":[1,[2,3],{"d":"y"}]}]}"#;
        let at = |needle: &str| json.find(needle).unwrap() + needle.len();
        assert_eq!(shown(&path_at(json, at(r#"\"{""#))), "a[0].b");
        assert_eq!(shown(&path_at(json, at("[2,3"))), "a[1].c[1][1]");
        assert_eq!(shown(&path_at(json, at(r#""d":"y""#))), "a[1].c[2].d");
        // An empty object in an array does not hide the next element's index.
        let list = r#"{"c":[{"n":{}},"x",5]}"#;
        assert_eq!(shown(&path_at(list, list.find('5').unwrap() + 1)), "c[2]");
        // After an object's end: the object (a missing field), as its parent names it.
        assert_eq!(shown(&path_at(json, at(r#""d":"y"}"#))), "a[1].c[2]");
        assert_eq!(shown(&path_at("", 0)), ".");
    }
}
