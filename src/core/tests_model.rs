//! Routing, sessions and contracts, execution and agent patterns, schedules, templates,
//! messages and tools, driven as a driver drives them.

use crate::core::agent::AgentSpec;
use crate::core::ids::{AgentIx, PayloadId, TaskIx};
use crate::core::pattern::{PatternSpec, RunStatus, Steps};
use crate::core::schedule::Trigger;
use crate::core::task::{ErrorClass, TaskSpec};
use crate::core::template::Template;
use crate::core::tool::ToolSpec;
use crate::core::workflow::{ExecutionPattern, WorkflowSpec, WorkflowTaskSpec};
use crate::core::{Effect, Options, Orchestrator};
use serde_json::{json, Value};

fn orch() -> Orchestrator {
    Orchestrator::new(3, Options::default(), 0).unwrap()
}

fn agent(o: &mut Orchestrator, id: &str, caps: &[&str]) -> AgentIx {
    let spec = AgentSpec {
        capabilities: caps.iter().map(|c| c.to_string()).collect(),
        ..AgentSpec::new(id)
    };
    let a = o.register_agent(spec, 0).unwrap();
    o.start_agent(a, 0).unwrap();
    a
}

fn invokes(o: &mut Orchestrator) -> Vec<(u32, TaskIx)> {
    std::iter::from_fn(|| o.poll_effect())
        .filter_map(|e| match e {
            Effect::Invoke { call, task, .. } => Some((call, task)),
            _ => None,
        })
        .collect()
}

fn json_payload(o: &mut Orchestrator, v: &Value) -> PayloadId {
    o.payloads_mut().alloc_json(&v.to_string()).unwrap()
}

fn input_of(o: &Orchestrator, t: TaskIx) -> Value {
    o.payloads()
        .get(o.state().task(t).input)
        .map_or(Value::Null, |r| serde_json::from_str(r.get()).unwrap())
}

fn result_of(o: &Orchestrator, run: u32) -> Value {
    let r = &o.state().runs[run as usize];
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    serde_json::from_str(o.payloads().get(r.result.unwrap()).unwrap().get()).unwrap()
}

/// Answers every call with `answer(agent, input)` until nothing is left to run.
fn drive(o: &mut Orchestrator, answer: impl Fn(&str, &Value) -> Value) {
    let mut now = 1;
    loop {
        let calls = invokes(o);
        if calls.is_empty() {
            break;
        }
        for (call, task) in calls {
            let agent = o.state().agent(o.state().task(task).agent).id.clone();
            let out = answer(&agent, &input_of(o, task));
            let out = json_payload(o, &out);
            now += 1;
            o.complete(call, out, now);
        }
    }
}

#[test]
fn capability_routing_picks_the_least_loaded_then_the_first_registered() {
    let mut o = orch();
    let a = agent(&mut o, "a", &["summarize"]);
    let b = agent(&mut o, "b", &["summarize"]);
    agent(&mut o, "c", &["translate"]);
    let spec = || TaskSpec {
        capability: Some("summarize".into()),
        ..TaskSpec::default()
    };
    let t1 = o
        .submit(spec(), PayloadId::NONE, PayloadId::NONE, 0)
        .unwrap();
    let t2 = o
        .submit(spec(), PayloadId::NONE, PayloadId::NONE, 0)
        .unwrap();
    let t3 = o
        .submit(spec(), PayloadId::NONE, PayloadId::NONE, 0)
        .unwrap();
    assert_eq!(
        [
            o.state().task(t1).agent,
            o.state().task(t2).agent,
            o.state().task(t3).agent
        ],
        [a, b, a]
    );
    let none = TaskSpec {
        capability: Some("fly".into()),
        ..TaskSpec::default()
    };
    let e = o
        .submit(none, PayloadId::NONE, PayloadId::NONE, 0)
        .unwrap_err();
    assert_eq!(
        (e.code(), e.to_string().as_str()),
        ("no_capable_agent", "no agent available for capability fly")
    );
}

#[test]
fn capability_routing_passes_over_an_agent_out_of_tokens_while_another_can_run() {
    let mut o = orch();
    let limited = AgentSpec {
        capabilities: vec!["x".into()],
        rate_limit: Some(crate::core::policy::RateLimit {
            per_minute: 1,
            burst: Some(1),
        }),
        ..AgentSpec::new("p")
    };
    let p = o.register_agent(limited, 0).unwrap();
    o.start_agent(p, 0).unwrap();
    let q = agent(&mut o, "q", &["x"]);
    let spec = || TaskSpec {
        capability: Some("x".into()),
        ..TaskSpec::default()
    };
    let first = o
        .submit(spec(), PayloadId::NONE, PayloadId::NONE, 1)
        .unwrap();
    assert_eq!(
        o.state().task(first).agent,
        p,
        "the first registered, at equal load"
    );
    for (call, _) in invokes(&mut o) {
        o.complete(call, PayloadId::NONE, 2);
    }
    // p spent its token (the next in a minute): q, idle, takes the next ones, however loaded.
    let next: Vec<_> = (0..3)
        .map(|i| {
            let t = o
                .submit(spec(), PayloadId::NONE, PayloadId::NONE, 3 + i)
                .unwrap();
            o.state().task(t).agent
        })
        .collect();
    assert_eq!(next, [q, q, q]);
    let journal = o.journal_json(0).unwrap();
    assert!(crate::core::verify::verify_replay(&journal).unwrap().ok);
}

/// A workflow task routed by `capability`.
fn routed_task(id: &str, capability: &str, deps: &[&str]) -> WorkflowTaskSpec {
    WorkflowTaskSpec {
        agent: String::new(),
        capability: Some(capability.into()),
        ..wtask(id, "", deps)
    }
}

/// A workflow `id` of `tasks` with the default policy and pattern.
fn workflow_of(id: &str, tasks: Vec<WorkflowTaskSpec>) -> WorkflowSpec {
    WorkflowSpec {
        id: Some(id.into()),
        name: None,
        tasks,
        dependencies: Default::default(),
        failure_policy: Default::default(),
        pattern: Default::default(),
        width: None,
        session: None,
    }
}

#[test]
fn a_routed_task_that_waited_on_dependencies_is_routed_again_when_ready() {
    let mut o = orch();
    let a = agent(&mut o, "a", &["work"]);
    let b = agent(&mut o, "b", &["work"]);
    let routed = |id: &str, deps: &[&str]| routed_task(id, "work", deps);
    let spec = |id: &str| {
        let tasks = vec![wtask("first", "a", &[]), routed("then", &["first"])];
        workflow_of(id, tasks)
    };
    let none = [(PayloadId::NONE, PayloadId::NONE); 2];
    let ids = |o: &mut Orchestrator| invokes(o).into_iter().map(|c| c.1).collect::<Vec<_>>();
    // `a` is busy, so `then` is given to `b` when the workflow is submitted...
    let busy = TaskSpec {
        agent: "a".into(),
        ..TaskSpec::default()
    };
    o.submit(busy, PayloadId::NONE, PayloadId::NONE, 0).unwrap();
    // Submits a two-task workflow; its tasks.
    let submit = |o: &mut Orchestrator, id: &str, now: u64| {
        let w = o.submit_workflow(spec(id), &none, now).unwrap();
        let wf = &o.state().workflows[w.usize()];
        (wf.task(0), wf.task(1))
    };
    let (first, then) = submit(&mut o, "w1", 0);
    assert_eq!(o.state().task(then).agent, b);
    // ... but `b` is paused before `then` is ready: it goes to `a`, which is running.
    o.pause_agent(b, 1).unwrap();
    let calls = invokes(&mut o);
    let call = calls.iter().find(|c| c.1 == first).unwrap().0;
    o.complete(call, PayloadId::NONE, 2);
    assert_eq!(o.state().task(then).agent, a);
    assert_eq!(ids(&mut o), [then]);
    assert!(o
        .journal_json(0)
        .unwrap()
        .contains(r#""type":"task.reassigned","data":{"task":"w1/then","from":"b","to":"a","reason":"routed by capability when ready"}"#));
    // With no capable agent running when it is ready, the task stays where it was and waits.
    o.resume_agent(b, 3).unwrap();
    o.pause_agent(a, 3).unwrap();
    let (first, then) = submit(&mut o, "w2", 3);
    assert_eq!(o.state().task(then).agent, b);
    o.pause_agent(b, 4).unwrap();
    o.resume_agent(a, 4).unwrap();
    let calls = invokes(&mut o);
    let call = calls.iter().find(|c| c.1 == first).unwrap().0;
    o.pause_agent(a, 5).unwrap();
    o.complete(call, PayloadId::NONE, 5);
    assert_eq!(o.state().task(then).agent, b);
    assert_eq!(
        o.state().task(then).status,
        crate::core::task::TaskStatus::Queued
    );
    o.resume_agent(b, 6).unwrap();
    assert_eq!(ids(&mut o), [then]);
    let call = o.state().task(then).call;
    o.complete(call, PayloadId::NONE, 7);
    o.resume_agent(a, 7).unwrap();
    // Spread at submission; when ready `a` still runs the first `busy` task: it stays on `b`.
    let both = WorkflowSpec {
        tasks: vec![routed("one", &[]), routed("two", &["one"])],
        ..spec("w3")
    };
    let w = o.submit_workflow(both, &none, 8).unwrap();
    let two = o.state().workflows[w.usize()].task(1);
    assert_eq!(o.state().task(two).agent, b, "spread at submission");
    let call = invokes(&mut o)[0].0;
    o.complete(call, PayloadId::NONE, 9);
    assert_eq!(o.state().task(two).agent, b, "the less loaded keeps it");
    let call = invokes(&mut o)[0].0;
    o.complete(call, PayloadId::NONE, 10);
    // A sequential workflow's task waits for room, not a dependency: routed again all the same.
    let seq = WorkflowSpec {
        tasks: vec![routed("x", &[]), routed("y", &[])],
        pattern: crate::core::workflow::ExecutionPattern::Sequential,
        ..spec("w4")
    };
    let w = o.submit_workflow(seq, &none, 11).unwrap();
    let y = o.state().workflows[w.usize()].task(1);
    assert_eq!(o.state().task(y).agent, b);
    o.pause_agent(b, 11).unwrap();
    let call = invokes(&mut o)[0].0;
    o.complete(call, PayloadId::NONE, 12);
    assert_eq!(o.state().task(y).agent, a, "b is paused");
    assert_eq!(ids(&mut o), [y]);
    // The journal replays (a Pending task reassigned) and verifies.
    let journal = o.journal_json(0).unwrap();
    assert_eq!(
        journal.matches("routed by capability when ready").count(),
        2
    );
    Orchestrator::replay(&journal, None).unwrap();
    let report = crate::core::verify::verify_replay(&journal).unwrap();
    assert!(report.ok, "{report:?}");
}

#[test]
fn a_routed_task_ready_among_idle_agents_goes_to_the_first_registered() {
    let mut o = orch();
    let x = agent(&mut o, "x", &["k"]);
    let y = agent(&mut o, "y", &["k"]);
    let tasks = vec![routed_task("a", "k", &[]), routed_task("b", "k", &["a"])];
    let spec = workflow_of("w", tasks);
    let none = [(PayloadId::NONE, PayloadId::NONE); 2];
    let w = o.submit_workflow(spec, &none, 0).unwrap();
    let b = o.state().workflows[w.usize()].task(1);
    assert_eq!(o.state().task(b).agent, y, "x has a when b is submitted");
    let call = invokes(&mut o)[0].0;
    o.complete(call, PayloadId::NONE, 10);
    // Both idle when b is ready: ties go to the first registered, as for `submit`.
    assert_eq!(o.state().task(b).agent, x);
    assert!(
        crate::core::verify::verify_replay(&o.journal_json(0).unwrap())
            .unwrap()
            .ok
    );
}

#[test]
fn sessions_record_hash_chained_contracts_and_compress_into_memory() {
    let mut o = orch();
    agent(&mut o, "analyst", &["analyze"]);
    agent(&mut o, "summarizer", &[]);
    for n in 0..2 {
        let spec = TaskSpec {
            capability: Some("analyze".into()),
            session: Some("s1".into()),
            ..TaskSpec::default()
        };
        let input = json_payload(&mut o, &json!({ "n": n }));
        o.submit(spec, input, PayloadId::NONE, 0).unwrap();
    }
    drive(&mut o, |_, input| json!({ "seen": input["n"] }));
    let contracts: Vec<Value> = serde_json::from_str(&o.contracts_json("s1").unwrap()).unwrap();
    assert_eq!(contracts.len(), 4);
    assert_eq!(contracts[0]["kind"], "REQUEST");
    assert_eq!(contracts[0]["to"], "analyst");
    assert_eq!(
        contracts[1]["kind"], "REQUEST",
        "both calls start before either answers"
    );
    assert_eq!(contracts[2]["kind"], "RESPONSE");
    assert_eq!(contracts[2]["payload"], json!({ "seen": 0 }));
    assert_eq!(contracts[1]["prevHash"], contracts[0]["hash"]);
    assert!(o.verify_contracts("s1", None).unwrap().ok);
    let mut forged = contracts.clone();
    forged[2]["payload"] = json!({ "seen": 99 });
    let report = o
        .verify_contracts("s1", Some(&Value::Array(forged).to_string()))
        .unwrap();
    assert!(!report.ok && report.problem.unwrap().contains("contract-3 was altered"));
    o.compress_session("s1", Some("summarizer"), None, 5)
        .unwrap();
    drive(
        &mut o,
        |_, input| json!({ "summary": format!("{} contracts", input["contracts"].as_array().unwrap().len()) }),
    );
    let memory = o.session_memory("s1").unwrap();
    assert_eq!(
        o.payloads().get(memory).unwrap().get(),
        r#"{"summary":"4 contracts"}"#
    );
    // Restored, the contracts share their tasks' payloads again: held once, as before.
    let restored = Orchestrator::restore(&o.snapshot_json("s").unwrap(), 10).unwrap();
    let (before, after) = (o.payloads(), restored.payloads());
    assert_eq!(
        (after.held(), after.bytes()),
        (before.held(), before.bytes())
    );
    assert_eq!(
        restored.contracts_json("s1").unwrap(),
        o.contracts_json("s1").unwrap()
    );
}

fn wtask(id: &str, agent: &str, deps: &[&str]) -> WorkflowTaskSpec {
    WorkflowTaskSpec {
        id: id.into(),
        agent: agent.into(),
        capability: None,
        name: None,
        priority: None,
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        retry: None,
        timeout_ms: None,
        on_error: Default::default(),
        fallback: None,
    }
}

#[test]
fn sequential_and_parallel_workflows_limit_their_width() {
    for (pattern, width, expect_peak) in [
        (ExecutionPattern::Sequential, None, 1),
        (ExecutionPattern::Parallel, Some(2), 2),
        (ExecutionPattern::Dag, None, 4),
    ] {
        let mut o = orch();
        agent(&mut o, "w", &[]);
        let spec = WorkflowSpec {
            id: Some("w".into()),
            name: None,
            tasks: vec![
                wtask("a", "w", &[]),
                wtask("b", "w", &[]),
                wtask("c", "w", &[]),
                wtask("d", "w", &[]),
                wtask("e", "w", &["a"]),
            ],
            dependencies: Default::default(),
            failure_policy: Default::default(),
            pattern,
            width,
            session: None,
        };
        o.submit_workflow(spec, &[(PayloadId::NONE, PayloadId::NONE); 5], 0)
            .unwrap();
        let mut peak = 0;
        let mut order = vec![];
        let mut pending = invokes(&mut o);
        while !pending.is_empty() {
            peak = peak.max(o.state().running());
            let (call, t) = pending.remove(0);
            order.push(o.state().task_id(t).unwrap());
            o.complete(call, PayloadId::NONE, 1);
            pending.extend(invokes(&mut o));
        }
        assert_eq!(peak, expect_peak, "{pattern:?}");
        if pattern == ExecutionPattern::Sequential {
            assert_eq!(order, ["w/a", "w/b", "w/c", "w/d", "w/e"]);
        }
    }
}

#[test]
fn consensus_votes_with_a_threshold() {
    let mut o = orch();
    for id in ["sec", "perf", "ux"] {
        agent(&mut o, id, &[]);
    }
    let spec = PatternSpec::Consensus {
        task: json!("ship it?"),
        agents: vec!["sec".into(), "perf".into(), "ux".into()],
        threshold: 0.66,
    };
    let run = o.start_pattern(spec, 0).unwrap();
    drive(
        &mut o,
        |agent, _| json!({ "vote": if agent == "ux" { "reject" } else { "approve" }, "reasoning": format!("{agent} says so") }),
    );
    let r = result_of(&o, run);
    assert_eq!(
        (r["decision"].as_str(), r["approvals"].as_u64()),
        (Some("approved"), Some(2))
    );
    assert_eq!(r["votes"]["ux"], "reject");
    assert_eq!(r["reasoning"]["sec"], "sec says so");
}

#[test]
fn a_wrong_shape_is_a_validation_failure_that_shows_what_was_expected() {
    let mut o = orch();
    agent(&mut o, "v", &[]);
    let run = o
        .start_pattern(
            PatternSpec::Consensus {
                task: json!("?"),
                agents: vec!["v".into()],
                threshold: 0.5,
            },
            0,
        )
        .unwrap();
    drive(&mut o, |_, _| json!({ "opinion": "yes" }));
    let t = o.state().runs[run as usize].tasks[0];
    let e = o.state().task(t).error.clone().unwrap();
    assert_eq!(e.class, ErrorClass::Validation);
    assert!(e.message.contains(r#"expected { "vote": "approve" | "reject", "reasoning": string }, got {"opinion":"yes"}"#), "{}", e.message);
    // A vote that failed fails the consensus (a decision without it would count it as "reject").
    let r = &o.state().runs[run as usize];
    assert_eq!(r.status, RunStatus::Failed);
    let error = r.error.as_deref().unwrap();
    assert!(
        error.starts_with("the vote of 'v' failed: validation: expected {"),
        "{error}"
    );
    // A vote without its reasoning is the wrong shape too.
    let bare = PatternSpec::Consensus {
        task: json!("?"),
        agents: vec!["v".into()],
        threshold: 0.5,
    };
    let run = o.start_pattern(bare, 1).unwrap();
    drive(&mut o, |_, _| json!({ "vote": "approve" }));
    assert_eq!(o.state().runs[run as usize].status, RunStatus::Failed);
    // One vote per agent: an agent listed twice is refused.
    let twice = PatternSpec::Consensus {
        task: json!("?"),
        agents: vec!["v".into(), "v".into()],
        threshold: 0.5,
    };
    let e = o.start_pattern(twice, 1).unwrap_err();
    assert_eq!(e.code(), "invalid_argument");
    assert!(e.to_string().contains("'v' is listed twice"), "{e}");
}

/// A debate on `topic` between `[pro, con, judge]`.
fn debate(topic: &str, [pro, con, judge]: [&str; 3], rounds: u32) -> PatternSpec {
    PatternSpec::Debate {
        topic: json!(topic),
        pro: pro.into(),
        con: con.into(),
        judge: judge.into(),
        rounds,
    }
}

#[test]
fn a_three_round_debate_has_a_transcript_a_winner_and_a_verdict() {
    let mut o = orch();
    for id in ["pro", "con", "judge"] {
        agent(&mut o, id, &[]);
    }
    let spec = debate("tabs vs spaces", ["pro", "con", "judge"], 3);
    let run = o.start_pattern(spec, 0).unwrap();
    drive(&mut o, |agent, input| match agent {
        "judge" => {
            json!({ "winner": "con", "verdict": format!("{} arguments heard", input["transcript"].as_array().unwrap().len()) })
        }
        side => json!(format!("{side} round {}", input["round"])),
    });
    let r = result_of(&o, run);
    assert_eq!(r["transcript"].as_array().unwrap().len(), 6);
    assert_eq!(
        r["transcript"][5],
        json!({ "round": 3, "side": "con", "agent": "con", "argument": "con round 3" })
    );
    assert_eq!(
        (r["winner"].as_str(), r["finalVerdict"].as_str()),
        (Some("con"), Some("6 arguments heard"))
    );
    // A judge may name the winner by its agent's id.
    for id in ["optimist", "pessimist"] {
        agent(&mut o, id, &[]);
    }
    let spec = debate("will it rain", ["optimist", "pessimist", "judge"], 1);
    let run = o.start_pattern(spec, 10).unwrap();
    drive(&mut o, |agent, _| match agent {
        "judge" => json!({ "winner": "optimist", "verdict": "sunnier" }),
        side => json!(format!("{side} says so")),
    });
    assert_eq!(result_of(&o, run)["winner"], "pro");
}

#[test]
fn chain_of_thought_collects_steps_and_a_final_answer() {
    let mut o = orch();
    agent(&mut o, "r", &[]);
    let run = o
        .start_pattern(
            PatternSpec::ChainOfThought {
                problem: json!("2+2*2"),
                reasoner: "r".into(),
                steps: Steps::Count(3),
            },
            0,
        )
        .unwrap();
    drive(&mut o, |_, input| {
        let step = input["step"].as_u64().unwrap();
        if step == 2 {
            json!({ "thought": "then add 2", "answer": 6 })
        } else {
            json!(format!("step {step}"))
        }
    });
    let r = result_of(&o, run);
    assert_eq!(r["reasoningChain"], json!(["step 1", "then add 2"]));
    assert_eq!(r["finalAnswer"], 6);
    // The result's own name for it, `finalAnswer`, finishes too.
    let spec = PatternSpec::ChainOfThought {
        problem: json!("1+1"),
        reasoner: "r".into(),
        steps: Steps::Count(3),
    };
    let run = o.start_pattern(spec, 5).unwrap();
    drive(
        &mut o,
        |_, _| json!({ "thought": "done", "finalAnswer": 2 }),
    );
    let r = result_of(&o, run);
    assert_eq!(
        (r["reasoningChain"].clone(), r["finalAnswer"].clone()),
        (json!(["done"]), json!(2))
    );
    // Seed 001's form: the steps named, each given to the reasoner as its instruction.
    let spec: PatternSpec = serde_json::from_value(json!({
        "kind": "chainOfThought", "problem": "scale 10x", "reasoner": "r",
        "steps": ["Identify current bottlenecks", "Propose scaling strategies"]
    }))
    .unwrap();
    let run = o.start_pattern(spec, 10).unwrap();
    drive(&mut o, |_, input| {
        json!(format!(
            "{}/{}: {}",
            input["step"],
            input["steps"],
            input["instruction"].as_str().unwrap()
        ))
    });
    let r = result_of(&o, run);
    assert_eq!(
        r["reasoningChain"],
        json!([
            "1/2: Identify current bottlenecks",
            "2/2: Propose scaling strategies"
        ])
    );
    let bad = serde_json::from_value::<PatternSpec>(
        json!({ "kind": "chainOfThought", "problem": 1, "reasoner": "r", "steps": "two" }),
    );
    assert!(bad
        .unwrap_err()
        .to_string()
        .contains("a number of steps, or a list of what each step is to do"));
}

#[test]
fn a_supervisor_delegates_to_three_specialists_then_answers() {
    let mut o = orch();
    agent(&mut o, "boss", &[]);
    for id in ["research", "write", "edit"] {
        agent(&mut o, id, &[id]);
    }
    let spec = PatternSpec::Supervisor {
        task: json!("a report"),
        supervisor: "boss".into(),
        agents: vec!["research".into(), "write".into(), "edit".into()],
        instructions: "coordinate".into(),
        max_rounds: 3,
    };
    let run = o.start_pattern(spec, 0).unwrap();
    drive(&mut o, |agent, input| match agent {
        "boss" if input["results"].as_array().unwrap().is_empty() => json!({ "delegations": [
            { "agent": "research", "input": "facts" }, { "capability": "write", "input": "draft" }, { "agent": "edit", "input": "polish" }
        ] }),
        "boss" => {
            json!({ "final": input["results"].as_array().unwrap().iter().map(|r| r["output"].clone()).collect::<Vec<_>>() })
        }
        worker => json!(format!("{worker} did {}", input.as_str().unwrap())),
    });
    let r = result_of(&o, run);
    assert_eq!(r["status"], "answered");
    assert_eq!(
        r["answer"],
        json!(["research did facts", "write did draft", "edit did polish"])
    );
    assert_eq!(r["rounds"], 2);
}

/// Runs "boss" supervising "w" once, every call answered with `plan`; returns the run's index.
fn boss_over_w(o: &mut Orchestrator, plan: serde_json::Value) -> usize {
    let spec = PatternSpec::Supervisor {
        task: json!("x"),
        supervisor: "boss".into(),
        agents: vec!["w".into()],
        instructions: String::new(),
        max_rounds: 2,
    };
    let run = o.start_pattern(spec, 0).unwrap();
    drive(o, |_, _| plan.clone());
    run as usize
}

/// "boss" supervising "w" (agents and their capabilities given) with every call answered by
/// `plan`: the run must fail, saying `why`.
fn plan_refused(agents: &[(&str, &[&str])], plan: serde_json::Value, why: &str) {
    let mut o = orch();
    for (id, caps) in agents {
        agent(&mut o, id, caps);
    }
    let run = boss_over_w(&mut o, plan);
    let r = &o.state().runs[run];
    assert_eq!(r.status, RunStatus::Failed);
    let error = r.error.as_deref().expect("a failed run says why");
    assert!(error.contains(why), "{error}");
}

#[test]
fn a_malformed_delegation_fails_the_supervisor_with_a_clear_message() {
    plan_refused(
        &[("boss", &[]), ("w", &[])],
        json!({ "delegations": [{ "agent": "nobody", "input": 1 }] }),
        "'nobody', which is not one of the supervisor's agents",
    );
    plan_refused(
        &[("boss", &[]), ("w", &[])],
        json!({ "delegations": [{ "agent": "w", "task": "do x" }] }),
        "delegation #0 has an unknown field 'task'",
    );
}

#[test]
fn a_plan_may_be_the_list_of_delegations_alone_or_a_plain_final_answer() {
    let mut o = orch();
    agent(&mut o, "boss", &[]);
    agent(&mut o, "w", &[]);
    let run = boss_over_w(&mut o, json!("done"));
    let r = result_of(&o, run as u32);
    assert_eq!(
        (r["status"].as_str(), r["answer"].as_str()),
        (Some("answered"), Some("done"))
    );
    // Every call, the worker's too, answers with the list: two rounds of one delegation each.
    let run = boss_over_w(&mut o, json!([{ "agent": "w", "input": 1 }]));
    let r = result_of(&o, run as u32);
    assert_eq!(r["status"], "round_limit");
    assert_eq!(r["results"].as_array().unwrap().len(), 2);
    let run = boss_over_w(&mut o, json!({ "finalAnswer": 7 }));
    assert_eq!(result_of(&o, run as u32)["answer"], 7);
}

#[test]
fn a_plan_with_both_delegations_and_a_final_answer_is_the_wrong_shape() {
    plan_refused(
        &[("boss", &[]), ("w", &[])],
        json!({ "final": "f", "delegations": [{ "agent": "w", "input": 1 }] }),
        "both delegations and a final answer",
    );
}

#[test]
fn a_delegation_by_capability_stays_within_the_supervisors_agents() {
    plan_refused(
        &[("boss", &[]), ("w", &["write"]), ("outsider", &["zzz"])],
        json!({ "delegations": [{ "capability": "zzz" }] }),
        "capability 'zzz', which none of the supervisor's running agents (w) has",
    );
}

#[test]
fn collaborators_take_turns_until_one_is_done() {
    let mut o = orch();
    agent(&mut o, "a", &[]);
    agent(&mut o, "b", &[]);
    let spec = PatternSpec::Collaborative {
        task: json!("poem"),
        agents: vec!["a".into(), "b".into()],
        document: json!(""),
        max_rounds: 5,
    };
    let run = o.start_pattern(spec, 0).unwrap();
    drive(&mut o, |agent, input| {
        let doc = format!("{}{agent}", input["document"].as_str().unwrap());
        json!({ "document": doc, "done": doc.len() >= 3 })
    });
    let r = result_of(&o, run);
    assert_eq!(
        (
            r["document"].as_str(),
            r["doneBy"].as_str(),
            r["status"].as_str()
        ),
        (Some("aba"), Some("a"), Some("done"))
    );
}

#[test]
fn an_hourly_job_fires_24_times_over_a_virtual_day_and_missed_slots_fire_once() {
    let mut o = orch();
    agent(&mut o, "reporter", &[]);
    let spec = TaskSpec {
        agent: "reporter".into(),
        ..TaskSpec::default()
    };
    let j = o
        .schedule(
            Trigger {
                every_ms: Some(3_600_000),
                ..Trigger::default()
            },
            spec,
            PayloadId::NONE,
            0,
        )
        .unwrap();
    let mut fired = 0;
    while let Some(at) = o.next_deadline().filter(|&at| at <= 86_400_000) {
        o.handle_timeout(at);
        for (call, _) in invokes(&mut o) {
            fired += 1;
            o.complete(call, PayloadId::NONE, at);
        }
    }
    assert_eq!(fired, 24);
    // Each slot names the task it submitted, so it can be waited on.
    let last = o.state().jobs[j].last_task.as_deref().unwrap().to_owned();
    assert_eq!(
        o.state().task(o.task(&last).unwrap()).status,
        crate::core::task::TaskStatus::Completed
    );
    let journal = o.journal_json(0).unwrap();
    let fired = journal
        .lines()
        .rfind(|l| l.contains(r#""type":"job.fired""#))
        .unwrap();
    assert!(fired.contains(&format!(r#","task":"{last}"}}"#)), "{fired}");
    o.pause_job(j, 86_400_000).unwrap();
    o.resume_job(j, 5 * 86_400_000).unwrap(); // four days of slots missed
    assert_eq!(invokes(&mut o).len(), 1, "once, not a burst");
    assert_eq!(o.state().jobs[j].next_run, Some(5 * 86_400_000 + 3_600_000));
    // The agent paused for ten slots: one task waits for it, not ten.
    let agent_ix = o.agent("reporter").unwrap();
    o.pause_agent(agent_ix, 5 * 86_400_000).unwrap();
    let until = 5 * 86_400_000 + 10 * 3_600_000 + 1;
    while let Some(at) = o.next_deadline().filter(|&at| at <= until) {
        o.handle_timeout(at);
    }
    o.resume_agent(agent_ix, until).unwrap();
    assert_eq!(invokes(&mut o).len(), 1, "one waiting task, not a burst");
    let skipped = o
        .journal_json(0)
        .unwrap()
        .matches("has not started yet")
        .count();
    assert_eq!(skipped, 9, "nine slots found the first task still waiting");
    let cron = Trigger {
        cron: Some("0 25 * * *".into()),
        ..Trigger::default()
    };
    let e = schedule_for(&mut o, cron, "reporter", 0);
    assert_eq!(e.unwrap_err().code(), "invalid_cron");
}

/// Schedules a task for `agent` with no input.
fn schedule_for(
    o: &mut Orchestrator,
    trigger: Trigger,
    agent: &str,
    now: u64,
) -> crate::core::Result<usize> {
    let task = TaskSpec {
        agent: agent.into(),
        ..TaskSpec::default()
    };
    o.schedule(trigger, task, PayloadId::NONE, now)
}

#[test]
fn a_terminated_agent_gets_no_job() {
    let mut o = orch();
    let a = agent(&mut o, "gone", &[]);
    o.terminate_agent(a, 1).unwrap();
    let every = Trigger {
        every_ms: Some(1_000),
        ..Trigger::default()
    };
    let e = schedule_for(&mut o, every, "gone", 2);
    assert_eq!(e.unwrap_err().code(), "agent_unavailable");
    assert!(o.state().jobs.is_empty());
}

#[test]
fn a_job_at_a_time_past_2_to_the_50_or_before_1970_is_refused_and_says_why() {
    let mut o = orch();
    agent(&mut o, "later", &[]);
    let at = |at| Trigger {
        at: Some(at),
        ..Trigger::default()
    };
    let e = schedule_for(&mut o, at((1 << 50) + 1), "later", 0).unwrap_err();
    assert_eq!(e.code(), "invalid_argument");
    assert!(e.to_string().contains("2^50"), "{e}");
    assert!(schedule_for(&mut o, at(1 << 50), "later", 0).is_ok());
    for (json, why) in [("-1", "before 1970"), ("1.5", "whole number")] {
        let text = format!(r#"{{ "at": {json} }}"#);
        let e = serde_json::from_str::<Trigger>(&text).unwrap_err();
        assert!(e.to_string().contains(why), "{e}");
    }
}

#[test]
fn built_in_templates_answer_to_seed_003s_names() {
    let o = orch();
    for (seed_name, name) in [
        ("data_analyst", "data-analyst"),
        ("code_reviewer@1", "code-reviewer"),
        ("system_architect", "system-architect"),
    ] {
        assert_eq!(o.template(seed_name).unwrap().name, name);
    }
    assert_eq!(
        o.template("no_such").unwrap_err().code(),
        "unknown_template"
    );
}

#[test]
fn a_weekly_cron_job_survives_a_snapshot() {
    let mut o = orch();
    agent(&mut o, "r", &[]);
    let spec = TaskSpec {
        agent: "r".into(),
        ..TaskSpec::default()
    };
    o.schedule(
        Trigger {
            cron: Some("0 9 * * MON".into()),
            ..Trigger::default()
        },
        spec,
        PayloadId::NONE,
        0,
    )
    .unwrap();
    let snap = o.snapshot(1).unwrap();
    let mut r = Orchestrator::restore(&snap, 2).unwrap();
    let monday_9 = 4 * 86_400_000 + 9 * 3_600_000;
    assert_eq!(r.next_deadline(), Some(monday_9));
    r.handle_timeout(monday_9);
    assert_eq!(invokes(&mut r).len(), 1);
    assert_eq!(r.next_deadline(), Some(monday_9 + 7 * 86_400_000));
}

#[test]
fn a_template_with_many_bad_fields_lists_them_all_type_errors_included() {
    let e = Template::parse(
        r#"{"name":"Bad Name!","version":0,"temperature":5,"capabilities":"x","model":5}"#,
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_argument");
    let text = e.to_string();
    for field in [
        "capabilities:",
        "model:",
        "name:",
        "version:",
        "temperature:",
    ] {
        assert!(text.contains(field), "{field} in {text}");
    }
    let e = Template::parse(r#"{"name":"ok","colour":"red"}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    // A version given badly is not named as the default one.
    let e = Template::parse(r#"{"name":"a","version":"2"}"#).unwrap_err();
    assert!(
        e.to_string().starts_with("invalid template 'a': version:"),
        "{e}"
    );
    let e = Template::parse(r#"{"version":"two"}"#).unwrap_err();
    assert!(e.to_string().contains("version:"), "{e}");
    assert!(e.to_string().contains("name: missing"), "{e}");
    // Without a name, and with an unknown field, every other bad field is still listed.
    let e = Template::parse(r#"{"temperature":9,"version":0,"colour":"red"}"#).unwrap_err();
    for field in [
        "name: missing",
        "temperature:",
        "version:",
        "unknown field `colour`",
    ] {
        assert!(e.to_string().contains(field), "{field} in {e}");
    }
    assert!(!e.to_string().contains("unnamed"), "{e}");
    // Inside `limits` too, each bad field is named, not only the first.
    let e = Template::parse(
        r#"{"name":"x","temperature":3,"limits":{"concurrency":0,"maxErrors":"a","timeoutMs":-5,"colour":1}}"#,
    )
    .unwrap_err();
    for field in [
        "temperature:",
        "limits.concurrency:",
        "limits.maxErrors:",
        "limits.timeoutMs:",
        "unknown field `colour`",
    ] {
        assert!(e.to_string().contains(field), "{field} in {e}");
    }
    let e = Template::parse(r#"{"name":5}"#).unwrap_err();
    assert_eq!(e.to_string().matches("name").count(), 1, "{e}");
    assert_eq!(Template::parse(r#"{"name":"fine"}"#).unwrap().version, 1);
}

#[test]
fn templates_are_versioned_validated_and_make_agents() {
    let mut o = orch();
    let t = Template {
        name: "analyst".into(),
        version: 2,
        description: Some("Analyst".into()),
        instructions: "Be precise".into(),
        model: Some("small".into()),
        temperature: Some(0.2),
        capabilities: vec!["analyze".into()],
        tools: vec![],
        limits: crate::core::template::TemplateLimits {
            concurrency: Some(2),
            ..Default::default()
        },
    };
    assert_eq!(o.define_template(t.clone(), 0).unwrap(), "analyst@2");
    let a = o
        .create_agent_from_template("analyst@2", "a1", None, 0)
        .unwrap();
    assert_eq!(o.state().agent(a).concurrency, Some(2));
    assert_eq!(
        o.state().agent(a).config.as_ref().unwrap().instructions,
        "Be precise"
    );
    assert_eq!(
        o.template("analyst").unwrap().version,
        2,
        "a bare name is the latest"
    );
    assert_eq!(
        o.create_agent_from_template("analyst@9", "a2", None, 0)
            .unwrap_err()
            .code(),
        "unknown_template"
    );
    let bad = Template {
        name: "Bad Name".into(),
        version: 0,
        temperature: Some(7.0),
        ..t
    };
    let e = o.define_template(bad, 0).unwrap_err().to_string();
    for field in ["name:", "version:", "temperature:"] {
        assert!(e.contains(field), "{e} lists {field}");
    }
    assert_eq!(
        o.templates().iter().filter(|t| t.version == 1).count(),
        6,
        "the built-ins"
    );
    o.create_agent_from_template("code-reviewer", "rev", None, 0)
        .unwrap();
    // A description that cannot be a name (empty, or long) does not name the agent.
    for (name, description) in [("blank", String::new()), ("wordy", "x".repeat(300))] {
        let t = Template::parse(&json!({ "name": name, "description": description }).to_string());
        o.define_template(t.unwrap(), 0).unwrap();
        let a = o.create_agent_from_template(name, name, None, 0).unwrap();
        assert_eq!(o.state().agent(a).name, name, "named by its id");
    }
}

#[test]
fn messages_go_sent_delivered_acknowledged() {
    let mut o = orch();
    let a = agent(&mut o, "a", &[]);
    let b = agent(&mut o, "b", &[]);
    let p = json_payload(&mut o, &json!({ "hi": 1 }));
    let m = o.send(a, b, p, 1).unwrap();
    assert_eq!(
        o.state().messages[m].status,
        crate::core::message::MessageStatus::Sent
    );
    assert_eq!(o.inbox(b, 2), vec![m]);
    assert_eq!(
        o.state().messages[m].status,
        crate::core::message::MessageStatus::Delivered
    );
    o.acknowledge(m, 3).unwrap();
    // Twice is a conflict with the message's state, not a bad argument.
    assert_eq!(o.acknowledge(m, 3).unwrap_err().code(), "invalid_state");
    assert!(o.inbox(b, 4).is_empty());
    assert_eq!(o.message_history(a), vec![m]);
    // Acknowledged before it was read: delivered first, at the same time.
    let m2 = o.send(a, b, p, 5).unwrap();
    let m3 = o.send(a, b, p, 5).unwrap();
    o.acknowledge(m3, 6).unwrap();
    let topics: Vec<&str> = (o.journal_records().map(|r| r.event.topic()))
        .filter(|t| t.starts_with("message."))
        .collect();
    assert_eq!(
        &topics[topics.len() - 2..],
        ["message.delivered", "message.acknowledged"]
    );
    assert_eq!(o.state().messages[m3].delivered_at, Some(6));
    assert_eq!(
        o.state().messages[m2].status,
        crate::core::message::MessageStatus::Sent,
        "only the one acknowledged"
    );
    let journal = o.journal_json(0).unwrap();
    assert!(crate::core::verify::verify_replay(&journal).unwrap().ok);
    assert_eq!(o.message("msg-9").unwrap_err().code(), "unknown_message");
}

#[test]
fn tools_need_a_grant_and_keep_to_their_rate_limit() {
    let mut o = orch();
    let a = agent(&mut o, "a", &[]);
    let rl = crate::core::policy::RateLimit {
        per_minute: 60,
        burst: Some(1),
    };
    o.register_tool(
        ToolSpec {
            name: "search".into(),
            description: "web".into(),
            category: "io".into(),
            rate_limit: Some(rl),
        },
        0,
    )
    .unwrap();
    assert_eq!(
        o.call_tool(a, None, "search", PayloadId::NONE, 1)
            .unwrap_err()
            .code(),
        "permission"
    );
    // An agent given a tool that was never registered is refused, and nothing is recorded.
    let seq = o.state().seq;
    let unknown = AgentSpec {
        tools: vec!["search".into(), "nope".into()],
        ..AgentSpec::new("b")
    };
    assert_eq!(
        o.register_agent(unknown, 1).unwrap_err().code(),
        "unknown_tool"
    );
    assert_eq!(o.state().seq, seq);
    o.grant_tools(a, vec!["search".into()], 2).unwrap();
    let call = o.call_tool(a, None, "search", PayloadId::NONE, 3).unwrap();
    o.tool_result(call, Ok(PayloadId::NONE), 4).unwrap();
    let refused = o
        .call_tool(a, None, "search", PayloadId::NONE, 5)
        .unwrap_err();
    assert_eq!(refused.code(), "rate_limit");
    // The next token is 998 ms away (one a second, 2 ms of it refilled): the refusal says so.
    assert!(matches!(
        refused,
        crate::core::Error::RateLimited {
            retry_after_ms: 998,
            ..
        }
    ));
    assert!(
        refused.to_string().ends_with("retry after 1 s"),
        "{refused}"
    );
    assert!(
        o.call_tool(a, None, "search", PayloadId::NONE, 1_003)
            .is_ok(),
        "a token a second"
    );
    assert_eq!(
        o.call_tool(a, None, "nope", PayloadId::NONE, 6)
            .unwrap_err()
            .code(),
        "unknown_tool"
    );
    assert_eq!(
        o.grant_tools(a, vec!["nope".into()], 7).unwrap_err().code(),
        "unknown_tool"
    );
    let text = o.journal_json(0).unwrap();
    // The call of a tool that does not exist is recorded too (class `tool`).
    assert_eq!(text.matches("\"type\":\"tool.refused\"").count(), 3);
    assert!(
        text.contains(r#""tool":"nope","agent":"a","class":"tool""#),
        "{text}"
    );
    assert_eq!(text.matches("\"type\":\"tool.called\"").count(), 2);
    assert!(crate::core::verify::verify_replay(&text).unwrap().ok);
}

#[test]
fn verify_replay_agrees_with_patterns_jobs_tools_and_messages() {
    let mut o = orch();
    for id in ["pro", "con", "judge"] {
        agent(&mut o, id, &["talk"]);
    }
    o.register_tool(
        ToolSpec {
            name: "t".into(),
            description: String::new(),
            category: String::new(),
            rate_limit: None,
        },
        0,
    )
    .unwrap();
    o.grant_tools(AgentIx(0), vec!["t".into()], 0).unwrap();
    let c = o
        .call_tool(AgentIx(0), None, "t", PayloadId::NONE, 1)
        .unwrap();
    o.tool_result(c, Err("boom".into()), 2).unwrap();
    let p = json_payload(&mut o, &json!("hello"));
    let m = o.send(AgentIx(0), AgentIx(1), p, 3).unwrap();
    o.inbox(AgentIx(1), 4);
    o.acknowledge(m, 5).unwrap();
    o.schedule(
        Trigger {
            every_ms: Some(10),
            ..Trigger::default()
        },
        TaskSpec {
            capability: Some("talk".into()),
            ..TaskSpec::default()
        },
        PayloadId::NONE,
        6,
    )
    .unwrap();
    o.start_pattern(debate("t", ["pro", "con", "judge"], 1), 7)
        .unwrap();
    for step in 0..6 {
        let now = 20 + step * 10;
        o.handle_timeout(now);
        for (call, task) in invokes(&mut o) {
            let role = o
                .state()
                .task(task)
                .run()
                .map(|_| o.state().agent(o.state().task(task).agent).id.clone());
            let out = match role.as_deref() {
                Some("judge") => json!({ "winner": "pro", "verdict": "ok" }),
                _ => json!("argument"),
            };
            let out = json_payload(&mut o, &out);
            o.complete(call, out, now);
        }
    }
    let report = crate::core::verify::verify_replay(&o.journal_json(0).unwrap()).unwrap();
    assert!(report.ok, "{report:?}");
}

/// What a width workflow may admit, found the slow way: a scan of its tasks.
fn admissible_by_scan(
    s: &crate::core::state::State,
    w: crate::core::ids::WorkflowIx,
) -> Vec<TaskIx> {
    use crate::core::task::TaskStatus::{Pending, Queued, Retrying, Running};
    let wf = &s.workflows[w.usize()];
    let active = wf
        .tasks()
        .filter(|&t| matches!(s.task(t).status, Queued | Running | Retrying))
        .count() as u32;
    let mut ready: Vec<(u8, TaskIx)> = wf
        .tasks()
        .filter(|&t| s.task(t).status == Pending && s.task(t).waiting_on == 0)
        .map(|t| (s.task(t).priority, t))
        .collect();
    ready.sort();
    let room = wf.width.unwrap().saturating_sub(active) as usize;
    ready.into_iter().take(room).map(|(_, t)| t).collect()
}

#[test]
fn a_width_workflow_admits_what_a_scan_would_through_failures_and_restores() {
    let mut o = orch();
    agent(&mut o, "w", &[]);
    // 40 tasks, priorities 1-5, each depending on up to two earlier ones (a seeded xorshift).
    let mut x = 0x9e37_79b9u32;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let tasks: Vec<WorkflowTaskSpec> = (0..40)
        .map(|i| {
            let deps: Vec<String> = (0..next() % 3)
                .filter(|_| i > 0)
                .map(|_| format!("t{}", next() % i))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
            WorkflowTaskSpec {
                priority: Some(1 + next() % 5),
                ..wtask(&format!("t{i}"), "w", &deps)
            }
        })
        .collect();
    let spec = WorkflowSpec {
        id: Some("w".into()),
        name: None,
        tasks,
        dependencies: Default::default(),
        failure_policy: crate::core::workflow::FailurePolicy::Continue,
        pattern: ExecutionPattern::Parallel,
        width: Some(3),
        session: None,
    };
    let w = o
        .submit_workflow(spec, &[(PayloadId::NONE, PayloadId::NONE); 40], 0)
        .unwrap();
    let mut now = 1;
    let mut pending = invokes(&mut o);
    let mut steps = 0;
    while !pending.is_empty() {
        assert_eq!(o.state().admissible(w), admissible_by_scan(o.state(), w));
        // Every fifth step the run goes on from a snapshot of itself, as after a crash.
        if steps % 5 == 4 {
            let snap = o.snapshot(now).unwrap();
            o = crate::core::Orchestrator::restore(&snap, now).unwrap();
            assert_eq!(o.state().admissible(w), admissible_by_scan(o.state(), w));
            pending = invokes(&mut o);
        }
        let (call, _) = pending.remove(0);
        if steps % 7 == 3 {
            o.fail(call, ErrorClass::Agent, "no", now);
        } else {
            o.complete(call, PayloadId::NONE, now);
        }
        pending.extend(invokes(&mut o));
        now += 1;
        steps += 1;
    }
    assert!(steps >= 20, "{steps} calls answered");
    assert!(
        o.state().workflows[w.usize()].status != crate::core::workflow::WorkflowStatus::Running
    );
}

#[test]
fn a_snapshot_whose_workflow_range_holds_a_task_not_its_own_is_refused() {
    let mut o = orch();
    agent(&mut o, "w", &[]);
    let spec = WorkflowSpec {
        id: Some("w".into()),
        name: None,
        tasks: vec![wtask("a", "w", &[]), wtask("b", "w", &[])],
        dependencies: Default::default(),
        failure_policy: Default::default(),
        pattern: ExecutionPattern::Sequential,
        width: None,
        session: None,
    };
    o.submit_workflow(spec, &[(PayloadId::NONE, PayloadId::NONE); 2], 0)
        .unwrap();
    let snap = o.snapshot(1).unwrap();
    // The second task no longer says it is the workflow's: a refusal, not a panic on restore.
    let edited = snap.replacen(r#""workflow":0,"#, "", 2).replacen(
        r#""status":"Pending""#,
        r#""status":"Pending","workflow":0"#,
        1,
    );
    assert_ne!(edited, snap);
    let e = crate::core::Orchestrator::restore(&edited, 2)
        .err()
        .expect("refused");
    assert_eq!(e.code(), "decode_error");
    assert!(
        e.to_string().contains("workflow 'w' is inconsistent"),
        "{e}"
    );
    assert!(crate::core::Orchestrator::restore(&snap, 2).is_ok());
}

#[test]
fn payloads_of_finished_work_are_released_beyond_the_bytes_kept() {
    let mut o = orch();
    agent(&mut o, "a", &[]);
    let big = |o: &mut Orchestrator, c: char| json_payload(o, &json!(c.to_string().repeat(1000)));
    // A schedule's input is shared by each slot's task: kept. So is a session's (contracts).
    let job_input = big(&mut o, 'j');
    let spec = TaskSpec {
        agent: "a".into(),
        ..TaskSpec::default()
    };
    o.schedule(
        Trigger {
            at: Some(1),
            ..Trigger::default()
        },
        spec.clone(),
        job_input,
        0,
    )
    .unwrap();
    o.handle_timeout(1);
    let in_session = TaskSpec {
        session: Some("s".into()),
        ..spec.clone()
    };
    let input = big(&mut o, 's');
    o.submit(in_session, input, PayloadId::NONE, 1).unwrap();
    let mut done = vec![];
    for c in ['a', 'b', 'c', 'd'] {
        let input = big(&mut o, c);
        done.push(o.submit(spec.clone(), input, PayloadId::NONE, 2).unwrap());
    }
    for (call, _) in invokes(&mut o) {
        let out = big(&mut o, 'o');
        o.complete(call, out, 3);
    }
    // A running workflow's finished task: its output may yet be read (its dependents' upstream).
    let wf = WorkflowSpec {
        id: Some("w".into()),
        name: None,
        tasks: vec![wtask("x", "a", &[]), wtask("y", "a", &["x"])],
        dependencies: Default::default(),
        failure_policy: Default::default(),
        pattern: Default::default(),
        width: None,
        session: None,
    };
    let w = o
        .submit_workflow(wf, &[(PayloadId::NONE, PayloadId::NONE); 2], 4)
        .unwrap();
    let (call, x) = invokes(&mut o)[0];
    let out = big(&mut o, 'x');
    o.complete(call, out, 5);
    let before = o.payloads().bytes();
    assert!(before > 13_000, "{before}");
    assert_eq!(
        o.release_finished_payloads(before, 100, 0),
        0,
        "under the limit"
    );
    // Work that ended within the grace period stays, unless there is twice too much.
    assert_eq!(
        o.release_finished_payloads(before - 1, 6, 10),
        0,
        "ended at 3 and 5"
    );
    // Over twice the limit, the oldest go until the payloads are back under twice it.
    let released = o.release_finished_payloads(before / 3, 6, 10);
    assert!(released >= 1, "over twice the limit: {released}");
    let after = o.payloads().bytes();
    assert!(
        after <= 2 * (before / 3) && after > before / 2,
        "{after} of {before}"
    );
    // A listed snapshot is no longer rebuilt from the journal: its records would lack them.
    o.snapshot(7).unwrap();
    let id = o.state().snapshots.back().unwrap().id.clone();
    o.submit(spec.clone(), PayloadId::NONE, PayloadId::NONE, 8)
        .unwrap();
    let e = o.snapshot_by_id(&id).unwrap_err();
    assert!(e.to_string().contains("were released since"), "{e}");
    let again = o.snapshot_json("before").unwrap();
    let mut o = Orchestrator::load(&again, "").unwrap();
    assert_eq!(
        o.payloads().bytes(),
        Orchestrator::load(&again, "").unwrap().payloads().bytes()
    );
    assert_eq!(
        o.release_finished_payloads(before, 100, 0),
        0,
        "under the limit now"
    );
    let marker = crate::core::payload::RELEASED;
    let text = |o: &Orchestrator, p: PayloadId| o.payloads().get(p).unwrap().get().to_owned();
    assert_eq!(text(&o, o.state().task(done[0]).input), marker);
    assert_eq!(text(&o, o.state().task(done[0]).output), marker);
    assert_eq!(
        text(&o, job_input).len(),
        1002,
        "the schedule's input is kept"
    );
    assert_eq!(
        text(&o, o.state().task(x).output).len(),
        1002,
        "the running workflow's too"
    );
    assert!(
        o.state().workflows[w.usize()].status == crate::core::workflow::WorkflowStatus::Running
    );
    let session = o.contracts_json("s").unwrap();
    assert!(
        session.contains(&"s".repeat(1000)),
        "the session's contracts read their payloads"
    );
    // A snapshot holds the marker, and loads.
    let snap = o.snapshot_json("after").unwrap();
    let again = Orchestrator::load(&snap, "").unwrap();
    assert_eq!(
        again
            .payloads()
            .get(again.state().task(done[0]).output)
            .unwrap()
            .get(),
        marker
    );
}

/// An orchestrator with agent "w" and a job that gives it a task every `ms`.
fn with_interval_job(ms: u64) -> (Orchestrator, usize) {
    let mut o = orch();
    agent(&mut o, "w", &[]);
    let spec = TaskSpec {
        agent: "w".into(),
        ..TaskSpec::default()
    };
    let every = Trigger {
        every_ms: Some(ms),
        ..Trigger::default()
    };
    let j = o.schedule(every, spec, PayloadId::NONE, 0).unwrap();
    (o, j)
}

#[test]
fn a_deleted_jobs_slot_moves_no_clock() {
    let (mut o, j) = with_interval_job(5_000);
    assert_eq!(o.next_deadline(), Some(5_000));
    o.delete_job(j, 10).unwrap();
    // As after a restore, which sets no timer for a deleted job.
    assert_eq!(o.next_deadline(), None);
}

#[test]
fn a_driver_that_wakes_late_fires_what_was_due_in_the_order_it_would_have() {
    // A timeout and a job's slot at 100, and a paused job's slot at 50 before them. Woken at 50
    // then 100, or at 100 at once, the core writes the same journal: the slot at 50 does not
    // pull the job due at 100 ahead of the timeout.
    let run = |wakes: &[u64]| {
        let mut o = orch();
        let spec = AgentSpec {
            timeout_ms: Some(100),
            ..AgentSpec::new("w")
        };
        let a = o.register_agent(spec, 0).unwrap();
        o.start_agent(a, 0).unwrap();
        let task = |agent: &str| TaskSpec {
            agent: agent.into(),
            ..TaskSpec::default()
        };
        let at = |ms| Trigger {
            at: Some(ms),
            ..Trigger::default()
        };
        let early = o.schedule(at(50), task("w"), PayloadId::NONE, 0).unwrap();
        o.pause_job(early, 0).unwrap();
        o.schedule(at(100), task("w"), PayloadId::NONE, 0).unwrap();
        o.submit(task("w"), PayloadId::NONE, PayloadId::NONE, 0)
            .unwrap();
        for &now in wakes {
            o.handle_timeout(now);
        }
        o.journal_json(0).unwrap()
    };
    let stepwise = run(&[50, 100]);
    assert_eq!(run(&[100]), stepwise);
    let timed_out = stepwise.find("timed out").unwrap();
    assert!(
        timed_out < stepwise.find("\"job.fired\"").unwrap(),
        "the timeout first"
    );
}

#[test]
fn a_terminated_orchestrators_jobs_fire_no_more() {
    let (mut o, _) = with_interval_job(1_000);
    o.terminate("stop", 10);
    let seq = o.state().seq;
    assert_eq!(o.next_deadline(), None, "no slot moves the clock");
    o.handle_timeout(5_000);
    assert_eq!(o.state().seq, seq, "and none writes a record");
}
