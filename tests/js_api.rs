//! The JS API, run by wasm-bindgen-test: `wasm-pack test --node` and, with
//! `WASM_BINDGEN_USE_BROWSER=1`, `wasm-pack test --headless --chrome`. The scenarios live in
//! `tests/js/scenarios.js` and drive the real driver (`js/driver.js`) over this build's `Core`.
#![cfg(target_arch = "wasm32")]

use baton::js::Core;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

/// The SHA-256 of the trading run's journal. Node, Chrome and the packaged build must all agree.
const TRADING_DIGEST: &str = "176671c7a9b744aff7a7a822653741d7f5926dd0301a7ab6cf8a64f7069460ea";

#[wasm_bindgen(module = "/js/driver.js")]
extern "C" {
    #[wasm_bindgen(js_name = createBaton)]
    fn create_baton(core_api: &JsValue) -> JsValue;
}

macro_rules! scenarios {
    ($($name:ident => $js:literal),* $(,)?) => {
        mod scenario {
            use wasm_bindgen::prelude::*;
            #[wasm_bindgen(module = "/tests/js/scenarios.js")]
            extern "C" {
                $(
                    #[wasm_bindgen(catch, js_name = $js)]
                    pub async fn $name(baton: &JsValue) -> Result<JsValue, JsValue>;
                )*
            }
        }
        $(
            #[wasm_bindgen_test]
            async fn $name() {
                if let Err(e) = scenario::$name(&baton()).await {
                    panic!("{}", describe(&e));
                }
            }
        )*
    };
}

fn set(obj: &js_sys::Object, key: &str, value: JsValue) {
    js_sys::Reflect::set(obj, &key.into(), &value).unwrap();
}

/// `{ Orchestrator, BatonError }` over this build's `Core`, as the package's entry point builds it.
fn baton() -> JsValue {
    let api = js_sys::Object::new();
    let create = Closure::<dyn Fn(String, Option<f64>, f64) -> Result<JsValue, JsValue>>::new(
        |options: String, seed, now| Core::create(&options, seed, now).map(JsValue::from),
    );
    let restore =
        Closure::<dyn Fn(String, f64) -> Result<JsValue, JsValue>>::new(|snapshot: String, now| {
            Core::restore(&snapshot, now).map(JsValue::from)
        });
    let replay = Closure::<dyn Fn(String, Option<f64>) -> Result<JsValue, JsValue>>::new(
        |journal: String, upto| Core::replay(&journal, upto).map(JsValue::from),
    );
    set(&api, "create", create.into_js_value());
    set(&api, "restore", restore.into_js_value());
    set(&api, "replay", replay.into_js_value());
    create_baton(&api)
}

fn describe(e: &JsValue) -> String {
    let msg = js_sys::Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string());
    let stack = js_sys::Reflect::get(e, &"stack".into())
        .ok()
        .and_then(|m| m.as_string());
    format!(
        "{}\n{}",
        msg.unwrap_or_else(|| format!("{e:?}")),
        stack.unwrap_or_default()
    )
}

#[wasm_bindgen(module = "/tests/js/scenarios.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = determinismHoldsWithinARuntime)]
    async fn determinism_scenario(baton: &JsValue) -> Result<JsValue, JsValue>;
}

#[wasm_bindgen_test]
async fn the_trading_journal_has_the_same_digest_in_every_runtime() {
    let digest = determinism_scenario(&baton())
        .await
        .unwrap_or_else(|e| panic!("{}", describe(&e)));
    assert_eq!(digest.as_string().unwrap(), TRADING_DIGEST);
}

scenarios! {
    quick_start_works => "quickStartWorks",
    lifecycle_and_history => "lifecycleAndHistory",
    paused_agents_take_no_tasks_and_priority_holds => "pausedAgentsTakeNoTasksAndPriorityHolds",
    concurrency_limits_hold => "concurrencyLimitsHold",
    failures_are_data_and_the_orchestrator_goes_on => "failuresAreDataAndTheOrchestratorGoesOn",
    workflow_policies_and_skips => "workflowPoliciesAndSkips",
    cancellation_reaches_the_agent => "cancellationReachesTheAgent",
    manual_tasks_and_errors => "manualTasksAndErrors",
    events_reach_listeners_and_iterators => "eventsReachListenersAndIterators",
    snapshot_restore_and_replay => "snapshotRestoreAndReplay",
    bad_input_is_a_coded_error_and_changes_nothing => "badInputIsACodedErrorAndChangesNothing",
}
