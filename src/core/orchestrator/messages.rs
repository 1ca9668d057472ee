//! Messages between agents: send, read an inbox (which delivers), acknowledge, history.

use super::Orchestrator;
use crate::core::event::Event;
use crate::core::ids::{AgentIx, PayloadId};
use crate::core::message::{message_id, parse_message_id, MessageStatus};
use crate::core::wire::AgentRef;
use crate::core::{Error, Result};

impl Orchestrator {
    /// Sends `payload` from one agent to another; returns the message's index (id `msg-<n>`).
    pub fn send(
        &mut self,
        from: AgentIx,
        to: AgentIx,
        payload: PayloadId,
        now: u64,
    ) -> Result<usize> {
        self.check_live()?;
        self.check_present(from)?;
        self.check_present(to)?;
        let max = self.state.options.queue_depth_max as usize;
        if self.state.messages.len() >= max {
            return Err(Error::LimitReached {
                limit: "queueDepthMax",
                value: max as u64,
            });
        }
        let ix = self.state.messages.len();
        let message = message_id(ix);
        self.emit(
            now,
            Event::MessageSent {
                message,
                from: AgentRef(from),
                to: AgentRef(to),
                payload,
            },
        );
        self.command_end(now);
        Ok(ix)
    }

    /// The agent's messages not yet acknowledged, oldest first; the ones not yet read become
    /// `delivered`.
    pub fn inbox(&mut self, agent: AgentIx, now: u64) -> Vec<usize> {
        let mine: Vec<usize> = (0..self.state.messages.len())
            .filter(|&i| {
                let m = &self.state.messages[i];
                m.to == agent && m.status != MessageStatus::Acknowledged
            })
            .collect();
        for &i in &mine {
            if self.state.messages[i].status == MessageStatus::Sent {
                self.emit(
                    now,
                    Event::MessageDelivered {
                        message: message_id(i),
                        on_ack: false,
                    },
                );
            }
        }
        self.command_end(now);
        mine
    }

    pub fn message(&self, id: &str) -> Result<usize> {
        parse_message_id(id)
            .filter(|&i| i < self.state.messages.len())
            .ok_or_else(|| Error::UnknownMessage(id.to_owned()))
    }

    /// Acknowledges a message (delivering it first if it was never read).
    pub fn acknowledge(&mut self, message: usize, now: u64) -> Result<()> {
        self.acknowledge_by(message, None, now)
    }

    /// [`Self::acknowledge`] by an agent from within its call: only its own messages.
    pub fn acknowledge_by(
        &mut self,
        message: usize,
        agent: Option<AgentIx>,
        now: u64,
    ) -> Result<()> {
        let to = self.state.messages[message].to;
        if let Some(by) = agent.filter(|&a| a != to) {
            let (by, to) = (&self.state.agent(by).id, &self.state.agent(to).id);
            return Err(Error::invalid(
                "message",
                format!(
                    "'{}' is to '{to}', not '{by}': an agent acknowledges its own messages",
                    message_id(message)
                ),
            ));
        }
        if self.state.messages[message].status == MessageStatus::Acknowledged {
            return Err(Error::InvalidState {
                what: "message",
                reason: format!("'{}' is acknowledged already", message_id(message)),
            });
        }
        if self.state.messages[message].status == MessageStatus::Sent {
            self.emit(
                now,
                Event::MessageDelivered {
                    message: message_id(message),
                    on_ack: true,
                },
            );
        }
        self.emit(
            now,
            Event::MessageAcknowledged {
                message: message_id(message),
            },
        );
        self.command_end(now);
        Ok(())
    }

    /// Every message from or to the agent, oldest first.
    pub fn message_history(&self, agent: AgentIx) -> Vec<usize> {
        (0..self.state.messages.len())
            .filter(|&i| self.state.messages[i].from == agent || self.state.messages[i].to == agent)
            .collect()
    }
}
