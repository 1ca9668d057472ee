//! Behaviour of the orchestrator as a whole, driven the way a driver drives it.

use crate::core::agent::{AgentSpec, AgentStatus};
use crate::core::ids::{AgentIx, PayloadId, TaskIx};
use crate::core::task::{ErrorClass, TaskSpec, TaskStatus};
use crate::core::workflow::{FailurePolicy, WorkflowSpec, WorkflowTaskSpec};
use crate::core::{Effect, Options, Orchestrator};
use std::collections::BTreeMap;

fn orch() -> Orchestrator {
    Orchestrator::new(7, Options::default(), 0).unwrap()
}

fn agent(o: &mut Orchestrator, id: &str, concurrency: Option<u32>) -> AgentIx {
    let spec = AgentSpec {
        concurrency,
        ..AgentSpec::new(id)
    };
    started(o, spec)
}

/// Registers and starts an agent.
fn started(o: &mut Orchestrator, spec: AgentSpec) -> AgentIx {
    let a = o.register_agent(spec, 0).unwrap();
    o.start_agent(a, 0).unwrap();
    a
}

fn json(o: &mut Orchestrator, s: &str) -> PayloadId {
    o.payloads_mut().alloc_json(s).unwrap()
}

fn submit(o: &mut Orchestrator, agent: &str, priority: u32) -> TaskIx {
    let spec = TaskSpec {
        agent: agent.into(),
        priority: Some(priority),
        ..TaskSpec::default()
    };
    o.submit(spec, PayloadId::NONE, PayloadId::NONE, 0).unwrap()
}

fn invokes(o: &mut Orchestrator) -> Vec<(u32, TaskIx)> {
    let mut out = vec![];
    while let Some(e) = o.poll_effect() {
        if let Effect::Invoke { call, task, .. } = e {
            out.push((call, task));
        }
    }
    out
}

fn wf(id: &str, tasks: &[(&str, &str, &[&str])], policy: FailurePolicy) -> WorkflowSpec {
    WorkflowSpec {
        id: Some(id.into()),
        name: None,
        tasks: tasks
            .iter()
            .map(|(id, agent, deps)| WorkflowTaskSpec {
                id: id.to_string(),
                agent: agent.to_string(),
                name: None,
                priority: None,
                depends_on: deps.iter().map(|d| d.to_string()).collect(),
                retry: None,
                capability: None,
                timeout_ms: None,
                on_error: Default::default(),
                fallback: None,
            })
            .collect(),
        dependencies: BTreeMap::new(),
        failure_policy: policy,
        pattern: Default::default(),
        width: None,
        session: None,
    }
}

fn none_payloads(n: usize) -> Vec<(PayloadId, PayloadId)> {
    vec![(PayloadId::NONE, PayloadId::NONE); n]
}

/// A core with one agent, `r`, and workflow `id` of its tasks (`(id, dependencies)`) submitted
/// at time 0 with no payloads.
fn workflow_on_r(
    id: &str,
    tasks: &[(&str, &[&str])],
    policy: FailurePolicy,
) -> (Orchestrator, crate::core::ids::WorkflowIx) {
    let mut o = orch();
    agent(&mut o, "r", None);
    let tasks: Vec<(&str, &str, &[&str])> = tasks.iter().map(|&(t, deps)| (t, "r", deps)).collect();
    let w = o.submit_workflow(wf(id, &tasks, policy), &none_payloads(tasks.len()), 0);
    (o, w.unwrap())
}

#[test]
fn start_walks_the_lifecycle_and_records_history() {
    let mut o = orch();
    let a = agent(&mut o, "oracle", None);
    let h: Vec<_> = o
        .state()
        .agent(a)
        .history
        .iter()
        .map(|t| (t.from, t.to))
        .collect();
    use AgentStatus::*;
    assert_eq!(
        h,
        vec![
            (Created, Initializing),
            (Initializing, Ready),
            (Ready, Running)
        ]
    );
    o.pause_agent(a, 5).unwrap();
    o.resume_agent(a, 6).unwrap();
    let last = o.state().agent(a).history.last().unwrap();
    assert_eq!(
        (last.from, last.to, last.reason.as_str(), last.at),
        (Paused, Running, "resume", 6)
    );
}

#[test]
fn an_illegal_transition_names_both_states_and_changes_nothing() {
    let mut o = orch();
    let a = agent(&mut o, "a", None);
    let seq = o.state().seq;
    let e = o.resume_agent(a, 1).unwrap_err();
    assert_eq!(e.code(), "illegal_transition");
    assert_eq!(
        e.to_string(),
        "agent 'a' cannot go from Running to Running: resume takes a Paused agent (start takes a Ready one)"
    );
    o.stop_agent(a, 1).unwrap();
    let seq2 = o.state().seq;
    assert_eq!(
        o.pause_agent(a, 2).unwrap_err().to_string(),
        "agent 'a' cannot go from Stopped to Paused"
    );
    assert_eq!(o.state().seq, seq2);
    assert!(seq2 > seq);
}

#[test]
fn the_first_seeds_manual_style_works() {
    let mut o = orch();
    let a = agent(&mut o, "oracle", None);
    let spec = TaskSpec {
        agent: "oracle".into(),
        name: Some("analyze_market".into()),
        ..TaskSpec::default()
    };
    let t = o.create_task(spec, PayloadId::NONE, 1).unwrap();
    assert_eq!(o.state().task(t).status, TaskStatus::Pending);
    assert!(
        o.complete_task(t, PayloadId::NONE, 2).is_err(),
        "must start first"
    );
    o.start_task(t, 2).unwrap();
    assert_eq!(o.state().agent(a).running, 1);
    let out = json(&mut o, r#"{"trend":"bullish"}"#);
    o.complete_task(t, out, 3).unwrap();
    let s = crate::core::views::statistics(o.state());
    assert_eq!(
        (s.tasks_completed, s.total_tasks, s.agents_running),
        (1, 1, 1)
    );
    let t2 = o
        .create_task(
            TaskSpec {
                agent: "oracle".into(),
                ..TaskSpec::default()
            },
            PayloadId::NONE,
            4,
        )
        .unwrap();
    o.fail_task(t2, "boom", 5).unwrap();
    o.report_error(a, "flaky", 6).unwrap();
    let s = crate::core::views::statistics(o.state());
    assert_eq!((s.tasks_failed, s.agent_errors), (1, 2));
    assert_eq!(o.state().agent(a).error_count, 2);
}

#[test]
fn a_manual_task_ending_frees_its_slot_for_a_queued_task() {
    let mut o = orch();
    agent(&mut o, "m", Some(1));
    let manual = |o: &mut Orchestrator| {
        let spec = TaskSpec {
            agent: "m".into(),
            ..TaskSpec::default()
        };
        let t = o.create_task(spec, PayloadId::NONE, 1).unwrap();
        o.start_task(t, 1).unwrap();
        t
    };
    let t = manual(&mut o);
    let waiting = submit(&mut o, "m", 1);
    assert!(invokes(&mut o).is_empty(), "the manual task holds the slot");
    o.complete_task(t, PayloadId::NONE, 2).unwrap();
    let (call, task) = invokes(&mut o)[0];
    assert_eq!(task, waiting, "started once the slot is free");
    o.complete(call, PayloadId::NONE, 3);
    let t = manual(&mut o);
    let next = submit(&mut o, "m", 1);
    o.fail_task(t, "no", 4).unwrap();
    assert_eq!(invokes(&mut o)[0].1, next, "failTask frees it too");
}

#[test]
fn too_many_errors_put_the_agent_in_error_with_a_snapshot() {
    let mut o = orch();
    let spec = AgentSpec {
        max_errors: Some(2),
        ..AgentSpec::new("x")
    };
    let a = started(&mut o, spec);
    o.report_error(a, "one", 1).unwrap();
    assert_eq!(o.state().agent(a).status, AgentStatus::Running);
    o.report_error(a, "two", 2).unwrap();
    assert_eq!(o.state().agent(a).status, AgentStatus::Error);
    let snaps = o.snapshots(10);
    assert_eq!(snaps[0].reason, "agent.error");
    assert_eq!(snaps[0].agents_status["x"], AgentStatus::Error);
    assert_eq!(snaps[0].agent_counts[&AgentStatus::Error], 1);
    // The seed's recovery: pause, recover state, resume. Leaving Error starts the count again.
    // As the issue reads it: report errors, pause, recover, resume.
    o.pause_agent(a, 3).unwrap();
    o.report_error(a, "while paused", 3).unwrap();
    o.recover_agent(a, 3).unwrap();
    assert_eq!(o.state().agent(a).status, AgentStatus::Paused);
    assert_eq!(
        o.state().agent(a).error_count,
        0,
        "recovered: the count starts again"
    );
    let journal = o.journal_json(0).unwrap();
    assert!(journal.contains(r#""type":"agent.recovered","data":{"agent":"x"}"#));
    assert!(crate::core::verify::verify_replay(&journal).unwrap().ok);
    o.resume_agent(a, 4).unwrap();
    assert_eq!(o.state().agent(a).status, AgentStatus::Running);
    o.report_error(a, "three", 5).unwrap();
    assert_eq!(o.state().agent(a).status, AgentStatus::Running);
    assert_eq!(o.state().agent(a).error_count, 1);
    assert_eq!(o.state().agent_errors, 4, "the total keeps every error");
}

#[test]
fn a_removed_agent_leaves_lookups_and_its_id_can_be_registered_again() {
    let mut o = orch();
    let a = agent(&mut o, "x", Some(1));
    let running = submit(&mut o, "x", 1);
    let waiting = submit(&mut o, "x", 1);
    assert_eq!(invokes(&mut o), [(1, running)]);
    o.remove_agent(a, 1).unwrap();
    assert_eq!(o.state().agent(a).status, AgentStatus::Terminated);
    assert_eq!(o.state().task(waiting).status, TaskStatus::Cancelled);
    assert_eq!(o.agent("x").unwrap_err().code(), "unknown_agent");
    assert!(crate::core::views::agents_status(o.state()).0.is_empty());
    assert_eq!(crate::core::views::statistics(o.state()).total_agents, 0);
    assert_eq!(o.remove_agent(a, 1).unwrap_err().code(), "unknown_agent");
    // Its handler, still running, writes nothing that names it.
    let other = agent(&mut o, "y", None);
    assert_eq!(
        o.send(a, other, PayloadId::NONE, 1).unwrap_err().code(),
        "unknown_agent"
    );
    assert_eq!(
        o.send(other, a, PayloadId::NONE, 1).unwrap_err().code(),
        "unknown_agent"
    );
    // The id is free: a new agent, with its own tasks; the old tasks keep naming the old one.
    let b = agent(&mut o, "x", None);
    assert_ne!(a, b);
    let fresh = submit(&mut o, "x", 1);
    assert_eq!(invokes(&mut o), [(2, fresh)]);
    assert_eq!(o.state().task(running).agent, a);
    // Replayed, verified and restored, the same agents are found by id.
    let journal = o.journal_json(0).unwrap();
    assert!(journal.contains(r#""type":"agent.removed","data":{"agent":"x"}"#));
    assert!(crate::core::verify::verify_replay(&journal).unwrap().ok);
    let r = Orchestrator::replay(&journal, None).unwrap();
    assert_eq!(r.agent("x").unwrap(), b);
    let snap = o.snapshot(2).unwrap();
    let r = Orchestrator::restore(&snap, 3).unwrap();
    assert_eq!(r.agent("x").unwrap(), b);
    assert!(r.state().agent(a).removed);
    assert_eq!(crate::core::views::agents_status(r.state()).0.len(), 2);
    // Filtered by id, the tasks of both agents named "x" match, as their views say "x".
    let f = crate::core::views::TaskFilter {
        status: None,
        agent: Some("x".into()),
        workflow: None,
        offset: 0,
        limit: None,
    };
    assert_eq!(crate::core::views::task_list(r.state(), &f).len(), 3);
}

#[test]
fn a_removed_agent_with_an_open_breaker_writes_nothing_later() {
    let mut o = orch();
    let spec = AgentSpec {
        circuit_breaker: crate::core::agent::BreakerSetting::On(
            crate::core::policy::BreakerConfig {
                failure_threshold: 1,
                recovery_ms: 100,
                success_threshold: 1,
            },
        ),
        ..AgentSpec::new("x")
    };
    let a = started(&mut o, spec);
    submit(&mut o, "x", 1);
    let (call, _) = invokes(&mut o)[0];
    o.fail(call, ErrorClass::Agent, "down", 10);
    assert!(o.next_deadline().is_some(), "the breaker's half-open timer");
    o.remove_agent(a, 20).unwrap();
    let seq = o.state().seq;
    o.handle_timeout(1_000);
    assert_eq!(o.state().seq, seq, "no record names the removed agent");
    let journal = o.journal_json(0).unwrap();
    assert!(crate::core::verify::verify_replay(&journal).unwrap().ok);
}

#[test]
fn the_queue_serves_priority_then_submission_order() {
    let mut o = orch();
    let a = agent(&mut o, "a", Some(1));
    o.pause_agent(a, 0).unwrap();
    let t5 = submit(&mut o, "a", 5);
    let t1 = submit(&mut o, "a", 1);
    let t3 = submit(&mut o, "a", 3);
    let t1b = submit(&mut o, "a", 1);
    assert!(invokes(&mut o).is_empty(), "a paused agent takes no tasks");
    o.resume_agent(a, 1).unwrap();
    let mut order = vec![];
    for _ in 0..4 {
        let got = invokes(&mut o);
        assert_eq!(got.len(), 1, "concurrency 1");
        order.push(got[0].1);
        assert!(o.complete(got[0].0, PayloadId::NONE, 2));
    }
    assert_eq!(order, vec![t1, t1b, t3, t5]);
}

#[test]
fn global_and_per_agent_concurrency_hold() {
    let mut o = Orchestrator::new(
        1,
        Options {
            max_concurrency: Some(3),
            ..Options::default()
        },
        0,
    )
    .unwrap();
    agent(&mut o, "a", Some(2));
    agent(&mut o, "b", None);
    for _ in 0..4 {
        submit(&mut o, "a", 5);
        submit(&mut o, "b", 5);
    }
    let first = invokes(&mut o);
    assert_eq!(first.len(), 3);
    assert!(o.state().agent(AgentIx(0)).running <= 2);
    let mut done = 0;
    let mut pending = first;
    while let Some((call, _)) = pending.pop() {
        o.complete(call, PayloadId::NONE, 1);
        done += 1;
        assert!(o.state().running() <= 3 && o.state().agent(AgentIx(0)).running <= 2);
        pending.extend(invokes(&mut o));
    }
    assert_eq!(done, 8);
}

#[test]
fn a_workflow_runs_in_dependency_order_and_ends_with_a_snapshot() {
    let (mut o, w) = workflow_on_r(
        "research",
        &[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])],
        FailurePolicy::FailFast,
    );
    let mut seen = vec![];
    let mut pending = invokes(&mut o);
    while let Some((call, task)) = pending.pop() {
        seen.push(o.state().task_id(task).unwrap());
        let out = json(&mut o, "1");
        o.complete(call, out, 1);
        pending.extend(invokes(&mut o));
    }
    assert_eq!(seen.first().unwrap(), "research/a");
    assert_eq!(seen.last().unwrap(), "research/d");
    let view = crate::core::views::workflow_view(o.state(), w);
    assert_eq!(
        view.head.status,
        crate::core::workflow::WorkflowStatus::Completed
    );
    assert_eq!(o.snapshots(1)[0].reason, "workflow.completed");
    assert_eq!(o.task("research/d").unwrap(), TaskIx(3));
}

#[test]
fn a_failed_workflows_culprit_is_the_task_that_failed_not_one_listed_before_it_and_cancelled() {
    // `slow` is listed first and still running when `bad` fails; `write` waits on `bad`.
    let (mut o, w) = workflow_on_r(
        "p",
        &[("slow", &[]), ("write", &["bad"]), ("bad", &[])],
        FailurePolicy::FailFast,
    );
    let calls = invokes(&mut o);
    let bad = calls.iter().find(|(_, t)| *t == TaskIx(2)).unwrap().0;
    assert!(o.fail(bad, ErrorClass::Agent, "nope", 10));
    while o.poll_effect().is_some() {}
    let view = crate::core::views::workflow_view(o.state(), w);
    assert_eq!(view.head.failed_task.as_deref(), Some("bad"));
}

#[test]
fn fail_fast_cancels_the_rest_and_continue_skips_only_dependents() {
    for (policy, expect) in [
        (
            FailurePolicy::FailFast,
            [
                TaskStatus::Failed,
                TaskStatus::Cancelled,
                TaskStatus::Cancelled,
            ],
        ),
        (
            FailurePolicy::Continue,
            [
                TaskStatus::Failed,
                TaskStatus::Skipped,
                TaskStatus::Completed,
            ],
        ),
    ] {
        let (mut o, w) = workflow_on_r("w", &[("a", &[]), ("b", &["a"]), ("c", &[])], policy);
        let calls = invokes(&mut o);
        assert_eq!(calls.len(), 2);
        let aborts_before = o.fail(calls[0].0, ErrorClass::Agent, "nope", 1);
        assert!(aborts_before);
        let mut aborted = vec![];
        while let Some(e) = o.poll_effect() {
            if let Effect::Abort { call, .. } = e {
                aborted.push(call);
            }
        }
        if policy == FailurePolicy::FailFast {
            assert_eq!(aborted, vec![calls[1].0], "the running task is aborted");
            assert!(
                !o.complete(calls[1].0, PayloadId::NONE, 2),
                "its late result is ignored"
            );
        } else {
            assert!(o.complete(calls[1].0, PayloadId::NONE, 2));
        }
        let got: Vec<_> = (0..3).map(|i| o.state().task(TaskIx(i)).status).collect();
        assert_eq!(got, expect, "{policy:?}");
        let view = crate::core::views::workflow_view(o.state(), w);
        assert_eq!(
            view.head.status,
            crate::core::workflow::WorkflowStatus::Failed
        );
        assert_eq!(view.head.failed_task.as_deref(), Some("a"));
    }
}

#[test]
fn bad_workflows_are_refused_whole() {
    let mut o = orch();
    agent(&mut o, "r", None);
    let seq = o.state().seq;
    let cases = [
        (
            wf(
                "w",
                &[("a", "r", &["b"]), ("b", "r", &["a"])],
                FailurePolicy::FailFast,
            ),
            "cycle",
        ),
        (
            wf("w", &[("a", "r", &["zz"])], FailurePolicy::FailFast),
            "unknown_dependency",
        ),
        (
            wf(
                "w",
                &[("a", "r", &[]), ("a", "r", &[])],
                FailurePolicy::FailFast,
            ),
            "duplicate_id",
        ),
        (
            wf("w", &[("a", "ghost", &[])], FailurePolicy::FailFast),
            "unknown_agent",
        ),
    ];
    for (spec, code) in cases {
        let n = spec.tasks.len();
        assert_eq!(
            o.submit_workflow(spec, &none_payloads(n), 1)
                .unwrap_err()
                .code(),
            code
        );
    }
    assert_eq!(o.state().seq, seq);
    assert!(o.state().workflows.is_empty() && o.state().tasks.is_empty());
}

#[test]
fn subscribers_get_matching_events_only() {
    let mut o = orch();
    let sub = o.subscribe("task.*").unwrap();
    agent(&mut o, "a", None);
    let data = json(&mut o, r#"{"k":"v, w"}"#);
    o.emit_custom("custom.event", data, 0).unwrap();
    submit(&mut o, "a", 1);
    let d: serde_json::Value = serde_json::from_str(&o.deliveries_json(0).unwrap()).unwrap();
    let topics: Vec<&str> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(topics, vec!["task.created", "task.queued", "task.started"]);
    assert_eq!(d[0]["subs"], serde_json::json!([sub]));
    assert_eq!(
        o.emit_custom("task.completed", PayloadId::NONE, 0)
            .unwrap_err()
            .code(),
        "invalid_argument"
    );
    let e = o.emit_custom("custom.*", PayloadId::NONE, 0).unwrap_err();
    assert!(e.to_string().contains("wildcard"), "{e}");
}

fn scripted_run(seed: u64) -> Orchestrator {
    let mut o = Orchestrator::new(seed, Options::default(), 0).unwrap();
    agent(&mut o, "r", Some(2));
    let input = json(&mut o, r#"{"topic":"rust"}"#);
    let spec = wf(
        "p",
        &[
            ("a", "r", &[]),
            ("b", "r", &["a"]),
            ("c", "r", &["a"]),
            ("d", "r", &["b", "c"]),
        ],
        FailurePolicy::FailFast,
    );
    let mut payloads = none_payloads(4);
    payloads[0].0 = input;
    o.submit_workflow(spec, &payloads, 10).unwrap();
    let mut now = 10;
    let mut pending = invokes(&mut o);
    while let Some((call, task)) = pending.pop() {
        now += 7;
        let out = json(&mut o, &format!("{{\"task\":{},\"n\":1.5}}", task.index()));
        o.complete(call, out, now);
        pending.extend(invokes(&mut o));
    }
    o
}

#[test]
fn the_same_seed_and_outcomes_give_the_same_journal_bytes() {
    let a = scripted_run(42).journal_json(0).unwrap();
    let b = scripted_run(42).journal_json(0).unwrap();
    assert_eq!(a, b);
    assert_ne!(
        a,
        scripted_run(43).journal_json(0).unwrap(),
        "the seed is in the journal"
    );
    assert!(
        a.starts_with(
            r#"{"seq":1,"at":0,"type":"orchestrator.started","data":{"version":1,"seed":42,"#
        ),
        "{a}"
    );
}

#[test]
fn replaying_a_journal_rebuilds_the_same_state() {
    let o = scripted_run(5);
    let text = o.journal_json(0).unwrap();
    let r = Orchestrator::replay(&text, None).unwrap();
    assert_eq!(
        r.journal_json(0).unwrap(),
        text,
        "byte-identical after a round trip"
    );
    assert_eq!(
        crate::core::views::statistics(r.state()),
        crate::core::views::statistics(o.state())
    );
    let half = Orchestrator::replay(&text, Some(12)).unwrap();
    assert_eq!(half.state().seq, 12);
    let corrupt = text.replacen("\"seq\":5", "\"seq\":9", 1);
    assert_eq!(
        Orchestrator::replay(&corrupt, None).err().unwrap().code(),
        "decode_error"
    );
    // A record written twice is harmless; another record under a seq already read is refused.
    let lines: Vec<&str> = text.lines().collect();
    let again = format!("{text}{}\n", lines[2..5].join("\n"));
    assert_eq!(
        Orchestrator::replay(&again, None)
            .unwrap()
            .journal_json(0)
            .unwrap(),
        text
    );
    assert!(crate::core::verify::verify_replay(&again).unwrap().ok);
    let forged = format!("{text}{}\n", lines[4].replacen("\"at\":", "\"at\":9", 1));
    let e = Orchestrator::replay(&forged, None).err().unwrap();
    assert!(e.to_string().contains("seq 5 comes again"), "{e}");
    let e = crate::core::verify::verify_replay(&forged).err().unwrap();
    assert!(e.to_string().contains("seq 5 comes again"), "{e}");
    // A repeat of a record no longer held in memory (journalRowsMax) cannot be compared: it is
    // let be.
    let rows = format!("\"journalRowsMax\":{}", Options::default().journal_rows_max);
    assert!(lines[0].contains(&rows), "{}", lines[0]);
    let small = text.replacen(&rows, "\"journalRowsMax\":3", 1);
    let forged = format!("{small}{}\n", lines[4].replacen("\"at\":", "\"at\":9", 1));
    assert!(Orchestrator::replay(&forged, None).is_ok());
    // A journal of another format is refused, not read as this one.
    let future = text.replacen("\"version\":1,", "\"version\":2,", 1);
    let e = Orchestrator::replay(&future, None).err().unwrap();
    assert_eq!(e.code(), "decode_error");
    assert!(e.to_string().contains("format version 2"), "{e}");
}

#[test]
fn snapshot_and_restore_round_trip_and_requeue_calls_in_flight() {
    let mut o = orch();
    agent(&mut o, "a", None);
    let input = json(&mut o, r#"{"x":[1,2,3]}"#);
    let spec = TaskSpec {
        agent: "a".into(),
        id: Some("job".into()),
        ..TaskSpec::default()
    };
    let t = o.submit(spec, input, PayloadId::NONE, 1).unwrap();
    let calls = invokes(&mut o);
    let snap = o.snapshot(2).unwrap();
    let mut r = Orchestrator::restore(&snap, 3).unwrap();
    assert_eq!(r.task("job").unwrap(), t);
    let again = invokes(&mut r);
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].0, calls[0].0, "a new call id");
    assert_eq!(r.state().task(t).attempts, 2, "the next attempt number");
    assert_eq!(
        r.payloads().get(r.state().task(t).input).unwrap().get(),
        r#"{"x":[1,2,3]}"#
    );
    assert!(r.complete(again[0].0, PayloadId::NONE, 4));
    assert_eq!(r.snapshots(5)[0].reason, "manual");
    assert_eq!(
        Orchestrator::restore("{\"format\":1}", 0)
            .err()
            .unwrap()
            .code(),
        "decode_error"
    );
}

#[test]
fn a_workflow_tasks_rare_fields_are_journaled_flat_and_replay() {
    let mut o = orch();
    agent(&mut o, "a", None);
    let mut spec = wf(
        "w",
        &[("x", "a", &[]), ("y", "a", &["x"])],
        FailurePolicy::FailFast,
    );
    spec.tasks[1].name = Some("Second".into());
    spec.tasks[1].timeout_ms = Some(50);
    o.submit_workflow(spec, &none_payloads(2), 0).unwrap();
    let journal = o.journal_json(0).unwrap();
    let line = journal
        .lines()
        .find(|l| l.contains("workflow.submitted"))
        .unwrap();
    let rec: serde_json::Value = serde_json::from_str(line).unwrap();
    let keys =
        |t: &serde_json::Value| -> Vec<String> { t.as_object().unwrap().keys().cloned().collect() };
    let tasks = &rec["data"]["workflow"]["tasks"];
    assert_eq!(
        keys(&tasks[0]),
        ["id", "agent", "priority", "input", "metadata", "dependsOn"]
    );
    assert_eq!(
        keys(&tasks[1]),
        [
            "id",
            "agent",
            "name",
            "priority",
            "input",
            "metadata",
            "dependsOn",
            "policy"
        ]
    );
    assert_eq!(tasks[1]["policy"]["timeoutMs"], 50);
    let replayed = Orchestrator::replay(&journal, None).unwrap();
    assert_eq!(replayed.journal_json(0).unwrap(), journal);
    let y = replayed.task("w/y").unwrap();
    assert_eq!(replayed.state().task(y).name(), Some("Second"));
}

#[test]
fn a_snapshot_summary_lists_the_first_agents_and_counts_them_all() {
    let mut o = orch();
    for i in 0..150 {
        agent(&mut o, &format!("agent-{i:03}"), None);
    }
    o.pause_agent(o.agent("agent-149").unwrap(), 1).unwrap();
    o.snapshot(2).unwrap();
    let s = &o.snapshots(1)[0];
    assert_eq!(
        s.agents_status.len(),
        crate::core::snapshot::SNAPSHOT_AGENTS_LISTED_MAX
    );
    assert!(
        s.agents_status.contains_key("agent-099") && !s.agents_status.contains_key("agent-100")
    );
    assert_eq!(s.agent_counts[&AgentStatus::Running], 149);
    assert_eq!(s.agent_counts[&AgentStatus::Paused], 1);
    let journal = o.journal_json(0).unwrap();
    assert!(
        journal.contains(r#""agentCounts":{"Running":149,"Paused":1}"#),
        "{}",
        journal.lines().last().unwrap()
    );
    let replayed = Orchestrator::replay(&journal, None).unwrap();
    assert_eq!(replayed.journal_json(0).unwrap(), journal);
}

#[test]
fn a_snapshot_restores_with_its_counts_missing_or_wrong() {
    let mut o = orch();
    agent(&mut o, "a", None);
    for _ in 0..5 {
        submit(&mut o, "a", 5);
    }
    invokes(&mut o);
    let snap = o.snapshot(2).unwrap();
    assert!(snap.contains(r#""counts":{"agents":1,"tasks":5},"state""#));
    let tasks = |text: &str| Orchestrator::load(text, "").unwrap().state().tasks.len();
    assert_eq!(tasks(&snap), 5);
    let without = snap.replace(r#""counts":{"agents":1,"tasks":5},"#, "");
    assert_eq!(tasks(&without), 5);
    let huge = snap.replace(r#""tasks":5}"#, r#""tasks":4000000000}"#);
    assert_eq!(
        tasks(&huge),
        5,
        "a count is only a hint, capped by the document's length"
    );
    let state = Orchestrator::load(&huge, "").unwrap();
    assert!(state.state().agents.capacity() <= snap.len());
}

#[test]
fn a_hand_edited_snapshot_with_a_repeat_is_refused() {
    let mut o = orch();
    agent(&mut o, "a", None);
    agent(&mut o, "b", None);
    let t = submit(&mut o, "a", 5);
    let u = submit(&mut o, "b", 5);
    invokes(&mut o);
    let snap = o.snapshot(2).unwrap();
    let refused = |edited: &str| {
        let e = Orchestrator::restore(edited, 3).err().expect("refused");
        (e.code(), e.to_string())
    };
    let (code, message) = refused(&snap.replace(r#""id":"b""#, r#""id":"a""#));
    assert_eq!(code, "decode_error");
    assert!(message.contains("agent 'a' appears twice"), "{message}");
    let (call_t, call_u) = (o.state().task(t).call, o.state().task(u).call);
    let edited = snap.replace(
        &format!(r#""call":{call_u},"#),
        &format!(r#""call":{call_t},"#),
    );
    assert_ne!(edited, snap);
    let (code, message) = refused(&edited);
    assert_eq!(code, "decode_error");
    assert!(message.contains("held by two tasks"), "{message}");
}

#[test]
fn unknown_ids_and_bad_values_are_coded_errors() {
    let mut o = orch();
    agent(&mut o, "a", None);
    let seq = o.state().seq;
    assert_eq!(o.agent("ghost").unwrap_err().code(), "unknown_agent");
    assert_eq!(o.task("task-99").unwrap_err().code(), "unknown_task");
    let dup = AgentSpec::new("a");
    assert_eq!(o.register_agent(dup, 0).unwrap_err().code(), "duplicate_id");
    let bad = TaskSpec {
        agent: "a".into(),
        priority: Some(0),
        ..TaskSpec::default()
    };
    assert_eq!(
        o.submit(bad, PayloadId::NONE, PayloadId::NONE, 0)
            .unwrap_err()
            .code(),
        "invalid_argument"
    );
    let fake = TaskSpec {
        agent: "a".into(),
        id: Some("task-3".into()),
        ..TaskSpec::default()
    };
    assert_eq!(
        o.submit(fake, PayloadId::NONE, PayloadId::NONE, 0)
            .unwrap_err()
            .code(),
        "invalid_argument"
    );
    assert_eq!(o.state().seq, seq);
}

#[test]
#[ignore]
fn print_journal() {
    print!("{}", scripted_run(1).journal_json(0).unwrap());
}

#[test]
fn task_ends_are_reported_only_while_watched_and_the_journal_is_the_same() {
    let run = |watched: bool| {
        let mut o = orch();
        agent(&mut o, "a", None);
        o.watch_task_ends(watched);
        let t = submit(&mut o, "a", 5);
        let u = submit(&mut o, "a", 5);
        let mut settled = vec![];
        let mut calls = vec![];
        while let Some(e) = o.poll_effect() {
            match e {
                Effect::Invoke { call, .. } => calls.push(call),
                Effect::TaskSettled { task } => settled.push(task),
                _ => {}
            }
        }
        o.complete(calls[0], PayloadId::NONE, 1);
        o.cancel_task(u, "no", 2).unwrap();
        while let Some(e) = o.poll_effect() {
            if let Effect::TaskSettled { task } = e {
                settled.push(task);
            }
        }
        (settled, t, u, o.journal_json(0).unwrap())
    };
    let (on, t, u, journal_on) = run(true);
    assert_eq!(on, [t, u], "a completed and a cancelled task are reported");
    let (off, _, _, journal_off) = run(false);
    assert!(off.is_empty(), "{off:?}");
    assert_eq!(journal_on, journal_off, "what is watched changes no record");
}

/// Cancelling a workflow must not start its tasks on the way: each cancelled running task frees
/// a slot (the agent's or the workflow's width), and the tasks still waiting must not take it.
#[test]
fn cancelling_a_workflow_starts_none_of_its_waiting_tasks() {
    use crate::core::workflow::ExecutionPattern;
    // (agent concurrency, width): slots held by the agent, then by the workflow's width.
    for (concurrency, width) in [(Some(2), None), (None, Some(2))] {
        let mut o = orch();
        agent(&mut o, "r", concurrency);
        let tasks: Vec<(String, &str, &[&str])> =
            (0..6).map(|i| (format!("t{i}"), "r", &[][..])).collect();
        let tasks: Vec<(&str, &str, &[&str])> =
            tasks.iter().map(|(i, a, d)| (i.as_str(), *a, *d)).collect();
        let mut spec = wf("w", &tasks, FailurePolicy::Continue);
        if width.is_some() {
            spec.pattern = ExecutionPattern::Parallel;
            spec.width = width;
        }
        let w = o.submit_workflow(spec, &none_payloads(6), 0).unwrap();
        let running = invokes(&mut o);
        assert_eq!(running.len(), 2);
        o.cancel_workflow(w, "stop", 1).unwrap();
        let (mut started, mut aborted) = (vec![], vec![]);
        while let Some(e) = o.poll_effect() {
            match e {
                Effect::Invoke { task, .. } => started.push(task),
                Effect::Abort { call, .. } => aborted.push(call),
                _ => {}
            }
        }
        assert_eq!(started, vec![], "{concurrency:?} {width:?}: nothing starts");
        let calls: Vec<u32> = running.iter().map(|r| r.0).collect();
        assert_eq!(aborted, calls, "only the running calls are aborted");
        let all = (0..6).all(|i| o.state().task(TaskIx(i)).status == TaskStatus::Cancelled);
        assert!(all, "every task is cancelled");
        let status = o.state().workflows[w.usize()].status;
        assert_eq!(status, crate::core::workflow::WorkflowStatus::Cancelled);
        assert_eq!(
            crate::core::views::statistics(o.state()).workflows_cancelled,
            1
        );
        let journal = o.journal_json(0).unwrap();
        let report = crate::core::verify::verify_replay(&journal).unwrap();
        assert!(report.ok, "{report:?}");
        // A journal from before `workflow.cancelled` says `workflow.failed` there, and verifies.
        let old: Vec<String> = journal
            .lines()
            .map(|l| match l.strip_suffix("}}") {
                Some(head) if l.contains(r#""type":"workflow.cancelled""#) => {
                    let head = head.replace("workflow.cancelled", "workflow.failed");
                    format!(r#"{head},"policy":"continue"}}}}"#)
                }
                // The snapshot taken as it ended gave that reason too.
                _ => l.replace(
                    r#""reason":"workflow.cancelled""#,
                    r#""reason":"workflow.failed""#,
                ),
            })
            .collect();
        let old = old.join("\n");
        assert!(old.contains(r#""reason":"workflow.failed""#), "{old}");
        let report = crate::core::verify::verify_replay(&old).unwrap();
        assert!(report.ok, "{report:?}");
    }
}

#[test]
fn cancelling_a_fail_fast_workflow_gives_every_task_its_reason() {
    let (mut o, w) = workflow_on_r(
        "w",
        &[("x", &[]), ("y", &["x"]), ("q", &[])],
        FailurePolicy::FailFast,
    );
    assert_eq!(invokes(&mut o).len(), 2, "x and q run, y waits");
    o.cancel_workflow(w, "shutting down", 1).unwrap();
    for i in 0..3 {
        let t = o.state().task(TaskIx(i));
        assert_eq!(t.status, TaskStatus::Cancelled);
        let message = &t.error.as_ref().unwrap().message;
        assert_eq!(
            message, "shutting down",
            "task {i}: not blamed on a sibling"
        );
    }
    let status = o.state().workflows[w.usize()].status;
    assert_eq!(status, crate::core::workflow::WorkflowStatus::Cancelled);
    let journal = o.journal_json(0).unwrap();
    assert!(!journal.contains("failed fast"), "{journal}");
    let report = crate::core::verify::verify_replay(&journal).unwrap();
    assert!(report.ok, "{report:?}");
}

#[test]
fn updating_an_agent_changes_what_is_given_and_more_room_starts_waiting_tasks() {
    use crate::core::agent::AgentUpdate;
    let mut o = orch();
    let a = agent(&mut o, "w", Some(1));
    for _ in 0..3 {
        submit(&mut o, "w", 5);
    }
    assert_eq!(invokes(&mut o).len(), 1, "one at a time");
    let update = AgentUpdate {
        name: Some("Worker".into()),
        concurrency: Some(Some(3)),
        ..AgentUpdate::default()
    };
    o.update_agent(a, update, 1).unwrap();
    assert_eq!(invokes(&mut o).len(), 2, "the room is used at once");
    let ag = o.state().agent(a);
    assert_eq!(
        (ag.name.as_str(), ag.concurrency, ag.max_errors),
        ("Worker", Some(3), None)
    );
    let unlimited = AgentUpdate {
        concurrency: Some(None),
        capabilities: Some(vec!["sum".into()]),
        ..AgentUpdate::default()
    };
    o.update_agent(a, unlimited, 2).unwrap();
    assert_eq!(o.state().agent(a).concurrency, None);
    assert_eq!(o.state().agent(a).name, "Worker", "what is not given stays");
    let seq = o.state().seq;
    for bad in [
        AgentUpdate::default(),
        AgentUpdate {
            concurrency: Some(Some(0)),
            ..AgentUpdate::default()
        },
        AgentUpdate {
            capabilities: Some(vec![String::new()]),
            ..AgentUpdate::default()
        },
    ] {
        assert_eq!(
            o.update_agent(a, bad, 3).unwrap_err().code(),
            "invalid_argument"
        );
    }
    assert_eq!(o.state().seq, seq, "a refused update changes nothing");
    let journal = o.journal_json(0).unwrap();
    assert!(journal.contains(r#""type":"agent.updated","data":{"agent":"w","update":{"name":"Worker","concurrency":3}}"#), "{journal}");
    let report = crate::core::verify::verify_replay(&journal).unwrap();
    assert!(report.ok, "{report:?}");
    let replayed = Orchestrator::replay(&journal, None).unwrap();
    assert_eq!(replayed.state().agent(a).capabilities, ["sum"]);
    // A maxErrors at or below the errors it has: Error at once.
    o.report_error(a, "one", 4).unwrap();
    o.report_error(a, "two", 4).unwrap();
    let lower = AgentUpdate {
        max_errors: Some(Some(2)),
        ..AgentUpdate::default()
    };
    o.update_agent(a, lower, 5).unwrap();
    assert_eq!(o.state().agent(a).status, AgentStatus::Error);
    let report = crate::core::verify::verify_replay(&o.journal_json(0).unwrap()).unwrap();
    assert!(report.ok, "{report:?}");
}

#[test]
fn a_journal_with_calls_reissued_after_a_restart_verifies() {
    let mut o = orch();
    agent(&mut o, "x", None);
    let t = submit(&mut o, "x", 1);
    assert_eq!(invokes(&mut o).len(), 1);
    // The process dies with the call in flight; the next one replays and issues it again.
    let mut again = Orchestrator::replay(&o.journal_json(0).unwrap(), None).unwrap();
    again.reissue_in_flight(10);
    let (call, task) = invokes(&mut again)[0];
    assert_eq!((task, again.state().task(t).attempts), (t, 2));
    assert!(again.complete(call, PayloadId::NONE, 20));
    let journal = again.journal_json(0).unwrap();
    assert!(journal.contains(r#""reason":"restored while running""#));
    let report = crate::core::verify::verify_replay(&journal).unwrap();
    assert!(report.ok, "{report:?}");
}

#[test]
fn a_restart_between_two_retries_due_at_the_same_ms_verifies() {
    use crate::core::policy::{Backoff, RetryPolicy};
    let mut o = orch();
    let spec = AgentSpec {
        retry: Some(RetryPolicy {
            max_attempts: 3,
            backoff: Backoff {
                initial_ms: 100,
                factor: 1.0,
                max_ms: 100,
            },
            jitter: 0.0,
        }),
        ..AgentSpec::new("x")
    };
    started(&mut o, spec);
    agent(&mut o, "y", None);
    let a = submit(&mut o, "x", 1);
    let b = submit(&mut o, "x", 1);
    let c = submit(&mut o, "y", 1);
    let calls: BTreeMap<TaskIx, u32> = invokes(&mut o).into_iter().map(|(k, t)| (t, k)).collect();
    // b fails first: its retry's timer is older than a's, both due at 110.
    o.fail(calls[&b], ErrorClass::Agent, "no", 10);
    o.fail(calls[&a], ErrorClass::Agent, "no", 10);
    // The process dies with c's call in flight; the next rebuilds its timers from the state.
    let mut again = Orchestrator::replay(&o.journal_json(0).unwrap(), None).unwrap();
    again.reissue_in_flight(20);
    let mut open: Vec<u32> = invokes(&mut again).into_iter().map(|(k, _)| k).collect();
    again.handle_timeout(110);
    open.extend(invokes(&mut again).into_iter().map(|(k, _)| k));
    assert_eq!(open.len(), 3);
    for call in open {
        assert!(again.complete(call, PayloadId::NONE, 120));
    }
    assert_eq!(again.state().task(c).status, TaskStatus::Completed);
    let journal = again.journal_json(0).unwrap();
    let report = crate::core::verify::verify_replay(&journal).unwrap();
    assert!(report.ok, "{report:?}");
}

#[test]
fn finishing_a_command_takes_the_terminate_a_strategy_decided() {
    use crate::core::policy::Strategy;
    use crate::core::task::ErrorClass;
    let mut o = orch();
    let mut spec = AgentSpec::new("t");
    spec.on_error
        .insert(ErrorClass::Internal, Strategy::Terminate);
    started(&mut o, spec);
    submit(&mut o, "t", 1);
    let (call, _) = invokes(&mut o)[0];
    o.fail(call, ErrorClass::Internal, "disk full", 5);
    let text = o.journal_json(0).unwrap();
    let failed = text
        .lines()
        .find(|l| l.contains("\"task.failed\""))
        .and_then(|l| crate::core::replay_check::peek_seq(l).ok())
        .unwrap();
    // A fork that stops at the failure finishes its command: the terminate is part of it.
    let mut fork = Orchestrator::replay(&text, Some(failed)).unwrap();
    fork.finish_command(&text).unwrap();
    assert!(fork.state().terminated.is_some());
    assert_eq!(fork.journal_json(0).unwrap(), text);
    assert!(crate::core::verify::verify_replay(&text).unwrap().ok);
    // A journal from before `auto` was written there still verifies.
    let legacy: String = text
        .lines()
        .map(|l| {
            if l.contains("orchestrator.terminated") {
                l.replace(",\"auto\":true", "")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(legacy, text);
    assert!(crate::core::verify::verify_replay(&legacy).unwrap().ok);
}

#[test]
fn snapshot_every_events_lists_one_each_n_records_and_a_restore_keeps_the_count() {
    let options = Options {
        snapshot_every_events: Some(5),
        ..Options::default()
    };
    let mut o = Orchestrator::new(7, options, 0).unwrap();
    agent(&mut o, "a", None);
    for i in 0..6 {
        submit(&mut o, "a", 1);
        for (call, _) in invokes(&mut o) {
            o.complete(call, PayloadId::NONE, i);
        }
    }
    while o.poll_effect().is_some() {}
    let seqs: Vec<u64> = (o.state().snapshots.iter())
        .filter(|s| s.reason == "every")
        .map(|s| s.seq)
        .collect();
    assert!(seqs.len() >= 3, "{seqs:?}");
    assert!(seqs.windows(2).all(|w| w[1] - w[0] >= 5), "{seqs:?}");
    let journal = o.journal_json(0).unwrap();
    assert!(crate::core::verify::verify_replay(&journal).unwrap().ok);
    // Restored, the count goes on from the last one, not from the start.
    let last = o.state().snapshots.back().unwrap().id.clone();
    let snap = o.snapshot_json(&last).unwrap();
    let again = Orchestrator::restore(&snap, 10).unwrap();
    assert_eq!(again.state().every_snapshot_seq, *seqs.last().unwrap());
    let bad = Options {
        snapshot_every_events: Some(0),
        ..Options::default()
    };
    assert!(Orchestrator::new(7, bad, 0).is_err());
}

#[test]
fn snapshot_every_events_counts_custom_events_messages_and_reported_errors() {
    let options = Options {
        snapshot_every_events: Some(10),
        ..Options::default()
    };
    let mut o = Orchestrator::new(7, options, 0).unwrap();
    let a = agent(&mut o, "a", None);
    for i in 0..30 {
        o.emit_custom("note.added", PayloadId::NONE, i).unwrap();
    }
    for i in 30..40 {
        o.send(a, a, PayloadId::NONE, i).unwrap();
    }
    o.report_error(a, "noted", 40).unwrap();
    let every = |o: &Orchestrator| {
        (o.state().snapshots.iter())
            .filter(|s| s.reason == "every")
            .count()
    };
    assert!(every(&o) >= 4, "{} every-N snapshots", every(&o));
    let journal = o.journal_json(0).unwrap();
    assert!(crate::core::verify::verify_replay(&journal).unwrap().ok);
}

#[test]
fn a_store_snapshot_waits_for_its_events_and_for_as_many_journal_bytes_as_the_last() {
    use crate::core::snapshot::store_snapshot_due;
    assert!(
        !store_snapshot_due(999, 1_000, 1 << 20, 0),
        "not yet 1,000 events"
    );
    assert!(
        store_snapshot_due(1_000, 1_000, 10, 0),
        "the first: no snapshot before it"
    );
    assert!(
        !store_snapshot_due(5_000, 1_000, 100, 4_096),
        "the journal since is smaller"
    );
    assert!(store_snapshot_due(1_000, 1_000, 4_096, 4_096));
}
