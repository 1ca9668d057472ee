//! Agent patterns as ready-made workflows: consensus, debate, chain of thought, supervisor and
//! collaborative runs. Each is a small state machine in the core: it builds the next tasks from
//! what the previous ones answered, checks each answer's shape (a wrong shape is a `validation`
//! failure whose message shows what was expected), and ends with a result. The driver only runs
//! agents.

use crate::core::ids::{PayloadId, TaskIx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What `startPattern` takes; `kind` selects the pattern.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum PatternSpec {
    /// Every agent votes `{ vote: "approve" | "reject", reasoning }`; approve if the share of
    /// approvals reaches `threshold`.
    Consensus {
        task: Value,
        agents: Vec<String>,
        #[serde(default = "half")]
        threshold: f64,
    },
    /// `pro` and `con` argue for `rounds` rounds, then `judge` answers `{ winner, verdict }`.
    Debate {
        topic: Value,
        pro: String,
        con: String,
        judge: String,
        #[serde(default = "three")]
        rounds: u32,
    },
    /// `reasoner` thinks in up to `steps` steps; a step may answer `{ thought, answer }` (or
    /// `finalAnswer`) to finish.
    ChainOfThought {
        problem: Value,
        reasoner: String,
        #[serde(default)]
        steps: Steps,
    },
    /// `supervisor` plans: it answers `{ delegations: [{ agent | capability, input }] }` or
    /// `{ final: answer }`; Baton runs the delegations and gives their outputs back.
    Supervisor {
        task: Value,
        supervisor: String,
        agents: Vec<String>,
        #[serde(default)]
        instructions: String,
        #[serde(default = "five")]
        max_rounds: u32,
    },
    /// Agents take turns on a shared document, answering `{ document, done? }`.
    Collaborative {
        task: Value,
        agents: Vec<String>,
        #[serde(default)]
        document: Value,
        #[serde(default = "three")]
        max_rounds: u32,
    },
}

fn half() -> f64 {
    0.5
}
/// A chain of thought's steps: how many, or (as in seed 001) what each one is to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Steps {
    Count(u32),
    Named(Vec<String>),
}

impl Default for Steps {
    fn default() -> Self {
        Steps::Count(3)
    }
}

impl Steps {
    pub fn count(&self) -> u32 {
        match self {
            Steps::Count(n) => *n,
            Steps::Named(names) => u32::try_from(names.len()).unwrap_or(u32::MAX),
        }
    }

    /// What step `i` (from 0) is to do, if the steps were named.
    pub fn name(&self, i: u32) -> Option<&str> {
        match self {
            Steps::Count(_) => None,
            Steps::Named(names) => names.get(i as usize).map(String::as_str),
        }
    }
}

impl<'de> Deserialize<'de> for Steps {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Steps;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of steps, or a list of what each step is to do")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Steps, E> {
                u32::try_from(n)
                    .map(Steps::Count)
                    .map_err(|_| E::custom(format!("{n} steps is too many")))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Steps, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                Ok(Steps::Named(names))
            }
        }
        d.deserialize_any(V)
    }
}

fn three() -> u32 {
    3
}
fn five() -> u32 {
    5
}

pub const ROUNDS_MAX: u32 = 100;

impl PatternSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            PatternSpec::Consensus { .. } => "consensus",
            PatternSpec::Debate { .. } => "debate",
            PatternSpec::ChainOfThought { .. } => "chainOfThought",
            PatternSpec::Supervisor { .. } => "supervisor",
            PatternSpec::Collaborative { .. } => "collaborative",
        }
    }

    /// Every agent the pattern names.
    pub fn agents(&self) -> Vec<&str> {
        match self {
            PatternSpec::Consensus { agents, .. } | PatternSpec::Collaborative { agents, .. } => {
                agents.iter().map(String::as_str).collect()
            }
            PatternSpec::Debate {
                pro, con, judge, ..
            } => vec![pro, con, judge],
            PatternSpec::ChainOfThought { reasoner, .. } => vec![reasoner],
            PatternSpec::Supervisor {
                supervisor, agents, ..
            } => std::iter::once(supervisor.as_str())
                .chain(agents.iter().map(String::as_str))
                .collect(),
        }
    }

    /// Problems with the spec itself (agents are checked by the orchestrator).
    pub fn problem(&self) -> Option<String> {
        let rounds = |n: u32, what: &str| {
            (n == 0 || n > ROUNDS_MAX).then(|| format!("{what}: {n} is outside 1..={ROUNDS_MAX}"))
        };
        match self {
            PatternSpec::Consensus {
                agents, threshold, ..
            } => {
                if agents.is_empty() {
                    Some("agents: a consensus needs at least one agent".into())
                } else if let Some(a) = twice(agents) {
                    Some(format!(
                        "agents: '{a}' is listed twice (each agent has one vote)"
                    ))
                } else if !(threshold.is_finite() && *threshold > 0.0 && *threshold <= 1.0) {
                    Some(format!("threshold: {threshold} is outside (0, 1]"))
                } else {
                    None
                }
            }
            PatternSpec::Debate { rounds: r, .. } => rounds(*r, "rounds"),
            PatternSpec::ChainOfThought { steps, .. } => rounds(steps.count(), "steps"),
            PatternSpec::Supervisor { max_rounds, .. } => rounds(*max_rounds, "maxRounds"),
            PatternSpec::Collaborative {
                agents, max_rounds, ..
            } => {
                if agents.is_empty() {
                    Some("agents: a collaboration needs at least one agent".into())
                } else if let Some(a) = twice(agents) {
                    Some(format!("agents: '{a}' is listed twice"))
                } else {
                    rounds(*max_rounds, "maxRounds")
                }
            }
        }
    }
}

/// An agent named more than once, if one is.
fn twice(agents: &[String]) -> Option<&str> {
    let mut seen = std::collections::BTreeSet::new();
    agents
        .iter()
        .find(|a| !seen.insert(a.as_str()))
        .map(String::as_str)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    Running,
    Completed,
    Failed,
}

/// A pattern run as the core keeps it. `state` accumulates what the steps produced (votes, the
/// transcript, the reasoning chain, delegation results, the document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub spec: PatternSpec,
    pub status: RunStatus,
    pub step: u32,
    pub state: Value,
    /// The tasks of the current step, with their role.
    pub pending: Vec<(TaskIx, String)>,
    pub tasks: Vec<TaskIx>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<PayloadId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub started_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
    /// The session whose contracts record the run's calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Box<str>>,
}

pub fn run_id(ix: u32) -> String {
    format!("run-{}", ix + 1)
}

pub fn parse_run_id(id: &str) -> Option<u32> {
    let n: u32 = id.strip_prefix("run-")?.parse().ok()?;
    (n > 0 && id == run_id(n - 1)).then_some(n - 1)
}

/// The initial accumulated state of a run.
pub fn initial_state(spec: &PatternSpec) -> Value {
    match spec {
        PatternSpec::Consensus { .. } => json!({ "votes": {}, "reasoning": {} }),
        PatternSpec::Debate { .. } => json!({ "transcript": [] }),
        PatternSpec::ChainOfThought { .. } => json!({ "chain": [] }),
        PatternSpec::Supervisor { .. } => json!({ "results": [] }),
        PatternSpec::Collaborative { document, .. } => json!({ "document": document, "turns": [] }),
    }
}

/// Checks an answer's shape for a role; the error shows what was expected.
pub fn check_answer(role: &str, answer: &Value) -> Result<(), String> {
    let got = || {
        let s = answer.to_string();
        if s.len() > 200 {
            format!(
                "{}…",
                &s[..s
                    .char_indices()
                    .take_while(|(i, _)| *i < 200)
                    .last()
                    .map_or(0, |(i, c)| i + c.len_utf8())]
            )
        } else {
            s
        }
    };
    let expected = match role {
        "vote" => {
            let vote_ok = matches!(answer.get("vote").and_then(Value::as_str), Some("approve" | "reject"));
            // The issue's shape is `{ vote, reasoning }`: a vote without its reasoning is not one.
            let reasoning_ok = answer.get("reasoning").is_some_and(Value::is_string);
            if vote_ok && reasoning_ok {
                return Ok(());
            }
            r#"{ "vote": "approve" | "reject", "reasoning": string }"#
        }
        "pro" | "con" => {
            if answer.is_string() || answer.get("argument").is_some_and(Value::is_string) {
                return Ok(());
            }
            r#"a string, or { "argument": string }"#
        }
        "judge" => {
            let winner_ok = matches!(answer.get("winner").and_then(Value::as_str), Some("pro" | "con"));
            let verdict_ok = ["verdict", "finalVerdict", "reasoning"].iter().any(|k| answer.get(k).is_some_and(Value::is_string));
            if winner_ok && verdict_ok {
                return Ok(());
            }
            r#"{ "winner": "pro" | "con" (or the agent's id), "verdict": string }"#
        }
        "thought" => {
            if answer.is_string() || answer.get("thought").is_some_and(Value::is_string) {
                return Ok(());
            }
            r#"a string, or { "thought": string, "answer"?: any } ("finalAnswer" for "answer" too)"#
        }
        "plan" => match plan_problem(answer) {
            None => return Ok(()),
            Some(p) => return Err(format!("{p}; expected {{ \"delegations\": [{{ \"agent\" | \"capability\": string, \"input\": any }}] }} (or the list alone) or {{ \"final\": any }} (or a string), got {}", got())),
        },
        "turn" => {
            if answer.get("document").is_some() && answer.get("done").is_none_or(Value::is_boolean) {
                return Ok(());
            }
            r#"{ "document": any, "done"?: boolean }"#
        }
        _ => return Ok(()),
    };
    Err(format!("expected {expected}, got {}", got()))
}

/// A supervisor's answer in the one form the run reads: `{ delegations }` or `{ final }`. A bare
/// list is its delegations, and a bare string, number or boolean its final answer (the issue's
/// words: "delegations `[...]` or a final answer"); `finalAnswer` is a name for `final`.
pub fn plan_of(answer: &Value) -> Value {
    match answer {
        Value::Array(list) => json!({ "delegations": list }),
        Value::Object(o) if o.contains_key("finalAnswer") && !o.contains_key("final") => {
            let mut o = o.clone();
            let v = o.remove("finalAnswer").unwrap_or(Value::Null);
            o.insert("final".into(), v);
            Value::Object(o)
        }
        Value::Object(_) | Value::Null => answer.clone(),
        other => json!({ "final": other }),
    }
}

const DELEGATION_KEYS: [&str; 3] = ["agent", "capability", "input"];

fn plan_problem(answer: &Value) -> Option<String> {
    let answer = &plan_of(answer);
    if answer.get("final").is_some() || answer.get("answer").is_some() {
        // Both would leave one of them unheard: the delegations never run, or the answer is lost.
        if answer.get("delegations").is_some() {
            return Some("both delegations and a final answer".into());
        }
        return None;
    }
    let Some(list) = answer.get("delegations").and_then(Value::as_array) else {
        return Some("neither delegations nor a final answer".into());
    };
    if list.is_empty() {
        return Some("an empty list of delegations".into());
    }
    for (i, d) in list.iter().enumerate() {
        // A misnamed field (`task` for `input`) would hand the agent nothing without a word.
        if let Some(k) =
            (d.as_object()).and_then(|o| o.keys().find(|k| !DELEGATION_KEYS.contains(&k.as_str())))
        {
            return Some(format!(
                "delegation #{i} has an unknown field '{k}' (a delegation takes agent or capability, and input)"
            ));
        }
        let agent = d.get("agent").map(Value::is_string);
        let cap = d.get("capability").map(Value::is_string);
        match (agent, cap) {
            (Some(true), None) | (None, Some(true)) => {}
            _ => {
                return Some(format!(
                    "delegation #{i} needs exactly one of agent or capability, as a string"
                ))
            }
        }
    }
    None
}

/// The text of a debate argument or a thought.
pub fn text_of(answer: &Value, key: &str) -> String {
    match answer {
        Value::String(s) => s.clone(),
        other => other
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    }
}
