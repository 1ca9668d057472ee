//! Agent templates: named, versioned configurations (`analyst@2`) that agents are created from.
//! A template is checked whole when it is defined, and the error lists every bad field.

use crate::core::agent::AgentSpec;
use crate::core::policy::{Policy, RetryPolicy};
use crate::core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Limits an agent made from the template starts with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
}

/// What `defineTemplate` takes. Every field but `name` is optional; `version` defaults to 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    pub name: String,
    #[serde(default = "one")]
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub instructions: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Tools an agent made from the template is granted.
    #[serde(default)]
    pub tools: Vec<String>,
    #[serde(default)]
    pub limits: TemplateLimits,
}

fn one() -> u32 {
    1
}

/// The part of a template an agent's handler sees as `ctx.config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentConfig {
    pub template: String,
    pub instructions: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub tools: Vec<String>,
}

pub const INSTRUCTIONS_BYTES_MAX: usize = 64 * 1024;

impl Template {
    /// `name@version`.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// Parses a template from JSON, reporting every bad field at once: a field of the wrong
    /// type (which stops serde at the first) is set aside and the rest parsed again, so its
    /// error is listed beside the other fields' type and value errors.
    pub fn parse(json: &str) -> Result<Template> {
        let mut fields = match serde_json::from_str(json) {
            Ok(serde_json::Value::Object(m)) => m,
            Ok(_) => return Err(Error::invalid("template", "must be an object")),
            Err(e) => return Err(Error::invalid("template", e.to_string())),
        };
        let mut bad: Vec<String> = Vec::new();
        let mut set_aside: Vec<String> = Vec::new();
        // Without a name the rest is still checked, under a stand-in that is never kept.
        let name_missing = !fields.contains_key("name");
        if name_missing {
            bad.push("name: missing (a template needs a name)".into());
            fields.insert("name".into(), "unnamed".into());
        }
        // Each bad field costs a decode of the rest: past this many, the list ends there.
        const LISTED_MAX: usize = 32;
        let template = loop {
            if bad.len() >= LISTED_MAX {
                bad.push("… (more fields are bad)".into());
                break None;
            }
            let text = serde_json::Value::Object(fields.clone()).to_string();
            match serde_json::from_str::<Template>(&text) {
                Ok(t) => break Some(t),
                Err(e) => {
                    let at = crate::core::json_path::path_of(&text, &e);
                    // The map keys down to the bad value (`limits.timeoutMs`), up to any list.
                    let keys: Vec<String> = (at.iter())
                        .map_while(|s| match s {
                            crate::core::json_path::Segment::Key(key) => Some(key.clone()),
                            _ => None,
                        })
                        .collect();
                    let path = crate::core::json_path::shown(&at);
                    let mut reason = e.to_string();
                    if let Some(cut) = reason.find(" at line ") {
                        reason.truncate(cut);
                    }
                    // An unknown field is said, then set aside like a bad one.
                    // (Its path may or may not end with its name.)
                    let mut target = keys.clone();
                    let unknown = (reason.strip_prefix("unknown field `"))
                        .and_then(|r| r.split('`').next())
                        .filter(|k| keys.last().is_none_or(|last| last != k));
                    if let Some(k) = unknown {
                        target.push(k.to_owned());
                    }
                    // The bad field itself, so that its siblings are still checked; else the
                    // top-level field that holds it.
                    let removed = remove_at(&mut fields, &target)
                        || keys.first().is_some_and(|k| fields.remove(k).is_some());
                    if removed {
                        bad.push(match keys.is_empty() {
                            true => reason,
                            false => format!("{path}: {reason}"),
                        });
                        set_aside.push(target.join("."));
                    } else {
                        // Not one field's (a missing name): said as it is. A field missing
                        // because it was set aside is said already.
                        let aside = |k: &String| reason == format!("missing field `{k}`");
                        if !set_aside.iter().any(aside) {
                            bad.push(reason);
                        }
                        break None;
                    }
                }
            }
        };
        let name_ok = !name_missing && template.as_ref().is_some_and(|t| t.name_ok());
        if let Some(t) = &template {
            bad.extend(t.problems());
        }
        match (template, bad.is_empty()) {
            (Some(t), true) => Ok(t),
            (t, _) => {
                // Named by the version it was given: one set aside as bad is not the default.
                let version_ok = !set_aside.iter().any(|f| f == "version");
                let what = match t {
                    Some(t) if name_ok && version_ok => format!("template '{}'", t.reference()),
                    Some(t) if name_ok => format!("template '{}'", t.name),
                    _ => "template".into(),
                };
                Err(Error::invalid(what, bad.join("; ")))
            }
        }
    }

    fn name_ok(&self) -> bool {
        !self.name.is_empty()
            && self.name.len() <= 64
            && (self.name.bytes())
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    }

    /// Checks every field and reports all the bad ones at once.
    pub fn validate(&self) -> Result<()> {
        let bad = self.problems();
        if bad.is_empty() {
            return Ok(());
        }
        let what = if self.name_ok() {
            format!("template '{}'", self.reference())
        } else {
            "template".into()
        };
        Err(Error::invalid(what, bad.join("; ")))
    }

    /// What is wrong with each field, one entry per field.
    fn problems(&self) -> Vec<String> {
        let mut bad: Vec<String> = Vec::new();
        if !self.name_ok() {
            bad.push(format!(
                "name: '{}' must be 1 to 64 of a-z, 0-9, '-', '_'",
                self.name
            ));
        }
        if self.version == 0 {
            bad.push("version: must be at least 1".into());
        }
        if self.instructions.len() > INSTRUCTIONS_BYTES_MAX {
            bad.push(format!(
                "instructions: '{}' is over {INSTRUCTIONS_BYTES_MAX} bytes",
                crate::core::ids::shown(&self.instructions)
            ));
        }
        if let Some(d) = self
            .description
            .as_deref()
            .filter(|d| d.len() > INSTRUCTIONS_BYTES_MAX)
        {
            bad.push(format!(
                "description: '{}' is over {INSTRUCTIONS_BYTES_MAX} bytes",
                crate::core::ids::shown(d)
            ));
        }
        if self
            .model
            .as_deref()
            .is_some_and(|m| m.is_empty() || m.len() > 128)
        {
            bad.push("model: must be 1 to 128 bytes".into());
        }
        if let Some(t) = self.temperature {
            if !(t.is_finite() && (0.0..=2.0).contains(&t)) {
                bad.push(format!("temperature: {t} is outside 0..=2"));
            }
        }
        for (field, list) in [("capabilities", &self.capabilities), ("tools", &self.tools)] {
            if list.iter().any(|c| c.is_empty() || c.len() > 128) {
                bad.push(format!("{field}: every entry must be 1 to 128 bytes"));
            }
        }
        let l = &self.limits;
        if l.concurrency == Some(0) {
            bad.push("limits.concurrency: must be at least 1".into());
        }
        if l.max_errors == Some(0) {
            bad.push("limits.maxErrors: must be at least 1".into());
        }
        let policy = Policy {
            retry: l.retry.clone(),
            timeout_ms: l.timeout_ms,
            ..Policy::default()
        };
        if let Err(e) = policy.validate("template") {
            bad.push(format!("limits: {e}"));
        }
        bad
    }

    /// The agent this template makes, with the given id (and name, if any).
    pub fn agent_spec(&self, id: &str, name: Option<String>) -> AgentSpec {
        AgentSpec {
            // The description names the agent when it can be a name (a long one cannot).
            name: name.or_else(|| {
                (self.description.clone()).filter(|d| {
                    !d.is_empty() && d.len() <= crate::core::orchestrator::NAME_BYTES_MAX
                })
            }),
            capabilities: self.capabilities.clone(),
            concurrency: self.limits.concurrency,
            max_errors: self.limits.max_errors,
            retry: self.limits.retry.clone(),
            timeout_ms: self.limits.timeout_ms,
            template: Some(self.reference()),
            config: Some(Box::new(AgentConfig {
                template: self.reference(),
                instructions: self.instructions.clone(),
                model: self.model.clone(),
                temperature: self.temperature,
                tools: self.tools.clone(),
            })),
            tools: self.tools.clone(),
            ..AgentSpec::new(id)
        }
    }
}

/// Splits `name@version` (or a bare `name`: the latest version).
pub fn parse_reference(reference: &str) -> Result<(&str, Option<u32>)> {
    match reference.split_once('@') {
        None => Ok((reference, None)),
        Some((name, v)) => match v.parse::<u32>() {
            Ok(v) if v > 0 => Ok((name, Some(v))),
            _ => Err(Error::invalid(
                "template",
                format!("'{reference}' is not name@version"),
            )),
        },
    }
}

/// Removes the field at `keys` (map keys from the top), if it is there; whether it was.
fn remove_at(fields: &mut serde_json::Map<String, serde_json::Value>, keys: &[String]) -> bool {
    match keys {
        [] => false,
        [k] => fields.remove(k).is_some(),
        [k, rest @ ..] => match fields.get_mut(k) {
            Some(serde_json::Value::Object(inner)) => remove_at(inner, rest),
            _ => false,
        },
    }
}

/// Templates for the roles the seeds name, always available at version 1.
pub fn built_ins() -> Vec<Template> {
    let t = |name: &str,
             description: &str,
             instructions: &str,
             capabilities: &[&str],
             temperature: f64| Template {
        name: name.into(),
        version: 1,
        description: Some(description.into()),
        instructions: instructions.into(),
        model: None,
        temperature: Some(temperature),
        capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
        tools: Vec::new(),
        limits: TemplateLimits {
            concurrency: Some(4),
            max_errors: Some(10),
            ..TemplateLimits::default()
        },
    };
    vec![
        t(
            "data-analyst",
            "Data Analyst",
            "Analyse the data you are given; state findings with the evidence for each.",
            &["analyze", "data"],
            0.2,
        ),
        t(
            "code-reviewer",
            "Code Reviewer",
            "Review the change for correctness, clarity and risk; list concrete issues first.",
            &["review", "code"],
            0.1,
        ),
        t(
            "system-architect",
            "System Architect",
            "Propose a design with its components, interfaces and the trade-offs taken.",
            &["design", "architecture"],
            0.4,
        ),
        t(
            "testing-specialist",
            "Testing Specialist",
            "Write tests that would fail if the behaviour were wrong; cover edge cases.",
            &["test", "qa"],
            0.2,
        ),
        t(
            "documentation-writer",
            "Documentation Writer",
            "Explain for a new user: what it does, how to use it, and an example.",
            &["docs", "write"],
            0.5,
        ),
        t(
            "project-manager",
            "Project Manager",
            "Break the goal into tasks with owners and order; flag risks and blockers.",
            &["plan", "coordinate"],
            0.3,
        ),
    ]
}
