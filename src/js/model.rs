//! `Core`: sessions and contracts, templates, messages, tools, schedules and pattern runs.

use super::interop::{coded, ms, parse, to_json, IntoJs, JsResult};
use super::Core;
use crate::core::ids::{PayloadId, TaskIx};
use crate::core::message::message_id;
use crate::core::pattern::{run_id, PatternSpec, RunStatus};
use crate::core::schedule::Trigger;
use crate::core::task::{TaskSpec, TaskStatus};
use crate::core::template::Template;
use crate::core::tool::ToolSpec;
use serde_json::json;
use wasm_bindgen::prelude::*;

impl Core {
    fn messages_json(&self, ixs: &[usize]) -> String {
        let s = self.inner.state();
        let list: Vec<_> = ixs
            .iter()
            .map(|&i| {
                let view = crate::core::views::message_view(s, i);
                let mut v = serde_json::to_value(&view).expect("views serialize");
                v["payloadId"] = json!(view.payload.index());
                v
            })
            .collect();
        serde_json::Value::Array(list).to_string()
    }
}

#[wasm_bindgen]
impl Core {
    // ---- sessions and contracts ----

    /// The session's contracts with their hash chain, as JSON (resolve payloads first).
    pub fn contracts(&self, session: &str) -> JsResult<String> {
        self.inner.contracts_json(session).js()
    }

    /// Checks the session's chain, or a list of its contracts given as JSON.
    #[wasm_bindgen(js_name = verifyContracts)]
    pub fn verify_contracts(&self, session: &str, list: Option<String>) -> JsResult<String> {
        Ok(to_json(
            &self.inner.verify_contracts(session, list.as_deref()).js()?,
        ))
    }

    /// Submits the summarizer's task; its answer becomes the session's memory. Returns the task.
    #[wasm_bindgen(js_name = compressSession)]
    pub fn compress_session(
        &mut self,
        session: &str,
        agent: Option<String>,
        intent: Option<String>,
        now: f64,
    ) -> JsResult<u32> {
        Ok(self
            .inner
            .compress_session(session, agent.as_deref(), intent.as_deref(), ms(now))
            .js()?
            .index())
    }

    /// The session's memory block payload (4294967295 when none).
    #[wasm_bindgen(js_name = sessionMemory)]
    pub fn session_memory(&self, session: &str) -> u32 {
        self.inner
            .session_memory(session)
            .unwrap_or(PayloadId::NONE)
            .index()
    }

    // ---- templates ----

    #[wasm_bindgen(js_name = defineTemplate)]
    pub fn define_template(&mut self, spec: &str, now: f64) -> JsResult<String> {
        let t = Template::parse(spec).js()?;
        self.inner.define_template(t, ms(now)).js()
    }

    pub fn templates(&self) -> String {
        to_json(&self.inner.templates())
    }

    pub fn template(&self, reference: &str) -> JsResult<String> {
        Ok(to_json(&self.inner.template(reference).js()?))
    }

    #[wasm_bindgen(js_name = createAgentFromTemplate)]
    pub fn create_agent_from_template(
        &mut self,
        reference: &str,
        id: &str,
        name: Option<String>,
        now: f64,
    ) -> JsResult<u32> {
        Ok(self
            .inner
            .create_agent_from_template(reference, id, name, ms(now))
            .js()?
            .index())
    }

    /// The agent's template configuration as JSON (`ctx.config`), if it was made from one.
    #[wasm_bindgen(js_name = agentConfig)]
    pub fn agent_config(&self, agent: u32) -> JsResult<Option<String>> {
        let a = self.agent_at(agent)?;
        Ok(self.inner.state().agent(a).config.as_ref().map(to_json))
    }

    // ---- messages ----

    pub fn send(&mut self, from: u32, to: u32, payload: u32, now: f64) -> JsResult<String> {
        let (from, to) = (self.agent_at(from)?, self.agent_at(to)?);
        Ok(message_id(
            self.inner
                .send(from, to, PayloadId(payload), ms(now))
                .js()?,
        ))
    }

    /// The agent's unacknowledged messages (now delivered), as JSON.
    pub fn inbox(&mut self, agent: u32, now: f64) -> JsResult<String> {
        let a = self.agent_at(agent)?;
        let ixs = self.inner.inbox(a, ms(now));
        Ok(self.messages_json(&ixs))
    }

    /// `agent`: the agent acknowledging from within its call, which may only take its own.
    pub fn acknowledge(&mut self, message: &str, now: f64, agent: Option<u32>) -> JsResult<()> {
        let m = self.inner.message(message).js()?;
        let by = agent.map(|a| self.agent_at(a)).transpose()?;
        self.inner.acknowledge_by(m, by, ms(now)).js()
    }

    #[wasm_bindgen(js_name = messageHistory)]
    pub fn message_history(&self, agent: u32) -> JsResult<String> {
        let a = self.agent_at(agent)?;
        Ok(self.messages_json(&self.inner.message_history(a)))
    }

    // ---- tools ----

    #[wasm_bindgen(js_name = registerTool)]
    pub fn register_tool(&mut self, spec: &str, now: f64) -> JsResult<()> {
        let spec: ToolSpec = parse("tool", spec)?;
        self.inner.register_tool(spec, ms(now)).js()
    }

    #[wasm_bindgen(js_name = grantTools)]
    pub fn grant_tools(&mut self, agent: u32, names: &str, now: f64) -> JsResult<()> {
        let a = self.agent_at(agent)?;
        let names: Vec<String> = parse("tools", names)?;
        self.inner.grant_tools(a, names, ms(now)).js()
    }

    #[wasm_bindgen(js_name = revokeTools)]
    pub fn revoke_tools(&mut self, agent: u32, names: &str, now: f64) -> JsResult<()> {
        let a = self.agent_at(agent)?;
        let names: Vec<String> = parse("tools", names)?;
        self.inner.revoke_tools(a, names, ms(now)).js()
    }

    /// An agent's tool call; `task` is 4294967295 outside a task. Returns the call's id.
    #[wasm_bindgen(js_name = callTool)]
    pub fn call_tool(
        &mut self,
        agent: u32,
        task: u32,
        name: &str,
        args: u32,
        now: f64,
    ) -> JsResult<u32> {
        let a = self.agent_at(agent)?;
        let task = (task != u32::MAX && (task as usize) < self.inner.state().tasks.len())
            .then_some(TaskIx(task));
        self.inner
            .call_tool(a, task, name, PayloadId(args), ms(now))
            .js()
    }

    #[wasm_bindgen(js_name = toolResult)]
    pub fn tool_result(&mut self, call: u32, result: u32, now: f64) -> JsResult<()> {
        self.inner
            .tool_result(call, Ok(PayloadId(result)), ms(now))
            .js()
    }

    #[wasm_bindgen(js_name = toolError)]
    pub fn tool_error(&mut self, call: u32, message: &str, now: f64) -> JsResult<()> {
        self.inner
            .tool_result(call, Err(message.to_owned()), ms(now))
            .js()
    }

    pub fn tools(&self) -> String {
        let s = self.inner.state();
        let list: Vec<_> = s.tools.values().map(|t| json!({ "name": t.spec.name, "description": t.spec.description, "category": t.spec.category, "rateLimit": t.spec.rate_limit, "calls": t.calls, "failures": t.failures })).collect();
        serde_json::Value::Array(list).to_string()
    }

    // ---- schedules ----

    /// Schedules a task; `input` must be a resolved payload. Returns the job id.
    pub fn schedule(
        &mut self,
        trigger: &str,
        task: &str,
        input: u32,
        now: f64,
    ) -> JsResult<String> {
        let trigger: Trigger = parse("schedule", trigger)?;
        let task: TaskSpec = parse("task", task)?;
        let ix = self
            .inner
            .schedule(trigger, task, PayloadId(input), ms(now))
            .js()?;
        Ok(self.inner.state().jobs[ix].id.clone())
    }

    /// The jobs not deleted, as JSON (`inputId` is the task input's payload).
    pub fn jobs(&self) -> String {
        let list: Vec<_> = self
            .inner
            .state()
            .jobs
            .iter()
            .filter(|j| j.status != crate::core::schedule::JobStatus::Deleted)
            .map(|j| {
                json!({
                    "id": j.id, "trigger": j.trigger, "task": j.task, "inputId": j.input.index(), "status": j.status,
                    "nextRun": j.next_run, "createdAt": j.created_at, "runs": j.runs, "lastRun": j.last_run,
                    "lastTask": j.last_task,
                })
            })
            .collect();
        serde_json::Value::Array(list).to_string()
    }

    #[wasm_bindgen(js_name = pauseJob)]
    pub fn pause_job(&mut self, id: &str, now: f64) -> JsResult<()> {
        let j = self.inner.job(id).js()?;
        self.inner.pause_job(j, ms(now)).js()
    }

    #[wasm_bindgen(js_name = resumeJob)]
    pub fn resume_job(&mut self, id: &str, now: f64) -> JsResult<()> {
        let j = self.inner.job(id).js()?;
        self.inner.resume_job(j, ms(now)).js()
    }

    #[wasm_bindgen(js_name = deleteJob)]
    pub fn delete_job(&mut self, id: &str, now: f64) -> JsResult<()> {
        let j = self.inner.job(id).js()?;
        self.inner.delete_job(j, ms(now)).js()
    }

    // ---- pattern runs ----

    #[wasm_bindgen(js_name = startPattern)]
    /// `session`: the session whose contracts record the run's calls.
    pub fn start_pattern(
        &mut self,
        spec: &str,
        now: f64,
        session: Option<String>,
    ) -> JsResult<u32> {
        let spec: PatternSpec = parse("pattern", spec)?;
        self.inner.start_pattern_in(spec, session, ms(now)).js()
    }

    #[wasm_bindgen(js_name = runIx)]
    pub fn run_ix(&self, id: &str) -> JsResult<u32> {
        self.inner.run(id).js()
    }

    #[wasm_bindgen(js_name = runDone)]
    pub fn run_done(&self, run: u32) -> bool {
        self.inner
            .state()
            .runs
            .get(run as usize)
            .is_some_and(|r| r.status != RunStatus::Running)
    }

    /// The run as JSON: `{ id, kind, status, step, error, resultId, tasks }`.
    #[wasm_bindgen(js_name = runView)]
    pub fn run_view(&self, run: u32) -> JsResult<String> {
        let s = self.inner.state();
        let r = s
            .runs
            .get(run as usize)
            .ok_or_else(|| coded("unknown_run", &format!("unknown run #{run}")))?;
        let tasks: Vec<String> = r
            .tasks
            .iter()
            .map(|&t| s.task_id(t).expect("a run's task exists"))
            .collect();
        // The class of the failure that ended the run (a `validation` of an answer's shape, a
        // `timeout`, ...): that of its last task that ended without completing.
        let class = (r.tasks.iter().rev())
            .map(|&t| s.task(t))
            .find(|t| t.status.is_terminal() && t.status != TaskStatus::Completed)
            .and_then(|t| t.error.as_ref().map(|e| e.class));
        Ok(json!({
            "id": run_id(run),
            "kind": r.spec.kind(),
            "status": r.status,
            "step": r.step,
            "error": r.error,
            "class": class,
            "resultId": r.result.unwrap_or(PayloadId::NONE).index(),
            "tasks": tasks,
        })
        .to_string())
    }
}
