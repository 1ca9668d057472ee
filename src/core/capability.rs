//! An agent's capabilities as the user writes them: names (`["echo"]`), or as seed 004 lists
//! them, `[{ "name": "echo", "description": "Echo text back" }]`. Only the names are kept.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

struct Name(String);

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a capability name, or { name, description? }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name, E> {
                Ok(Name(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Name, A::Error> {
                let mut name = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" => name = Some(map.next_value::<String>()?),
                        "description" => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        other => {
                            return Err(de::Error::unknown_field(other, &["name", "description"]))
                        }
                    }
                }
                name.map(Name)
                    .ok_or_else(|| de::Error::missing_field("name"))
            }
        }
        d.deserialize_any(NameVisitor)
    }
}

/// `deserialize_with` for a list of capabilities.
pub fn names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Vec::<Name>::deserialize(d)?
        .into_iter()
        .map(|n| n.0)
        .collect())
}

/// `deserialize_with` for a list that may be absent or null (an update that leaves it).
pub fn maybe_names<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(Option::<Vec<Name>>::deserialize(d)?.map(|v| v.into_iter().map(|n| n.0).collect()))
}

#[cfg(test)]
mod tests {
    use crate::core::agent::AgentSpec;

    #[test]
    fn capabilities_are_names_or_described_names() {
        let spec: AgentSpec = serde_json::from_str(
            r#"{ "id": "a", "capabilities": ["x", { "name": "echo", "description": "Echo text back" }] }"#,
        )
        .unwrap();
        assert_eq!(spec.capabilities, ["x", "echo"]);
        for bad in [
            r#"[{ "description": "no name" }]"#,
            r#"[{ "name": "a", "kind": 1 }]"#,
            "[1]",
        ] {
            let json = format!(r#"{{ "id": "a", "capabilities": {bad} }}"#);
            assert!(serde_json::from_str::<AgentSpec>(&json).is_err(), "{bad}");
        }
    }
}
