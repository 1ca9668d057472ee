//! The core must stay pure: no JS bindings, no Worker, no clock, no platform randomness, no
//! awaits, and no hash maps whose order could leak into an output. This test reads the source.

use std::path::Path;

const FORBIDDEN: &[(&str, &str)] = &[
    ("wasm_bindgen", "the core never touches JS"),
    ("js_sys", "the core never touches JS"),
    ("web_sys", "the core never touches JS"),
    ("worker::", "the core never touches the Worker runtime"),
    ("std::time", "time is an input, never read"),
    ("Instant::now", "time is an input, never read"),
    ("SystemTime", "time is an input, never read"),
    ("getrandom", "randomness comes from the seeded PRNG"),
    ("thread_rng", "randomness comes from the seeded PRNG"),
    (".await", "the core never awaits"),
    ("async fn", "the core never awaits"),
    (
        "HashMap",
        "iteration order must be deterministic: use BTreeMap",
    ),
    (
        "HashSet",
        "iteration order must be deterministic: use BTreeSet",
    ),
];

fn visit(dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("src/core is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            visit(&path, found);
            continue;
        }
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("a readable source file");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for (needle, why) in FORBIDDEN {
                    if code.contains(needle) {
                        found.push(format!("{}:{}: `{needle}`: {why}", path.display(), n + 1));
                    }
                }
            }
        }
    }
}

#[test]
fn the_core_imports_no_js_clock_or_randomness() {
    let mut found = Vec::new();
    visit(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core"),
        &mut found,
    );
    assert!(
        found.is_empty(),
        "src/core must stay pure:\n{}",
        found.join("\n")
    );
}
