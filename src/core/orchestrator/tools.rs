//! The tool registry: registration, grants, and calls checked against grants and rate limits.

use super::Orchestrator;
use crate::core::event::Event;
use crate::core::ids::{check_id, AgentIx, PayloadId, TaskIx};
use crate::core::task::ErrorClass;
use crate::core::tool::ToolSpec;
use crate::core::wire::{AgentRef, TaskRef};
use crate::core::{Error, Result};

impl Orchestrator {
    pub fn register_tool(&mut self, spec: ToolSpec, now: u64) -> Result<()> {
        self.as_command(now, |o| o.register_tool_steps(spec, now))
    }

    fn register_tool_steps(&mut self, spec: ToolSpec, now: u64) -> Result<()> {
        self.check_live()?;
        check_id("tool name", &spec.name)?;
        if self.state.tools.contains_key(&spec.name) {
            return Err(Error::DuplicateId {
                kind: "tool",
                id: spec.name,
            });
        }
        if let Some(r) = &spec.rate_limit {
            r.validate(&format!("tool '{}'", spec.name))?;
        }
        let most = crate::core::template::INSTRUCTIONS_BYTES_MAX;
        crate::core::ids::check_text("description", &spec.description, most)?;
        crate::core::ids::check_text("category", &spec.category, super::NAME_BYTES_MAX)?;
        self.emit(
            now,
            Event::ToolRegistered {
                tool: Box::new(spec),
            },
        );
        Ok(())
    }

    fn check_tools(&self, names: &[String]) -> Result<()> {
        match names.iter().find(|n| !self.state.tools.contains_key(*n)) {
            Some(n) => Err(Error::UnknownTool(n.clone())),
            None => Ok(()),
        }
    }

    pub fn grant_tools(&mut self, agent: AgentIx, names: Vec<String>, now: u64) -> Result<()> {
        self.as_command(now, |o| o.grant_tools_steps(agent, names, now))
    }

    fn grant_tools_steps(&mut self, agent: AgentIx, names: Vec<String>, now: u64) -> Result<()> {
        self.check_tools(&names)?;
        self.emit(
            now,
            Event::ToolsGranted {
                agent: AgentRef(agent),
                tools: names,
            },
        );
        Ok(())
    }

    pub fn revoke_tools(&mut self, agent: AgentIx, names: Vec<String>, now: u64) -> Result<()> {
        self.as_command(now, |o| o.revoke_tools_steps(agent, names, now))
    }

    fn revoke_tools_steps(&mut self, agent: AgentIx, names: Vec<String>, now: u64) -> Result<()> {
        self.check_tools(&names)?;
        self.emit(
            now,
            Event::ToolsRevoked {
                agent: AgentRef(agent),
                tools: names,
            },
        );
        Ok(())
    }

    /// An agent calls a tool: refused (and recorded) with class `permission` if not granted, or
    /// `rate_limit` if over the tool's limit; otherwise returns the tool call's id.
    fn refuse_tool(
        &mut self,
        tool: &str,
        agent: AgentRef,
        task: Option<TaskRef>,
        class: ErrorClass,
        now: u64,
    ) {
        let tool = tool.to_owned();
        let refusal = Event::ToolRefused {
            tool,
            agent,
            task,
            class,
        };
        self.emit(now, refusal);
    }

    pub fn call_tool(
        &mut self,
        agent: AgentIx,
        task: Option<TaskIx>,
        name: &str,
        args: PayloadId,
        now: u64,
    ) -> Result<u32> {
        // One command, its refusal recorded or its call: the every-N snapshot is decided after.
        self.as_command(now, |o| {
            o.check_present(agent)?;
            let (agent_ref, task_ref) = (AgentRef(agent), task.map(TaskRef));
            let Some(tool) = o.state.tools.get(name) else {
                // A name no tool could have is refused unrecorded (the journal takes no unbounded
                // strings from an agent).
                check_id("tool name", name)?;
                // Recorded like the other refusals: every tool call an agent makes is in the journal.
                o.refuse_tool(name, agent_ref, task_ref, ErrorClass::Tool, now);
                return Err(Error::UnknownTool(name.to_owned()));
            };
            // With the bucket empty, when its next token comes: a refused caller is told.
            let token_at = tool.spec.rate_limit.as_ref().and_then(|rl| {
                let level = rl.level_at(tool.bucket.level_milli, tool.bucket.at, now);
                (level < crate::core::policy::TOKEN_MILLI).then(|| rl.next_token_at(level, now))
            });
            let refused = if !o.state.agent(agent).tools.contains(name) {
                Some(ErrorClass::Permission)
            } else if token_at.is_some() {
                Some(ErrorClass::RateLimit)
            } else {
                None
            };
            if let Some(class) = refused {
                o.refuse_tool(name, agent_ref, task_ref, class, now);
                let agent_id = o.state.agent(agent).id.clone();
                return Err(match class {
                    ErrorClass::Permission => Error::Permission {
                        agent: agent_id,
                        tool: name.to_owned(),
                    },
                    _ => Error::RateLimited {
                        tool: name.to_owned(),
                        retry_after_ms: token_at.unwrap_or(now).saturating_sub(now),
                    },
                });
            }
            let call = o.state.next_tool_call;
            o.emit(
                now,
                Event::ToolCalled {
                    call,
                    tool: name.to_owned(),
                    agent: agent_ref,
                    task: task_ref,
                    args,
                },
            );
            Ok(call)
        })
    }

    /// The tool call answered (`Ok(result)`) or threw (`Err(message)`).
    pub fn tool_result(
        &mut self,
        call: u32,
        outcome: std::result::Result<PayloadId, String>,
        now: u64,
    ) -> Result<()> {
        self.as_command(now, |o| o.tool_result_steps(call, outcome, now))
    }

    fn tool_result_steps(
        &mut self,
        call: u32,
        outcome: std::result::Result<PayloadId, String>,
        now: u64,
    ) -> Result<()> {
        if !self.state.tool_calls_open.contains_key(&call) {
            return Err(Error::invalid(
                "tool call",
                format!("{call} is not in flight"),
            ));
        }
        let event = match outcome {
            Ok(result) => Event::ToolCompleted { call, result },
            Err(message) => Event::ToolFailed { call, message },
        };
        self.emit(now, event);
        Ok(())
    }
}
