//! `Core`: tasks, workflows and agent outcomes.

use super::interop::{coded, ms, parse, to_json, IntoJs, JsResult};
use super::Core;
use crate::core::ids::{PayloadId, TaskIx, WorkflowIx};
use crate::core::orchestrator::{EachTask, PlainShape, PlainTasks};
use crate::core::task::{ErrorClass, TaskSpec};
use crate::core::workflow::WorkflowSpec;
use wasm_bindgen::prelude::*;

/// A plain workflow's checked ids and dependencies, held by the driver's compiled workflow.
#[wasm_bindgen]
pub struct WorkflowShape(PlainShape);

/// A plain workflow's JSON header: what it has besides its tasks.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WorkflowHeader {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    failure_policy: crate::core::workflow::FailurePolicy,
}

impl WorkflowHeader {
    fn parse(json: &str) -> JsResult<WorkflowHeader> {
        parse("workflow", json)
    }
}

impl Core {
    fn task_at(&self, ix: u32) -> JsResult<TaskIx> {
        if (ix as usize) < self.inner.state().tasks.len() {
            Ok(TaskIx(ix))
        } else {
            Err(coded("unknown_task", &format!("unknown task #{ix}")))
        }
    }

    fn workflow_at(&self, ix: u32) -> JsResult<WorkflowIx> {
        if (ix as usize) < self.inner.state().workflows.len() {
            Ok(WorkflowIx(ix))
        } else {
            Err(coded(
                "unknown_workflow",
                &format!("unknown workflow #{ix}"),
            ))
        }
    }
}

#[wasm_bindgen]
impl Core {
    /// Submits a task from its spec's JSON (`{agent, id?, name?, priority?}`); returns its index.
    pub fn submit(&mut self, spec: &str, input: u32, metadata: u32, now: f64) -> JsResult<u32> {
        let spec: TaskSpec = parse("task", spec)?;
        Ok(self
            .inner
            .submit(spec, PayloadId(input), PayloadId(metadata), ms(now))
            .js()?
            .index())
    }

    /// The hot path: submits a task by agent index and priority (0 for the default), with no JSON.
    #[wasm_bindgen(js_name = submitTo)]
    pub fn submit_to(&mut self, agent: u32, priority: u32, input: u32, now: f64) -> JsResult<u32> {
        let priority = (priority != 0).then_some(priority);
        let agent = crate::core::ids::AgentIx(agent);
        Ok(self
            .inner
            .submit_to(agent, priority, PayloadId(input), ms(now))
            .js()?
            .index())
    }

    /// The first seed's manual style: a task the caller runs and reports.
    #[wasm_bindgen(js_name = createTask)]
    pub fn create_task(&mut self, spec: &str, metadata: u32, now: f64) -> JsResult<u32> {
        let spec: TaskSpec = parse("task", spec)?;
        Ok(self
            .inner
            .create_task(spec, PayloadId(metadata), ms(now))
            .js()?
            .index())
    }

    #[wasm_bindgen(js_name = startTask)]
    pub fn start_task(&mut self, ix: u32, now: f64) -> JsResult<()> {
        let t = self.task_at(ix)?;
        self.inner.start_task(t, ms(now)).js()
    }

    #[wasm_bindgen(js_name = completeTask)]
    pub fn complete_task(&mut self, ix: u32, output: u32, now: f64) -> JsResult<()> {
        let t = self.task_at(ix)?;
        self.inner.complete_task(t, PayloadId(output), ms(now)).js()
    }

    #[wasm_bindgen(js_name = failTask)]
    pub fn fail_task(&mut self, ix: u32, message: &str, now: f64) -> JsResult<()> {
        let t = self.task_at(ix)?;
        self.inner.fail_task(t, message, ms(now)).js()
    }

    #[wasm_bindgen(js_name = cancelTask)]
    pub fn cancel_task(&mut self, ix: u32, reason: &str, now: f64) -> JsResult<()> {
        let t = self.task_at(ix)?;
        self.inner.cancel_task(t, reason, ms(now)).js()
    }

    /// Cancels every waiting task of an agent; returns how many.
    #[wasm_bindgen(js_name = cancelAgentTasks)]
    pub fn cancel_agent_tasks(&mut self, agent: u32, reason: &str, now: f64) -> JsResult<u32> {
        let id = self.agent_id(agent)?;
        let a = self.inner.agent(&id).js()?;
        Ok(self.inner.cancel_agent_tasks(a, reason, ms(now)).js()? as u32)
    }

    /// Stops the orchestrator cleanly: cancels everything unfinished, refuses new work.
    pub fn terminate(&mut self, reason: &str, now: f64) {
        self.inner.terminate(reason, ms(now));
    }

    /// An agent call succeeded; `false` if the call is stale (cancelled or already settled).
    pub fn complete(&mut self, call: u32, output: u32, now: f64) -> bool {
        self.inner.complete(call, PayloadId(output), ms(now))
    }

    /// An agent call succeeded with a value the driver keeps: one crossing instead of
    /// `allocPayload` then `complete`. Returns the payload slot taken for the value (the driver
    /// stores the value under it), or 4294967295 if the call is stale: then no slot is taken and
    /// the answer is journaled as ignored, as `complete` does.
    #[wasm_bindgen(js_name = completeValue)]
    pub fn complete_value(&mut self, call: u32, now: f64) -> u32 {
        if self.inner.state().call_task(call).is_none() {
            self.inner.complete(call, PayloadId::NONE, ms(now));
            return PayloadId::NONE.index();
        }
        let id = self.inner.payloads_mut().alloc_unresolved();
        self.inner.complete(call, id, ms(now));
        id.index()
    }

    /// An agent call failed with an error class (`agent`, `validation`, ...), and how long the
    /// agent asked to be left alone (`retryAfterMs`), if it said.
    pub fn fail(
        &mut self,
        call: u32,
        class: &str,
        message: &str,
        now: f64,
        retry_after_ms: Option<f64>,
    ) -> bool {
        let class = ErrorClass::parse(class).unwrap_or(ErrorClass::Internal);
        let mut error = crate::core::task::TaskError::new(class, message);
        // Infinity reads as "as long as you may" (the core caps it at an hour): the cast
        // saturates. NaN and non-positive values say nothing.
        error.retry_after_ms = retry_after_ms
            .filter(|ms| *ms > 0.0)
            .map(|ms| ms.ceil() as u64);
        self.inner.fail_with(call, error, ms(now))
    }

    /// Whether a call is still in flight (not cancelled or timed out since it was handed out).
    #[wasm_bindgen(js_name = callLive)]
    pub fn call_live(&self, call: u32) -> bool {
        self.inner.state().call_task(call).is_some()
    }

    #[wasm_bindgen(js_name = taskIx)]
    pub fn task_ix(&self, id: &str) -> JsResult<u32> {
        Ok(self.inner.task(id).js()?.index())
    }

    #[wasm_bindgen(js_name = taskId)]
    pub fn task_id(&self, ix: u32) -> JsResult<String> {
        let t = self.task_at(ix)?;
        Ok(self.inner.state().task_id(t).expect("checked"))
    }

    /// The task as JSON (without payloads: the driver adds input, output and metadata).
    #[wasm_bindgen(js_name = taskView)]
    pub fn task_view(&self, ix: u32) -> JsResult<String> {
        let t = self.task_at(ix)?;
        Ok(to_json(&crate::core::views::task_view(
            self.inner.state(),
            t,
        )))
    }

    #[wasm_bindgen(js_name = taskStatus)]
    pub fn task_status(&self, ix: u32) -> JsResult<String> {
        Ok(self
            .inner
            .state()
            .task(self.task_at(ix)?)
            .status
            .name()
            .to_owned())
    }

    #[wasm_bindgen(js_name = taskTerminal)]
    pub fn task_terminal(&self, ix: u32) -> JsResult<bool> {
        Ok(self
            .inner
            .state()
            .task(self.task_at(ix)?)
            .status
            .is_terminal())
    }

    /// Payload handles of a task: `[input, output, metadata]`.
    #[wasm_bindgen(js_name = taskPayloads)]
    pub fn task_payloads(&self, ix: u32) -> JsResult<Vec<u32>> {
        let t = self.inner.state().task(self.task_at(ix)?);
        Ok(vec![t.input.index(), t.output.index(), t.metadata.index()])
    }

    #[wasm_bindgen(js_name = taskCount)]
    pub fn task_count(&self) -> u32 {
        self.inner.state().tasks.len() as u32
    }

    /// For a workflow task, its dependencies as `[taskIndex, outputPayload, ...]` pairs.
    pub fn upstream(&self, ix: u32) -> JsResult<Vec<u32>> {
        let s = self.inner.state();
        let t = self.task_at(ix)?;
        let Some(w) = s.task(t).workflow.get() else {
            return Ok(vec![]);
        };
        let wf = &s.workflows[w.index() as usize];
        let mut out = vec![];
        for &d in &wf.deps[wf.local(t) as usize] {
            let dep = wf.task(d);
            out.push(dep.index());
            out.push(s.task(dep).output.index());
        }
        Ok(out)
    }

    /// A workflow task's id within its workflow (`b` for `research/b`).
    #[wasm_bindgen(js_name = localId)]
    pub fn local_id(&self, ix: u32) -> JsResult<String> {
        let s = self.inner.state();
        let t = self.task_at(ix)?;
        Ok(match s.task(t).workflow.get() {
            Some(w) => {
                let wf = &s.workflows[w.index() as usize];
                wf.local_ids[wf.local(t) as usize].to_string()
            }
            None => s.task_id(t).expect("checked"),
        })
    }

    /// Submits a workflow from its spec's JSON; `payloads` holds `[input, metadata]` per task.
    #[wasm_bindgen(js_name = submitWorkflow)]
    pub fn submit_workflow(&mut self, spec: &str, payloads: Vec<u32>, now: f64) -> JsResult<u32> {
        let spec: WorkflowSpec = parse("workflow", spec)?;
        if payloads.len() != spec.tasks.len() * 2 {
            return Err(coded(
                "invalid_argument",
                "payloads must hold [input, metadata] for each task",
            ));
        }
        let pairs: Vec<_> = payloads
            .chunks(2)
            .map(|p| (PayloadId(p[0]), PayloadId(p[1])))
            .collect();
        Ok(self
            .inner
            .submit_workflow(spec, &pairs, ms(now))
            .js()?
            .index())
    }

    /// The hot path for plain workflows (see `Orchestrator::submit_workflow_plain`): `header` is
    /// JSON `{ id?, name?, failurePolicy? }`, `ids` the task ids joined by `\n`, `payloads` each
    /// task's input and metadata ids. The arrays are taken, not borrowed, so that they are freed
    /// before the workflow's state is built, which can then reuse their memory.
    #[wasm_bindgen(js_name = submitWorkflowPlain)]
    #[allow(clippy::too_many_arguments)]
    pub fn submit_workflow_plain(
        &mut self,
        header: &str,
        ids: String,
        agents: Vec<u32>,
        priorities: Vec<u32>,
        dep_offsets: Vec<u32>,
        deps: Vec<u32>,
        payloads: Vec<u32>,
        now: f64,
    ) -> JsResult<u32> {
        let h = WorkflowHeader::parse(header)?;
        let tasks = PlainTasks {
            ids: &ids,
            agents: &agents,
            priorities: &priorities,
            dep_offsets: &dep_offsets,
            deps: &deps,
            payloads: &payloads,
        };
        let planned = (self.inner).plan_workflow_plain(h.id, h.name, h.failure_policy, tasks);
        drop((ids, agents, priorities, dep_offsets, deps, payloads));
        let w = self.inner.commit_workflow(planned.js()?, ms(now));
        Ok(w.js()?.index())
    }

    /// A plain workflow's ids and dependencies, checked once for many submissions
    /// (`submitWorkflowShaped`); a problem found is reported by each submission, as
    /// `submitWorkflowPlain` would report it.
    #[wasm_bindgen(js_name = compileShape)]
    pub fn compile_shape(ids: &str, dep_offsets: Vec<u32>, deps: Vec<u32>) -> WorkflowShape {
        WorkflowShape(PlainShape::new(ids, &dep_offsets, &deps))
    }

    /// `submitWorkflowPlain` with the ids and dependencies of a [`WorkflowShape`].
    #[wasm_bindgen(js_name = submitWorkflowShaped)]
    pub fn submit_workflow_shaped(
        &mut self,
        header: &str,
        shape: &WorkflowShape,
        agents: Vec<u32>,
        priorities: Vec<u32>,
        payloads: Vec<u32>,
        now: f64,
    ) -> JsResult<u32> {
        let h = WorkflowHeader::parse(header)?;
        let each = EachTask {
            agents: &agents,
            priorities: &priorities,
            payloads: &payloads,
        };
        let planned =
            (self.inner).plan_workflow_shaped(h.id, h.name, h.failure_policy, &shape.0, each);
        drop((agents, priorities, payloads));
        let w = self.inner.commit_workflow(planned.js()?, ms(now));
        Ok(w.js()?.index())
    }

    #[wasm_bindgen(js_name = cancelWorkflow)]
    pub fn cancel_workflow(&mut self, ix: u32, reason: &str, now: f64) -> JsResult<()> {
        let w = self.workflow_at(ix)?;
        self.inner.cancel_workflow(w, reason, ms(now)).js()
    }

    #[wasm_bindgen(js_name = workflowId)]
    pub fn workflow_id(&self, ix: u32) -> JsResult<String> {
        let w = self.workflow_at(ix)?;
        Ok(self.inner.state().workflows[w.index() as usize].id.clone())
    }

    #[wasm_bindgen(js_name = workflowIx)]
    pub fn workflow_ix(&self, id: &str) -> JsResult<u32> {
        Ok(self.inner.workflow(id).js()?.index())
    }

    /// The workflow as JSON (without outputs: the driver adds them).
    #[wasm_bindgen(js_name = workflowView)]
    pub fn workflow_view(&self, ix: u32) -> JsResult<String> {
        let w = self.workflow_at(ix)?;
        Ok(to_json(&crate::core::views::workflow_view(
            self.inner.state(),
            w,
        )))
    }

    /// The workflow without its tasks, as JSON: the cheap part of a finished run's result.
    #[wasm_bindgen(js_name = workflowHead)]
    pub fn workflow_head(&self, ix: u32) -> JsResult<String> {
        let w = self.workflow_at(ix)?;
        Ok(to_json(&crate::core::views::workflow_head(
            self.inner.state(),
            w,
        )))
    }

    /// The task ids within the workflow, in its order, joined by `\n` (ids hold no control
    /// characters): one string instead of one per task.
    #[wasm_bindgen(js_name = workflowLocalIds)]
    pub fn workflow_local_ids(&self, ix: u32) -> JsResult<String> {
        let wf = &self.inner.state().workflows[self.workflow_at(ix)?.index() as usize];
        Ok(wf.local_ids.joined().to_owned())
    }

    /// Each task's status in the workflow's order, as its index in `TaskStatus::ALL` (a cheap
    /// read for views that redraw often).
    #[wasm_bindgen(js_name = workflowStatusCodes)]
    pub fn workflow_status_codes(&self, ix: u32) -> JsResult<Vec<u8>> {
        let s = self.inner.state();
        let wf = &s.workflows[self.workflow_at(ix)?.index() as usize];
        Ok(wf
            .tasks()
            .map(|t| {
                let st = s.task(t).status;
                crate::core::task::TaskStatus::ALL
                    .iter()
                    .position(|&x| x == st)
                    .expect("every status is in ALL") as u8
            })
            .collect())
    }

    /// What a workflow's result reads, in one crossing and one copy (each array handed to JS is
    /// a buffer of its own, and a run's result took three): `n`, each task's status code (as
    /// `workflowStatusCodes`), each task's output payload, then the shape: each task's agent
    /// index, `n + 1` offsets into the dependency list that follows (local indices), so that
    /// `deps(i) = list[off[i]..off[i + 1]]`.
    #[wasm_bindgen(js_name = workflowResult)]
    pub fn workflow_result(&self, ix: u32) -> JsResult<Vec<u32>> {
        let codes = self.workflow_status_codes(ix)?;
        let s = self.inner.state();
        let wf = &s.workflows[self.workflow_at(ix)?.index() as usize];
        let n = wf.len() as usize;
        let mut out = Vec::with_capacity(1 + 4 * n + 1 + wf.deps.items().len());
        out.push(n as u32);
        out.extend(codes.iter().map(|&c| c as u32));
        out.extend(wf.tasks().map(|t| s.task(t).output.index()));
        out.extend(wf.tasks().map(|t| s.task(t).agent.index()));
        let mut off = 0;
        out.push(0);
        for d in wf.deps.iter() {
            off += d.len() as u32;
            out.push(off);
        }
        out.extend_from_slice(wf.deps.items());
        Ok(out)
    }

    #[wasm_bindgen(js_name = workflowDone)]
    pub fn workflow_done(&self, ix: u32) -> JsResult<bool> {
        let w = self.workflow_at(ix)?;
        Ok(self.inner.state().workflows[w.index() as usize].status
            != crate::core::workflow::WorkflowStatus::Running)
    }

    /// Task views matching a filter (`{ status?, agent?, workflow?, offset?, limit? }`), as JSON.
    #[wasm_bindgen(js_name = taskList)]
    pub fn task_list(&self, filter: &str) -> JsResult<String> {
        let f: crate::core::views::TaskFilter = parse("task filter", filter)?;
        Ok(to_json(&crate::core::views::task_list(
            self.inner.state(),
            &f,
        )))
    }

    /// Every workflow's summary, as JSON.
    #[wasm_bindgen(js_name = workflowList)]
    pub fn workflow_list(&self) -> String {
        to_json(&crate::core::views::workflow_list(self.inner.state()))
    }
}
