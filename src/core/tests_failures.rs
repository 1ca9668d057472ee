//! Failure handling, driven the way a driver drives it, on the core's clock.

use crate::core::agent::{AgentSpec, AgentStatus, BreakerSetting};
use crate::core::ids::{AgentIx, PayloadId, TaskIx};
use crate::core::orchestrator::AbortReason;
use crate::core::policy::{
    Backoff, BreakerConfig, BreakerState, Fallback, RateLimit, RetryPolicy, Strategy,
};
use crate::core::task::{ErrorClass, TaskError, TaskSpec, TaskStatus};
use crate::core::{Effect, Options, Orchestrator};

fn orch(seed: u64) -> Orchestrator {
    Orchestrator::new(seed, Options::default(), 0).unwrap()
}

fn add(o: &mut Orchestrator, spec: AgentSpec) -> AgentIx {
    let a = o.register_agent(spec, 0).unwrap();
    o.start_agent(a, 0).unwrap();
    a
}

fn retry(max: u32, initial: u64, jitter: f64) -> RetryPolicy {
    RetryPolicy {
        max_attempts: max,
        backoff: Backoff {
            initial_ms: initial,
            factor: 2.0,
            max_ms: 10_000,
        },
        jitter,
    }
}

fn submit(o: &mut Orchestrator, agent: &str, now: u64) -> TaskIx {
    o.submit(
        TaskSpec {
            agent: agent.into(),
            ..TaskSpec::default()
        },
        PayloadId::NONE,
        PayloadId::NONE,
        now,
    )
    .unwrap()
}

fn drain(o: &mut Orchestrator) -> Vec<Effect> {
    std::iter::from_fn(|| o.poll_effect()).collect()
}

fn invokes(o: &mut Orchestrator) -> Vec<(u32, TaskIx)> {
    drain(o)
        .into_iter()
        .filter_map(|e| match e {
            Effect::Invoke { call, task, .. } => Some((call, task)),
            _ => None,
        })
        .collect()
}

fn topics(o: &Orchestrator, from_seq: u64) -> Vec<String> {
    o.journal_records()
        .filter(|r| r.seq > from_seq)
        .map(|r| r.event.topic().to_owned())
        .collect()
}

#[test]
fn an_agent_that_says_when_to_come_back_is_not_retried_sooner() {
    let mut o = orch(1);
    add(
        &mut o,
        AgentSpec {
            retry: Some(retry(5, 100, 0.0)),
            ..AgentSpec::new("busy")
        },
    );
    let t = submit(&mut o, "busy", 0);
    let (call, _) = invokes(&mut o)[0];
    let mut error = TaskError::new(ErrorClass::RateLimit, "HTTP 429");
    error.retry_after_ms = Some(2_000);
    assert!(o.fail_with(call, error, 10));
    assert_eq!(o.state().task(t).next_attempt_at(), Some(2_010), "not 110");
    o.handle_timeout(2_010);
    let (call2, _) = invokes(&mut o)[0];
    // Shorter than the backoff: the backoff wins. Beyond an hour: an hour.
    let mut error = TaskError::new(ErrorClass::RateLimit, "HTTP 429");
    error.retry_after_ms = Some(1);
    assert!(o.fail_with(call2, error, 2_020));
    assert_eq!(o.state().task(t).next_attempt_at(), Some(2_220));
    o.handle_timeout(2_220);
    let (call3, _) = invokes(&mut o)[0];
    let mut error = TaskError::new(ErrorClass::RateLimit, "HTTP 429");
    error.retry_after_ms = Some(u64::MAX);
    assert!(o.fail_with(call3, error, 2_230));
    assert_eq!(
        o.state().task(t).next_attempt_at(),
        Some(2_230 + crate::core::task::RETRY_AFTER_MS_MAX)
    );
    // The wait is in the journal, so replay and verification agree.
    let journal = o.journal_json(0).unwrap();
    assert!(journal.contains(r#""retryAfterMs":2000"#), "{journal}");
    assert!(crate::core::verify::verify_replay(&journal).unwrap().ok);
}

#[test]
fn retries_back_off_on_the_core_clock_then_succeed() {
    let mut o = orch(1);
    add(
        &mut o,
        AgentSpec {
            retry: Some(retry(3, 100, 0.0)),
            ..AgentSpec::new("flaky")
        },
    );
    let t = submit(&mut o, "flaky", 0);
    let (call, _) = invokes(&mut o)[0];
    assert!(o.fail(call, ErrorClass::Agent, "boom", 10));
    assert_eq!(o.state().task(t).status, TaskStatus::Retrying);
    assert_eq!(o.state().task(t).next_attempt_at(), Some(110));
    assert_eq!(o.next_deadline(), Some(110));
    o.handle_timeout(109); // early: nothing
    assert!(invokes(&mut o).is_empty());
    o.handle_timeout(110);
    let (call2, _) = invokes(&mut o)[0];
    assert!(o.fail(call2, ErrorClass::Agent, "boom again", 120));
    assert_eq!(
        o.state().task(t).next_attempt_at(),
        Some(320),
        "100, then 200"
    );
    o.handle_timeout(320);
    let (call3, _) = invokes(&mut o)[0];
    assert!(o.complete(call3, PayloadId::NONE, 330));
    assert_eq!(
        (o.state().task(t).status, o.state().task(t).attempts),
        (TaskStatus::Completed, 3)
    );
    let retrying: Vec<String> = o
        .journal_records()
        .filter(|r| r.event.topic() == "task.retrying")
        .map(|r| o.record_json(r).unwrap())
        .collect();
    assert!(
        retrying[0].contains(r#""attempt":1,"delayMs":100,"nextAttemptAt":110"#),
        "{}",
        retrying[0]
    );
}

#[test]
fn jitter_is_drawn_from_the_seed() {
    let delays = |seed| {
        let mut o = orch(seed);
        add(
            &mut o,
            AgentSpec {
                retry: Some(retry(5, 1_000, 1.0)),
                ..AgentSpec::new("a")
            },
        );
        let t = submit(&mut o, "a", 0);
        let mut out = vec![];
        for _ in 0..4 {
            let (call, _) = invokes(&mut o)[0];
            let now = o.state().now;
            o.fail(call, ErrorClass::Agent, "x", now);
            let at = o.state().task(t).next_attempt_at().unwrap();
            out.push(at - now);
            o.handle_timeout(at);
        }
        out
    };
    assert_eq!(delays(9), delays(9));
    assert_ne!(delays(9), delays(10));
    for (i, d) in delays(9).into_iter().enumerate() {
        assert!(d < 1_000 << i, "full jitter stays under the backoff: {d}");
    }
}

#[test]
fn a_timed_out_attempt_is_aborted_and_its_late_answer_ignored() {
    let mut o = orch(2);
    add(
        &mut o,
        AgentSpec {
            timeout_ms: Some(50),
            ..AgentSpec::new("slow")
        },
    );
    let t = submit(&mut o, "slow", 0);
    let (call, _) = invokes(&mut o)[0];
    o.handle_timeout(50);
    let effects = drain(&mut o);
    assert!(effects.contains(&Effect::Abort {
        call,
        reason: AbortReason::TimedOut
    }));
    assert_eq!(o.state().task(t).status, TaskStatus::TimedOut);
    let seq = o.state().seq;
    assert!(!o.complete(call, PayloadId::NONE, 70), "late");
    assert_eq!(topics(&o, seq), vec!["call.ignored"]);
    assert_eq!(
        o.state().task(t).status,
        TaskStatus::TimedOut,
        "never applied"
    );
    let rec = o.record_json(o.journal_records().last().unwrap()).unwrap();
    assert!(
        rec.contains("late: the attempt had already timed out"),
        "{rec}"
    );
}

#[test]
fn a_task_never_completes_twice() {
    let mut o = orch(3);
    add(&mut o, AgentSpec::new("a"));
    let t = submit(&mut o, "a", 0);
    let (call, _) = invokes(&mut o)[0];
    assert!(o.complete(call, PayloadId::NONE, 1));
    assert!(!o.complete(call, PayloadId::NONE, 2));
    assert!(!o.fail(call, ErrorClass::Agent, "after the fact", 3));
    assert_eq!(o.state().task(t).status, TaskStatus::Completed);
    assert_eq!(o.state().count(TaskStatus::Completed), 1);
}

#[test]
fn a_hung_agent_never_blocks_the_others() {
    let mut o = orch(4);
    add(&mut o, AgentSpec::new("hangs"));
    add(
        &mut o,
        AgentSpec {
            concurrency: Some(1),
            ..AgentSpec::new("works")
        },
    );
    submit(&mut o, "hangs", 0);
    let work: Vec<TaskIx> = (0..5).map(|_| submit(&mut o, "works", 0)).collect();
    let mut done = 0;
    let mut pending: Vec<_> = invokes(&mut o)
        .into_iter()
        .filter(|(_, t)| work.contains(t))
        .collect();
    while let Some((call, _)) = pending.pop() {
        o.complete(call, PayloadId::NONE, 1);
        done += 1;
        pending.extend(invokes(&mut o));
    }
    assert_eq!(done, 5);
}

#[test]
fn the_breaker_opens_waits_half_opens_and_closes() {
    let mut o = orch(5);
    let cfg = BreakerConfig {
        failure_threshold: 2,
        recovery_ms: 1_000,
        success_threshold: 2,
    };
    let a = add(
        &mut o,
        AgentSpec {
            circuit_breaker: BreakerSetting::On(cfg),
            ..AgentSpec::new("b")
        },
    );
    for _ in 0..2 {
        submit(&mut o, "b", 0);
    }
    for (call, _) in invokes(&mut o) {
        o.fail(call, ErrorClass::Agent, "down", 10);
    }
    assert_eq!(o.state().agent(a).breaker.state, BreakerState::Open);
    let waiting: Vec<TaskIx> = (0..3).map(|_| submit(&mut o, "b", 20)).collect();
    assert!(invokes(&mut o).is_empty(), "an open breaker takes no calls");
    o.handle_timeout(1_009);
    assert!(invokes(&mut o).is_empty());
    o.handle_timeout(1_010);
    assert_eq!(o.state().agent(a).breaker.state, BreakerState::HalfOpen);
    let trial = invokes(&mut o);
    assert_eq!(trial.len(), 1, "one trial call at a time");
    o.complete(trial[0].0, PayloadId::NONE, 1_020);
    let second = invokes(&mut o);
    assert_eq!(second.len(), 1);
    o.complete(second[0].0, PayloadId::NONE, 1_030);
    assert_eq!(o.state().agent(a).breaker.state, BreakerState::Closed);
    let rest = invokes(&mut o);
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].1, waiting[2]);
    let breaker_events: Vec<String> = o
        .journal_records()
        .filter(|r| r.event.topic() == "agent.breaker")
        .map(|r| o.record_json(r).unwrap())
        .collect();
    assert_eq!(breaker_events.len(), 3, "{breaker_events:?}");
    assert!(
        breaker_events[1].contains(r#""to":"half-open""#),
        "{breaker_events:?}"
    );
    // A journal written when the state was spelled `half_open` still reads and verifies.
    let journal = o.journal_json(0).unwrap();
    let old = journal.replace("half-open", "half_open");
    assert_ne!(old, journal);
    assert!(crate::core::verify::verify_replay(&old).unwrap().ok);
}

#[test]
fn an_open_breaker_sends_waiting_tasks_to_the_fallback() {
    let mut o = orch(6);
    let cfg = BreakerConfig {
        failure_threshold: 1,
        recovery_ms: 60_000,
        success_threshold: 1,
    };
    let fallback = Some(Fallback {
        agent: Some("backup".into()),
        capability: None,
    });
    add(
        &mut o,
        AgentSpec {
            circuit_breaker: BreakerSetting::On(cfg),
            fallback,
            concurrency: Some(1),
            ..AgentSpec::new("main")
        },
    );
    let backup = add(&mut o, AgentSpec::new("backup"));
    o.pause_agent(backup, 0).unwrap();
    let first = submit(&mut o, "main", 0);
    let queued = submit(&mut o, "main", 0);
    let (call, _) = invokes(&mut o)[0];
    o.fail(call, ErrorClass::Agent, "down", 5);
    assert_eq!(o.state().task(first).status, TaskStatus::Failed);
    assert_eq!(o.state().task(queued).agent, backup, "reassigned");
    o.resume_agent(backup, 6).unwrap();
    assert_eq!(invokes(&mut o), vec![(2, queued)]);
    let later = submit(&mut o, "main", 7);
    assert_eq!(
        o.state().task(later).agent,
        backup,
        "submitted while open: straight to the fallback"
    );
}

#[test]
fn the_token_bucket_limits_calls_per_minute() {
    let mut o = orch(7);
    add(
        &mut o,
        AgentSpec {
            rate_limit: Some(RateLimit {
                per_minute: 60,
                burst: Some(2),
            }),
            ..AgentSpec::new("r")
        },
    );
    for _ in 0..5 {
        submit(&mut o, "r", 0);
    }
    let first = invokes(&mut o);
    assert_eq!(first.len(), 2, "the burst");
    for (call, _) in first {
        o.complete(call, PayloadId::NONE, 1);
    }
    assert!(invokes(&mut o).is_empty(), "throttled");
    assert_eq!(o.next_deadline(), Some(1_000));
    o.handle_timeout(1_000);
    assert_eq!(invokes(&mut o).len(), 1, "one token a second");
    o.handle_timeout(2_000);
    assert_eq!(invokes(&mut o).len(), 1);
}

fn strategy_agent(o: &mut Orchestrator, id: &str, class: ErrorClass, s: Strategy) -> AgentIx {
    let mut spec = AgentSpec::new(id);
    spec.on_error.insert(class, s);
    spec.retry = Some(retry(3, 10, 0.0));
    add(o, spec)
}

#[test]
fn validation_errors_fail_at_once_by_default() {
    let mut o = orch(8);
    add(
        &mut o,
        AgentSpec {
            retry: Some(retry(5, 10, 0.0)),
            ..AgentSpec::new("v")
        },
    );
    let t = submit(&mut o, "v", 0);
    let (call, _) = invokes(&mut o)[0];
    o.fail(call, ErrorClass::Validation, "bad shape", 1);
    assert_eq!(o.state().task(t).status, TaskStatus::Failed);
}

#[test]
fn skip_lets_dependents_go_on() {
    use crate::core::workflow::{FailurePolicy, WorkflowSpec, WorkflowTaskSpec};
    let mut o = orch(9);
    strategy_agent(&mut o, "s", ErrorClass::Validation, Strategy::Skip);
    let task = |id: &str, deps: &[&str]| WorkflowTaskSpec {
        id: id.into(),
        agent: "s".into(),
        name: None,
        priority: None,
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        retry: None,
        capability: None,
        timeout_ms: None,
        on_error: Default::default(),
        fallback: None,
    };
    let spec = WorkflowSpec {
        id: Some("w".into()),
        name: None,
        tasks: vec![task("a", &[]), task("b", &["a"])],
        dependencies: Default::default(),
        failure_policy: FailurePolicy::FailFast,
        pattern: Default::default(),
        width: None,
        session: None,
    };
    o.submit_workflow(spec, &[(PayloadId::NONE, PayloadId::NONE); 2], 0)
        .unwrap();
    let (call, _) = invokes(&mut o)[0];
    o.fail(call, ErrorClass::Validation, "no", 1);
    assert_eq!(o.state().task(TaskIx(0)).status, TaskStatus::Skipped);
    let e = o.state().task(TaskIx(0)).error.clone().unwrap();
    assert_eq!(
        e.class,
        ErrorClass::Validation,
        "the class it was skipped after"
    );
    let (call_b, b) = invokes(&mut o)[0];
    assert_eq!(b, TaskIx(1));
    o.complete(call_b, PayloadId::NONE, 2);
    assert_eq!(
        o.state().workflows[0].status,
        crate::core::workflow::WorkflowStatus::Completed
    );
}

#[test]
fn escalate_raises_an_event_and_puts_the_agent_in_error() {
    let mut o = orch(10);
    let a = strategy_agent(&mut o, "e", ErrorClass::Permission, Strategy::Escalate);
    let t = submit(&mut o, "e", 0);
    let seq = o.state().seq;
    let (call, _) = invokes(&mut o)[0];
    o.fail(call, ErrorClass::Permission, "forbidden", 1);
    let got = topics(&o, seq);
    assert!(got.contains(&"escalation".to_string()), "{got:?}");
    assert_eq!(o.state().agent(a).status, AgentStatus::Error);
    assert_eq!(o.state().task(t).status, TaskStatus::Failed);
    assert_eq!(o.snapshots(1)[0].reason, "agent.error");
}

#[test]
fn reset_restarts_the_agent_and_retries() {
    let mut o = orch(11);
    let a = strategy_agent(&mut o, "r", ErrorClass::Internal, Strategy::Reset);
    let t = submit(&mut o, "r", 0);
    let (call, _) = invokes(&mut o)[0];
    o.fail(call, ErrorClass::Internal, "corrupt state", 1);
    let h: Vec<_> = o
        .state()
        .agent(a)
        .history
        .iter()
        .rev()
        .take(3)
        .map(|t| (t.from, t.to, t.reason.clone()))
        .collect();
    assert_eq!(
        h[0],
        (
            AgentStatus::Ready,
            AgentStatus::Running,
            "reset".to_string()
        )
    );
    assert_eq!(o.state().task(t).status, TaskStatus::Retrying);
}

#[test]
fn reset_leaves_an_agent_the_user_paused_paused() {
    let mut o = orch(11);
    let a = strategy_agent(&mut o, "r", ErrorClass::Internal, Strategy::Reset);
    submit(&mut o, "r", 0);
    let (call, _) = invokes(&mut o)[0];
    o.pause_agent(a, 1).unwrap();
    let waiting = submit(&mut o, "r", 1);
    o.fail(call, ErrorClass::Internal, "corrupt state", 2);
    let last = o.state().agent(a).history.last().unwrap();
    assert_eq!(
        (last.from, last.to, last.reason.as_str()),
        (AgentStatus::Error, AgentStatus::Paused, "reset")
    );
    o.handle_timeout(100_000);
    assert_eq!(
        o.state().task(waiting).status,
        TaskStatus::Queued,
        "nothing runs until it is resumed"
    );
}

#[test]
fn reset_leaves_a_paused_agent_paused_when_the_failure_also_reaches_max_errors() {
    let mut o = orch(11);
    let mut spec = AgentSpec::new("r");
    spec.on_error.insert(ErrorClass::Internal, Strategy::Reset);
    spec.max_errors = Some(1);
    let a = add(&mut o, spec);
    submit(&mut o, "r", 0);
    let (call, _) = invokes(&mut o)[0];
    o.pause_agent(a, 1).unwrap();
    o.fail(call, ErrorClass::Internal, "corrupt state", 2);
    assert_eq!(o.state().agent(a).status, AgentStatus::Paused);
}

#[test]
fn under_reset_an_agent_still_reaches_its_max_errors() {
    let mut o = orch(11);
    let mut spec = AgentSpec::new("r");
    spec.on_error.insert(ErrorClass::Agent, Strategy::Reset);
    spec.retry = Some(retry(3, 10, 0.0));
    spec.max_errors = Some(2);
    let a = add(&mut o, spec);
    submit(&mut o, "r", 0);
    for now in [1, 20] {
        let (call, _) = invokes(&mut o)[0];
        o.fail(call, ErrorClass::Agent, "corrupt state", now);
        if now == 1 {
            o.handle_timeout(15);
        }
    }
    let entered_error = (o.state().agent(a).history.iter())
        .any(|t| t.to == AgentStatus::Error && t.reason == "2 errors reached maxErrors");
    assert!(entered_error, "{:?}", o.state().agent(a).history);
}

#[test]
fn timeouts_and_every_failure_class_count_toward_max_errors() {
    for class in [
        ErrorClass::Timeout,
        ErrorClass::Tool,
        ErrorClass::Validation,
    ] {
        let mut o = orch(12);
        let mut spec = AgentSpec::new("h");
        spec.max_errors = Some(2);
        spec.circuit_breaker = BreakerSetting::Off;
        let a = add(&mut o, spec);
        for now in [1, 2] {
            submit(&mut o, "h", now);
            let (call, _) = invokes(&mut o)[0];
            o.fail(call, class, "no good", now);
        }
        let ag = o.state().agent(a);
        assert_eq!(
            (ag.error_count, ag.status),
            (2, AgentStatus::Error),
            "{class:?}"
        );
    }
}

#[test]
fn a_breaker_is_on_unless_turned_off_and_journals_from_before_had_none() {
    let spec = |json: &str| serde_json::from_str::<AgentSpec>(json).unwrap();
    assert_eq!(
        spec(r#"{"id":"a"}"#).circuit_breaker,
        BreakerSetting::Default
    );
    assert_eq!(
        spec(r#"{"id":"a","circuitBreaker":false}"#).circuit_breaker,
        BreakerSetting::Off
    );
    assert_eq!(
        spec(r#"{"id":"a","circuitBreaker":{"failureThreshold":2}}"#).circuit_breaker,
        BreakerSetting::On(BreakerConfig {
            failure_threshold: 2,
            ..BreakerConfig::default()
        })
    );
    // Registering records the breaker each agent got, the default one included.
    let mut o = orch(14);
    add(&mut o, spec(r#"{"id":"plain"}"#));
    add(&mut o, spec(r#"{"id":"off","circuitBreaker":false}"#));
    let journal = o.journal_json(0).unwrap();
    assert!(journal.contains(
        r#""circuitBreaker":{"failureThreshold":5,"recoveryMs":60000,"successThreshold":3}"#
    ));
    assert!(journal.contains(r#""circuitBreaker":false"#));
    assert!(o.state().agents[0].breaker_config.is_some());
    assert!(o.state().agents[1].breaker_config.is_none());
    // A journal written before breakers were on by default names none for an agent that had
    // none: replayed, that agent still has none.
    let old = journal
        .lines()
        .map(|l| l.replace(r#","circuitBreaker":{"failureThreshold":5,"recoveryMs":60000,"successThreshold":3}"#, ""))
        .collect::<Vec<_>>()
        .join("\n");
    let replayed = Orchestrator::replay(&old, None).unwrap();
    assert!(replayed.state().agents[0].breaker_config.is_none());
}

#[test]
fn a_fallback_that_cannot_be_used_says_why_in_the_tasks_error() {
    for (fallback, why) in [
        (None, "the task and its agent give none"),
        (Some(("nope", None)), "agent 'nope' is unknown"),
        (Some(("first", None)), "agent 'first' is the task's own"),
        (
            Some(("", Some("zz"))),
            "no other running agent has capability 'zz'",
        ),
    ] {
        let mut o = orch(13);
        let mut spec = AgentSpec::new("first");
        spec.on_error.insert(ErrorClass::Agent, Strategy::Fallback);
        spec.fallback = fallback.map(|(agent, capability)| Fallback {
            agent: capability.is_none().then(|| agent.into()),
            capability: capability.map(Into::into),
        });
        add(&mut o, spec);
        let t = submit(&mut o, "first", 0);
        let call = drain(&mut o)
            .into_iter()
            .find_map(|e| match e {
                Effect::Invoke { call, .. } => Some(call),
                _ => None,
            })
            .unwrap();
        o.fail(call, ErrorClass::Agent, "down", 1);
        let task = o.state().task(t);
        assert_eq!(task.status, TaskStatus::Failed);
        let error = task.error.as_ref().unwrap();
        assert_eq!(error.message, format!("down (no fallback: {why})"));
    }
}

#[test]
fn fallback_moves_the_task_to_a_capable_agent() {
    let mut o = orch(12);
    let mut spec = AgentSpec::new("primary");
    spec.on_error
        .insert(ErrorClass::Timeout, Strategy::Fallback);
    spec.fallback = Some(Fallback {
        agent: None,
        capability: Some("summarize".into()),
    });
    spec.timeout_ms = Some(100);
    add(&mut o, spec);
    add(
        &mut o,
        AgentSpec {
            capabilities: vec!["summarize".into()],
            ..AgentSpec::new("busy")
        },
    );
    let idle = add(
        &mut o,
        AgentSpec {
            capabilities: vec!["summarize".into()],
            ..AgentSpec::new("idle")
        },
    );
    o.submit(
        TaskSpec {
            agent: "busy".into(),
            ..TaskSpec::default()
        },
        PayloadId::NONE,
        PayloadId::NONE,
        0,
    )
    .unwrap();
    let t = submit(&mut o, "primary", 0);
    drain(&mut o);
    o.handle_timeout(100);
    assert_eq!(
        o.state().task(t).agent,
        idle,
        "the least-loaded capable agent"
    );
    assert_eq!(o.state().task(t).status, TaskStatus::Running);
}

#[test]
fn terminate_stops_everything_cleanly_and_refuses_new_work() {
    let mut o = orch(13);
    strategy_agent(&mut o, "t", ErrorClass::Internal, Strategy::Terminate);
    add(&mut o, AgentSpec::new("other"));
    let t = submit(&mut o, "t", 0);
    let other = submit(&mut o, "other", 0);
    let calls = invokes(&mut o);
    o.fail(calls[0].0, ErrorClass::Internal, "disk full", 1);
    assert_eq!(o.state().task(t).status, TaskStatus::Failed);
    assert_eq!(o.state().task(other).status, TaskStatus::Cancelled);
    assert!(drain(&mut o).contains(&Effect::Abort {
        call: calls[1].0,
        reason: AbortReason::Cancelled
    }));
    let e = o.submit(
        TaskSpec {
            agent: "other".into(),
            ..TaskSpec::default()
        },
        PayloadId::NONE,
        PayloadId::NONE,
        2,
    );
    assert_eq!(e.unwrap_err().code(), "terminated");
    assert!(o
        .state()
        .agents
        .iter()
        .all(|a| a.status == AgentStatus::Stopped));
}

#[test]
fn the_first_seeds_error_pattern_works() {
    let mut o = orch(14);
    let a = add(
        &mut o,
        AgentSpec {
            max_errors: Some(3),
            ..AgentSpec::new("executor")
        },
    );
    o.report_error(a, "exchange timeout", 1).unwrap();
    o.pause_agent(a, 2).unwrap();
    o.resume_agent(a, 3).unwrap();
    for i in 0..2 {
        let t = submit(&mut o, "executor", 4 + i);
        let (call, _) = invokes(&mut o)[0];
        o.fail(call, ErrorClass::Agent, "rejected", 5 + i);
        assert_eq!(o.state().task(t).status, TaskStatus::Failed);
    }
    assert_eq!(
        o.state().agent(a).status,
        AgentStatus::Error,
        "too many errors"
    );
    o.recover_agent(a, 10).unwrap();
    o.start_agent(a, 11).unwrap();
    assert_eq!(o.state().agent(a).status, AgentStatus::Running);
}

#[test]
fn cancelling_an_agents_queue_leaves_its_running_calls() {
    let mut o = orch(15);
    let a = add(
        &mut o,
        AgentSpec {
            concurrency: Some(1),
            ..AgentSpec::new("q")
        },
    );
    let running = submit(&mut o, "q", 0);
    let waiting: Vec<TaskIx> = (0..3).map(|_| submit(&mut o, "q", 0)).collect();
    assert_eq!(o.cancel_agent_tasks(a, "not needed", 1).unwrap(), 3);
    assert_eq!(o.state().task(running).status, TaskStatus::Running);
    assert!(waiting
        .iter()
        .all(|&t| o.state().task(t).status == TaskStatus::Cancelled));
}

#[test]
fn restore_keeps_pending_retries_and_breakers_on_the_clock() {
    let mut o = orch(16);
    add(
        &mut o,
        AgentSpec {
            retry: Some(retry(2, 500, 0.0)),
            ..AgentSpec::new("a")
        },
    );
    let t = submit(&mut o, "a", 0);
    let (call, _) = invokes(&mut o)[0];
    o.fail(call, ErrorClass::Agent, "x", 10);
    let snap = o.snapshot(20).unwrap();
    // Snapshots written before a task's two stamps became one (`due`, version 2) are version 1
    // and name it `nextAttemptAt`; a version after this build's is refused.
    assert!(snap.contains(r#""version":3"#));
    let older = (snap.replace(r#""due":"#, r#""nextAttemptAt":"#))
        .replace(r#""version":3"#, r#""version":1"#);
    let newer = snap.replace(r#""version":3"#, r#""version":4"#);
    let e = Orchestrator::restore(&newer, 30).err().expect("refused");
    assert_eq!(e.code(), "decode_error", "{e}");
    let mut older = Orchestrator::restore(&older, 30).unwrap();
    assert_eq!(older.next_deadline(), Some(510));
    assert_eq!(older.state().task(t).next_attempt_at(), Some(510));
    let mut r = Orchestrator::restore(&snap, 30).unwrap();
    assert_eq!(r.next_deadline(), Some(510));
    r.handle_timeout(510);
    assert_eq!(invokes(&mut r).len(), 1);
    assert_eq!(r.state().task(t).attempts, 2);
    // The journal replays to the same state, retries and all.
    let text = o.journal_json(0).unwrap();
    let mut replayed = Orchestrator::replay(&text, None).unwrap();
    assert_eq!(replayed.journal_json(0).unwrap(), text);
    assert_eq!(replayed.next_deadline(), Some(510));
}

#[test]
fn an_automatic_snapshot_comes_after_its_commands_decisions_and_restores_to_a_live_state() {
    let mut o = orch(19);
    let a = add(
        &mut o,
        AgentSpec {
            max_errors: Some(1),
            retry: Some(retry(3, 100, 0.0)),
            ..AgentSpec::new("a")
        },
    );
    let t = submit(&mut o, "a", 0);
    let (call, _) = invokes(&mut o)[0];
    // The failure puts the agent in Error (a snapshot is due) and decides the retry.
    o.fail(call, ErrorClass::Agent, "boom", 10);
    drain(&mut o);
    let topics: Vec<&str> = o.journal_records().map(|r| r.event.topic()).collect();
    let at = |topic: &str| topics.iter().position(|t| *t == topic).unwrap();
    assert!(at("task.retrying") < at("snapshot.created"), "{topics:?}");
    let id = o.snapshots(1)[0].id.clone();
    // Rebuilt and restored, the task waits for its retry on the clock, as it did.
    o.submit(
        TaskSpec {
            agent: "a".into(),
            ..TaskSpec::default()
        },
        PayloadId::NONE,
        PayloadId::NONE,
        20,
    )
    .unwrap();
    let snap = o.snapshot_by_id(&id).unwrap();
    let mut r = Orchestrator::restore(&snap, 30).unwrap();
    assert_eq!(r.state().task(t).status, TaskStatus::Retrying);
    assert_eq!(r.state().task(t).next_attempt_at(), Some(110));
    assert_eq!(r.next_deadline(), Some(110));
    r.recover_agent(a, 30).unwrap();
    r.start_agent(a, 30).unwrap();
    r.handle_timeout(110);
    assert_eq!(invokes(&mut r).len(), 1, "the retry starts");
}

#[test]
fn a_call_reissued_at_an_earlier_clock_gets_its_deadline_from_the_states_time() {
    let mut o = orch(18);
    add(
        &mut o,
        AgentSpec {
            timeout_ms: Some(1_000),
            ..AgentSpec::new("a")
        },
    );
    o.handle_timeout(5_000);
    let t = submit(&mut o, "a", 5_000);
    assert_eq!(invokes(&mut o).len(), 1);
    let snap = o.snapshot(5_000).unwrap();
    // A virtual clock that starts again at 0 must not give the call a deadline already past.
    let mut r = Orchestrator::restore(&snap, 0).unwrap();
    assert_eq!(invokes(&mut r).len(), 1);
    assert_eq!(r.state().task(t).status, TaskStatus::Running);
    assert_eq!(r.next_deadline(), Some(6_000));
}

#[test]
fn bad_policies_are_coded_errors_that_change_nothing() {
    let mut o = orch(17);
    let seq = o.state().seq;
    let cases: Vec<(AgentSpec, &str)> = vec![
        (
            AgentSpec {
                retry: Some(retry(0, 10, 0.0)),
                ..AgentSpec::new("a")
            },
            "retry.maxAttempts",
        ),
        (
            AgentSpec {
                retry: Some(retry(2, 10, 2.0)),
                ..AgentSpec::new("a")
            },
            "retry.jitter",
        ),
        (
            AgentSpec {
                timeout_ms: Some(0),
                ..AgentSpec::new("a")
            },
            "timeoutMs",
        ),
        (
            AgentSpec {
                circuit_breaker: BreakerSetting::On(BreakerConfig {
                    failure_threshold: 0,
                    ..Default::default()
                }),
                ..AgentSpec::new("a")
            },
            "circuitBreaker",
        ),
        (
            AgentSpec {
                rate_limit: Some(RateLimit {
                    per_minute: 0,
                    burst: None,
                }),
                ..AgentSpec::new("a")
            },
            "rateLimit.perMinute",
        ),
        (
            AgentSpec {
                fallback: Some(Fallback {
                    agent: None,
                    capability: None,
                }),
                ..AgentSpec::new("a")
            },
            "fallback",
        ),
    ];
    for (spec, field) in cases {
        let e = o.register_agent(spec, 0).unwrap_err();
        assert_eq!(e.code(), "invalid_argument");
        assert!(e.to_string().contains(field), "{e} names {field}");
    }
    assert_eq!(o.state().seq, seq);
}

/// A run that uses most of what a journal can hold: retries with jitter, a timeout and its late
/// answer, a breaker, a rate limit, manual tasks, a workflow, cancels, custom events, snapshots.
fn busy_run() -> Orchestrator {
    use crate::core::workflow::{FailurePolicy, WorkflowSpec, WorkflowTaskSpec};
    let mut o = orch(99);
    let cfg = BreakerConfig {
        failure_threshold: 1,
        recovery_ms: 300,
        success_threshold: 1,
    };
    add(
        &mut o,
        AgentSpec {
            retry: Some(retry(4, 50, 0.5)),
            circuit_breaker: BreakerSetting::On(cfg),
            timeout_ms: Some(400),
            ..AgentSpec::new("a")
        },
    );
    add(
        &mut o,
        AgentSpec {
            rate_limit: Some(RateLimit {
                per_minute: 600,
                burst: Some(1),
            }),
            ..AgentSpec::new("b")
        },
    );
    let m = o
        .create_task(
            TaskSpec {
                agent: "b".into(),
                name: Some("by hand".into()),
                ..TaskSpec::default()
            },
            PayloadId::NONE,
            1,
        )
        .unwrap();
    o.start_task(m, 2).unwrap();
    let out = o.payloads_mut().alloc_json("{\"ok\":true}").unwrap();
    o.complete_task(m, out, 3).unwrap();
    let task = |id: &str, agent: &str, deps: &[&str]| WorkflowTaskSpec {
        id: id.into(),
        agent: agent.into(),
        name: None,
        priority: Some(2),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        retry: None,
        capability: None,
        timeout_ms: None,
        on_error: Default::default(),
        fallback: None,
    };
    let spec = WorkflowSpec {
        id: Some("w".into()),
        name: Some("busy".into()),
        tasks: vec![
            task("x", "a", &[]),
            task("y", "b", &["x"]),
            task("z", "b", &["x"]),
        ],
        dependencies: Default::default(),
        failure_policy: FailurePolicy::Continue,
        pattern: Default::default(),
        width: None,
        session: None,
    };
    let input = o.payloads_mut().alloc_json("[1,2]").unwrap();
    o.submit_workflow(
        spec,
        &[
            (input, PayloadId::NONE),
            (PayloadId::NONE, PayloadId::NONE),
            (PayloadId::NONE, PayloadId::NONE),
        ],
        4,
    )
    .unwrap();
    for _ in 0..3 {
        submit(&mut o, "b", 5);
        submit(&mut o, "a", 5);
    }
    let data = o.payloads_mut().alloc_json("{\"note\":\"hi\"}").unwrap();
    o.emit_custom("audit.note", data, 6).unwrap();
    let mut now = 10;
    let mut step = 0u32;
    let mut hung = std::collections::VecDeque::new();
    while now < 5_000 {
        for e in drain(&mut o) {
            if let Effect::Invoke { call, .. } = e {
                step += 1;
                match step % 4 {
                    0 => hung.push_back(call),
                    1 | 2 => {
                        o.fail(call, ErrorClass::Agent, "flaky", now);
                    }
                    _ => {
                        let out = o.payloads_mut().alloc_json(&format!("{step}")).unwrap();
                        o.complete(call, out, now);
                        if step % 5 == 0 {
                            o.complete(call, PayloadId::NONE, now); // a second answer
                        }
                    }
                }
            }
        }
        if hung.len() > 2 {
            let call = hung.pop_front().unwrap();
            o.complete(call, PayloadId::NONE, now); // late: its attempt has timed out by now
        }
        now = o.next_deadline().unwrap_or(now + 100).max(now + 1);
        o.handle_timeout(now);
        if step == 6 {
            o.snapshot(now).unwrap();
        }
    }
    o
}

#[test]
fn verify_replay_agrees_with_a_journal_this_build_recorded() {
    let o = busy_run();
    let text = o.journal_json(0).unwrap();
    for topic in [
        "task.retrying",
        "agent.breaker",
        "agent.throttled",
        "call.ignored",
        "task.attempt_failed",
        "audit.note",
    ] {
        assert!(
            text.contains(&format!("\"type\":\"{topic}\"")),
            "the run covers {topic}"
        );
    }
    let report = crate::core::verify::verify_replay(&text).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, o.state().seq);
}

#[test]
fn verify_replay_names_the_first_divergent_record() {
    let text = busy_run().journal_json(0).unwrap();
    // An "old build" that backed off differently: its journal says another delay.
    let line = text
        .lines()
        .find(|l| l.contains("\"type\":\"task.retrying\""))
        .unwrap();
    let seq: u64 = line[7..line.find(',').unwrap()].parse().unwrap();
    let at = line.find("\"delayMs\":").unwrap() + 10;
    let end = at + line[at..].find(',').unwrap();
    let delay: u64 = line[at..end].parse().unwrap();
    let next_at = line.find("\"nextAttemptAt\":").unwrap() + 16;
    let next_end = next_at + line[next_at..].find([',', '}']).unwrap();
    let next: u64 = line[next_at..next_end].parse().unwrap();
    let forged = format!(
        "{}{}{}{}{}",
        &line[..at],
        delay + 1,
        &line[end..next_at],
        next + 1,
        &line[next_end..]
    );
    let tampered = text.replacen(line, &forged, 1);
    let report = crate::core::verify::verify_replay(&tampered).unwrap();
    let d = report.divergence.expect("a divergence");
    assert_eq!(d.seq, seq);
    assert!(d
        .expected
        .unwrap()
        .contains(&format!("\"delayMs\":{}", delay + 1)));
    assert!(d.actual.unwrap().contains(&format!("\"delayMs\":{delay}")));
    assert!(!report.ok && d.message.contains(&format!("seq {seq}")));
}

#[test]
#[ignore]
fn print_busy_run() {
    print!("{}", busy_run().journal_json(0).unwrap());
}

/// Seeds for the fuzzers: `BATON_FUZZ_CORPUS=fuzz/corpus cargo test --lib write_fuzz_corpus -- --ignored`.
#[test]
#[ignore]
fn write_fuzz_corpus() {
    let dir =
        std::path::PathBuf::from(std::env::var("BATON_FUZZ_CORPUS").expect("BATON_FUZZ_CORPUS"));
    let mut o = busy_run();
    let journal = o.journal_json(0).unwrap();
    let snapshot = o.snapshot(1_000_000).unwrap();
    for (target, name, text) in [
        ("journal", "busy", journal.as_str()),
        ("snapshot", "busy", snapshot.as_str()),
        (
            "commands",
            "specs",
            concat!(
                r#"{"id":"c","capabilities":["x"],"retry":{"maxAttempts":3},"circuitBreaker":{"failureThreshold":1}}"#,
                "\n",
                r#"{"agent":"a","priority":2,"timeoutMs":5}"#,
                "\n",
                r#"{"id":"w","tasks":[{"id":"p","agent":"a"},{"id":"q","agent":"b","dependsOn":["p"]}],"failurePolicy":"continue"}"#,
                "\n",
                r#"{"maxConcurrency":2,"retry":{"maxAttempts":2,"jitter":true}}"#,
                "\n",
            ),
        ),
    ] {
        std::fs::create_dir_all(dir.join(target)).unwrap();
        std::fs::write(dir.join(target).join(name), text).unwrap();
    }
}

/// An agent with the capability that one error puts in `Error`.
fn capable_once(id: &str, capability: &str, concurrency: Option<u32>) -> AgentSpec {
    AgentSpec {
        capabilities: vec![capability.into()],
        concurrency,
        max_errors: Some(1),
        ..AgentSpec::new(id)
    }
}

#[test]
fn a_retry_routed_by_capability_goes_to_a_capable_agent_when_its_own_entered_error() {
    let mut o = orch(13);
    let a = add(&mut o, capable_once("a", "x", None));
    let b = add(&mut o, capable_once("b", "x", None));
    let t = o
        .submit(
            TaskSpec {
                capability: Some("x".into()),
                retry: Some(retry(3, 10, 0.0)),
                ..TaskSpec::default()
            },
            PayloadId::NONE,
            PayloadId::NONE,
            0,
        )
        .unwrap();
    let [(call, _)] = invokes(&mut o)[..] else {
        panic!("one call")
    };
    assert_eq!(
        o.state().task(t).agent,
        a,
        "the first registered, both idle"
    );
    assert!(o.fail(call, ErrorClass::Agent, "boom", 5));
    assert_eq!(o.state().agent(a).status, AgentStatus::Error);
    o.handle_timeout(15);
    let [(call, _)] = invokes(&mut o)[..] else {
        panic!("the retry is called")
    };
    assert_eq!(o.state().task(t).agent, b, "not the agent in Error");
    assert!(o.complete(call, PayloadId::NONE, 20));
    assert_eq!(o.state().task(t).status, TaskStatus::Completed);
    let journal = o.journal_json(0).unwrap();
    assert!(crate::core::verify::verify_replay(&journal).unwrap().ok);
}

#[test]
fn long_texts_are_refused_where_given_and_cut_where_an_agent_fails_with_them() {
    let mut o = orch(14);
    let a = add(&mut o, AgentSpec::new("a"));
    let seq = o.state().seq;
    let huge = "x".repeat(100_000);
    let e = o.report_error(a, &huge, 1).unwrap_err();
    assert_eq!(e.code(), "invalid_argument");
    let e = (o.transition(a, AgentStatus::Paused, &huge, 1)).unwrap_err();
    assert_eq!(e.code(), "invalid_argument");
    let named = TaskSpec {
        agent: "a".into(),
        name: Some(huge.clone()),
        ..TaskSpec::default()
    };
    let e = (o.submit(named, PayloadId::NONE, PayloadId::NONE, 1)).unwrap_err();
    assert_eq!(e.code(), "invalid_argument");
    let e = o.agent(&huge).unwrap_err();
    assert!(
        e.to_string().len() < 300,
        "an error quotes a long value short: {e}"
    );
    let tool = crate::core::tool::ToolSpec {
        name: "search".into(),
        description: huge.clone(),
        category: String::new(),
        rate_limit: None,
    };
    assert_eq!(
        o.register_tool(tool, 1).unwrap_err().code(),
        "invalid_argument"
    );
    assert_eq!(o.state().seq, seq, "nothing recorded");
    // An agent's failure is never refused for its message; it is cut.
    submit(&mut o, "a", 2);
    let [(call, t)] = invokes(&mut o)[..] else {
        panic!("one call")
    };
    assert!(o.fail(call, ErrorClass::Agent, &huge, 3));
    let kept = &o.state().task(t).error.as_ref().unwrap().message;
    assert!(
        kept.len() <= crate::core::ids::MESSAGE_BYTES_MAX,
        "{}",
        kept.len()
    );
    assert!(
        kept.ends_with("(100000 bytes in all)"),
        "{}",
        &kept[kept.len() - 40..]
    );
    let journal = o.journal_json(0).unwrap();
    assert!(crate::core::verify::verify_replay(&journal).unwrap().ok);
}

#[test]
fn waiting_tasks_routed_by_capability_leave_an_agent_that_enters_error() {
    let mut o = orch(15);
    let a1 = add(&mut o, capable_once("a1", "c", Some(1)));
    let a2 = add(&mut o, capable_once("a2", "c", Some(1)));
    let by_capability = TaskSpec {
        capability: Some("c".into()),
        ..TaskSpec::default()
    };
    let tasks: Vec<TaskIx> = (0..4)
        .map(|_| (o.submit(by_capability.clone(), PayloadId::NONE, PayloadId::NONE, 0)).unwrap())
        .collect();
    let agents: Vec<AgentIx> = tasks.iter().map(|&t| o.state().task(t).agent).collect();
    assert_eq!(agents, [a1, a2, a1, a2], "least loaded, ties to the first");
    let calls = invokes(&mut o);
    let on_a1 = calls.iter().find(|(_, t)| *t == tasks[0]).unwrap().0;
    assert!(o.fail(on_a1, ErrorClass::Agent, "boom", 5));
    assert_eq!(o.state().agent(a1).status, AgentStatus::Error);
    assert_eq!(
        o.state().task(tasks[2]).agent,
        a2,
        "moved off the agent in Error"
    );
    for now in 6..12 {
        for (call, _) in invokes(&mut o) {
            o.complete(call, PayloadId::NONE, now);
        }
        if let Some((call, _)) = calls.iter().find(|(_, t)| *t == tasks[1]) {
            o.complete(*call, PayloadId::NONE, now);
        }
    }
    assert_eq!(o.state().task(tasks[2]).status, TaskStatus::Completed);
    let journal = o.journal_json(0).unwrap();
    assert!(crate::core::verify::verify_replay(&journal).unwrap().ok);
}
