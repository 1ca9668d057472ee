//! A journal from anywhere is replayed, recovered onto or verified, or refused with an error;
//! never a panic.
#![no_main]
use baton::core::{verify::verify_replay, Orchestrator};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(mut o) = Orchestrator::replay(text, None) {
        o.handle_timeout(u64::MAX / 4);
        while o.poll_effect().is_some() {}
        let _ = o.journal_json(0);
    }
    let _ = verify_replay(text);
});
