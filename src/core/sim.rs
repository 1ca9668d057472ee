//! The simulation harness: seeded random scenarios on the virtual clock, with agents that
//! succeed, throw, hang, answer late or answer twice, and crashes at random points after which
//! the state is rebuilt from the last snapshot plus the journal tail.
//!
//! After every record the invariants hold: no task lost or run twice at once, dependencies and
//! concurrency limits respected, the best ready task started first. Every task ends. A crashed run
//! ends with the same fates (status and output per task) as an uninterrupted run with the same
//! answers. A failure prints its seed; rerun one with `BATON_SIM_SEED=<seed> cargo test sim`.
//! `BATON_SIM_SEEDS=<n>` runs more seeds (CI runs 2,000).

use crate::core::agent::{AgentSpec, AgentStatus, AgentUpdate, BreakerSetting};
use crate::core::ids::{PayloadId, TaskIx};
use crate::core::orchestrator::Orchestrator;
use crate::core::policy::{
    Backoff, BreakerConfig, BreakerState, Fallback, RateLimit, RetryPolicy, Strategy,
};
use crate::core::task::{ErrorClass, TaskSpec, TaskStatus};
use crate::core::workflow::{ExecutionPattern, FailurePolicy, WorkflowSpec, WorkflowTaskSpec};
use crate::core::{Effect, Options};
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::collections::BTreeMap;

struct Rng(Pcg64Mcg);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(Pcg64Mcg::seed_from_u64(seed))
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone)]
enum Command {
    /// A plain task, with its own id: a generated id counts every task before it, and a
    /// workflow accepted in one run only (see `run_seed`) would shift it.
    Submit {
        id: String,
        agent: String,
        priority: u32,
    },
    Workflow(WorkflowSpec),
    Pause(String),
    Resume(String),
    /// The operator: an agent found in `Error` is recovered and started again.
    Recover(String),
    /// Less or more room, another error budget, or capabilities taken away, mid-run.
    Update(String, AgentUpdate),
    CancelWorkflow(String),
    /// The agent removed (its unfinished tasks cancelled) and registered again, same id.
    Replace(String),
}

#[derive(Clone)]
struct Scenario {
    seed: u64,
    options: Options,
    agents: Vec<AgentSpec>,
    commands: Vec<(u64, Command)>,
    timeout_ms: u64,
}

/// What an agent does with its k-th call for a task (k = the task's failed attempts so far, so a
/// call lost to a crash and issued again gets the same answer).
#[derive(Clone, Copy)]
enum Answer {
    Ok(u64),
    Fail(ErrorClass, u64),
    Hang,
    Late(u64),
    Twice(u64),
}

fn answer(seed: u64, task: &str, k: u32, timeout_ms: u64) -> Answer {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in task.bytes().chain(k.to_le_bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    let mut r = Rng::new(h);
    if k >= 6 {
        return Answer::Ok(1 + r.below(90));
    }
    let latency = 1 + r.below(90);
    match r.below(100) {
        0..=49 => Answer::Ok(latency),
        50..=71 => {
            let classes = [
                ErrorClass::Agent,
                ErrorClass::Agent,
                ErrorClass::Tool,
                ErrorClass::Validation,
                ErrorClass::Internal,
                ErrorClass::RateLimit,
            ];
            Answer::Fail(classes[r.below(classes.len() as u64) as usize], latency)
        }
        72..=81 => Answer::Hang,
        82..=90 => Answer::Late(timeout_ms + 1 + r.below(200)),
        _ => Answer::Twice(latency),
    }
}

fn scenario(seed: u64) -> Scenario {
    let mut r = Rng::new(seed);
    let timeout_ms = 100 + r.below(300);
    let mut on_error = BTreeMap::new();
    for class in [
        ErrorClass::Validation,
        ErrorClass::Internal,
        ErrorClass::Tool,
        ErrorClass::RateLimit,
    ] {
        let choices = [
            Strategy::Retry,
            Strategy::Fail,
            Strategy::Skip,
            Strategy::Fallback,
            Strategy::Reset,
            Strategy::Escalate,
        ];
        if r.chance(50) {
            on_error.insert(class, choices[r.below(choices.len() as u64) as usize]);
        }
    }
    let retry = r.chance(80).then(|| RetryPolicy {
        max_attempts: 1 + r.below(4) as u32,
        backoff: Backoff {
            initial_ms: 10 + r.below(100),
            factor: 1.0 + r.below(3) as f64 * 0.5,
            max_ms: 1_000,
        },
        jitter: [0.0, 0.5, 1.0][r.below(3) as usize],
    });
    let options = Options {
        max_concurrency: r.chance(60).then(|| 1 + r.below(6) as u32),
        retry,
        timeout_ms: Some(timeout_ms),
        on_error,
        ..Options::default()
    };
    let n_agents = 1 + r.below(4) as usize;
    let agents: Vec<AgentSpec> = (0..n_agents)
        .map(|i| AgentSpec {
            capabilities: vec!["work".into()],
            concurrency: r.chance(60).then(|| 1 + r.below(3) as u32),
            max_errors: r.chance(20).then(|| 2 + r.below(4) as u32),
            fallback: r.chance(40).then(|| Fallback {
                agent: None,
                capability: Some("work".into()),
            }),
            // Some with a quick breaker of their own, some with the default one, some with none.
            circuit_breaker: match r.below(3) {
                0 => BreakerSetting::On(BreakerConfig {
                    failure_threshold: 1 + r.below(3) as u32,
                    recovery_ms: 50 + r.below(500),
                    success_threshold: 1 + r.below(2) as u32,
                }),
                1 => BreakerSetting::Default,
                _ => BreakerSetting::Off,
            },
            rate_limit: r.chance(25).then(|| RateLimit {
                per_minute: 60 + r.below(600) as u32,
                burst: Some(1 + r.below(3) as u32),
            }),
            ..AgentSpec::new(&format!("agent{i}"))
        })
        .collect();
    let mut commands = Vec::new();
    let mut t = 0;
    for w in 0..r.below(12) {
        t += r.below(60);
        let agent = format!("agent{}", r.below(n_agents as u64));
        if r.chance(30) {
            let n = 2 + r.below(8) as usize;
            let tasks = (0..n)
                .map(|i| {
                    let agent = format!("agent{}", r.below(n_agents as u64));
                    // Some routed by capability: to the least-loaded agent when ready.
                    let routed = r.chance(25);
                    WorkflowTaskSpec {
                        id: format!("t{i}"),
                        agent: if routed { String::new() } else { agent },
                        capability: routed.then(|| "work".into()),
                        name: None,
                        priority: Some(1 + r.below(5) as u32),
                        depends_on: (0..i)
                            .filter(|_| r.chance(35))
                            .map(|d| format!("t{d}"))
                            .collect(),
                        retry: None,
                        timeout_ms: None,
                        on_error: Default::default(),
                        fallback: None,
                    }
                })
                .collect();
            let failure_policy = if r.chance(50) {
                FailurePolicy::Continue
            } else {
                FailurePolicy::FailFast
            };
            // Some with a width: at most that many of their tasks in flight.
            let (pattern, width) = match r.below(4) {
                0 => (ExecutionPattern::Parallel, Some(1 + r.below(3) as u32)),
                1 => (ExecutionPattern::Sequential, None),
                _ => (ExecutionPattern::Dag, None),
            };
            let spec = WorkflowSpec {
                id: Some(format!("w{w}")),
                name: None,
                tasks,
                dependencies: Default::default(),
                failure_policy,
                pattern,
                width,
                session: None,
            };
            commands.push((t, Command::Workflow(spec)));
            // Some cancelled midway (that workflow's fates are then timing's).
            if r.chance(15) {
                commands.push((t + r.below(400), Command::CancelWorkflow(format!("w{w}"))));
            }
        } else if r.chance(3) {
            commands.push((t, Command::Replace(agent)));
        } else if r.chance(10) {
            commands.push((t, Command::Pause(agent.clone())));
            commands.push((t + 1 + r.below(300), Command::Resume(agent)));
        } else if r.chance(10) {
            let update = AgentUpdate {
                concurrency: r
                    .chance(70)
                    .then(|| r.chance(80).then(|| 1 + r.below(3) as u32)),
                max_errors: r
                    .chance(30)
                    .then(|| r.chance(70).then(|| 1 + r.below(4) as u32)),
                capabilities: r.chance(15).then(|| {
                    if r.chance(50) {
                        vec!["work".into()]
                    } else {
                        Vec::new()
                    }
                }),
                ..AgentUpdate::default()
            };
            commands.push((t, Command::Update(agent, update)));
        } else {
            for _ in 0..1 + r.below(4) {
                let id = format!("p{}", commands.len());
                commands.push((
                    t,
                    Command::Submit {
                        id,
                        agent: agent.clone(),
                        priority: 1 + r.below(5) as u32,
                    },
                ));
            }
        }
    }
    commands.sort_by_key(|(t, _)| *t);
    Scenario {
        seed,
        options,
        agents,
        commands,
        timeout_ms,
    }
}

/// One run of a scenario; `crashes` is how many times the orchestrator may die.
struct Run<'a> {
    sc: &'a Scenario,
    rng: Rng,
    o: Orchestrator,
    /// The reference: applies every record the orchestrator writes, deciding nothing.
    reference: Orchestrator,
    now: u64,
    answers: BTreeMap<(u64, u64), (u32, Answer, bool)>,
    answer_seq: u64,
    commands: Vec<(u64, Command)>,
    snapshot: Option<(String, u64)>,
    crashes_left: u32,
    crashed: u32,
    /// Per agent, how many calls it may have running (see `check_record_invariants`).
    allowance: Vec<u32>,
}

const STEPS_MAX: u32 = 20_000;

impl<'a> Run<'a> {
    fn new(sc: &'a Scenario, crashes: u32) -> Run<'a> {
        let mut o = Orchestrator::new(sc.seed, sc.options.clone(), 0).expect("valid options");
        for a in &sc.agents {
            let ix = o.register_agent(a.clone(), 0).expect("valid agent");
            o.start_agent(ix, 0).expect("startable");
        }
        let reference = Orchestrator::replay(&o.journal_json(0).unwrap(), None).unwrap();
        let mut commands = sc.commands.clone();
        commands.reverse();
        Run {
            sc,
            rng: Rng::new(sc.seed ^ 0x5eed),
            o,
            reference,
            now: 0,
            answers: BTreeMap::new(),
            answer_seq: 0,
            commands,
            snapshot: None,
            crashes_left: crashes,
            crashed: 0,
            allowance: Vec::new(),
        }
    }

    fn go(mut self) -> Result<(Orchestrator, u32), String> {
        for _ in 0..STEPS_MAX {
            self.carry_out_effects()?;
            self.follow()?;
            self.check_step()?;
            if self.maybe_snapshot_or_crash()? {
                continue; // carry out what recovery asked for before time moves on
            }
            let next = [
                self.commands.last().map(|c| c.0),
                self.answers.keys().next().map(|k| k.0),
                self.o.next_deadline(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else { break };
            self.now = self.now.max(next);
            self.feed_inputs_at_now();
        }
        let open: Vec<String> = (0..self.o.state().tasks.len() as u32)
            .map(TaskIx)
            .filter(|&t| !self.o.state().task(t).status.is_terminal())
            .map(|t| {
                format!(
                    "{} ({})",
                    self.o.state().task_id(t).unwrap(),
                    self.o.state().task(t).status
                )
            })
            .collect();
        if !open.is_empty() {
            return Err(format!("tasks never ended: {}", open.join(", ")));
        }
        Ok((self.o, self.crashed))
    }

    fn feed_inputs_at_now(&mut self) {
        let now = self.now;
        while self.commands.last().is_some_and(|c| c.0 <= now) {
            let (_, c) = self.commands.pop().unwrap();
            self.command(c);
        }
        while let Some((&key, _)) = self.answers.iter().next() {
            if key.0 > now {
                break;
            }
            let (call, answer, second) = self.answers.remove(&key).unwrap();
            self.deliver(call, answer, second);
        }
        // Only when something is due, as a driver's timer fires: a command or an answer must
        // start what it makes runnable by itself.
        if self.o.next_deadline().is_some_and(|d| d <= now) {
            self.o.handle_timeout(now);
        }
    }

    fn command(&mut self, c: Command) {
        let now = self.now;
        let o = &mut self.o;
        // Commands may be refused (a paused agent paused again): that is fine, and changes nothing.
        let _ = match c {
            Command::Submit {
                id,
                agent,
                priority,
            } => {
                let spec = TaskSpec {
                    id: Some(id),
                    agent,
                    priority: Some(priority),
                    ..TaskSpec::default()
                };
                let input = o.payloads_mut().alloc_json("{\"n\":1}").unwrap();
                o.submit(spec, input, PayloadId::NONE, now).map(|_| ())
            }
            Command::Workflow(spec) => {
                let n = spec.tasks.len();
                o.submit_workflow(spec, &vec![(PayloadId::NONE, PayloadId::NONE); n], now)
                    .map(|_| ())
            }
            Command::Pause(a) => o.agent(&a).and_then(|a| o.pause_agent(a, now)),
            Command::Resume(a) => o.agent(&a).and_then(|a| o.resume_agent(a, now)),
            Command::Update(a, update) => o.agent(&a).and_then(|a| o.update_agent(a, update, now)),
            Command::CancelWorkflow(w) => o
                .workflow(&w)
                .and_then(|w| o.cancel_workflow(w, "cancelled by the simulation", now)),
            Command::Replace(a) => o.agent(&a).and_then(|ix| {
                let spec = self.sc.agents.iter().find(|s| s.id == a).expect("an agent");
                o.remove_agent(ix, now)?;
                let again = o.register_agent(spec.clone(), now)?;
                o.start_agent(again, now)
            }),
            Command::Recover(a) => o.agent(&a).and_then(|ix| {
                if o.state().agent(ix).status == AgentStatus::Error {
                    o.recover_agent(ix, now)?;
                    o.start_agent(ix, now)
                } else {
                    Ok(())
                }
            }),
        };
    }

    fn deliver(&mut self, call: u32, answer: Answer, second: bool) {
        let now = self.now;
        let task = self.o.state().call_task(call);
        match answer {
            Answer::Fail(class, _) if !second => {
                self.o.fail(call, class, "simulated failure", now);
            }
            _ => {
                let k = task.map_or(0, |t| self.o.state().task(t).failures);
                let id = task
                    .and_then(|t| self.o.state().task_id(t))
                    .unwrap_or_default();
                let out = self
                    .o
                    .payloads_mut()
                    .alloc_json(&format!("{{\"task\":\"{id}\",\"k\":{k}}}"))
                    .unwrap();
                self.o.complete(call, out, now);
            }
        }
    }

    fn carry_out_effects(&mut self) -> Result<(), String> {
        while let Some(e) = self.o.poll_effect() {
            if let Effect::Invoke { call, task, .. } = e {
                let t = self.o.state().task(task);
                let id = self.o.state().task_id(task).unwrap();
                let a = answer(self.sc.seed, &id, t.failures, self.sc.timeout_ms);
                let at = |delay: u64, second: bool, run: &mut Self| {
                    run.answer_seq += 1;
                    run.answers
                        .insert((run.now + delay, run.answer_seq), (call, a, second));
                };
                match a {
                    Answer::Ok(d) | Answer::Fail(_, d) | Answer::Late(d) => at(d, false, self),
                    Answer::Twice(d) => {
                        at(d, false, self);
                        at(d + 5, true, self);
                    }
                    Answer::Hang => {}
                }
            }
        }
        // The operator notices agents in Error and brings them back a little later.
        for a in &self.o.state().agents {
            if a.status == AgentStatus::Error
                && !self
                    .commands
                    .iter()
                    .any(|(_, c)| matches!(c, Command::Recover(id) if *id == a.id))
            {
                self.commands
                    .push((self.now + 100, Command::Recover(a.id.clone())));
                self.commands.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
            }
        }
        Ok(())
    }

    /// Applies the orchestrator's new records to the reference, checking each decision and the
    /// invariants after each record.
    fn follow(&mut self) -> Result<(), String> {
        let from = self.reference.state().seq;
        let text = self.o.journal_json(from).map_err(|e| e.to_string())?;
        for line in text.lines() {
            let rec_seq = crate::core::replay_check::peek_seq(line)?;
            self.check_dispatch_choice(line, rec_seq)?;
            self.reference
                .append_line(line)
                .map_err(|e| format!("replaying seq {rec_seq}: {e}"))?;
            let updated = line.contains("\"type\":\"agent.updated\"");
            check_record_invariants(self.reference.state(), &mut self.allowance, updated)
                .map_err(|e| format!("after seq {rec_seq}: {e}"))?;
        }
        Ok(())
    }

    /// A `task.started` must name the best ready task among agents that can take one.
    fn check_dispatch_choice(&self, line: &str, seq: u64) -> Result<(), String> {
        if !line.contains("\"type\":\"task.started\"") || line.contains("\"call\":0,") {
            return Ok(());
        }
        let s = self.reference.state();
        let best = (0..s.tasks.len() as u32)
            .map(TaskIx)
            .filter(|&t| {
                s.task(t).status == TaskStatus::Queued
                    && s.agents[s.task(t).agent.usize()].has_room()
            })
            .min_by_key(|&t| (s.task(t).priority, t));
        let Some(best) = best else {
            return Err(format!("seq {seq}: a task started with nothing runnable"));
        };
        let id = s.task_id(best).unwrap();
        if !line.contains(&format!("\"task\":\"{id}\"")) {
            return Err(format!(
                "seq {seq}: started {line} but the best ready task was {id}"
            ));
        }
        if s.running() >= s.options.max_concurrency.unwrap_or(u32::MAX) {
            return Err(format!("seq {seq}: started beyond maxConcurrency"));
        }
        Ok(())
    }

    /// Between inputs the scheduler is work-conserving: nothing runnable waits while there is room.
    fn check_step(&self) -> Result<(), String> {
        let s = self.o.state();
        if s.running() < s.options.max_concurrency.unwrap_or(u32::MAX) && s.queue().peek().is_some()
        {
            return Err(format!(
                "t={}: a runnable task waits while there is room",
                self.now
            ));
        }
        Ok(())
    }

    /// Returns whether the orchestrator crashed (and was recovered).
    fn maybe_snapshot_or_crash(&mut self) -> Result<bool, String> {
        // A driver polls right after each command, which records the automatic snapshots due:
        // no process dies between a command and that.
        self.o.record_due_snapshots();
        if self.rng.chance(10) {
            self.snapshot = Some((
                self.o.snapshot_json("sim").map_err(|e| e.to_string())?,
                self.o.state().seq,
            ));
        }
        if self.crashes_left == 0 || !self.rng.chance(4) {
            return Ok(false);
        }
        let Some((snap, seq)) = self.snapshot.clone() else {
            return Ok(false);
        };
        self.crashes_left -= 1;
        self.crashed += 1;
        // The process dies: what it had written is the snapshot and the journal after it.
        let tail = self.o.journal_json(seq).map_err(|e| e.to_string())?;
        self.o = Orchestrator::load(&snap, &tail).map_err(|e| format!("recover: {e}"))?;
        // The rebuilt state is exactly the one that died.
        let died = self
            .reference
            .snapshot_json("x")
            .map_err(|e| e.to_string())?;
        if self.o.snapshot_json("x").map_err(|e| e.to_string())? != died {
            return Err(format!(
                "t={}: snapshot + journal tail did not rebuild the state",
                self.now
            ));
        }
        self.o.reissue_in_flight(self.now);
        // Answers to calls of the dead process may or may not still arrive.
        let keys: Vec<_> = self.answers.keys().copied().collect();
        for k in keys {
            if self.rng.chance(50) {
                self.answers.remove(&k);
            }
        }
        Ok(true)
    }
}

/// `allowance` is how many calls each agent may have running: its concurrency, or more for a
/// while after an update lowered it with more calls in flight, as those drain (never refilled).
fn check_record_invariants(
    s: &crate::core::state::State,
    allowance: &mut Vec<u32>,
    updated: bool,
) -> Result<(), String> {
    let max = s.options.max_concurrency.unwrap_or(u32::MAX);
    if s.running() > max {
        return Err(format!("{} running over maxConcurrency {max}", s.running()));
    }
    let mut calls = std::collections::BTreeSet::new();
    let mut running_by_agent = vec![0u32; s.agents.len()];
    for (i, t) in s.tasks.iter().enumerate() {
        if t.status == TaskStatus::Running {
            running_by_agent[t.agent.usize()] += 1;
            if !t.manual && (!calls.insert(t.call) || s.call_task(t.call) != Some(TaskIx(i as u32)))
            {
                return Err(format!("task {} runs twice or lost its call", i + 1));
            }
        }
        if let Some(w) = t.workflow.get() {
            let wf = &s.workflows[w.usize()];
            if matches!(
                t.status,
                TaskStatus::Queued | TaskStatus::Running | TaskStatus::Completed
            ) {
                let local = wf.local(TaskIx(i as u32));
                for &d in &wf.deps[local as usize] {
                    let ds = s.task(wf.task(d)).status;
                    if !matches!(ds, TaskStatus::Completed | TaskStatus::Skipped) {
                        return Err(format!("task {} ran before its dependency ({ds})", i + 1));
                    }
                }
            }
        }
    }
    // A width workflow never has more tasks in flight (queued, running, retrying) than its width.
    for wf in &s.workflows {
        if let Some(width) = wf.width {
            let in_flight = wf
                .tasks()
                .filter(|&t| {
                    matches!(
                        s.task(t).status,
                        TaskStatus::Queued | TaskStatus::Running | TaskStatus::Retrying
                    )
                })
                .count();
            if in_flight > width as usize {
                return Err(format!(
                    "workflow {} has {in_flight} tasks in flight, width {width}",
                    wf.id
                ));
            }
        }
    }
    for (i, a) in s.agents.iter().enumerate() {
        if running_by_agent[i] != a.running {
            return Err(format!(
                "agent {} counts {} running, has {}",
                a.id, a.running, running_by_agent[i]
            ));
        }
        let limit = a.concurrency.unwrap_or(u32::MAX);
        if allowance.len() <= i {
            allowance.resize(i + 1, limit);
        }
        if updated {
            allowance[i] = limit.max(a.running);
        }
        if a.running > allowance[i] {
            return Err(format!(
                "agent {} runs {} over its concurrency {limit} (allowance {})",
                a.id, a.running, allowance[i]
            ));
        }
        allowance[i] = limit.max(a.running.min(allowance[i]));
        if a.breaker.state == BreakerState::Open && a.has_room() {
            return Err(format!("agent {} takes calls with its breaker open", a.id));
        }
    }
    if s.queue().len() as u64 != s.count(TaskStatus::Queued) {
        return Err(format!(
            "the queue holds {} tasks, {} are Queued",
            s.queue().len(),
            s.count(TaskStatus::Queued)
        ));
    }
    if calls.len() != s.derived.calls.len() {
        return Err("a call in flight has no running task".into());
    }
    Ok(())
}

/// The tasks moved to another agent (a fallback, a breaker, a capability routed when ready), or
/// for which a fallback looked for one.
fn fell_back(o: &Orchestrator) -> std::collections::BTreeSet<String> {
    let journal = o.journal_json(0).expect("a journal");
    journal
        .lines()
        .filter(|l| l.contains("\"type\":\"task.reassigned\"") || l.contains("(no fallback: "))
        .filter_map(|l| {
            let from = l.find("\"task\":\"")? + 8;
            let len = l[from..].find('"')?;
            Some(l[from..from + len].to_owned())
        })
        .collect()
}

/// The tasks given to any agent with one of these ids.
fn on_agents(
    o: &Orchestrator,
    ids: &std::collections::BTreeSet<&str>,
) -> std::collections::BTreeSet<String> {
    let s = o.state();
    (0..s.tasks.len() as u32)
        .map(TaskIx)
        .filter(|&t| ids.contains(s.agent(s.task(t).agent).id.as_str()))
        .filter_map(|t| s.task_id(t))
        .collect()
}

/// Fates that do not depend on timing: a fail-fast workflow's cancellations do (a task can finish
/// or be cancelled depending on when its sibling failed), so those are left out.
fn fates(o: &Orchestrator) -> BTreeMap<String, (TaskStatus, Option<String>)> {
    let s = o.state();
    (0..s.tasks.len() as u32)
        .map(TaskIx)
        .filter(|&t| {
            s.task(t)
                .workflow
                .get()
                .is_none_or(|w| s.workflows[w.usize()].policy == FailurePolicy::Continue)
        })
        .map(|t| {
            let out = o
                .payloads()
                .get(s.task(t).output)
                .map(|r| r.get().to_owned());
            (s.task_id(t).unwrap(), (s.task(t).status, out))
        })
        .collect()
}

/// Runs one seed twice, calm and with crashes; returns (crashes, tasks, agent updates and
/// removals).
pub(crate) fn run_seed(seed: u64) -> Result<(u32, usize, (usize, usize)), String> {
    let sc = scenario(seed);
    let calm = Run::new(&sc, 0)
        .go()
        .map_err(|e| format!("uninterrupted run: {e}"))?
        .0;
    let (stormy, crashes) = Run::new(&sc, 3)
        .go()
        .map_err(|e| format!("crashing run: {e}"))?;
    let (mut a, mut b) = (fates(&calm), fates(&stormy));
    // Where a fallback or a capability sent a task depends on which agents were healthy and how
    // loaded at that moment, and a crash shifts when things happen (a re-issued call starts its
    // latency again): those tasks' fates are timing's, as a fail-fast workflow's cancellations
    // are, and so are those of the rest of their workflow (which depends on them).
    // An agent removed midway: which of its tasks ended before and which were cancelled is
    // timing's.
    let replaced: std::collections::BTreeSet<&str> = (sc.commands.iter())
        .filter_map(|c| match c {
            (_, Command::Replace(a)) => Some(a.as_str()),
            _ => None,
        })
        .collect();
    let mut timing = fell_back(&calm);
    timing.extend(fell_back(&stormy));
    timing.extend(on_agents(&calm, &replaced));
    timing.extend(on_agents(&stormy, &replaced));
    for id in &timing {
        let same = |k: &String| match id.split_once('/') {
            Some((w, _)) => k.starts_with(&format!("{w}/")),
            None => k == id,
        };
        a.retain(|k, _| !same(k));
        b.retain(|k, _| !same(k));
    }
    // A workflow cancelled midway: which of its tasks ended before the cancel is timing's.
    for c in &sc.commands {
        if let (_, Command::CancelWorkflow(w)) = c {
            let prefix = format!("{w}/");
            a.retain(|k, _| !k.starts_with(&prefix));
            b.retain(|k, _| !k.starts_with(&prefix));
        }
    }
    // A workflow with routed tasks is refused when no capable agent is running at submission,
    // which is timing's too: such a workflow exists in one run only. A plain task is always
    // accepted (its agent's queue takes it whatever its state).
    let only: Vec<String> = (a.keys().filter(|k| !b.contains_key(*k)))
        .chain(b.keys().filter(|k| !a.contains_key(*k)))
        .cloned()
        .collect();
    if let Some(k) = only.iter().find(|k| !k.contains('/')) {
        return Err(format!("task {k} exists in one run only"));
    }
    for k in &only {
        a.remove(k);
        b.remove(k);
    }
    if a != b {
        let diff: Vec<String> = a
            .iter()
            .filter(|(k, v)| b.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}: {v:?} vs {:?}", b.get(k)))
            .collect();
        return Err(format!("a crash changed fates: {}", diff.join("; ")));
    }
    let journal = calm.journal_json(0).map_err(|e| e.to_string())?;
    let count = |topic: &str| journal.matches(&format!("\"type\":\"{topic}\"")).count();
    let changes = (count("agent.updated"), count("agent.removed"));
    Ok((crashes, calm.state().tasks.len(), changes))
}

fn seeds() -> Vec<u64> {
    if let Ok(one) = std::env::var("BATON_SIM_SEED") {
        return vec![one.parse().expect("BATON_SIM_SEED is a number")];
    }
    let n: u64 = std::env::var("BATON_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    (1..=n).collect()
}

#[test]
fn simulation_keeps_every_invariant_through_failures_and_crashes() {
    let seeds = seeds();
    let (mut tasks, mut crashes, mut updates, mut removals) = (0, 0, 0, 0);
    for &seed in &seeds {
        match std::panic::catch_unwind(|| run_seed(seed)) {
            Ok(Ok((c, n, (u, r)))) => {
                tasks += n;
                crashes += c;
                updates += u;
                removals += r;
            }
            Ok(Err(e)) => panic!("simulation seed {seed} failed: {e}\nreproduce with: BATON_SIM_SEED={seed} cargo test --lib sim"),
            Err(_) => panic!("simulation seed {seed} panicked\nreproduce with: BATON_SIM_SEED={seed} cargo test --lib sim -- --nocapture"),
        }
    }
    println!(
        "simulation: {} seeds, {tasks} tasks, {crashes} crashes, {updates} agent updates, {removals} agents removed and registered again, all invariants held",
        seeds.len()
    );
}
