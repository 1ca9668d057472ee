//! A snapshot from anywhere (a file, a request body) is decoded or refused with an error; it never
//! panics, and what it restores can be snapshotted again.
#![no_main]
use baton::core::Orchestrator;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(mut o) = Orchestrator::restore(text, 1_000) {
        while o.poll_effect().is_some() {}
        o.handle_timeout(u64::MAX / 4);
        let _ = o.snapshot_json("again");
        let _ = o.journal_json(0);
    }
});
