//! The driver inside the Durable Object: it owns the core, carries out its effects (call an
//! agent, write storage, set the alarm, push events to streams) and feeds the outcomes back.
//! It holds no orchestration rule: retries, timeouts, routing and recovery are the core's.

use super::agents::{self, Binding, Call};
use super::storage::{Store, SNAPSHOT_EVERY_EVENTS, SNAPSHOT_EVERY_JOURNAL_BYTES};
use crate::core::ids::{AgentIx, PayloadId, TaskIx};
use crate::core::orchestrator::{Effect, Orchestrator};
use crate::core::task::ErrorClass;
use crate::core::Options;
use futures_channel::{mpsc, oneshot};
use serde_json::json;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use worker::{console_error, Date, State};

/// How long an agent call may take before the driver gives up on it (the core's own `timeoutMs`
/// policies are usually shorter and classify the attempt as `timeout`).
pub const CALL_TIMEOUT_MS: u64 = 300_000;
/// While calls are in flight the alarm is never further away than this: if the object is
/// evicted or the process dies, the alarm brings it back to re-issue them.
pub const WATCHDOG_MS: u64 = 20_000;
/// Journal records kept in memory; older ones are in storage (or covered by a snapshot).
pub const JOURNAL_ROWS_IN_MEMORY_MAX: u32 = 20_000;
/// The JSON bytes of payloads kept in memory (and so in each snapshot). Beyond it, those of the
/// oldest finished work are released (they read `{"$released": ...}`): an object runs in 128 MB.
pub const PAYLOADS_KEPT_BYTES_MAX: usize = 16 << 20;
/// Finished work keeps its payloads this long (for a client polling for a result), unless the
/// payloads hold twice `PAYLOADS_KEPT_BYTES_MAX` even so.
pub const PAYLOADS_GRACE_MS: u64 = 60_000;

pub type Shared = Rc<RefCell<Runtime>>;

pub struct Runtime {
    pub core: Orchestrator,
    pub store: Store,
    state: Rc<State>,
    saved: u64,
    since_snapshot: u64,
    /// Journal bytes written since the last snapshot (see `SNAPSHOT_EVERY_JOURNAL_BYTES`).
    since_snapshot_bytes: usize,
    /// The last snapshot's size (0: none written since the object started).
    snapshot_bytes: usize,
    pub bindings: BTreeMap<String, Binding>,
    waiters: BTreeMap<u32, Vec<oneshot::Sender<()>>>,
    subscribers: Vec<Subscriber>,
    alarm_at: Option<u64>,
    pub started_at: u64,
    pub calls_started: u64,
    /// The HTTP calls in flight, to abort when the core gives one up (its attempt timed out, its
    /// task was cancelled): an endpoint is not left working on an attempt nobody waits for, or
    /// holding a connection until the 5-minute cap.
    aborts: BTreeMap<u32, worker::AbortController>,
    /// The object's id (one per namespace, the same after a restart): the idempotency keys'
    /// prefix, since task ids (`task-1`) repeat from namespace to namespace.
    object: String,
    /// The payload bytes and the time of the last release (see `release_payloads`).
    release_floor: (usize, u64),
    /// A snapshot taken by request (`POST /snapshots`) and its seq: the next write stores it, so
    /// it can be fetched (`GET /snapshots/{id}`) and the journal before it is pruned.
    pub requested_snapshot: Option<(u64, String)>,
}

pub fn now() -> u64 {
    Date::now().as_millis()
}

/// Loads the object's state (latest snapshot plus the journal after it), or starts a new run,
/// and issues again the calls that were in flight when it last stopped.
pub fn load(state: Rc<State>) -> worker::Result<Shared> {
    let store = Store::open(state.storage().sql())?;
    let loaded = store.load()?;
    let t = now();
    let core = match &loaded.snapshot {
        Some(snapshot) => Orchestrator::load(snapshot, &loaded.journal),
        None if !loaded.journal.trim().is_empty() => Orchestrator::replay(&loaded.journal, None),
        None => {
            let options = Options {
                journal_rows_max: JOURNAL_ROWS_IN_MEMORY_MAX,
                // Listed as DESIGN's "every N events" snapshots, at the storage's own pace.
                snapshot_every_events: Some(SNAPSHOT_EVERY_EVENTS as u32),
                ..Options::default()
            };
            let seed = getrandom::u64().map_err(|e| worker::Error::RustError(e.to_string()))?
                & crate::core::SEED_MAX;
            Orchestrator::new(seed, options, t)
        }
    }
    .map_err(|e| worker::Error::RustError(format!("the stored state does not load: {e}")))?;
    let bindings = store
        .bindings()?
        .into_iter()
        .filter_map(|(id, b)| serde_json::from_str(&b).ok().map(|b| (id, b)))
        .collect();
    let saved = if loaded.snapshot.is_none() && loaded.journal.trim().is_empty() {
        0
    } else {
        core.state().seq
    };
    let object = state.id().to_string();
    let rt = Runtime {
        core,
        store,
        state,
        saved,
        since_snapshot: loaded.lines,
        since_snapshot_bytes: loaded.journal.len(),
        snapshot_bytes: 0,
        bindings,
        waiters: BTreeMap::new(),
        subscribers: Vec::new(),
        alarm_at: None,
        started_at: t,
        calls_started: 0,
        aborts: BTreeMap::new(),
        object,
        release_floor: (0, 0),
        requested_snapshot: None,
    };
    let shared = Rc::new(RefCell::new(rt));
    shared.borrow_mut().core.reissue_in_flight(t);
    pump(&shared);
    Ok(shared)
}

/// An open event stream, and the topics it asked for (`task.*`; all when `None`).
struct Subscriber {
    tx: mpsc::UnboundedSender<String>,
    topics: Option<Vec<String>>,
    /// The seq it asked to follow from: records up to it are not sent (a client may ask for an
    /// `after` beyond the journal's end, resuming against a newer copy, say).
    after: u64,
}

/// Server-Sent Events frames of journal lines after seq `after`, those whose type matches one
/// of `topics` only.
fn frames(lines: &str, topics: Option<&[String]>, after: u64) -> String {
    let mut out = String::new();
    for line in lines.lines().filter(|l| !l.is_empty()) {
        let seq = crate::core::replay_check::peek_seq(line).unwrap_or(0);
        if seq <= after {
            continue;
        }
        if let Some(topics) = topics {
            let topic = line
                .split_once("\"type\":\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map_or("", |(t, _)| t);
            if !topics
                .iter()
                .any(|p| crate::core::event::topic_matches(p, topic))
            {
                continue;
            }
        }
        out.push_str(&format!("id: {seq}\ndata: {line}\n\n"));
    }
    out
}

struct Pending {
    call: u32,
    binding: Option<Binding>,
    agent: String,
    task_id: String,
    key: String,
    attempt: u32,
    input: String,
    upstream: String,
    signal: Option<worker::AbortSignal>,
}

impl Runtime {
    fn prepare(
        &self,
        call: u32,
        task: TaskIx,
        agent: AgentIx,
        attempt: u32,
        input: PayloadId,
    ) -> Pending {
        let s = self.core.state();
        let agent_id = s.agent(agent).id.clone();
        let task_id = s.task_id(task).unwrap_or_default();
        let payloads = self.core.payloads();
        let raw = |p: PayloadId| {
            payloads
                .get(p)
                .map_or_else(|| "null".to_owned(), |r| r.get().to_owned())
        };
        let mut upstream = serde_json::Map::new();
        if let Some(w) = s.task(task).workflow.get() {
            let wf = &s.workflows[w.index() as usize];
            for &d in &wf.deps[wf.local(task) as usize] {
                let out = raw(s.task(wf.task(d)).output);
                let value = serde_json::from_str(&out).unwrap_or(serde_json::Value::Null);
                upstream.insert(wf.local_ids[d as usize].to_string(), value);
            }
        }
        Pending {
            call,
            binding: self.bindings.get(&agent_id).cloned(),
            agent: agent_id,
            key: format!("{}:{task_id}", self.object),
            task_id,
            attempt,
            input: raw(input),
            upstream: serde_json::Value::Object(upstream).to_string(),
            signal: None,
        }
    }

    /// Writes what changed since the last write: journal lines, or a snapshot every
    /// `SNAPSHOT_EVERY_EVENTS` events once as many journal bytes as the last snapshot's have
    /// followed it (the core's `store_snapshot_due`), or every `SNAPSHOT_EVERY_JOURNAL_BYTES`
    /// bytes of journal (or when lines are no longer in memory).
    fn persist(&mut self) -> Option<String> {
        let seq = self.core.state().seq;
        if seq <= self.saved {
            return None;
        }
        let fresh = seq - self.saved;
        let lines = self.core.journal_json(self.saved).ok();
        // One requested at this very seq is stored as it was taken (with its id).
        let requested = (self.requested_snapshot.take()).filter(|(at, _)| *at == seq);
        let bytes = lines.as_ref().map_or(0, String::len);
        let due = crate::core::snapshot::store_snapshot_due(
            self.since_snapshot + fresh,
            SNAPSHOT_EVERY_EVENTS,
            (self.since_snapshot_bytes + bytes) as u64,
            self.snapshot_bytes as u64,
        );
        let result = if self.core.journal_first_seq() > self.saved + 1
            || due
            || self.since_snapshot_bytes + bytes >= SNAPSHOT_EVERY_JOURNAL_BYTES
            || requested.is_some()
        {
            self.since_snapshot = 0;
            self.since_snapshot_bytes = 0;
            let text = match requested {
                Some((_, text)) => Ok(text),
                None => self
                    .core
                    .snapshot_json(&format!("storage-{seq}"))
                    .map_err(|e| worker::Error::RustError(e.to_string())),
            };
            if let Ok(t) = &text {
                self.snapshot_bytes = t.len();
            }
            text.and_then(|text| self.store.save_snapshot(seq, &text))
        } else {
            self.since_snapshot += fresh;
            self.since_snapshot_bytes += bytes;
            match &lines {
                Some(l) => self.store.append(l),
                None => Err(worker::Error::RustError(
                    "the journal could not be written".into(),
                )),
            }
        };
        match result {
            Ok(()) => self.saved = seq,
            Err(e) => {
                // Nothing after the hole may be appended: the next write is a whole snapshot.
                console_error!("baton: writing the journal failed (a snapshot is tried next): {e}");
                self.since_snapshot = SNAPSHOT_EVERY_EVENTS;
                self.snapshot_bytes = 0;
            }
        }
        lines
    }

    fn publish(&mut self, lines: &str) {
        if self.subscribers.is_empty() {
            return;
        }
        let all = frames(lines, None, 0);
        let seq_of = |l: Option<&str>| l.and_then(|l| crate::core::replay_check::peek_seq(l).ok());
        let first = seq_of(lines.lines().next());
        let last = seq_of(lines.lines().rev().find(|l| !l.is_empty()));
        self.subscribers.retain_mut(|s| {
            let frame = match &s.topics {
                None if first.is_some_and(|f| f > s.after) => all.clone(),
                t => frames(lines, t.as_deref(), s.after),
            };
            // Lines written again after a failed write are not sent twice.
            s.after = s.after.max(last.unwrap_or(0));
            // A closed stream goes now, not at the next record its topics match.
            !s.tx.is_closed() && (frame.is_empty() || s.tx.unbounded_send(frame).is_ok())
        });
    }

    /// Releases payloads of finished work beyond [`PAYLOADS_KEPT_BYTES_MAX`]. What cannot be
    /// released (sessions, running workflows, a schedule's input) can hold more than that: then
    /// the tasks are scanned again only once the payloads have grown by a quarter of it, or a
    /// minute has passed (work leaving its grace period).
    fn release_payloads(&mut self, t: u64) {
        let bytes = self.core.payloads().bytes();
        // Grown by a quarter since, or past twice the limit (where the grace no longer holds);
        // always by an eighth at least: a release past twice the limit stops at it, and every
        // pump would otherwise scan every task again.
        let (floor, max) = (self.release_floor.0, PAYLOADS_KEPT_BYTES_MAX);
        let next = (floor + max / 4).min(2 * max).max(floor + max / 8);
        let grown = bytes > next;
        if bytes <= PAYLOADS_KEPT_BYTES_MAX || !(grown || t >= self.release_floor.1 + 60_000) {
            return;
        }
        self.core
            .release_finished_payloads(PAYLOADS_KEPT_BYTES_MAX, t, PAYLOADS_GRACE_MS);
        self.release_floor = (self.core.payloads().bytes(), t);
    }

    /// The time the alarm should ring: the core's next deadline, or the watchdog while calls run.
    fn wanted_alarm(&mut self, t: u64) -> Option<u64> {
        let deadline = self.core.next_deadline();
        let in_flight = !self.core.state().derived.calls.is_empty();
        let watchdog = in_flight.then_some(t + WATCHDOG_MS);
        match (deadline, watchdog) {
            (Some(d), Some(w)) => Some(d.min(w)),
            (d, w) => d.or(w),
        }
    }

    /// The last seq written to storage.
    pub fn saved_seq(&self) -> u64 {
        self.saved
    }

    /// A stream of events after `after` (Server-Sent Events frames), live from then on. Records
    /// the object no longer holds (before its last snapshot since a restart, or past the journal
    /// rows kept in memory) cannot be sent: a `gap` event says which, so that a client resuming
    /// from an old seq knows to read the state again rather than miss them unawares.
    pub fn subscribe(
        &mut self,
        after: u64,
        topics: Option<Vec<String>>,
    ) -> mpsc::UnboundedReceiver<String> {
        let (tx, rx) = mpsc::unbounded();
        let backlog = self.core.journal_json(after).unwrap_or_default();
        let mut frame = String::from(": baton events\n\n");
        let held_from = match self.core.journal_records().next() {
            Some(first) => first.seq,
            None => self.core.state().seq + 1,
        };
        if after.saturating_add(1) < held_from {
            let gap = json!({
                "after": after, "next": held_from,
                "message": format!("records {} to {} are no longer held; read the state (status, tasks, workflows) and follow from {held_from}", after + 1, held_from - 1),
            });
            frame.push_str(&format!("event: gap\ndata: {gap}\n\n"));
        }
        let end = self.core.state().seq;
        if after > end {
            // Beyond the journal's end: seqs the client holds may be numbered again (records
            // published before a crash and never stored), so it is told.
            let gap = json!({
                "after": after, "next": end + 1,
                "message": format!("seq {after} is beyond this journal's end ({end}): read the state (status, tasks, workflows) and follow from {}", end + 1),
            });
            frame.push_str(&format!("event: gap\ndata: {gap}\n\n"));
        }
        frame.push_str(&frames(&backlog, topics.as_deref(), after));
        let _ = tx.unbounded_send(frame);
        // Live from the journal's end: what the backlog sent is not sent again (the next write
        // may repeat records), and a client that asked from beyond the end was told to follow
        // from there (keeping its seq would drop every record up to it, silently).
        let after = end;
        self.subscribers.push(Subscriber { tx, topics, after });
        rx
    }

    /// Resolves once the task is terminal.
    pub fn wait(&mut self, task: TaskIx) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if self.core.state().task(task).status.is_terminal() {
            let _ = tx.send(());
        } else {
            let list = self.waiters.entry(task.index()).or_default();
            list.retain(|w| !w.is_canceled());
            list.push(tx);
        }
        rx
    }
}

/// Carries out the core's effects until it has none left, then writes storage, pushes events and
/// sets the alarm. Agent calls run as their own futures and call `pump` again when they end.
pub fn pump(shared: &Shared) {
    let mut calls = Vec::new();
    let alarm;
    let state;
    {
        let mut rt = shared.borrow_mut();
        while let Some(effect) = rt.core.poll_effect() {
            match effect {
                Effect::Invoke {
                    call,
                    task,
                    agent,
                    attempt,
                    input,
                } => {
                    let mut p = rt.prepare(call, task, agent, attempt, input);
                    // Registered now, so that an abort in this same step finds it.
                    let controller = worker::AbortController::default();
                    p.signal = Some(controller.signal());
                    rt.aborts.insert(call, controller);
                    calls.push(p);
                }
                Effect::TaskSettled { task } => {
                    for w in rt.waiters.remove(&task.index()).unwrap_or_default() {
                        let _ = w.send(());
                    }
                }
                // The call's answer, if it still comes, is recorded and ignored by the core.
                Effect::Abort { call, .. } => {
                    if let Some(c) = rt.aborts.remove(&call) {
                        c.abort();
                    }
                }
                _ => {}
            }
        }
        if let Some(lines) = rt.persist() {
            rt.publish(&lines);
        }
        // Only once every record is in storage: the released payloads are gone from memory
        // and from the snapshots written after.
        if rt.saved == rt.core.state().seq {
            rt.release_payloads(now());
        }
        rt.calls_started += calls.len() as u64;
        let wanted = rt.wanted_alarm(now());
        alarm = (wanted != rt.alarm_at).then_some(wanted);
        if let Some(w) = alarm {
            rt.alarm_at = w;
        }
        state = rt.state.clone();
    }
    if let Some(Some(at)) = alarm {
        let st = state.clone();
        state.wait_until(async move {
            // An i64 would be an offset: the alarm takes the absolute time as a Date.
            let when = worker::ScheduledTime::new(js_sys::Date::new(
                &wasm_bindgen::JsValue::from_f64(at as f64),
            ));
            if let Err(e) = st.storage().set_alarm(when).await {
                console_error!("baton: setting the alarm failed: {e}");
            }
        });
    }
    // `wait_until` keeps the object alive while its agent calls run.
    for p in calls {
        state.wait_until(run_call(shared.clone(), p));
    }
}

async fn run_call(shared: Shared, p: Pending) {
    let outcome = match &p.binding {
        None => Err(agents::failure(
            "internal",
            format!(
                "agent '{}' has no endpoint, JS function or demo behind it",
                p.agent
            ),
        )),
        Some(binding) => {
            let input = serde_json::value::RawValue::from_string(p.input.clone())
                .expect("payloads are JSON");
            let upstream = serde_json::value::RawValue::from_string(p.upstream.clone())
                .expect("built as JSON");
            let call = Call {
                task_id: &p.task_id,
                attempt: p.attempt,
                idempotency_key: &p.key,
                input: &input,
                upstream: &upstream,
            };
            let signal = p.signal.clone().expect("set when the call was prepared");
            let bytes_max = shared.borrow().core.state().options.payload_bytes_max as usize;
            agents::invoke(binding, &call, CALL_TIMEOUT_MS, bytes_max, &signal).await
        }
    };
    if let Some(c) = shared.borrow_mut().aborts.remove(&p.call) {
        if outcome.is_err() {
            c.abort(); // the 5-minute cap, or an error before the answer was read
        }
    }
    {
        let mut rt = shared.borrow_mut();
        let t = now();
        match outcome {
            Ok(json) => match rt.core.payloads_mut().alloc_json(&json) {
                Ok(id) => {
                    rt.core.complete(p.call, id, t);
                }
                Err(e) => {
                    rt.core.fail(
                        p.call,
                        ErrorClass::Validation,
                        &format!("the answer could not be recorded: {e}"),
                        t,
                    );
                }
            },
            Err(f) => {
                let class = ErrorClass::parse(f.class).unwrap_or(ErrorClass::Agent);
                let mut error = crate::core::task::TaskError::new(class, f.message);
                error.retry_after_ms = f.retry_after_ms;
                rt.core.fail_with(p.call, error, t);
            }
        }
    }
    pump(&shared);
}

/// The alarm rang (possibly early, possibly twice: alarms are at-least-once). Whatever is due
/// fires; anything else waits for the next alarm.
pub fn on_alarm(shared: &Shared) {
    {
        let mut rt = shared.borrow_mut();
        rt.alarm_at = None;
        rt.core.handle_timeout(now());
    }
    pump(shared);
}
