//! Agents and their lifecycle.
//!
//! One lifecycle covers the seeds: `Created → Initializing → Ready → Running ⇄ Paused`,
//! `Running → Error → Ready` (recover), `Running → Completed`, and `* → Stopped | Terminated`.
//! Only `Running` agents are handed new tasks. `Terminated` is final; a `Stopped` agent can be
//! started again.

use crate::core::policy::{
    Breaker, BreakerConfig, BreakerState, Bucket, ErrorPolicy, Fallback, Policy, RateLimit,
    RetryPolicy,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an agent is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgentStatus {
    Created,
    Initializing,
    Ready,
    Running,
    Paused,
    Error,
    Completed,
    Stopped,
    Terminated,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 9] = [
        AgentStatus::Created,
        AgentStatus::Initializing,
        AgentStatus::Ready,
        AgentStatus::Running,
        AgentStatus::Paused,
        AgentStatus::Error,
        AgentStatus::Completed,
        AgentStatus::Stopped,
        AgentStatus::Terminated,
    ];

    /// The transition table: the states reachable from `self` in one step.
    pub fn successors(self) -> &'static [AgentStatus] {
        use AgentStatus::*;
        match self {
            Created => &[Initializing, Stopped, Terminated],
            Initializing => &[Ready, Error, Stopped, Terminated],
            Ready => &[Running, Stopped, Terminated],
            Running => &[Paused, Error, Completed, Stopped, Terminated],
            Paused => &[Running, Error, Stopped, Terminated],
            Error => &[Ready, Paused, Stopped, Terminated],
            Completed => &[Ready, Stopped, Terminated],
            Stopped => &[Initializing, Terminated],
            Terminated => &[],
        }
    }

    pub fn can_go_to(self, to: AgentStatus) -> bool {
        self.successors().contains(&to)
    }

    /// Whether the scheduler may hand this agent new tasks.
    pub fn takes_tasks(self) -> bool {
        self == AgentStatus::Running
    }

    /// A status by name, any case; DESIGN's other names for two of them, `Idle` (Ready) and
    /// `Active` (Running), are taken too.
    pub fn parse(s: &str) -> Option<AgentStatus> {
        if s.eq_ignore_ascii_case("idle") {
            return Some(AgentStatus::Ready);
        }
        if s.eq_ignore_ascii_case("active") {
            return Some(AgentStatus::Running);
        }
        AgentStatus::ALL
            .into_iter()
            .find(|st| st.name().eq_ignore_ascii_case(s))
    }

    pub fn name(self) -> &'static str {
        match self {
            AgentStatus::Created => "Created",
            AgentStatus::Initializing => "Initializing",
            AgentStatus::Ready => "Ready",
            AgentStatus::Running => "Running",
            AgentStatus::Paused => "Paused",
            AgentStatus::Error => "Error",
            AgentStatus::Completed => "Completed",
            AgentStatus::Stopped => "Stopped",
            AgentStatus::Terminated => "Terminated",
        }
    }
}

impl fmt::Display for AgentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One recorded lifecycle step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub from: AgentStatus,
    pub to: AgentStatus,
    pub reason: String,
    pub at: u64,
}

/// What the user gives to register an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentSpec {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::core::capability::names")]
    pub capabilities: Vec<String>,
    /// Tasks this agent may run at once; `None` is unlimited.
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Errors (reported or failed tasks) after which the agent enters `Error`; `None` never.
    #[serde(default)]
    pub max_errors: Option<u32>,
    /// Default retry policy of the agent's tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Default per-attempt timeout of the agent's tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Strategy per error class for the agent's tasks.
    #[serde(
        default,
        skip_serializing_if = "ErrorPolicy::is_empty",
        alias = "errorPolicy",
        alias = "recovery"
    )]
    pub on_error: ErrorPolicy,
    /// Where the agent's tasks go under the `fallback` strategy or while its breaker is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
    /// The agent's circuit breaker: on unless turned off (`circuitBreaker: false`), with the
    /// defaults of [`BreakerConfig`] where a field is not given. Registering resolves
    /// [`BreakerSetting::Default`], so the journal records the breaker each agent got.
    #[serde(
        default,
        skip_serializing_if = "BreakerSetting::is_default",
        alias = "breaker"
    )]
    pub circuit_breaker: BreakerSetting,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// The template the agent was made from (`analyst@2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The template's configuration, handed to the agent as `ctx.config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Box<crate::core::template::AgentConfig>>,
    /// Tools the agent may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
}

impl AgentSpec {
    pub fn new(id: &str) -> AgentSpec {
        AgentSpec {
            id: id.to_owned(),
            name: None,
            capabilities: Vec::new(),
            concurrency: None,
            max_errors: None,
            retry: None,
            timeout_ms: None,
            on_error: ErrorPolicy::new(),
            fallback: None,
            circuit_breaker: BreakerSetting::Default,
            rate_limit: None,
            template: None,
            config: None,
            tools: Vec::new(),
        }
    }

    pub(crate) fn policy(&self) -> Policy {
        Policy {
            retry: self.retry.clone(),
            timeout_ms: self.timeout_ms,
            on_error: self.on_error.clone(),
            fallback: self.fallback.clone(),
        }
    }
}

/// An agent as the core keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<u32>,
    pub status: AgentStatus,
    pub history: Vec<Transition>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Calls in flight: recounted from the tasks on restore, so never written.
    #[serde(skip)]
    pub running: u32,
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub completed: u64,
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub failed: u64,
    pub registered_at: u64,
    #[serde(default, skip_serializing_if = "Policy::is_empty")]
    pub policy: Policy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker_config: Option<BreakerConfig>,
    #[serde(default, skip_serializing_if = "Breaker::is_default")]
    pub breaker: Breaker,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    #[serde(default, skip_serializing_if = "Bucket::is_default")]
    pub bucket: Bucket,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Box<crate::core::template::AgentConfig>>,
    /// Tools granted to the agent.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub tools: std::collections::BTreeSet<String>,
    /// Removed (`agent.removed`): kept for the tasks that name it, out of lookups by id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
}

impl Agent {
    pub(crate) fn new(spec: AgentSpec, at: u64) -> Agent {
        let policy = spec.policy();
        let bucket = Bucket {
            level_milli: spec
                .rate_limit
                .as_ref()
                .map_or(0, RateLimit::capacity_milli),
            at,
            throttled_until: None,
        };
        Agent {
            policy,
            // `Default` is only ever applied from journals written before breakers were on by
            // default (registering resolves it), when an agent given none had none.
            breaker_config: match spec.circuit_breaker {
                BreakerSetting::On(c) => Some(c),
                BreakerSetting::Off | BreakerSetting::Default => None,
            },
            breaker: Breaker::default(),
            rate_limit: spec.rate_limit,
            bucket,
            template: spec.template,
            config: spec.config,
            tools: spec.tools.into_iter().collect(),
            name: spec.name.unwrap_or_else(|| spec.id.clone()),
            id: spec.id,
            capabilities: spec.capabilities,
            concurrency: spec.concurrency,
            max_errors: spec.max_errors,
            status: AgentStatus::Created,
            history: Vec::new(),
            error_count: 0,
            last_error: None,
            running: 0,
            completed: 0,
            failed: 0,
            registered_at: at,
            removed: false,
        }
    }

    /// Whether the agent can start one more task now.
    pub(crate) fn has_room(&self) -> bool {
        let breaker_ok = match self.breaker.state {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            // Half-open lets one trial call through at a time.
            BreakerState::HalfOpen => self.running == 0,
        };
        self.status.takes_tasks()
            && self.concurrency.is_none_or(|c| self.running < c)
            && breaker_ok
            && self.bucket.throttled_until.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::AgentStatus::*;
    use super::*;

    #[test]
    fn table_has_the_seed_paths() {
        for (a, b) in [
            (Created, Initializing),
            (Initializing, Ready),
            (Ready, Running),
            (Running, Paused),
            (Paused, Running),
            (Running, Error),
            (Error, Ready),
            (Running, Completed),
            (Running, Stopped),
            (Paused, Terminated),
        ] {
            assert!(a.can_go_to(b), "{a} -> {b}");
        }
    }

    #[test]
    fn terminated_is_final_and_no_self_loops() {
        assert!(Terminated.successors().is_empty());
        for s in AgentStatus::ALL {
            assert!(!s.can_go_to(s), "{s} loops");
        }
        assert!(!Created.can_go_to(Running));
    }

    #[test]
    fn parse_is_case_insensitive() {
        assert_eq!(AgentStatus::parse("paused"), Some(Paused));
        assert_eq!(AgentStatus::parse("nope"), None);
        assert_eq!(AgentStatus::parse("Idle"), Some(Ready));
        assert_eq!(AgentStatus::parse("active"), Some(Running));
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What [`crate::core::Orchestrator::update_agent`] changes; a field not given stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::core::capability::maybe_names"
    )]
    pub capabilities: Option<Vec<String>>,
    /// `null` for unlimited.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "given"
    )]
    pub concurrency: Option<Option<u32>>,
    /// `null` for never.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "given"
    )]
    pub max_errors: Option<Option<u32>>,
}

impl AgentUpdate {
    pub fn is_empty(&self) -> bool {
        *self == AgentUpdate::default()
    }
}

/// A field that is given, `null` included (`Some(None)`), as opposed to one left out (`None`).
fn given<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `circuitBreaker` as given: not at all (the defaults), `false` or `null` (off), `true` (on, the
/// defaults) or `{ ... }` (on, with the defaults for what is missing).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BreakerSetting {
    #[default]
    Default,
    Off,
    On(BreakerConfig),
}

impl BreakerSetting {
    pub fn is_default(&self) -> bool {
        *self == BreakerSetting::Default
    }

    /// What registering an agent gives it: `Default` becomes the default breaker.
    pub fn resolved(self) -> BreakerSetting {
        match self {
            BreakerSetting::Default => BreakerSetting::On(BreakerConfig::default()),
            other => other,
        }
    }
}

impl Serialize for BreakerSetting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            BreakerSetting::On(c) => c.serialize(s),
            BreakerSetting::Off => s.serialize_bool(false),
            BreakerSetting::Default => s.serialize_bool(true),
        }
    }
}

impl<'de> Deserialize<'de> for BreakerSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, Visitor};
        struct Setting;
        impl<'de> Visitor<'de> for Setting {
            type Value = BreakerSetting;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("{ failureThreshold?, recoveryMs?, successThreshold? }, true or false")
            }
            fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
                Ok(match on {
                    true => BreakerSetting::On(BreakerConfig::default()),
                    false => BreakerSetting::Off,
                })
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(BreakerSetting::Off)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(BreakerSetting::Off)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let c = BreakerConfig::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(BreakerSetting::On(c))
            }
        }
        d.deserialize_any(Setting)
    }
}

fn is_zero64(n: &u64) -> bool {
    *n == 0
}
