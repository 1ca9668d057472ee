//! Agent templates: define, look up, create agents from them.

use super::Orchestrator;
use crate::core::event::Event;
use crate::core::ids::AgentIx;
use crate::core::template::{built_ins, parse_reference, Template};
use crate::core::{Error, Result};

impl Orchestrator {
    /// Defines a template (`name@version`). Every bad field is reported at once.
    pub fn define_template(&mut self, template: Template, now: u64) -> Result<String> {
        self.as_command(now, |o| o.define_template_steps(template, now))
    }

    fn define_template_steps(&mut self, template: Template, now: u64) -> Result<String> {
        self.check_live()?;
        template.validate()?;
        let reference = template.reference();
        let built_in = built_ins().iter().any(|b| b.reference() == reference);
        if built_in || self.state.templates.contains_key(&reference) {
            return Err(Error::DuplicateId {
                kind: "template",
                id: reference,
            });
        }
        self.emit(
            now,
            Event::TemplateDefined {
                template: Box::new(template),
            },
        );
        Ok(reference)
    }

    /// A template by `name@version`, or by `name` for its latest version.
    pub fn template(&self, reference: &str) -> Result<Template> {
        let (name, version) = parse_reference(reference)?;
        // The built-ins also answer to seed 003's spelling of their names (`data_analyst`).
        let kebab = name.replace('_', "-");
        let mut named = (built_ins().into_iter().map(|t| (true, t)))
            .chain(self.state.templates.values().map(|t| (false, t.clone())))
            .filter(|(built_in, t)| t.name == name || (*built_in && t.name == kebab))
            .map(|(_, t)| t);
        let found = match version {
            Some(v) => named.rfind(|t| t.version == v),
            None => named.max_by_key(|t| t.version),
        };
        found.ok_or_else(|| Error::UnknownTemplate(reference.to_owned()))
    }

    /// Every template, built-in and defined, ordered by name then version.
    pub fn templates(&self) -> Vec<Template> {
        let mut all: Vec<Template> = built_ins()
            .into_iter()
            .chain(self.state.templates.values().cloned())
            .collect();
        all.sort_by(|a, b| (&a.name, a.version).cmp(&(&b.name, b.version)));
        all
    }

    /// Registers an agent configured by a template (capabilities, limits, tools, and the
    /// instructions, model and temperature its handler sees as `ctx.config`).
    pub fn create_agent_from_template(
        &mut self,
        reference: &str,
        id: &str,
        name: Option<String>,
        now: u64,
    ) -> Result<AgentIx> {
        self.as_command(now, |o| {
            o.create_agent_from_template_steps(reference, id, name, now)
        })
    }

    fn create_agent_from_template_steps(
        &mut self,
        reference: &str,
        id: &str,
        name: Option<String>,
        now: u64,
    ) -> Result<AgentIx> {
        let template = self.template(reference)?;
        for tool in &template.tools {
            if !self.state.tools.contains_key(tool) {
                return Err(Error::UnknownTool(tool.clone()));
            }
        }
        self.register_agent(template.agent_spec(id, name), now)
    }
}
