//! `Core`: agents and their lifecycle.

use super::interop::{coded, ms, parse, to_json, IntoJs, JsResult};
use super::Core;
use crate::core::agent::{AgentSpec, AgentStatus, AgentUpdate};
use crate::core::ids::AgentIx;
use wasm_bindgen::prelude::*;

impl Core {
    /// An agent by index, removed ones included (their tasks still name them).
    pub(super) fn agent_at(&self, ix: u32) -> JsResult<AgentIx> {
        if (ix as usize) < self.inner.state().agents.len() {
            Ok(AgentIx(ix))
        } else {
            Err(coded("unknown_agent", &format!("unknown agent #{ix}")))
        }
    }
}

#[wasm_bindgen]
impl Core {
    /// Registers an agent from its spec's JSON; returns its index.
    #[wasm_bindgen(js_name = registerAgent)]
    pub fn register_agent(&mut self, spec: &str, now: f64) -> JsResult<u32> {
        let spec: AgentSpec = parse("agent", spec)?;
        Ok(self.inner.register_agent(spec, ms(now)).js()?.index())
    }

    /// Changes an agent's name, capabilities, concurrency or maxErrors (JSON).
    #[wasm_bindgen(js_name = updateAgent)]
    pub fn update_agent(&mut self, agent: u32, update: &str, now: f64) -> JsResult<()> {
        let update: AgentUpdate = parse("update", update)?;
        let a = AgentIx(agent);
        self.inner.update_agent(a, update, ms(now)).js()
    }

    /// The index of the agent with this id.
    #[wasm_bindgen(js_name = agentIx)]
    pub fn agent_ix(&self, id: &str) -> JsResult<u32> {
        Ok(self.inner.agent(id).js()?.index())
    }

    #[wasm_bindgen(js_name = agentId)]
    pub fn agent_id(&self, ix: u32) -> JsResult<String> {
        Ok(self.inner.state().agent(self.agent_at(ix)?).id.clone())
    }

    /// Whether the agent was removed (`agent.removed`): out of lookups by id.
    #[wasm_bindgen(js_name = agentRemoved)]
    pub fn agent_removed(&self, ix: u32) -> JsResult<bool> {
        Ok(self.inner.state().agent(self.agent_at(ix)?).removed)
    }

    #[wasm_bindgen(js_name = agentCount)]
    pub fn agent_count(&self) -> u32 {
        self.inner.state().agents.len() as u32
    }

    /// One lifecycle command: `start`, `pause`, `resume`, `stop`, `recover`, `complete`, `terminate`.
    pub fn lifecycle(&mut self, ix: u32, command: &str, now: f64) -> JsResult<()> {
        let a = self.agent_at(ix)?;
        let now = ms(now);
        let o = &mut self.inner;
        match command {
            "start" => o.start_agent(a, now),
            "pause" => o.pause_agent(a, now),
            "resume" => o.resume_agent(a, now),
            "stop" => o.stop_agent(a, now),
            "recover" => o.recover_agent(a, now),
            "complete" => o.complete_agent(a, now),
            "terminate" => o.terminate_agent(a, now),
            "remove" => o.remove_agent(a, now),
            other => {
                return Err(coded(
                    "invalid_argument",
                    &format!("unknown lifecycle command '{other}'"),
                ))
            }
        }
        .js()
    }

    /// Moves the agent along one edge of the lifecycle table, by status name.
    pub fn transition(&mut self, ix: u32, to: &str, reason: &str, now: f64) -> JsResult<()> {
        let a = self.agent_at(ix)?;
        let to = AgentStatus::parse(to)
            .ok_or_else(|| coded("invalid_argument", &format!("unknown agent status '{to}'")))?;
        self.inner.transition(a, to, reason, ms(now)).js()
    }

    #[wasm_bindgen(js_name = reportError)]
    pub fn report_error(&mut self, ix: u32, message: &str, now: f64) -> JsResult<()> {
        let a = self.agent_at(ix)?;
        self.inner.report_error(a, message, ms(now)).js()
    }

    /// The agent's lifecycle history as JSON: `[{from, to, reason, at}]`.
    #[wasm_bindgen(js_name = agentHistory)]
    pub fn agent_history(&self, ix: u32) -> JsResult<String> {
        Ok(to_json(
            &self.inner.state().agent(self.agent_at(ix)?).history,
        ))
    }

    #[wasm_bindgen(js_name = agentStatus)]
    pub fn agent_status(&self, ix: u32) -> JsResult<String> {
        Ok(self
            .inner
            .state()
            .agent(self.agent_at(ix)?)
            .status
            .name()
            .to_owned())
    }
}
