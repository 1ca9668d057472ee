//! The JS API, run by wasm-bindgen-test: `wasm-pack test --node` and, with
//! `WASM_BINDGEN_USE_BROWSER=1`, `wasm-pack test --headless --chrome`. The scenarios live in
//! `tests/js/scenarios.js` and drive the real driver (`js/driver.js`) over this build's `Core`.
#![cfg(target_arch = "wasm32")]

use baton::js::Core;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

/// The SHA-256 of the trading run's journal. Node, Chrome and the packaged build must all agree.
const TRADING_DIGEST: &str = "00eb3bb8722b6bcba7332be9579b9b9d00a9e408896d9186f0585b1c79167842";

#[wasm_bindgen(module = "/js/driver.js")]
extern "C" {
    #[wasm_bindgen(js_name = createBaton)]
    fn create_baton(core_api: &JsValue) -> JsValue;
}

macro_rules! scenarios {
    ($module:ident from $file:literal: $($name:ident => $js:literal),* $(,)?) => {
        mod $module {
            use wasm_bindgen::prelude::*;
            #[wasm_bindgen(module = $file)]
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
                if let Err(e) = $module::$name(&baton()).await {
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
    let load = Closure::<dyn Fn(String, String, Option<f64>) -> Result<JsValue, JsValue>>::new(
        |snapshot: String, journal: String, upto| {
            Core::load(&snapshot, &journal, upto).map(JsValue::from)
        },
    );
    set(&api, "load", load.into_js_value());
    set(&api, "replay", replay.into_js_value());
    let verify = Closure::<dyn Fn(String) -> Result<JsValue, JsValue>>::new(|journal: String| {
        Core::verify_replay(&journal).map(JsValue::from)
    });
    set(&api, "verifyReplay", verify.into_js_value());
    let memory = Closure::<dyn Fn() -> JsValue>::new(Core::memory);
    set(&api, "memory", memory.into_js_value());
    let shape = Closure::<dyn Fn(String, Vec<u32>, Vec<u32>) -> JsValue>::new(
        |ids: String, offsets, deps| Core::compile_shape(&ids, offsets, deps).into(),
    );
    set(&api, "compileShape", shape.into_js_value());
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

// The scenario files import their assertions from check.js, which must be among the snippets.
#[wasm_bindgen(module = "/tests/js/check.js")]
extern "C" {
    fn assert(cond: bool, message: &str);
}

#[wasm_bindgen_test]
fn the_shared_assertions_load() {
    assert(true, "check.js is served next to the scenarios");
}

scenarios! {
    api from "/tests/js/scenarios.js":
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
    replay_is_a_picture_until_made_live => "replayIsAPictureUntilMadeLive",
    close_rejects_pending_waits => "closeRejectsPendingWaits",
}

scenarios! {
    failures from "/tests/js/failures.js":
    retries_back_off_on_the_virtual_clock => "retriesBackOffOnTheVirtualClock",
    a_day_of_backoffs_and_breaker_recoveries_runs_in_well_under_a_second => "aDayOfBackoffsAndBreakerRecoveriesRunsInWellUnderASecond",
    every_agent_has_a_breaker_with_the_defaults_unless_turned_off => "everyAgentHasABreakerWithTheDefaultsUnlessTurnedOff",
    jitter_comes_from_the_seed => "jitterComesFromTheSeed",
    a_timed_out_attempt_is_aborted_and_its_late_answer_ignored => "aTimedOutAttemptIsAbortedAndItsLateAnswerIgnored",
    a_hung_agent_never_blocks_the_others => "aHungAgentNeverBlocksTheOthers",
    cancellation_reaches_running_agents_everywhere => "cancellationReachesRunningAgentsEverywhere",
    rate_limits_hold_on_the_core_clock => "rateLimitsHoldOnTheCoreClock",
    strategies_per_error_class => "strategiesPerErrorClass",
    the_first_seeds_error_pattern => "theFirstSeedsErrorPattern",
    replay_and_verify_replay => "replayAndVerifyReplay",
    bad_policy_input_is_a_coded_error_and_changes_nothing => "badPolicyInputIsACodedErrorAndChangesNothing",
}

scenarios! {
    model from "/tests/js/model.js":
    capability_routing_and_orchestrate => "capabilityRoutingAndOrchestrate",
    contracts_chain_and_compress => "contractsChainAndCompress",
    research_pipeline_tasks_feed_each_other => "researchPipelineTasksFeedEachOther",
    parallel_workflows_keep_to_their_width => "parallelWorkflowsKeepToTheirWidth",
    consensus_with_a_0_66_threshold => "consensusWithA066Threshold",
    a_three_round_debate => "aThreeRoundDebate",
    chain_of_thought_steps => "chainOfThoughtSteps",
    a_supervisor_delegating_to_three_specialists => "aSupervisorDelegatingToThreeSpecialists",
    collaborative_document => "collaborativeDocument",
    a_wrong_shape_is_a_validation_failure => "aWrongShapeIsAValidationFailure",
    an_hourly_job_over_a_virtual_day => "anHourlyJobOverAVirtualDay",
    templates_versions_and_built_ins => "templatesVersionsAndBuiltIns",
    messages_between_agents => "messagesBetweenAgents",
    tools_with_grants_and_rate_limits => "toolsWithGrantsAndRateLimits",
    bad_model_input_is_a_coded_error_and_changes_nothing => "badModelInputIsACodedErrorAndChangesNothing",
    a_one_off_job_in_the_past_fires_now => "aOneOffJobInThePastFiresNow",
    pattern_runs_are_readable_by_id => "patternRunsAreReadableByIdAndOutliveARestore",
    routed_tasks_are_routed_again_only_if_they_waited => "routedTasksAreRoutedAgainOnlyIfTheyWaited",
}
