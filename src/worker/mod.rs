//! The Cloudflare Worker entry (feature `worker`): one orchestrator per Durable Object, its
//! journal in the object's SQLite storage, timers on its alarm, a REST API under /v1, and
//! agents reached over HTTP, as bundled JS functions, or built in.

mod agents;
mod api;
mod entry;
mod openapi;
mod runtime;
mod storage;

use std::cell::RefCell;
use std::rc::Rc;
use worker::{durable_object, event, Context, DurableObject, Env, Request, Response, State};

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    entry::handle(req, env).await
}

/// One namespace's orchestrator.
#[durable_object]
pub struct BatonObject {
    state: Rc<State>,
    runtime: RefCell<Option<runtime::Shared>>,
}

impl BatonObject {
    /// The runtime, loaded from storage on first use (after a restart, too).
    fn runtime(&self) -> worker::Result<runtime::Shared> {
        if let Some(rt) = self.runtime.borrow().as_ref() {
            return Ok(rt.clone());
        }
        let rt = runtime::load(self.state.clone())?;
        *self.runtime.borrow_mut() = Some(rt.clone());
        Ok(rt)
    }
}

impl DurableObject for BatonObject {
    fn new(state: State, _env: Env) -> Self {
        BatonObject {
            state: Rc::new(state),
            runtime: RefCell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        let shared = match self.runtime() {
            Ok(s) => s,
            Err(e) => {
                return Ok(api::error_response(&api::error(
                    500,
                    "internal",
                    e.to_string(),
                )))
            }
        };
        let path = req.path();
        Ok(match api::handle(&shared, req, &path).await {
            Ok(r) => r,
            Err(e) => api::error_response(&e),
        })
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let shared = self.runtime()?;
        runtime::on_alarm(&shared);
        Response::ok("")
    }
}
