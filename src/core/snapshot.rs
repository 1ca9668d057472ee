//! Snapshots: a versioned copy of the whole state plus its journal position. The state is a fold
//! of the journal, so a snapshot is a cache of that fold: restoring one and replaying the journal
//! after it gives the same state as replaying everything.

use crate::core::agent::AgentStatus;
use crate::core::state::State;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `format` field of every snapshot document.
pub const SNAPSHOT_FORMAT: &str = "baton.snapshot";
/// Bumped whenever the snapshot layout changes so that an older reader would misread it.
/// 2: a task's deadline and next-attempt time are one `due` field; an older build, which knew
/// them apart and ignores fields it does not know, would drop it (a retry never fires), so it
/// must refuse version 2 instead. Version 1 is still read ([`SNAPSHOT_VERSIONS_READ`]).
/// 3: an agent may be `removed`, its id taken by a later agent; an older build would ignore the
/// field and see the id twice, or list the removed agent.
pub const SNAPSHOT_VERSION: u32 = 3;
/// The versions this build restores.
pub const SNAPSHOT_VERSIONS_READ: std::ops::RangeInclusive<u32> = 1..=SNAPSHOT_VERSION;

/// What the list of recent snapshots shows about each one (the first seed's fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotSummary {
    pub id: String,
    /// `manual`, `workflow.completed`, `workflow.failed`, `workflow.cancelled`, `agent.error` or `every` (`snapshotEveryEvents`).
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The journal position the snapshot reflects: the seq of its own `snapshot.created` record.
    pub seq: u64,
    pub at: u64,
    /// Each agent's status, for the first [`SNAPSHOT_AGENTS_LISTED_MAX`] agents registered.
    pub agents_status: BTreeMap<String, AgentStatus>,
    /// Every agent, counted by status.
    #[serde(default)]
    pub agent_counts: BTreeMap<AgentStatus, u32>,
    pub task_count: u64,
    pub completed_count: u64,
}

/// Agents whose status a snapshot summary lists by name. A summary is in the snapshot's journal
/// record and in every later snapshot's state (up to `snapshotsKeptMax` of them): listing 10,000
/// agents would put 10,000 entries in each.
pub const SNAPSHOT_AGENTS_LISTED_MAX: usize = 100;

/// Whether a driver's store takes a snapshot now rather than the journal's lines: every
/// `every_events` events, once as many journal bytes as the last snapshot's have followed it. A
/// snapshot holds the whole state, which grows with the run; without the second condition a long
/// run's store writes would grow with the square of its length, not with the change.
pub fn store_snapshot_due(
    events_since: u64,
    every_events: u64,
    bytes_since: u64,
    last_snapshot_bytes: u64,
) -> bool {
    events_since >= every_events && bytes_since >= last_snapshot_bytes
}

/// A snapshot document, as `snapshot()` writes it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SnapshotOut<'a> {
    pub format: &'static str,
    pub version: u32,
    pub id: &'a str,
    pub seq: u64,
    pub at: u64,
    /// Written before the state, so that a restore sizes its vectors once (see [`sized_vec`]).
    pub counts: Counts,
    pub state: &'a State,
}

/// How many agents and tasks the state holds. The agents' count sizes their vector on restore;
/// tasks are kept in chunks ([`crate::core::chunked`]) that need no hint, and the count is
/// written for readers of the document.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct Counts {
    pub agents: u32,
    pub tasks: u32,
}

thread_local! {
    /// The counts of the snapshot being read, each taken by the vector it sizes.
    static COUNTS: std::cell::Cell<Counts> = const { std::cell::Cell::new(Counts { agents: 0, tasks: 0 }) };
}

/// Parses a snapshot document. Its `counts`, read before the state, size the state's largest
/// vectors (a vector grown by doubling copies itself and touches fresh memory each time), capped
/// by what the document's length could hold, so a wrong count costs nothing.
pub(crate) fn parse(snapshot: &str) -> serde_json::Result<SnapshotIn> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            COUNTS.with(|c| c.set(Counts::default()));
        }
    }
    let _reset = Reset;
    LENGTH_MAX.with(|m| m.set(snapshot.len()));
    serde_json::from_str(snapshot)
}

thread_local! {
    static LENGTH_MAX: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn remember_counts<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Counts, D::Error> {
    let counts = Counts::deserialize(d)?;
    COUNTS.with(|c| c.set(counts));
    Ok(counts)
}

/// A state's agents, sized by the snapshot's counts.
pub(crate) fn sized_agents<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    sized_vec(d, take_count(|c| &mut c.agents))
}

/// One of the counts being read, left at 0: each sizes one vector once.
fn take_count(which: impl FnOnce(&mut Counts) -> &mut u32) -> usize {
    COUNTS.with(|cell| {
        let mut counts = cell.get();
        let n = std::mem::take(which(&mut counts));
        cell.set(counts);
        n as usize
    })
}

fn sized_vec<'de, D, T>(d: D, count: usize) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Sized<T>(usize, std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Sized<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(self.0);
            while let Some(x) = seq.next_element()? {
                out.push(x);
            }
            Ok(out)
        }
    }
    // Every element takes at least a few bytes of JSON ("{}," for the smallest).
    let room = LENGTH_MAX.with(|m| m.get()) / 3;
    d.deserialize_seq(Sized(count.min(room), std::marker::PhantomData))
}

/// A snapshot document, as `restore()` reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SnapshotIn {
    pub format: String,
    pub version: u32,
    #[allow(dead_code)]
    pub id: String,
    pub seq: u64,
    #[allow(dead_code)]
    pub at: u64,
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "remember_counts")]
    pub counts: Counts,
    pub state: State,
}

/// Checks that a decoded state is internally consistent, so that a corrupt or hand-edited
/// snapshot is refused with an error instead of tripping an invariant later.
pub(crate) fn check(s: &State, payloads: usize) -> crate::core::Result<()> {
    use crate::core::ids::PayloadId;
    let bad = |reason: String| {
        Err(crate::core::Error::Decode {
            what: "snapshot",
            reason,
        })
    };
    let payload_ok = |p: PayloadId| p.is_none() || (p.index() as usize) < payloads;
    for (wix, w) in s.workflows.iter().enumerate() {
        let n = w.local_ids.len();
        let mine = Some(crate::core::ids::WorkflowIx(wix as u32));
        if w.deps.len() != n
            || w.dependents.len() != n
            || w.first.usize() + n > s.tasks.len()
            // Each task of its range is its own (so ranges do not overlap either).
            || (w.first.usize()..w.first.usize() + n).any(|t| s.tasks[t].workflow.get() != mine)
            || w.deps
                .iter()
                .chain(&w.dependents)
                .flatten()
                .any(|&d| d as usize >= n)
            || w.remaining as usize > n
        {
            return bad(format!("workflow '{}' is inconsistent", w.id));
        }
    }
    let agents = s.agents.len();
    if s.messages
        .iter()
        .any(|m| m.from.usize() >= agents || m.to.usize() >= agents || !payload_ok(m.payload))
        || s.tool_calls_open
            .values()
            .any(|c| c.agent.usize() >= agents || !s.tools.contains_key(&c.tool))
        || s.runs.iter().any(|r| {
            r.tasks
                .iter()
                .chain(r.pending.iter().map(|(t, _)| t))
                .any(|t| t.usize() >= s.tasks.len())
        })
        || s.jobs.iter().any(|j| !payload_ok(j.input))
        || s.tasks
            .iter()
            .any(|t| t.run().is_some_and(|r| r as usize >= s.runs.len()))
        || s.sessions
            .values()
            .flat_map(|x| &x.contracts)
            .any(|c| c.task.usize() >= s.tasks.len() || !payload_ok(c.payload))
    {
        return bad(
            "messages, tools, jobs, runs or contracts name something that does not exist".into(),
        );
    }
    let mut calls = Vec::new();
    for (i, t) in s.tasks.iter().enumerate() {
        let ok = t.agent.usize() < s.agents.len()
            && t.workflow.get().is_none_or(|w| {
                s.workflows.get(w.usize()).is_some_and(|wf| {
                    (wf.first.usize()..wf.first.usize() + wf.local_ids.len()).contains(&i)
                })
            })
            && payload_ok(t.input)
            && payload_ok(t.output)
            && payload_ok(t.metadata)
            && t.call < s.next_call.max(1)
            && (t.status == crate::core::task::TaskStatus::Running || t.call == 0);
        if !ok {
            return bad(format!("task {} is inconsistent", i + 1));
        }
        if t.call != 0 {
            calls.push(t.call);
        }
    }
    calls.sort_unstable();
    if let Some(w) = calls.windows(2).find(|w| w[0] == w[1]) {
        return bad(format!("call {} is held by two tasks", w[0]));
    }
    Ok(())
}

/// After the indexes are rebuilt: agents and workflows each have distinct ids (an index built
/// from a repeated id is shorter than the list).
pub(crate) fn check_ids(s: &State) -> crate::core::Result<()> {
    let repeated = |ids: Vec<&str>| {
        let mut seen = std::collections::BTreeSet::new();
        ids.into_iter()
            .find(|id| !seen.insert(*id))
            .map(str::to_owned)
    };
    let mut problem = None;
    let listed = || s.agents.iter().filter(|a| !a.removed);
    if s.derived.agent_index.len() != listed().count() {
        let id = repeated(listed().map(|a| a.id.as_str()).collect());
        problem = id.map(|id| format!("agent '{id}' appears twice"));
    } else if s.derived.workflow_index.len() != s.workflows.len() {
        let id = repeated(s.workflows.iter().map(|w| w.id.as_str()).collect());
        problem = id.map(|id| format!("workflow '{id}' is inconsistent"));
    }
    match problem {
        None => Ok(()),
        Some(reason) => Err(crate::core::Error::Decode {
            what: "snapshot",
            reason,
        }),
    }
}
