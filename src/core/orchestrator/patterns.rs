//! Pattern runs: the core builds each step's tasks from the previous answers, checks the answers'
//! shapes, and ends the run with a result. See [`crate::core::pattern`] for the shapes.

use super::{Effect, Orchestrator};
use crate::core::event::{Event, TaskExtra};
use crate::core::ids::{check_id, PayloadId, TaskIx};
use crate::core::pattern::{
    check_answer, parse_run_id, plan_of, run_id, text_of, PatternSpec, RunStatus,
};
use crate::core::task::TaskStatus;
use crate::core::{Error, Result};
use serde_json::{json, Value};

impl Orchestrator {
    /// Starts a pattern run; its tasks are created and queued at once. Returns the run's index
    /// (id `run-<n>`).
    pub fn start_pattern(&mut self, spec: PatternSpec, now: u64) -> Result<u32> {
        self.start_pattern_in(spec, None, now)
    }

    /// [`Self::start_pattern`], its calls' contracts recorded under `session`.
    pub fn start_pattern_in(
        &mut self,
        spec: PatternSpec,
        session: Option<String>,
        now: u64,
    ) -> Result<u32> {
        self.check_live()?;
        if let Some(s) = &session {
            check_id("session", s)?;
        }
        if let Some(p) = spec.problem() {
            return Err(Error::invalid(spec.kind(), p));
        }
        for a in spec.agents() {
            check_id("agent id", a)?;
            let ix = self.agent(a)?;
            let status = self.state.status_of(ix);
            if status == crate::core::agent::AgentStatus::Terminated {
                return Err(Error::AgentUnavailable {
                    agent: a.to_owned(),
                    status,
                });
            }
        }
        // The first step's tasks must fit: a refused start changes nothing.
        self.check_queue_room(spec.agents().len() as u64)?;
        let ix = self.state.runs.len() as u32;
        self.emit(
            now,
            Event::PatternStarted {
                run: run_id(ix),
                spec: Box::new(spec),
                session: session.map(Into::into),
            },
        );
        if let Err(e) = self.advance(ix, now) {
            self.fail_run(ix, &e.to_string(), now);
        }
        self.dispatch(now);
        Ok(ix)
    }

    pub fn run(&self, id: &str) -> Result<u32> {
        parse_run_id(id)
            .filter(|&r| (r as usize) < self.state.runs.len())
            .ok_or_else(|| Error::UnknownRun(id.to_owned()))
    }

    /// Why an answer of a pattern task is refused (its shape, or a delegation to nobody), if it is.
    pub(super) fn answer_problem(&self, task: TaskIx, output: PayloadId) -> Option<String> {
        let run = self.state.task(task).run()? as usize;
        let role = self.state.runs[run]
            .pending
            .iter()
            .find(|(t, _)| *t == task)
            .map(|(_, r)| r.clone())?;
        let answer = match self.answer(output) {
            Ok(v) => v,
            Err(e) => return Some(e),
        };
        let answer = match &self.state.runs[run].spec {
            PatternSpec::Debate { pro, con, .. } if role == "judge" => sided(answer, pro, con),
            _ => answer,
        };
        if let Err(e) = check_answer(&role, &answer) {
            return Some(e);
        }
        if role == "plan" {
            return self.delegation_problem(run, &plan_of(&answer));
        }
        None
    }

    fn answer(&self, output: PayloadId) -> std::result::Result<Value, String> {
        if output.is_none() {
            return Ok(Value::Null);
        }
        let payloads = self.payloads.borrow();
        let raw = payloads
            .get(output)
            .ok_or("the driver did not hand over the answer's JSON")?;
        serde_json::from_str(raw.get()).map_err(|e| e.to_string())
    }

    fn delegation_problem(&self, run: usize, plan: &Value) -> Option<String> {
        let PatternSpec::Supervisor { agents, .. } = &self.state.runs[run].spec else {
            return None;
        };
        for d in plan
            .get("delegations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(agent) = d.get("agent").and_then(Value::as_str) {
                if !agents.iter().any(|a| a == agent) {
                    return Some(format!(
                        "delegation to '{agent}', which is not one of the supervisor's agents ({})",
                        agents.join(", ")
                    ));
                }
            }
            if let Some(cap) = d.get("capability").and_then(Value::as_str) {
                if self.route_among(cap, agents).is_err() {
                    return Some(format!(
                        "delegation to capability '{cap}', which none of the supervisor's running agents ({}) has",
                        agents.join(", ")
                    ));
                }
            }
        }
        None
    }

    /// A task of a run ended; once its whole step has, the run moves on.
    pub(super) fn pattern_task_ended(&mut self, task: TaskIx, now: u64) {
        let Some(run) = self.state.task(task).run() else {
            return;
        };
        let r = &self.state.runs[run as usize];
        if r.status != RunStatus::Running
            || r.pending
                .iter()
                .any(|(t, _)| !self.state.task(*t).status.is_terminal())
        {
            return;
        }
        let outcome = self
            .conclude_step(run, now)
            .and_then(|()| self.advance(run, now));
        if let Err(e) = outcome {
            // The run's error says what failed; "invalid <pattern>:" would add nothing to it.
            let message = match e {
                Error::Invalid { reason, .. } => reason,
                e => e.to_string(),
            };
            self.fail_run(run, &message, now);
        }
    }

    /// Folds the step's answers into the run's state.
    fn conclude_step(&mut self, run: u32, now: u64) -> Result<()> {
        let r = &self.state.runs[run as usize];
        let mut state = r.state.clone();
        let mut answers = Vec::new();
        for (t, role) in &r.pending {
            let task = self.state.task(*t);
            let agent = self.state.agent(task.agent).id.clone();
            let answer = match task.status {
                TaskStatus::Completed => Ok(self
                    .answer(task.output)
                    .map_err(|e| Error::invalid("answer", e))?),
                // The class first: "validation: expected { ... }" says it answered in the
                // wrong shape, not that it threw.
                _ => Err(task.error.as_ref().map_or_else(
                    || format!("{}", task.status),
                    |e| format!("{}: {}", e.class.name(), e.message),
                )),
            };
            answers.push((role.clone(), agent, self.state.task(*t).input, answer, *t));
        }
        let step = r.step;
        match &r.spec {
            PatternSpec::Consensus { .. } => {
                for (_, agent, _, answer, _) in &answers {
                    // A voter that failed (or answered in the wrong shape) fails the run, as a
                    // failed task fails every other pattern: a decision it did not vote in
                    // would count it as a rejection.
                    let a = answer.as_ref().map_err(|e| {
                        Error::invalid("consensus", format!("the vote of '{agent}' failed: {e}"))
                    })?;
                    state["votes"][agent] = a["vote"].clone();
                    state["reasoning"][agent] = a.get("reasoning").cloned().unwrap_or(json!(""));
                }
            }
            PatternSpec::Supervisor { .. } if answers.first().is_some_and(|a| a.0 == "plan") => {
                let (_, _, _, answer, t) = &answers[0];
                let answer = answer.clone().map_err(|e| {
                    Error::invalid(
                        "supervisor",
                        format!(
                            "the supervisor's task {} failed: {e}",
                            self.state.task_id(*t).unwrap_or_default()
                        ),
                    )
                })?;
                state["plan"] = plan_of(&answer);
            }
            PatternSpec::Supervisor { .. } => {
                let round = step / 2 + 1;
                let mut results = state["results"].as_array().cloned().unwrap_or_default();
                for (_, agent, input, answer, _) in &answers {
                    let input = self.answer(*input).unwrap_or(Value::Null);
                    results.push(match answer {
                        Ok(out) => {
                            json!({ "round": round, "agent": agent, "input": input, "output": out })
                        }
                        Err(e) => {
                            json!({ "round": round, "agent": agent, "input": input, "error": e })
                        }
                    });
                }
                state["results"] = Value::Array(results);
                state["plan"] = Value::Null;
            }
            _ => {
                let (role, agent, _, answer, t) = answers
                    .into_iter()
                    .next()
                    .expect("a sequential step has one task");
                let answer = answer.map_err(|e| {
                    let id = self.state.task_id(t).unwrap_or_default();
                    Error::invalid(
                        r.spec.kind(),
                        format!("task '{id}' ({role}, agent '{agent}') failed: {e}"),
                    )
                })?;
                match &r.spec {
                    PatternSpec::Debate {
                        rounds, pro, con, ..
                    } => {
                        if role == "judge" {
                            state["judgement"] = sided(answer, pro, con);
                        } else {
                            let entry = json!({ "round": step / 2 + 1, "side": role, "agent": agent, "argument": text_of(&answer, "argument") });
                            state["transcript"]
                                .as_array_mut()
                                .expect("an array")
                                .push(entry);
                        }
                        let _ = rounds;
                    }
                    PatternSpec::ChainOfThought { .. } => {
                        state["chain"]
                            .as_array_mut()
                            .expect("an array")
                            .push(json!(text_of(&answer, "thought")));
                        // `finalAnswer` too: the name the result gives it.
                        if let Some(a) = answer.get("answer").or_else(|| answer.get("finalAnswer"))
                        {
                            state["answer"] = a.clone();
                        }
                    }
                    PatternSpec::Collaborative { agents, .. } => {
                        let round = step / agents.len() as u32 + 1;
                        let done = answer.get("done").and_then(Value::as_bool).unwrap_or(false);
                        state["document"] = answer.get("document").cloned().unwrap_or(Value::Null);
                        state["turns"]
                            .as_array_mut()
                            .expect("an array")
                            .push(json!({ "round": round, "agent": agent, "done": done }));
                        if done {
                            state["doneBy"] = json!(agent);
                        }
                    }
                    _ => unreachable!("handled above"),
                }
            }
        }
        self.emit(
            now,
            Event::PatternProgressed {
                run: run_id(run),
                step: step + 1,
                state: Box::new(state),
            },
        );
        Ok(())
    }

    /// Starts the run's next step, or ends the run with its result.
    fn advance(&mut self, run: u32, now: u64) -> Result<()> {
        let r = &self.state.runs[run as usize];
        let (step, state, spec) = (r.step, r.state.clone(), r.spec.clone());
        match &spec {
            PatternSpec::Consensus {
                task,
                agents,
                threshold,
            } => {
                if step == 0 {
                    for a in agents {
                        self.pattern_task(
                            run,
                            a,
                            "vote",
                            json!({ "task": task, "agent": a }),
                            now,
                        )?;
                    }
                    return Ok(());
                }
                let votes = state["votes"].as_object().cloned().unwrap_or_default();
                let approvals = votes
                    .values()
                    .filter(|v| v.as_str() == Some("approve"))
                    .count();
                let total = agents.len();
                // The outcome's words, as seed 001 prints them; the votes keep the voters' words.
                let decision = if approvals as f64 >= threshold * total as f64 {
                    "approved"
                } else {
                    "rejected"
                };
                let result = json!({ "decision": decision, "votes": votes, "reasoning": state["reasoning"], "approvals": approvals, "total": total, "threshold": threshold });
                self.finish_run(run, result, now)
            }
            PatternSpec::Debate {
                topic,
                pro,
                con,
                judge,
                rounds,
            } => {
                let turns = 2 * rounds;
                let transcript = state["transcript"].clone();
                if step < turns {
                    let (side, agent) = if step % 2 == 0 {
                        ("pro", pro)
                    } else {
                        ("con", con)
                    };
                    let input = json!({ "topic": topic, "side": side, "round": step / 2 + 1, "rounds": rounds, "transcript": transcript });
                    return self.pattern_task(run, agent, side, input, now);
                }
                if step == turns {
                    return self.pattern_task(
                        run,
                        judge,
                        "judge",
                        json!({ "topic": topic, "transcript": transcript }),
                        now,
                    );
                }
                let j = &state["judgement"];
                let verdict = ["verdict", "finalVerdict", "reasoning"]
                    .iter()
                    .find_map(|k| j.get(*k).cloned())
                    .unwrap_or(Value::Null);
                let result = json!({ "topic": topic, "winner": j["winner"], "finalVerdict": verdict, "transcript": transcript, "rounds": rounds });
                self.finish_run(run, result, now)
            }
            PatternSpec::ChainOfThought {
                problem,
                reasoner,
                steps,
            } => {
                let chain = state["chain"].clone();
                if state.get("answer").is_none() && step < steps.count() {
                    let mut input = json!({ "problem": problem, "step": step + 1, "steps": steps.count(), "chain": chain });
                    if let Some(name) = steps.name(step) {
                        input["instruction"] = json!(name);
                    }
                    return self.pattern_task(run, reasoner, "thought", input, now);
                }
                let last = chain
                    .as_array()
                    .and_then(|c| c.last().cloned())
                    .unwrap_or(Value::Null);
                let answer = state.get("answer").cloned().unwrap_or(last);
                self.finish_run(
                    run,
                    json!({ "problem": problem, "reasoningChain": chain, "finalAnswer": answer }),
                    now,
                )
            }
            PatternSpec::Supervisor {
                task,
                supervisor,
                agents,
                instructions,
                max_rounds,
            } => {
                let results = state["results"].clone();
                let plan = state.get("plan").cloned().unwrap_or(Value::Null);
                let rounds_done = step / 2;
                if let Some(answer) = plan.get("final").or_else(|| plan.get("answer")) {
                    let result = json!({ "status": "answered", "answer": answer, "rounds": rounds_done + 1, "results": results });
                    return self.finish_run(run, result, now);
                }
                if let Some(delegations) = plan.get("delegations").and_then(Value::as_array) {
                    for d in delegations {
                        let input = d.get("input").cloned().unwrap_or(Value::Null);
                        match (
                            d.get("agent").and_then(Value::as_str),
                            d.get("capability").and_then(Value::as_str),
                        ) {
                            (Some(agent), _) => {
                                self.pattern_task(run, agent, "worker", input, now)?
                            }
                            (None, Some(cap)) => {
                                // Within the team, as a delegation by name is.
                                let agent =
                                    self.state.agent(self.route_among(cap, agents)?).id.clone();
                                self.pattern_task(run, &agent, "worker", input, now)?
                            }
                            _ => unreachable!("checked when the plan was answered"),
                        }
                    }
                    return Ok(());
                }
                if rounds_done >= *max_rounds {
                    let result = json!({ "status": "round_limit", "answer": Value::Null, "rounds": rounds_done, "results": results });
                    return self.finish_run(run, result, now);
                }
                let roster: Vec<Value> = agents
                    .iter()
                    .map(|a| {
                        let caps = self
                            .agent(a)
                            .map(|ix| self.state.agent(ix).capabilities.clone())
                            .unwrap_or_default();
                        json!({ "id": a, "capabilities": caps })
                    })
                    .collect();
                let input = json!({ "task": task, "instructions": instructions, "round": rounds_done + 1, "maxRounds": max_rounds, "agents": roster, "results": results });
                self.pattern_task(run, supervisor, "plan", input, now)
            }
            PatternSpec::Collaborative {
                task,
                agents,
                max_rounds,
                ..
            } => {
                let n = agents.len() as u32;
                let document = state["document"].clone();
                let finished = state.get("doneBy").is_some() || step >= n * max_rounds;
                if !finished {
                    let agent = &agents[(step % n) as usize];
                    let input = json!({ "task": task, "document": document, "round": step / n + 1, "maxRounds": max_rounds, "agent": agent });
                    return self.pattern_task(run, agent, "turn", input, now);
                }
                let status = if state.get("doneBy").is_some() {
                    "done"
                } else {
                    "round_limit"
                };
                let mut result = json!({ "status": status, "document": document, "rounds": step.div_ceil(n), "turns": state["turns"] });
                if let Some(by) = state.get("doneBy") {
                    result["doneBy"] = by.clone();
                }
                self.finish_run(run, result, now)
            }
        }
    }

    fn pattern_task(
        &mut self,
        run: u32,
        agent: &str,
        role: &str,
        input: Value,
        now: u64,
    ) -> Result<()> {
        let extra = TaskExtra {
            run: Some(run),
            role: Some(role.into()),
            session: self.state.runs[run as usize].session.clone(),
            ..TaskExtra::default()
        };
        self.submit_internal(
            agent,
            format!("{} {role}", run_id(run)),
            &input.to_string(),
            extra,
            now,
        )?;
        Ok(())
    }

    fn finish_run(&mut self, run: u32, result: Value, now: u64) -> Result<()> {
        let result = self.payloads.get_mut().alloc_json(&result.to_string())?;
        self.emit(
            now,
            Event::PatternCompleted {
                run: run_id(run),
                result,
            },
        );
        self.effects.push_back(Effect::RunSettled { run });
        Ok(())
    }

    fn fail_run(&mut self, run: u32, error: &str, now: u64) {
        // Tasks of the run still waiting have no one to report to: cancel them.
        let open: Vec<TaskIx> = self.state.runs[run as usize]
            .tasks
            .iter()
            .copied()
            .filter(|&t| !self.state.task(t).status.is_terminal())
            .collect();
        self.emit(
            now,
            Event::PatternFailed {
                run: run_id(run),
                error: error.to_owned(),
            },
        );
        for t in open {
            self.cancel_one(t, "its pattern run failed", true, now);
        }
        self.effects.push_back(Effect::RunSettled { run });
    }
}

/// A judge may name the winning side by its agent's id: taken as `pro` or `con`.
fn sided(mut answer: Value, pro: &str, con: &str) -> Value {
    let side = match answer.get("winner").and_then(Value::as_str) {
        Some("pro" | "con") => return answer, // the side's own name comes first
        Some(w) if w == pro && w != con => "pro",
        Some(w) if w == con && w != pro => "con",
        _ => return answer,
    };
    answer["winner"] = json!(side);
    answer
}
