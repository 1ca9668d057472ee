//! Command JSON from anywhere (the JS API and the REST API pass it through): agent, task and
//! workflow specs are parsed and submitted, or refused with an error; never a panic.
#![no_main]
use baton::core::agent::AgentSpec;
use baton::core::ids::PayloadId;
use baton::core::task::TaskSpec;
use baton::core::workflow::WorkflowSpec;
use baton::core::{Options, Orchestrator};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut o = Orchestrator::new(1, Options::default(), 0).expect("defaults are valid");
    for id in ["a", "b"] {
        let ix = o.register_agent(AgentSpec::new(id), 0).expect("a plain agent");
        o.start_agent(ix, 0).expect("startable");
    }
    let mut now = 1;
    for line in text.lines() {
        now += 1;
        if let Ok(spec) = serde_json::from_str::<AgentSpec>(line) {
            if let Ok(ix) = o.register_agent(spec, now) {
                let _ = o.start_agent(ix, now);
            }
        } else if let Ok(spec) = serde_json::from_str::<TaskSpec>(line) {
            let _ = o.submit(spec, PayloadId::NONE, PayloadId::NONE, now);
        } else if let Ok(spec) = serde_json::from_str::<WorkflowSpec>(line) {
            let n = spec.tasks.len();
            let _ = o.submit_workflow(spec, &vec![(PayloadId::NONE, PayloadId::NONE); n], now);
        } else if let Ok(options) = serde_json::from_str::<Options>(line) {
            let _ = Orchestrator::new(2, options, now);
        }
        // Answer whatever was started: alternately success and failure.
        let mut flip = false;
        while let Some(e) = o.poll_effect() {
            if let baton::core::Effect::Invoke { call, .. } = e {
                flip = !flip;
                if flip {
                    o.complete(call, PayloadId::NONE, now);
                } else {
                    o.fail(call, baton::core::task::ErrorClass::Agent, "fuzz", now);
                }
            }
        }
        o.handle_timeout(now + 10_000);
    }
    let text = o.journal_json(0).expect("all payloads are resolved");
    let again = Orchestrator::replay(&text, None).expect("a journal this build wrote replays");
    assert_eq!(again.journal_json(0).unwrap(), text);
});
