//! Native benchmarks of the core alone: `cargo bench --bench core` (add `-- --quick` for a
//! smaller run). Prints a Markdown table. Not a test: nothing here fails on a slow machine.
//!
//! - task transitions per second: submit → queued → started → completed, 200,000 tasks;
//! - snapshot and restore of 10,000 agents and 100,000 tasks;
//! - journal replay speed;
//! - bytes per pending task, counted by a global allocator, and 1,000,000 pending tasks' heap.

use baton::core::agent::AgentSpec;
use baton::core::ids::PayloadId;
use baton::core::orchestrator::PlainTasks;
use baton::core::task::TaskSpec;
use baton::core::{Effect, Options, Orchestrator};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most `LIVE` has been: wasm memory never shrinks, so a peak costs what a steady state does.
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn with_agents(n: usize, concurrency: Option<u32>) -> Orchestrator {
    agents_in(Options::default(), n, concurrency)
}

fn agents_in(options: Options, n: usize, concurrency: Option<u32>) -> Orchestrator {
    let mut o = Orchestrator::new(1, options, 0).unwrap();
    for i in 0..n {
        let a = o
            .register_agent(
                AgentSpec {
                    concurrency,
                    ..AgentSpec::new(&format!("agent-{i}"))
                },
                0,
            )
            .unwrap();
        o.start_agent(a, 0).unwrap();
    }
    o
}

fn submit(o: &mut Orchestrator, agent: &str, priority: u32) {
    let spec = TaskSpec {
        agent: agent.to_owned(),
        priority: Some(priority),
        ..TaskSpec::default()
    };
    o.submit(spec, PayloadId::NONE, PayloadId::NONE, 1).unwrap();
}

fn transitions(tasks: usize) -> (f64, f64) {
    let mut o = with_agents(1, Some(16));
    let agent = o.agent("agent-0").unwrap();
    let t0 = Instant::now();
    for i in 0..tasks {
        o.submit_to(agent, Some(1 + (i % 9) as u32), PayloadId::NONE, 1)
            .unwrap();
    }
    let mut done = 0;
    while done < tasks {
        let calls: Vec<u32> = std::iter::from_fn(|| o.poll_effect())
            .filter_map(|e| {
                if let Effect::Invoke { call, .. } = e {
                    Some(call)
                } else {
                    None
                }
            })
            .collect();
        for call in calls {
            o.complete(call, PayloadId::NONE, 2);
            done += 1;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    // Per task: created, queued, started, completed.
    ((4 * tasks) as f64 / secs, secs * 1e9 / tasks as f64)
}

/// The harness's 1,000-node layered DAG (10 × 100, each node waits for two of the layer
/// before) as one plain workflow, run to its end and viewed, on a fresh core each time: the
/// core's share of what the JS contender measures per task.
/// Answers every call, and every call those answers lead to, until none is left.
fn answer_every_call(o: &mut Orchestrator) {
    let mut calls = Vec::new();
    loop {
        calls.extend(
            std::iter::from_fn(|| o.poll_effect()).filter_map(|e| match e {
                Effect::Invoke { call, .. } => Some(call),
                _ => None,
            }),
        );
        if calls.is_empty() {
            break;
        }
        for call in calls.drain(..) {
            o.complete(call, PayloadId::NONE, 2);
        }
    }
}

/// Submits one plain workflow to agent 0 at time 1 (no id, no name, the default policy).
fn submit_plain(
    o: &mut Orchestrator,
    ids: &str,
    priorities: &[u32],
    dep_offsets: &[u32],
    deps: &[u32],
    payloads: &[u32],
) -> baton::core::ids::WorkflowIx {
    let agents = vec![0; priorities.len()];
    let tasks = PlainTasks {
        ids,
        agents: &agents,
        priorities,
        dep_offsets,
        deps,
        payloads,
    };
    o.submit_workflow_plain(None, None, Default::default(), tasks, 1)
        .unwrap()
}

/// A workflow of `n` independent tasks with the harness's priorities (1..=10, xorshift), run at
/// concurrency 16: ns per task.
fn workflow_queue(n: usize, runs: usize) -> f64 {
    let ids: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
    let ids = ids.join("\n");
    let mut x = 0x2545_f491u32;
    let priorities: Vec<u32> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            1 + x % 10
        })
        .collect();
    let payloads = vec![PayloadId::NONE.index(); 2 * n];
    let offsets = vec![0u32; n + 1];
    let t0 = Instant::now();
    for _ in 0..runs {
        let mut o = with_agents(1, Some(16));
        submit_plain(&mut o, &ids, &priorities, &offsets, &[], &payloads);
        answer_every_call(&mut o);
    }
    t0.elapsed().as_secs_f64() * 1e9 / (runs * n) as f64
}

/// A sequential workflow (width 1) of `n` independent tasks, submitted and run: admitting each
/// next task must not scan the workflow (a scan made 10,000 tasks take 0.5 s in wasm).
fn workflow_sequential(n: usize) -> f64 {
    let tasks: Vec<serde_json::Value> = (0..n)
        .map(|i| serde_json::json!({ "id": format!("t{i}"), "agent": "agent-0" }))
        .collect();
    let spec = serde_json::json!({ "tasks": tasks, "pattern": "sequential" });
    let spec: baton::core::workflow::WorkflowSpec = serde_json::from_value(spec).unwrap();
    let payloads = vec![(PayloadId::NONE, PayloadId::NONE); n];
    let mut o = with_agents(1, None);
    let t0 = Instant::now();
    o.submit_workflow(spec, &payloads, 1).unwrap();
    answer_every_call(&mut o);
    t0.elapsed().as_secs_f64() * 1e9 / n as f64
}

fn workflow_dag(runs: usize) -> f64 {
    let (layers, width) = (10u32, 100u32);
    let n = (layers * width) as usize;
    let ids: Vec<String> = (0..n)
        .map(|i| format!("L{}_{}", i / 100, i % 100))
        .collect();
    let ids = ids.join("\n");
    let mut offsets = vec![0u32];
    let mut deps = Vec::new();
    for l in 0..layers {
        for j in 0..width {
            if l > 0 {
                deps.push((l - 1) * width + j);
                deps.push((l - 1) * width + (j + 1) % width);
            }
            offsets.push(deps.len() as u32);
        }
    }
    let payloads = vec![PayloadId::NONE.index(); 2 * n];
    let t0 = Instant::now();
    for _ in 0..runs {
        let mut o = with_agents(1, None);
        let w = submit_plain(&mut o, &ids, &vec![0; n], &offsets, &deps, &payloads);
        answer_every_call(&mut o);
        // What the JS driver reads for a run's result: the head (the tasks only when read).
        let head = baton::core::views::workflow_head(o.state(), w);
        assert_eq!(
            head.status,
            baton::core::workflow::WorkflowStatus::Completed
        );
    }
    t0.elapsed().as_secs_f64() * 1e9 / (runs * n) as f64
}

/// `runs` timings of `f`: "median ms (min – max)".
fn median_ms(runs: usize, mut f: impl FnMut()) -> String {
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    format!(
        "{:.1} ms ({:.1} – {:.1})",
        ms[runs / 2],
        ms[0],
        ms[runs - 1]
    )
}

fn big_state(agents: usize, tasks: usize) -> Orchestrator {
    big_state_in(Options::default(), agents, tasks)
}

fn big_state_in(options: Options, agents: usize, tasks: usize) -> Orchestrator {
    let mut o = agents_in(options, agents, Some(1));
    o.pause_agent(o.agent("agent-0").unwrap(), 1).unwrap();
    for i in 0..tasks {
        submit(&mut o, &format!("agent-{}", i % agents), 5);
    }
    while o.poll_effect().is_some() {}
    o
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this too, without it and
    // unoptimized: there it only checks that every part runs, at a thousandth of the size.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if smoke {
        1000
    } else if quick {
        10
    } else {
        1
    };
    if std::env::args().any(|a| a == "--restore-only") {
        // For profiling restore alone (`perf record`).
        let snap = big_state(10_000, 100_000).snapshot(2).unwrap();
        for _ in 0..10 {
            let before = LIVE.load(Ordering::Relaxed);
            PEAK.store(before, Ordering::Relaxed);
            let t0 = Instant::now();
            let mut o = Orchestrator::load(&snap, "").unwrap();
            let loaded = t0.elapsed().as_secs_f64() * 1e3;
            o.reissue_in_flight(3);
            let total = t0.elapsed().as_secs_f64() * 1e3;
            println!(
                "restore {total:.1} ms: load {loaded:.1} ms, re-issuing calls {:.1} ms; heap {:.1} MB at the peak, {:.1} MB after",
                total - loaded,
                (PEAK.load(Ordering::Relaxed) - before) as f64 / 1e6,
                (LIVE.load(Ordering::Relaxed) - before) as f64 / 1e6,
            );
            drop(o);
        }
        return;
    }
    if std::env::args().any(|a| a == "--workflow-memory") {
        let n = 100_000u32;
        let mut o = with_agents(1, Some(1));
        let ids: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        let ids = ids.join("\n");
        let offsets = vec![0u32; n as usize + 1];
        let payloads: Vec<u32> = (0..n)
            .flat_map(|_| {
                [
                    o.payloads_mut().alloc_unresolved().index(),
                    PayloadId::NONE.index(),
                ]
            })
            .collect();
        let priorities: Vec<u32> = (0..n).map(|i| 1 + i % 10).collect();
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        submit_plain(&mut o, &ids, &priorities, &offsets, &[], &payloads);
        while o.poll_effect().is_some() {}
        println!(
            "{} bytes per pending workflow task ({} at the peak of submitting)",
            (LIVE.load(Ordering::Relaxed) - before) / n as usize,
            (PEAK.load(Ordering::Relaxed) - before) / n as usize
        );
        println!(
            "sizes: task {} B, journal record {} B, workflow task {} B",
            std::mem::size_of::<baton::core::task::Task>(),
            std::mem::size_of::<baton::core::event::Record>(),
            std::mem::size_of::<baton::core::workflow::WorkflowTask>(),
        );
        return;
    }
    if std::env::args().any(|a| a == "--queue-scaling") {
        // The harness's 10k and 100k queues, in the core alone: does a task cost more when
        // 100,000 wait?
        for _ in 0..3 {
            println!(
                "10k: {:.0} ns per task, 100k: {:.0} ns per task",
                workflow_queue(10_000, 10),
                workflow_queue(100_000, 1)
            );
        }
        return;
    }
    if std::env::args().any(|a| a == "--queue-100k-only") {
        // For profiling the 100k queue alone (`perf record`): the same orchestrator memory reused.
        println!("{:.0} ns per task", workflow_queue(100_000, 10));
        return;
    }
    if std::env::args().any(|a| a == "--workflow-only") {
        // For profiling the workflow path alone (`perf record`).
        println!("{:.0} ns per task", workflow_dag(2000));
        return;
    }
    println!("| benchmark | result |");
    println!("|---|---:|");

    let mut runs: Vec<(f64, f64)> = (0..5).map(|_| transitions(200_000 / scale)).collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (per_sec, ns) = runs[2]; // the median of five
    println!("| task transitions per second (submit, queue, start, complete; 1 agent, concurrency 16; median of 5) | {:.2} M/s ({ns:.0} ns per task) |", per_sec / 1e6);

    let ns = workflow_dag((200 / scale).max(1));
    println!("| 1,000-node layered workflow: submit, run, view (per task) | {ns:.0} ns |");
    let ns = workflow_sequential(10_000 / scale);
    println!(
        "| 10,000-task sequential workflow (width 1): submit and run (per task) | {ns:.0} ns |"
    );

    let (agents, tasks) = (10_000 / scale, 100_000 / scale);
    let mut o = big_state(agents, tasks);
    // Five of each, the median reported: one cold sample on a shared machine says little.
    // (Each snapshot adds its summary to the state, so the first one is the one restored.)
    let mut snap = String::new();
    let snap_ms = median_ms(5, || {
        let s = o.snapshot(2).unwrap();
        if snap.is_empty() {
            snap = s;
        }
    });
    let mut restored = Vec::new(); // dropped after the timings
    let restore_ms = median_ms(5, || {
        restored.push(Orchestrator::restore(&snap, 3).unwrap())
    });
    drop(restored);
    println!(
        "| snapshot of {agents} agents + {tasks} tasks (median of 5) | {snap_ms} ({:.1} MB of JSON) |",
        snap.len() as f64 / 1e6
    );
    println!("| restore of the same (median of 5) | {restore_ms} |");

    let journal = o.journal_json(0).unwrap();
    let records = journal.lines().count();
    let t0 = Instant::now();
    let replayed = Orchestrator::replay(&journal, None).unwrap();
    let replay_s = t0.elapsed().as_secs_f64();
    println!(
        "| journal replay ({records} records) | {:.2} M records/s |",
        records as f64 / replay_s / 1e6
    );
    drop((replayed, o, journal, snap));

    let pending = 1_000_000 / scale;
    let before = LIVE.load(Ordering::Relaxed);
    let o = big_state(1, pending);
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    println!("| heap for {pending} pending tasks (state + journal + queue) | {:.1} MB, {} bytes per task |", bytes as f64 / 1e6, bytes / pending);
    drop(o);
    // The Worker keeps 20,000 journal records in memory (JOURNAL_ROWS_IN_MEMORY_MAX) and the
    // rest in SQLite: the Durable Object's share.
    let options = Options {
        journal_rows_max: 20_000,
        ..Options::default()
    };
    let before = LIVE.load(Ordering::Relaxed);
    let o = big_state_in(options, 1, pending);
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    println!("| heap for {pending} pending tasks, journal in memory capped as in the Worker (20,000 records) | {:.1} MB, {} bytes per task (64-bit; `bench/pending.mjs` measures wasm32) |", bytes as f64 / 1e6, bytes / pending);
    drop(o);
}
