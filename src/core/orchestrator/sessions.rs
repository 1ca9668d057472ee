//! Capability routing, sessions and their contracts, and session compression.

use super::Orchestrator;
use crate::core::agent::AgentStatus;
use crate::core::event::TaskExtra;
use crate::core::ids::{AgentIx, PayloadId, TaskIx};
use crate::core::policy::BreakerState;
use crate::core::session::{contract_hash, verify_chain, ContractView};
use crate::core::{Error, Result};
use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// The longest `intent` a compression takes, in bytes (it goes into the summarizer's input).
pub const INTENT_BYTES_MAX: usize = 64 * 1024;

/// What `verify_contracts` finds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractsReport {
    pub ok: bool,
    pub checked: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The capability a session's compression is routed by when no summarizer is named.
pub const COMPRESS_CAPABILITY: &str = "compress";

impl Orchestrator {
    /// The least-loaded running agent with `capability` (load: calls running plus tasks queued),
    /// ties broken by registration order; an agent over its rate limit only if all are.
    pub fn route(&self, capability: &str) -> Result<AgentIx> {
        self.route_by(capability, None, &BTreeMap::new())
            .ok_or_else(|| Error::NoCapableAgent(capability.to_owned()))
    }

    /// [`Orchestrator::route`] among `team` only (a supervisor's agents).
    pub(super) fn route_among(&self, capability: &str, team: &[String]) -> Result<AgentIx> {
        team.iter()
            .filter_map(|id| self.state.agent_ix(id))
            .filter(|&ix| self.routable(ix, capability))
            .min_by_key(|&ix| self.route_key(ix, 0))
            .ok_or_else(|| Error::NoCapableAgent(capability.to_owned()))
    }

    /// Routing that leaves out one agent (`not`) and counts `extra` tasks per agent (given out
    /// but not queued yet). Agents whose breaker is open are passed over.
    pub(super) fn route_by(
        &self,
        capability: &str,
        not: Option<AgentIx>,
        extra: &BTreeMap<AgentIx, u64>,
    ) -> Option<AgentIx> {
        (0..self.state.agents.len() as u32)
            .map(AgentIx)
            .filter(|&ix| Some(ix) != not && self.routable(ix, capability))
            .min_by_key(|&ix| self.route_key(ix, extra.get(&ix).copied().unwrap_or(0)))
    }

    /// How routing ranks a capable agent: one throttled by its rate limit after every other
    /// (its tasks would wait for tokens while another agent idles), then by load (`extra` tasks
    /// added), then in registration order.
    fn route_key(&self, agent: AgentIx, extra: u64) -> (bool, u64, AgentIx) {
        let throttled = self.state.agent(agent).bucket.throttled_until.is_some();
        (throttled, self.agent_load(agent) + extra, agent)
    }

    /// Whether routing by `capability` may pick the agent: running, its breaker not open.
    pub(super) fn routable(&self, agent: AgentIx, capability: &str) -> bool {
        let a = self.state.agent(agent);
        a.status == AgentStatus::Running
            && a.breaker.state != BreakerState::Open
            && a.capabilities.iter().any(|c| c == capability)
    }

    /// An agent's load for routing: calls running plus tasks queued.
    pub(super) fn agent_load(&self, agent: AgentIx) -> u64 {
        self.state.agent(agent).running as u64 + self.state.queue().agent_len(agent) as u64
    }

    /// The session's contracts with their hash chain, as JSON. Payloads must be resolved.
    pub fn contracts_json(&self, session: &str) -> Result<String> {
        Ok(serde_json::to_string(&self.contract_views(session)?).expect("contracts serialize"))
    }

    fn contract_views(&self, session: &str) -> Result<Vec<ContractView>> {
        // A session no call has recorded in yet has no contracts (as in the Worker's route).
        let Some(s) = self.state.sessions.get(session) else {
            return Ok(Vec::new());
        };
        let payloads = self.payloads.borrow();
        let mut prev = String::new();
        let mut out = Vec::with_capacity(s.contracts.len());
        for c in &s.contracts {
            let payload = if c.payload == PayloadId::NONE {
                RawValue::from_string("null".into()).expect("null is JSON")
            } else {
                let raw = payloads.get(c.payload).ok_or_else(|| {
                    Error::Payload("resolve payloads before reading contracts".into())
                })?;
                raw.to_owned()
            };
            let mut view = ContractView {
                id: format!("contract-{}", c.n),
                kind: c.kind,
                session_id: session.to_owned(),
                task_id: self
                    .state
                    .task_id(c.task)
                    .expect("a contract's task exists"),
                call: c.call,
                from: c.from.clone(),
                to: c.to.clone(),
                capability: c.capability.as_deref().map(str::to_owned),
                status: c.status,
                payload,
                error: c.error.clone(),
                at: c.at,
                prev_hash: prev.clone(),
                hash: String::new(),
            };
            view.hash = contract_hash(&prev, &view);
            prev = view.hash.clone();
            out.push(view);
        }
        Ok(out)
    }

    /// Checks a session's chain of contracts: the recorded one, or `given` (JSON of a list that
    /// `contracts_json` returned, perhaps stored elsewhere since), which must also match the record.
    pub fn verify_contracts(&self, session: &str, given: Option<&str>) -> Result<ContractsReport> {
        let recorded = self.contract_views(session)?;
        let list: Vec<ContractView> = match given {
            None => recorded.clone(),
            Some(text) => serde_json::from_str(text)
                .map_err(|e| Error::invalid("contracts", e.to_string()))?,
        };
        let problem = match verify_chain(&list) {
            Err(p) => Some(p),
            Ok(_) => list
                .iter()
                .zip(&recorded)
                .find(|(a, b)| a.hash != b.hash)
                .map(|(a, _)| format!("contract {} differs from the one recorded", a.id))
                .or_else(|| {
                    (list.len() > recorded.len())
                        .then(|| "the list has contracts the session never recorded".into())
                }),
        };
        Ok(ContractsReport {
            ok: problem.is_none(),
            checked: list.len(),
            problem,
        })
    }

    /// Hands the session's contracts to a summarizer agent, `agent` or else (as seed 004 calls
    /// it, with the session alone) the least-loaded running agent with the capability
    /// [`COMPRESS_CAPABILITY`]; its answer becomes the session's memory block. Returns the
    /// summarizer's task.
    pub fn compress_session(
        &mut self,
        session: &str,
        agent: Option<&str>,
        intent: Option<&str>,
        now: u64,
    ) -> Result<TaskIx> {
        if let Some(intent) = intent {
            crate::core::ids::check_text("intent", intent, INTENT_BYTES_MAX)?;
        }
        if !self.state.sessions.contains_key(session) {
            let reason = format!("unknown session '{session}': no call has recorded in it");
            return Err(Error::invalid("session", reason));
        }
        let agent = match agent {
            Some(a) => a.to_owned(),
            None => {
                let ix = self.route(COMPRESS_CAPABILITY)?;
                self.state.agent(ix).id.clone()
            }
        };
        let agent = agent.as_str();
        let contracts = self.contract_views(session)?;
        let memory = self.state.sessions[session].memory;
        let previous =
            memory.and_then(|m| self.payloads.borrow().get(m).map(|r| r.get().to_owned()));
        // Seed 004's `intent` (why the session is kept) goes to the summarizer with the contracts.
        let intent = intent
            .map(|i| {
                format!(
                    ",\"intent\":{}",
                    serde_json::to_string(i).expect("a string")
                )
            })
            .unwrap_or_default();
        let input = format!(
            "{{\"sessionId\":{},\"contracts\":{},\"memory\":{}{intent}}}",
            serde_json::to_string(session).expect("a string"),
            serde_json::to_string(&contracts).expect("contracts serialize"),
            previous.as_deref().unwrap_or("null")
        );
        let extra = TaskExtra {
            compresses: Some(session.into()),
            ..TaskExtra::default()
        };
        let ix = self.submit_internal(agent, format!("compress {session}"), &input, extra, now)?;
        self.dispatch(now);
        Ok(ix)
    }

    /// The session's memory block (the last summarizer's answer), if any.
    /// (See [`Self::compress_session`].)
    pub fn session_memory(&self, session: &str) -> Option<PayloadId> {
        self.state.sessions.get(session).and_then(|s| s.memory)
    }
}
