//! Checking a journal against this build of Baton.
//!
//! [`verify_replay`] re-executes a recorded run: it feeds a fresh orchestrator the recorded
//! *inputs* — commands, agents' answers, and the passage of time — and lets it make every
//! *decision* itself (what to queue, start, retry, skip, ...). Each record it produces must equal
//! the recorded one byte for byte. The first that differs is reported with its seq, the recorded
//! record and the one this build made: the way to learn whether a new version of Baton still
//! agrees with journals recorded by an old one.

use crate::core::event::{Event, Record};
use crate::core::ids::PayloadId;
use crate::core::orchestrator::{Orchestrator, START_REASON};
use crate::core::task::TaskSpec;
use crate::core::workflow::{ExecutionPattern, WorkflowSpec, WorkflowTaskSpec};
use crate::core::{Error, Result};
use serde::Serialize;

/// Where a re-executed journal first differs from the recorded one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Divergence {
    pub seq: u64,
    /// The recorded record (JSON), or `None` if this build made a record the journal lacks.
    pub expected: Option<String>,
    /// The record this build made (JSON), or `None` if it made none.
    pub actual: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    pub ok: bool,
    /// Records compared.
    pub records: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergence: Option<Divergence>,
}

/// Re-executes `journal` (JSON Lines from seq 1) and compares. Fails only if the journal cannot
/// be decoded; a disagreement is a report with `ok: false`.
pub fn verify_replay(journal: &str) -> Result<VerifyReport> {
    let lines: Vec<&str> = journal.lines().filter(|l| !l.trim().is_empty()).collect();
    let first = lines.first().ok_or_else(|| Error::Decode {
        what: "journal",
        reason: "it is empty".into(),
    })?;
    // A restored orchestrator holds only the records after its snapshot: say so, rather than
    // fail on the first task the tail names.
    let seq = crate::core::replay_check::peek_seq(first).unwrap_or(1);
    if seq != 1 {
        return Err(Error::invalid(
            "journal",
            format!("it starts at seq {seq}: verifying needs the whole journal, from orchestrator.started (an orchestrator restored from a snapshot holds only the records after it; its store has the rest)"),
        ));
    }
    // The reference decodes the recorded records (it applies them, deciding nothing).
    let mut reference = Orchestrator::replay(first, None)?;
    let started = reference
        .journal_records()
        .next()
        .expect("the first record")
        .clone();
    let Event::Started { seed, options, .. } = &started.event else {
        unreachable!("replay checked the first record");
    };
    let mut fresh = Orchestrator::new(*seed, (**options).clone(), started.at)?;
    let mut compared = 0;
    for (n, line) in lines.iter().enumerate() {
        if n > 0 {
            // A record written twice is read once, as replay reads it; another record under a
            // seq already read is refused, as replay refuses it.
            let seq = crate::core::replay_check::peek_seq(line).unwrap_or(u64::MAX);
            if seq <= reference.state().seq {
                if reference.holds_another(seq, line) {
                    return Err(Error::Decode {
                        what: "journal",
                        reason: format!("line {}: seq {seq} comes again with a different record (two histories in one journal)", n + 1),
                    });
                }
                continue;
            }
            reference.append_line(line).map_err(|e| match e {
                Error::Decode { reason, .. } => Error::Decode {
                    what: "journal",
                    reason: format!("line {}: {reason}", n + 1),
                },
                other => other,
            })?;
        }
        let recorded = reference
            .journal_records()
            .last()
            .expect("just appended")
            .clone();
        let expected = reference.record_json(&recorded)?;
        if fresh.state().seq < recorded.seq {
            let outcome = if let Some((agent, path, reason)) =
                walk_ahead(&recorded, &lines[n + 1..], &reference)
            {
                fresh.walk_as_recorded(agent, &path, &reason, recorded.at)
            } else if is_input(&recorded.event) {
                feed(&mut fresh, &recorded, &reference)
            } else {
                fresh.handle_timeout(recorded.at);
                Ok(())
            };
            // As a driver's poll after each command records them.
            fresh.record_due_snapshots();
            if let Err(e) = outcome {
                return Ok(diverged(
                    compared,
                    recorded.seq,
                    Some(expected),
                    None,
                    format!("the input was refused: {e}"),
                ));
            }
        }
        let Some(actual) = fresh
            .journal_records()
            .find(|r| r.seq == recorded.seq)
            .cloned()
        else {
            let message = "this build made no record where the journal has one".to_owned();
            return Ok(diverged(
                compared,
                recorded.seq,
                Some(expected),
                None,
                message,
            ));
        };
        let legacy = legacy_terminate(&recorded.event, &actual.event, fresh.state());
        let actual = fresh.record_json(&actual)?;
        if actual != expected && !legacy {
            return Ok(diverged(
                compared,
                recorded.seq,
                Some(expected),
                Some(actual),
                "the records differ".into(),
            ));
        }
        compared += 1;
    }
    let last = reference.state().seq;
    if let Some(extra) = fresh.journal_records().find(|r| r.seq > last).cloned() {
        let actual = fresh.record_json(&extra)?;
        return Ok(diverged(
            compared,
            extra.seq,
            None,
            Some(actual),
            "this build made a record the journal lacks".into(),
        ));
    }
    Ok(VerifyReport {
        ok: true,
        records: compared,
        divergence: None,
    })
}

/// A record an older build wrote otherwise, which this build takes as the same: a terminate
/// strategy's `orchestrator.terminated` before it said `auto`; a workflow ended by cancels
/// before it was `workflow.cancelled` (it was `workflow.failed`, and so was its snapshot's
/// reason); and a failed workflow whose culprit was a task listed before the failed one and
/// cancelled at the same time (the culprit is now the task that failed). `state` is the state
/// this build reached with the record it made.
fn legacy_terminate(recorded: &Event, made: &Event, state: &crate::core::state::State) -> bool {
    match (recorded, made) {
        (
            Event::Terminated {
                reason: a,
                auto: false,
            },
            Event::Terminated {
                reason: b,
                auto: true,
            },
        ) => a == b,
        (
            Event::WorkflowFailed {
                workflow: a,
                task: x,
                ..
            },
            Event::WorkflowCancelled {
                workflow: b,
                task: y,
            },
        ) => a == b && x == y,
        (
            Event::WorkflowFailed {
                workflow: a,
                task: x,
                policy: p,
            },
            Event::WorkflowFailed {
                workflow: b,
                policy: q,
                ..
            },
        ) => {
            let culprit = state.task(x.0);
            a == b
                && p == q
                && culprit.workflow.get() == Some(a.0)
                && culprit.status == crate::core::task::TaskStatus::Cancelled
        }
        // ... and the snapshot taken as it ended said so.
        (Event::SnapshotCreated { summary: old }, Event::SnapshotCreated { summary: new })
            if old.reason == "workflow.failed" && new.reason == "workflow.cancelled" =>
        {
            let mut new = new.clone();
            new.reason = old.reason.clone();
            **old == *new
        }
        _ => false,
    }
}

fn diverged(
    records: u64,
    seq: u64,
    expected: Option<String>,
    actual: Option<String>,
    why: String,
) -> VerifyReport {
    let message = format!("the journal diverges at seq {seq}: {why}");
    VerifyReport {
        ok: false,
        records,
        divergence: Some(Divergence {
            seq,
            expected,
            actual,
            message,
        }),
    }
}

/// Records a user or an agent caused; everything else Baton decides.
pub(crate) fn is_input(e: &Event) -> bool {
    match e {
        Event::AgentStatus { auto, .. }
        | Event::AgentError { auto, .. }
        | Event::TaskAttemptFailed { auto, .. }
        | Event::TaskFailed { auto, .. }
        | Event::TaskCancelled { auto, .. }
        | Event::Terminated { auto, .. } => !auto,
        Event::SnapshotCreated { summary } => summary.reason == "manual",
        // Pattern runs create their tasks themselves.
        Event::TaskCreated { extra, .. } => extra.as_ref().is_none_or(|x| x.run.is_none()),
        Event::TaskStarted { call, .. } => *call == 0,
        // A driver that restarted re-issued its calls in flight.
        Event::TaskRequeued { reason, .. } => reason == crate::core::orchestrator::REISSUED,
        Event::AgentRegistered { .. }
        | Event::AgentUpdated { .. }
        | Event::AgentRecovered { .. }
        | Event::AgentRemoved { .. }
        | Event::WorkflowSubmitted { .. }
        | Event::TaskCompleted { .. }
        | Event::CallIgnored { .. }
        | Event::TemplateDefined { .. }
        | Event::MessageSent { .. }
        | Event::MessageDelivered { .. }
        | Event::MessageAcknowledged { .. }
        | Event::ToolRegistered { .. }
        | Event::ToolsGranted { .. }
        | Event::ToolsRevoked { .. }
        | Event::ToolCalled { .. }
        | Event::ToolRefused { .. }
        | Event::ToolCompleted { .. }
        | Event::ToolFailed { .. }
        | Event::JobScheduled { .. }
        | Event::JobPaused { .. }
        | Event::JobResumed { .. }
        | Event::JobDeleted { .. }
        | Event::PatternStarted { .. }
        | Event::Custom { .. } => true,
        _ => false,
    }
}

/// Gives `fresh` the input that `rec` records, with payloads copied from `reference`.
fn feed(fresh: &mut Orchestrator, rec: &Record, reference: &Orchestrator) -> Result<()> {
    let at = rec.at;
    let copy = |fresh: &mut Orchestrator, p: PayloadId| -> Result<PayloadId> {
        match reference.payloads().get(p) {
            Some(raw) => fresh.payloads_mut().alloc_json(raw.get()),
            None => Ok(PayloadId::NONE),
        }
    };
    let s = reference.state();
    match &rec.event {
        Event::AgentRegistered { spec } => fresh.register_agent((**spec).clone(), at).map(|_| ()),
        Event::TaskRequeued { .. } => {
            // The run restarted here: its timers were rebuilt from the state (an order that
            // decides which of two timers due at the same ms fires first), then its calls in
            // flight were issued again.
            fresh.rebuild_timers();
            fresh.reissue_in_flight(at);
            Ok(())
        }
        Event::AgentUpdated { agent, update } => {
            fresh.update_agent(agent.0, (**update).clone(), at)
        }
        Event::AgentStatus {
            agent, to, reason, ..
        } => fresh.transition(agent.0, *to, reason, at),
        Event::AgentError { agent, message, .. } => fresh.report_error(agent.0, message, at),
        Event::AgentRecovered { agent } => fresh.recover_agent(agent.0, at),
        Event::AgentRemoved { agent } => fresh.remove_agent(agent.0, at),
        Event::TaskCreated {
            task,
            agent,
            name,
            priority,
            input,
            metadata,
            manual,
            policy,
            extra,
        } => {
            let p = policy.as_deref().cloned().unwrap_or_default();
            let x = extra.as_deref().cloned().unwrap_or_default();
            if let Some(session) = &x.compresses {
                // The intent it was given is in the input it recorded.
                let intent = reference
                    .payloads()
                    .get(*input)
                    .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
                    .and_then(|v| v.get("intent").and_then(|i| i.as_str()).map(str::to_owned));
                return fresh
                    .compress_session(session, Some(&s.agent(agent.0).id), intent.as_deref(), at)
                    .map(|_| ());
            }
            let spec = TaskSpec {
                id: task.custom_id.as_deref().map(str::to_owned),
                agent: if x.capability.is_some() {
                    String::new()
                } else {
                    s.agent(agent.0).id.clone()
                },
                capability: x.capability.as_deref().map(str::to_owned),
                session: x.session.as_deref().map(str::to_owned),
                name: name.as_deref().map(str::to_owned),
                priority: Some(*priority as u32),
                retry: p.retry,
                timeout_ms: p.timeout_ms,
                on_error: p.on_error,
                fallback: p.fallback,
            };
            let metadata = copy(fresh, *metadata)?;
            if *manual {
                fresh.create_task(spec, metadata, at).map(|_| ())
            } else {
                let input = copy(fresh, *input)?;
                fresh.submit(spec, input, metadata, at).map(|_| ())
            }
        }
        Event::WorkflowSubmitted { workflow } => {
            let mut payloads = Vec::with_capacity(workflow.tasks.len());
            let mut tasks = Vec::with_capacity(workflow.tasks.len());
            for (i, t) in workflow.tasks.iter().enumerate() {
                payloads.push((copy(fresh, t.input)?, copy(fresh, t.metadata)?));
                let p = t.policy().cloned().unwrap_or_default();
                tasks.push(WorkflowTaskSpec {
                    id: workflow.ids[i].to_string(),
                    agent: if t.capability().is_some() {
                        String::new()
                    } else {
                        s.agent(t.agent.0).id.clone()
                    },
                    capability: t.capability().map(str::to_owned),
                    name: t.name().map(str::to_owned),
                    priority: Some(t.priority as u32),
                    depends_on: workflow.deps[i]
                        .iter()
                        .map(|&d| workflow.ids[d as usize].to_string())
                        .collect(),
                    retry: p.retry,
                    timeout_ms: p.timeout_ms,
                    on_error: p.on_error,
                    fallback: p.fallback,
                });
            }
            let spec = WorkflowSpec {
                id: Some(workflow.id.clone()),
                name: workflow.name.clone(),
                tasks,
                dependencies: Default::default(),
                failure_policy: workflow.policy,
                pattern: if workflow.width.is_some() {
                    ExecutionPattern::Parallel
                } else {
                    ExecutionPattern::Dag
                },
                width: workflow.width,
                session: workflow.session.clone(),
            };
            fresh.submit_workflow(spec, &payloads, at).map(|_| ())
        }
        Event::TaskStarted { task, .. } => fresh.start_task(task.0, at),
        Event::TaskCompleted { task, call, output } => {
            let output = copy(fresh, *output)?;
            if *call == 0 {
                fresh.complete_task(task.0, output, at)
            } else {
                fresh.complete(*call, output, at);
                Ok(())
            }
        }
        Event::TaskAttemptFailed { call, error, .. } => {
            fresh.fail_with(*call, (**error).clone(), at);
            Ok(())
        }
        Event::TaskFailed { task, error, .. } => fresh.fail_task(task.0, &error.message, at),
        Event::TaskCancelled { task, reason, .. } => fresh.cancel_task(task.0, reason, at),
        Event::CallIgnored { call, .. } => {
            fresh.complete(*call, PayloadId::NONE, at);
            Ok(())
        }
        Event::SnapshotCreated { .. } => fresh.snapshot(at).map(|_| ()),
        Event::Terminated { reason, .. } => {
            fresh.terminate(reason, at);
            Ok(())
        }
        Event::Custom { topic, data } => {
            let data = copy(fresh, *data)?;
            fresh.emit_custom(topic, data, at)
        }
        Event::TemplateDefined { template } => {
            fresh.define_template((**template).clone(), at).map(|_| ())
        }
        Event::MessageSent {
            from, to, payload, ..
        } => {
            let payload = copy(fresh, *payload)?;
            fresh.send(from.0, to.0, payload, at).map(|_| ())
        }
        // Delivered by its acknowledgement: the acknowledgement (the next record) is the input.
        Event::MessageDelivered {
            message,
            on_ack: true,
        } => {
            let m = fresh.message(message)?;
            fresh.acknowledge(m, at)
        }
        Event::MessageDelivered { message, .. } => {
            let to = s.messages[fresh.message(message)?].to;
            fresh.inbox(to, at);
            Ok(())
        }
        Event::MessageAcknowledged { message } => {
            let m = fresh.message(message)?;
            fresh.acknowledge(m, at)
        }
        Event::ToolRegistered { tool } => fresh.register_tool((**tool).clone(), at),
        Event::ToolsGranted { agent, tools } => fresh.grant_tools(agent.0, tools.clone(), at),
        Event::ToolsRevoked { agent, tools } => fresh.revoke_tools(agent.0, tools.clone(), at),
        Event::ToolCalled {
            tool,
            agent,
            task,
            args,
            ..
        } => {
            let args = copy(fresh, *args)?;
            fresh
                .call_tool(agent.0, task.map(|t| t.0), tool, args, at)
                .map(|_| ())
        }
        Event::ToolRefused {
            tool, agent, task, ..
        } => {
            let _ = fresh.call_tool(agent.0, task.map(|t| t.0), tool, PayloadId::NONE, at);
            Ok(())
        }
        Event::ToolCompleted { call, result } => {
            let result = copy(fresh, *result)?;
            fresh.tool_result(*call, Ok(result), at)
        }
        Event::ToolFailed { call, message } => fresh.tool_result(*call, Err(message.clone()), at),
        Event::JobScheduled { job } => {
            let input = copy(fresh, job.input)?;
            fresh
                .schedule(job.trigger.clone(), job.task.clone(), input, at)
                .map(|_| ())
        }
        Event::JobPaused { job } => {
            let j = fresh.job(job)?;
            fresh.pause_job(j, at)
        }
        Event::JobResumed { job } => {
            let j = fresh.job(job)?;
            fresh.resume_job(j, at)
        }
        Event::JobDeleted { job } => {
            let j = fresh.job(job)?;
            fresh.delete_job(j, at)
        }
        Event::PatternStarted { spec, session, .. } => fresh
            .start_pattern_in((**spec).clone(), session.as_deref().map(str::to_owned), at)
            .map(|_| ()),
        other => unreachable!("{} is not an input", other.topic()),
    }
}

/// A lifecycle walk the journal holds as consecutive records (a start's `Created → Initializing →
/// Ready → Running`, one command): its agent, its edges and its reason, when `rec` begins one of
/// two edges or more. Fed as one command, as it ran live: fed edge by edge, a command's end (its
/// dispatch) would fall after each, where the live run had none.
fn walk_ahead(
    rec: &Record,
    rest: &[&str],
    reference: &Orchestrator,
) -> Option<(
    crate::core::ids::AgentIx,
    Vec<crate::core::agent::AgentStatus>,
    String,
)> {
    let Event::AgentStatus {
        agent,
        to,
        reason,
        auto: false,
        ..
    } = &rec.event
    else {
        return None;
    };
    // Only a start walks several edges (a user's transitions are one edge each, one command each).
    if reason != START_REASON {
        return None;
    }
    let id = &reference.state().agent(agent.0).id;
    let mut path = vec![*to];
    for line in rest {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            break;
        };
        let d = &v["data"];
        let next = v["type"] == "agent.status"
            && v["at"] == rec.at
            && d["agent"] == id.as_str()
            && d["reason"] == reason.as_str()
            && d.get("auto").is_none_or(|a| a == false)
            && serde_json::from_value(d["from"].clone()).ok() == path.last().copied();
        if !next {
            break;
        }
        match serde_json::from_value(d["to"].clone()) {
            Ok(to) => path.push(to),
            Err(_) => break,
        }
    }
    (path.len() > 1).then(|| (agent.0, path, reason.clone()))
}
