//! The `Core` class: construction, effects, time, journal and snapshots.

use super::interop::{coded, ms, parse, to_json, IntoJs, JsResult};
use crate::core::{Effect, Options, Orchestrator, SEED_MAX};
use sha2::{Digest, Sha256};
use wasm_bindgen::prelude::*;

/// The deterministic core, for the JS driver. Not meant to be used directly: import
/// `Orchestrator` from the package instead.
#[wasm_bindgen]
pub struct Core {
    pub(crate) inner: Orchestrator,
    /// The words of the last `pollMany`, read by the driver straight from wasm memory.
    effect_words: Vec<u32>,
}

/// Effect kinds in `pollMany()`'s words (js/driver.js has the same numbers).
const INVOKE: u32 = 1;
const ABORT: u32 = 2;
const TASK_SETTLED: u32 = 3;
const WORKFLOW_SETTLED: u32 = 4;
const TIMER_FIRED: u32 = 5;
const RUN_SETTLED: u32 = 6;
/// Set in an invoke's kind word when the core reads the answer as JSON.
const WANTS_JSON: u32 = 1 << 8;

impl Core {
    pub(crate) fn wrap(inner: Orchestrator) -> Core {
        Core {
            inner,
            effect_words: Vec::new(),
        }
    }
}

#[wasm_bindgen]
impl Core {
    /// A new core. `options` is JSON of the core's options (limits); `seed` is a safe integer,
    /// or `undefined` for one drawn from the platform's random source.
    pub fn create(options: &str, seed: Option<f64>, now: f64) -> JsResult<Core> {
        let options: Options = parse("options", options)?;
        let seed = match seed {
            Some(s) if s.is_finite() && s >= 0.0 && s.fract() == 0.0 && s <= SEED_MAX as f64 => {
                s as u64
            }
            Some(s) => {
                return Err(coded(
                    "invalid_argument",
                    &format!("invalid seed: {s} is not an integer in 0..=2^53-1"),
                ))
            }
            None => {
                let mut b = [0u8; 8];
                getrandom::fill(&mut b)
                    .map_err(|e| coded("internal", &format!("no random source: {e}")))?;
                u64::from_le_bytes(b) & SEED_MAX
            }
        };
        Ok(Core::wrap(Orchestrator::new(seed, options, ms(now)).js()?))
    }

    /// Rebuilds a core from `snapshot()`'s JSON; calls in flight are queued again.
    pub fn restore(snapshot: &str, now: f64) -> JsResult<Core> {
        Ok(Core::wrap(Orchestrator::restore(snapshot, ms(now)).js()?))
    }

    /// See [`crate::core::snapshot::store_snapshot_due`]: the store's rule, kept in the core.
    #[wasm_bindgen(js_name = storeSnapshotDue)]
    pub fn store_snapshot_due(
        &self,
        events_since: f64,
        every_events: f64,
        bytes_since: f64,
        last_snapshot_bytes: f64,
    ) -> bool {
        crate::core::snapshot::store_snapshot_due(
            events_since as u64,
            every_events as u64,
            bytes_since as u64,
            last_snapshot_bytes as u64,
        )
    }

    /// The exact state a snapshot plus the journal written after it describe (a store's
    /// contents). Calls in flight still count as running until `reissueInFlight`.
    pub fn load(snapshot: &str, journal_tail: &str, upto_seq: Option<f64>) -> JsResult<Core> {
        Ok(Core::wrap(
            Orchestrator::load_upto(snapshot, journal_tail, upto_seq.map(ms)).js()?,
        ))
    }

    /// Rebuilds a core from a journal (JSON Lines) without calling agents, up to `uptoSeq`.
    pub fn replay(journal: &str, upto_seq: Option<f64>) -> JsResult<Core> {
        Ok(Core::wrap(
            Orchestrator::replay(journal, upto_seq.map(ms)).js()?,
        ))
    }

    /// After a replay up to a seq, applies the rest of that record's command from `journal` (see
    /// `Orchestrator::finish_command`); returns the seq reached.
    /// Off for a read-only replay: it records no `snapshotEveryEvents` snapshot when polled.
    #[wasm_bindgen(js_name = decideEverySnapshots)]
    pub fn decide_every_snapshots(&mut self, on: bool) {
        self.inner.decide_every_snapshots(on);
    }

    #[wasm_bindgen(js_name = finishCommand)]
    pub fn finish_command(&mut self, journal: &str) -> JsResult<f64> {
        Ok(self.inner.finish_command(journal).js()? as f64)
    }

    /// Re-executes a journal against this build; returns the report as JSON.
    #[wasm_bindgen(js_name = verifyReplay)]
    pub fn verify_replay(journal: &str) -> JsResult<String> {
        Ok(to_json(&crate::core::verify::verify_replay(journal).js()?))
    }

    /// Makes a replayed state run on: calls that were in flight are issued again.
    #[wasm_bindgen(js_name = reissueInFlight)]
    pub fn reissue_in_flight(&mut self, now: f64) {
        self.inner.reissue_in_flight(ms(now));
    }

    pub fn seed(&self) -> f64 {
        self.inner.state().seed as f64
    }

    /// Whether the run was recorded on a virtual clock (the `virtualClock` option).
    #[wasm_bindgen(js_name = virtualClock)]
    pub fn virtual_clock(&self) -> bool {
        self.inner.state().options.virtual_clock
    }

    /// The keys of `options` (JSON, as `create` takes them) that differ from the run's recorded
    /// options.
    #[wasm_bindgen(js_name = optionsDiffering)]
    pub fn options_differing(&self, options: &str) -> JsResult<Vec<String>> {
        self.inner.state().options.differing(options).js()
    }

    #[wasm_bindgen(js_name = runId)]
    pub fn run_id(&self) -> String {
        self.inner.state().run_id.clone()
    }

    /// The seq of the last journal record.
    pub fn seq(&self) -> f64 {
        self.inner.state().seq as f64
    }

    /// The core's time: the latest `now` it has seen.
    pub fn now(&self) -> f64 {
        self.inner.state().now as f64
    }

    // ---- effects ----

    /// Whether each task's end comes as a task-settled effect: the driver turns it on while
    /// something waits on a single task, and off otherwise.
    #[wasm_bindgen(js_name = watchTaskEnds)]
    pub fn watch_task_ends(&mut self, on: bool) {
        self.inner.watch_task_ends(on);
    }

    /// Takes every pending effect at once into a buffer of 6 words each, `[kind, a, b, c, d, e]`,
    /// and returns how many words: the driver reads them from `Core.memory()` at `effectsPtr()`
    /// (valid until the next `pollMany`). One or two crossings per batch instead of one per field
    /// of each effect, and no array handed over: the driver's hot path.
    ///
    /// - invoke: call, task, agent, attempt, input; `kind` has `WANTS_JSON` set when the
    ///   core reads the answer itself (pattern tasks), so the driver gives it JSON at once;
    /// - abort: call, reason (1 cancelled, 2 timed out);
    /// - task settled: task; workflow settled: workflow; timer fired: timer; run settled: run.
    #[wasm_bindgen(js_name = pollMany)]
    pub fn poll_many(&mut self) -> u32 {
        let mut out = std::mem::take(&mut self.effect_words);
        out.clear();
        while let Some(e) = self.inner.poll_effect() {
            let words = match e {
                Effect::Invoke {
                    call,
                    task,
                    agent,
                    attempt,
                    input,
                } => {
                    let wants = self
                        .inner
                        .state()
                        .tasks
                        .get(task.usize())
                        .is_some_and(|t| t.run().is_some());
                    let kind = INVOKE | if wants { WANTS_JSON } else { 0 };
                    [
                        kind,
                        call,
                        task.index(),
                        agent.index(),
                        attempt,
                        input.index(),
                    ]
                }
                Effect::Abort { call, reason } => {
                    let r = match reason {
                        crate::core::AbortReason::Cancelled => 1,
                        crate::core::AbortReason::TimedOut => 2,
                    };
                    [ABORT, call, r, 0, 0, 0]
                }
                Effect::TaskSettled { task } => [TASK_SETTLED, task.index(), 0, 0, 0, 0],
                Effect::WorkflowSettled { workflow } => {
                    [WORKFLOW_SETTLED, workflow.index(), 0, 0, 0, 0]
                }
                Effect::TimerFired { timer } => [TIMER_FIRED, timer, 0, 0, 0, 0],
                Effect::RunSettled { run } => [RUN_SETTLED, run, 0, 0, 0, 0],
            };
            out.extend_from_slice(&words);
        }
        self.effect_words = out;
        self.effect_words.len() as u32
    }

    /// Where the words of the last `pollMany` are, as a byte offset into `Core.memory()`.
    #[wasm_bindgen(js_name = effectsPtr)]
    pub fn effects_ptr(&self) -> u32 {
        self.effect_words.as_ptr() as u32
    }

    /// The module's `WebAssembly.Memory`, through which the driver reads effects.
    pub fn memory() -> JsValue {
        wasm_bindgen::memory()
    }

    // ---- time ----

    #[wasm_bindgen(js_name = addTimer)]
    pub fn add_timer(&mut self, deadline: f64) -> u32 {
        self.inner.add_timer(ms(deadline))
    }

    #[wasm_bindgen(js_name = cancelTimer)]
    pub fn cancel_timer(&mut self, id: u32) -> bool {
        self.inner.cancel_timer(id)
    }

    /// The soonest deadline in ms, or -1 when no timer is set.
    #[wasm_bindgen(js_name = nextDeadline)]
    pub fn next_deadline(&mut self) -> f64 {
        self.inner.next_deadline().map_or(-1.0, |d| d as f64)
    }

    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, now: f64) {
        self.inner.handle_timeout(ms(now));
    }

    // ---- payloads ----

    /// A payload slot whose value the driver keeps; its JSON is asked for only when needed.
    #[wasm_bindgen(js_name = allocPayload)]
    pub fn alloc_payload(&mut self) -> u32 {
        self.inner.payloads_mut().alloc_unresolved().index()
    }

    /// `n` payload slots as `allocPayload` makes them, with consecutive ids; returns the first
    /// (one crossing for a whole workflow's inputs).
    #[wasm_bindgen(js_name = allocPayloads)]
    pub fn alloc_payloads(&mut self, n: u32) -> u32 {
        self.inner.payloads_mut().alloc_unresolved_many(n).index()
    }

    /// A payload slot filled with JSON now (4294967295 for `null`).
    #[wasm_bindgen(js_name = allocJson)]
    pub fn alloc_json(&mut self, json: &str) -> JsResult<u32> {
        Ok(self.inner.payloads_mut().alloc_json(json).js()?.index())
    }

    /// Slots the driver has not filled yet; fill each with `resolvePayload`.
    #[wasm_bindgen(js_name = takeUnresolved)]
    pub fn take_unresolved(&mut self) -> Vec<u32> {
        self.inner.payloads_mut().take_unresolved()
    }

    /// Fills a slot with its JSON (`""` for `undefined`).
    #[wasm_bindgen(js_name = resolvePayload)]
    pub fn resolve_payload(&mut self, id: u32, json: &str) -> JsResult<()> {
        self.inner
            .payloads_mut()
            .resolve(crate::core::ids::PayloadId(id), json)
            .js()
    }

    /// The JSON of a filled slot, or `undefined`.
    #[wasm_bindgen(js_name = payloadJson)]
    pub fn payload_json(&self, id: u32) -> Option<String> {
        self.inner
            .payloads()
            .get(crate::core::ids::PayloadId(id))
            .map(|r| r.get().to_owned())
    }

    // ---- events, journal, snapshots ----

    pub fn emit(&mut self, topic: &str, data: u32, now: f64) -> JsResult<()> {
        self.inner
            .emit_custom(topic, crate::core::ids::PayloadId(data), ms(now))
            .js()
    }

    pub fn subscribe(&mut self, pattern: &str) -> JsResult<u32> {
        self.inner.subscribe(pattern).js()
    }

    pub fn unsubscribe(&mut self, id: u32) -> bool {
        self.inner.unsubscribe(id)
    }

    /// Records after `afterSeq` that match a subscription: `[{subs, event}]` as JSON.
    pub fn deliveries(&self, after_seq: f64) -> JsResult<String> {
        self.inner.deliveries_json(ms(after_seq)).js()
    }

    /// The journal as JSON Lines, from after `afterSeq`.
    pub fn journal(&self, after_seq: f64) -> JsResult<String> {
        self.inner.journal_json(ms(after_seq)).js()
    }

    /// The SHA-256 (hex) of the whole journal text: equal digests, equal journals.
    #[wasm_bindgen(js_name = journalDigest)]
    pub fn journal_digest(&self) -> JsResult<String> {
        let text = self.inner.journal_json(0).js()?;
        Ok(Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }

    /// Takes a snapshot (recorded in the journal) and returns its JSON.
    pub fn snapshot(&mut self, now: f64) -> JsResult<String> {
        self.inner.snapshot(ms(now)).js()
    }

    /// A listed snapshot's whole state, rebuilt from the journal.
    #[wasm_bindgen(js_name = snapshotById)]
    pub fn snapshot_by_id(&self, id: &str) -> JsResult<String> {
        self.inner.snapshot_by_id(id).js()
    }

    /// The state as a snapshot document, recording nothing (what a store persists).
    #[wasm_bindgen(js_name = snapshotState)]
    pub fn snapshot_state(&self) -> JsResult<String> {
        self.inner.snapshot_json("store").js()
    }

    /// The seq of the oldest journal record still held in memory.
    #[wasm_bindgen(js_name = journalFirstSeq)]
    pub fn journal_first_seq(&self) -> f64 {
        self.inner.journal_first_seq() as f64
    }

    /// Snapshot summaries, newest first, as JSON.
    pub fn snapshots(&self, limit: u32) -> String {
        to_json(&self.inner.snapshots(limit as usize))
    }

    pub fn statistics(&self) -> String {
        to_json(&crate::core::views::statistics(self.inner.state()))
    }

    #[wasm_bindgen(js_name = agentsStatus)]
    pub fn agents_status(&self) -> String {
        to_json(&crate::core::views::agents_status(self.inner.state()))
    }
}
