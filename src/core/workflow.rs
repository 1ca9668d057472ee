//! DAG workflows: validated whole on submit (unknown task, duplicate id, cycle: an error naming the
//! culprit, nothing stored), then run by the scheduler as their dependencies complete.

use crate::core::adjacency::Adjacency;
use crate::core::ids::{PayloadId, TaskIx};
use crate::core::names::Names;
use crate::core::policy::{ErrorPolicy, Fallback, Policy, RetryPolicy};
use crate::core::task::{auto_task_id, parse_auto_task_id};
use crate::core::wire::AgentRef;
use crate::core::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What happens to the rest of a workflow when one of its tasks fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailurePolicy {
    /// Cancel every unfinished task and fail the workflow at once.
    #[default]
    #[serde(alias = "fail_fast", alias = "fail-fast")]
    FailFast,
    /// Skip the failed task's dependents, run everything else, then fail the workflow.
    #[serde(
        alias = "continueAndSkipDependents",
        alias = "continue-and-skip-dependents",
        alias = "continue_and_skip_dependents",
        alias = "skip-dependents"
    )]
    Continue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkflowStatus {
    Running,
    Completed,
    Failed,
    /// Ended short because tasks of it were cancelled (a workflow's cancel, or a task's), with
    /// none failed.
    Cancelled,
}

/// One task of a workflow as the user describes it (its input travels separately, as a payload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowTaskSpec {
    /// Its id within the workflow; without one, its `name` is its id (seed 001 names its tasks
    /// and keys `dependencies` by name).
    #[serde(default)]
    pub id: String,
    /// The agent to run it; or leave it empty and give a `capability`.
    #[serde(default)]
    pub agent: String,
    #[serde(default)]
    pub capability: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub priority: Option<u32>,
    #[serde(default, alias = "dependencies")]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub retry: Option<RetryPolicy>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default, alias = "errorPolicy", alias = "recovery")]
    pub on_error: ErrorPolicy,
    #[serde(default)]
    pub fallback: Option<Fallback>,
}

impl WorkflowTaskSpec {
    pub(crate) fn policy(&self) -> Option<Box<Policy>> {
        Policy::of_task(&self.retry, self.timeout_ms, &self.on_error, &self.fallback)
    }
}

/// A workflow as the user submits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowSpec {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub tasks: Vec<WorkflowTaskSpec>,
    /// `{ "b": ["a"] }`: b waits for a. Adds to each task's `dependsOn`.
    #[serde(default)]
    pub dependencies: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub failure_policy: FailurePolicy,
    /// `dag` (every ready task), `sequential` (one at a time), or `parallel` (up to `width`).
    #[serde(default)]
    pub pattern: ExecutionPattern,
    /// With `parallel`: tasks of this workflow in flight at once.
    #[serde(default)]
    pub width: Option<u32>,
    /// Records contracts for the workflow's calls under this session.
    #[serde(default)]
    pub session: Option<String>,
}

/// How many of a workflow's ready tasks run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExecutionPattern {
    /// Every task whose dependencies completed.
    #[default]
    #[serde(alias = "DAG")]
    Dag,
    /// One task at a time, in topological order.
    #[serde(alias = "SEQUENTIAL")]
    Sequential,
    /// Up to `width` tasks at a time.
    #[serde(alias = "PARALLEL")]
    Parallel,
}

impl WorkflowSpec {
    /// The workflow's limit on tasks in flight, if any.
    pub fn width(&self) -> crate::core::Result<Option<u32>> {
        match (self.pattern, self.width) {
            (_, Some(0)) => Err(crate::core::Error::invalid("width", "must be at least 1")),
            (ExecutionPattern::Sequential, Some(w)) if w != 1 => Err(crate::core::Error::invalid(
                "width",
                "a sequential workflow runs one task at a time",
            )),
            (ExecutionPattern::Sequential, _) => Ok(Some(1)),
            (ExecutionPattern::Parallel, w) => Ok(w),
            (ExecutionPattern::Dag, None) => Ok(None),
            (ExecutionPattern::Dag, Some(_)) => Err(crate::core::Error::invalid(
                "width",
                "give pattern: \"parallel\" with a width",
            )),
        }
    }
}

/// A validated workflow task, as journaled in `workflow.submitted`: what is not its id or its
/// dependencies, which the workflow keeps for all its tasks at once ([`NewWorkflow::ids`],
/// [`NewWorkflow::deps`]).
///
/// A workflow holds one of these per task for as long as its record is in the journal, so the
/// rare fields (name, capability, policy) are out of line; the JSON is flat all the same (see
/// [`WorkflowTaskWire`]).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowTask {
    pub agent: AgentRef,
    pub priority: u8,
    pub input: PayloadId,
    pub metadata: PayloadId,
    pub rare: Option<Box<WorkflowTaskRare>>,
}

/// What few workflow tasks have.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkflowTaskRare {
    pub name: Option<Box<str>>,
    pub capability: Option<Box<str>>,
    pub policy: Option<Box<Policy>>,
}

impl WorkflowTask {
    pub fn name(&self) -> Option<&str> {
        self.rare.as_ref()?.name.as_deref()
    }
    pub fn capability(&self) -> Option<&str> {
        self.rare.as_ref()?.capability.as_deref()
    }
    pub fn policy(&self) -> Option<&Policy> {
        self.rare.as_ref()?.policy.as_deref()
    }
    /// The rare fields, boxed only if one is set.
    pub fn rare(
        name: Option<Box<str>>,
        capability: Option<Box<str>>,
        policy: Option<Box<Policy>>,
    ) -> Option<Box<WorkflowTaskRare>> {
        let rare = WorkflowTaskRare {
            name,
            capability,
            policy,
        };
        (rare != WorkflowTaskRare::default()).then(|| Box::new(rare))
    }
}

/// A workflow task's JSON: every field at the top level.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkflowTaskWire<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    agent: AgentRef,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
    priority: u8,
    input: PayloadId,
    metadata: PayloadId,
    depends_on: std::borrow::Cow<'a, [u32]>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    capability: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policy: Option<std::borrow::Cow<'a, Policy>>,
}

/// A validated workflow, as journaled in `workflow.submitted`. Its task ids and dependencies
/// are shared (not copied) with the workflow's state, and with the compiled shape it may come
/// from; its JSON lists each task flat, as [`WorkflowTaskWire`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewWorkflow {
    pub id: String,
    pub name: Option<String>,
    pub policy: FailurePolicy,
    pub width: Option<u32>,
    pub session: Option<String>,
    pub tasks: Vec<WorkflowTask>,
    /// Task ids, in the workflow's order.
    pub ids: Arc<Names>,
    /// Each task's dependencies, as indices into the workflow.
    pub deps: Arc<Adjacency>,
}

impl NewWorkflow {
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

/// `NewWorkflow`'s JSON (the field order is the journal's).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewWorkflowWire<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    policy: FailurePolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session: Option<String>,
    #[serde(borrow)]
    tasks: Vec<WorkflowTaskWire<'a>>,
}

impl Serialize for NewWorkflow {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        use std::borrow::Cow;
        struct Tasks<'a>(&'a NewWorkflow);
        impl Serialize for Tasks<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                let w = self.0;
                s.collect_seq(w.tasks.iter().enumerate().map(|(i, t)| WorkflowTaskWire {
                    id: Cow::Borrowed(&w.ids[i]),
                    agent: t.agent,
                    name: t.name().map(Cow::Borrowed),
                    priority: t.priority,
                    input: t.input,
                    metadata: t.metadata,
                    depends_on: Cow::Borrowed(&w.deps[i]),
                    capability: t.capability().map(Cow::Borrowed),
                    policy: t.policy().map(Cow::Borrowed),
                }))
            }
        }
        let fields = 3 + [
            self.name.is_some(),
            self.width.is_some(),
            self.session.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        let mut st = s.serialize_struct("NewWorkflow", fields)?;
        st.serialize_field("id", &self.id)?;
        if let Some(name) = &self.name {
            st.serialize_field("name", name)?;
        }
        st.serialize_field("policy", &self.policy)?;
        if let Some(width) = &self.width {
            st.serialize_field("width", width)?;
        }
        if let Some(session) = &self.session {
            st.serialize_field("session", session)?;
        }
        st.serialize_field("tasks", &Tasks(self))?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for NewWorkflow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<NewWorkflow, D::Error> {
        let w = NewWorkflowWire::deserialize(d)?;
        let ids: Names = w.tasks.iter().map(|t| &*t.id).collect();
        let deps = Adjacency::from_lists(w.tasks.iter().map(|t| &*t.depends_on));
        let tasks = w
            .tasks
            .into_iter()
            .map(|t| WorkflowTask {
                agent: t.agent,
                priority: t.priority,
                input: t.input,
                metadata: t.metadata,
                rare: WorkflowTask::rare(
                    t.name.map(Into::into),
                    t.capability.map(Into::into),
                    t.policy.map(|p| Box::new(p.into_owned())),
                ),
            })
            .collect();
        Ok(NewWorkflow {
            id: w.id.into_owned(),
            name: w.name,
            policy: w.policy,
            width: w.width,
            session: w.session,
            tasks,
            ids: Arc::new(ids),
            deps: Arc::new(deps),
        })
    }
}

/// A workflow as the core keeps it. Its tasks have the contiguous indices `first..first + n`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workflow {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub policy: FailurePolicy,
    /// Tasks of the workflow in flight at once (sequential: 1), if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    pub first: TaskIx,
    /// Shared with the `workflow.submitted` record (and a compiled shape).
    pub local_ids: Arc<Names>,
    pub deps: Arc<Adjacency>,
    pub dependents: crate::core::adjacency::Adjacency,
    pub status: WorkflowStatus,
    /// Tasks not yet terminal.
    pub remaining: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_task: Option<TaskIx>,
    pub submitted_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
    #[serde(skip)]
    pub(crate) local_index: LocalIndex,
}

/// Task id within the workflow → its index, built on the first lookup by id: most workflows are
/// never looked up that way, and building it costs an allocation per task.
#[derive(Debug, Clone, Default)]
pub(crate) struct LocalIndex(std::cell::OnceCell<BTreeMap<Box<str>, u32>>);

impl PartialEq for LocalIndex {
    /// Derived from `local_ids`, which the workflow's equality already compares.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Workflow {
    pub fn len(&self) -> u32 {
        self.local_ids.len() as u32
    }
    pub fn is_empty(&self) -> bool {
        self.local_ids.is_empty()
    }
    pub fn task(&self, local: u32) -> TaskIx {
        TaskIx(self.first.0 + local)
    }
    pub fn local(&self, task: TaskIx) -> u32 {
        task.0 - self.first.0
    }
    pub fn tasks(&self) -> impl Iterator<Item = TaskIx> + '_ {
        (0..self.len()).map(|l| self.task(l))
    }
    /// The index of the task with this id within the workflow.
    pub fn local_of(&self, id: &str) -> Option<u32> {
        let index = self.local_index.0.get_or_init(|| {
            self.local_ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.into(), i as u32))
                .collect()
        });
        index.get(id).copied()
    }
}

/// The id of a task being created: written as its user-facing id, read back as the next index.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub ix: TaskIx,
    pub custom_id: Option<Box<str>>,
}

impl Serialize for NewTask {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match &self.custom_id {
            Some(id) => s.serialize_str(id),
            None => s.serialize_str(&auto_task_id(self.ix.0)),
        }
    }
}

impl<'de> Deserialize<'de> for NewTask {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        // The index is assigned when the event is applied; a generated id already says it.
        Ok(match parse_auto_task_id(&id) {
            Some(ix) => NewTask {
                ix: TaskIx(ix),
                custom_id: None,
            },
            None => NewTask {
                ix: TaskIx(u32::MAX),
                custom_id: Some(id.into()),
            },
        })
    }
}

/// Checks a workflow's shape: unique ids, known dependencies, no cycle. Returns each task's
/// dependencies as indices into `spec.tasks`.
pub(crate) fn validate_shape(workflow: &str, spec: &WorkflowSpec) -> Result<Adjacency> {
    if spec.tasks.is_empty() {
        return Err(Error::invalid(
            "tasks",
            format!("workflow '{workflow}' has no tasks"),
        ));
    }
    let mut index = BTreeMap::new();
    for (i, t) in spec.tasks.iter().enumerate() {
        crate::core::ids::check_id("task id", &t.id)?;
        if index.insert(t.id.as_str(), i as u32).is_some() {
            return Err(Error::DuplicateId {
                kind: "task",
                id: format!("{workflow}/{}", t.id),
            });
        }
    }
    for key in spec.dependencies.keys() {
        if !index.contains_key(key.as_str()) {
            return Err(Error::UnknownDependent {
                workflow: workflow.to_owned(),
                task: key.clone(),
            });
        }
    }
    let mut deps = Vec::with_capacity(spec.tasks.len());
    for t in &spec.tasks {
        let extra = spec.dependencies.get(&t.id).into_iter().flatten();
        let mut ds: Vec<u32> = Vec::new();
        for d in t.depends_on.iter().chain(extra) {
            let &j = index
                .get(d.as_str())
                .ok_or_else(|| Error::UnknownDependency {
                    workflow: workflow.to_owned(),
                    task: t.id.clone(),
                    dependency: d.clone(),
                })?;
            if !ds.contains(&j) {
                ds.push(j);
            }
        }
        deps.push(ds);
    }
    let deps = Adjacency::from_lists(deps);
    if let Some(cycle) = find_cycle(&deps) {
        return Err(Error::Cycle {
            workflow: workflow.to_owned(),
            cycle: cycle
                .into_iter()
                .map(|i| spec.tasks[i as usize].id.clone())
                .collect(),
        });
    }
    Ok(deps)
}

/// A cycle in the dependency graph, as a path that ends where it starts, if there is one.
pub(crate) fn find_cycle(deps: &Adjacency) -> Option<Vec<u32>> {
    // Most specs list a task after its dependencies: then there is no cycle, and no work.
    if deps
        .iter()
        .enumerate()
        .all(|(i, ds)| ds.iter().all(|&d| (d as usize) < i))
    {
        return None;
    }
    // Kahn's algorithm drops everything that is not on or behind a cycle.
    let n = deps.len();
    let mut indegree: Vec<u32> = deps.iter().map(|d| d.len() as u32).collect();
    let mut dependents = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d as usize].push(i as u32);
        }
    }
    let mut ready: Vec<u32> = (0..n as u32)
        .filter(|&i| indegree[i as usize] == 0)
        .collect();
    let mut seen = 0;
    while let Some(i) = ready.pop() {
        seen += 1;
        for &j in &dependents[i as usize] {
            indegree[j as usize] -= 1;
            if indegree[j as usize] == 0 {
                ready.push(j);
            }
        }
    }
    if seen == n {
        return None;
    }
    // Walk dependencies among the leftovers until a node repeats: that stretch is a cycle.
    let start = (0..n).find(|&i| indegree[i] > 0).expect("a leftover node") as u32;
    let mut path = vec![start];
    let mut at = start;
    loop {
        let next = *deps[at as usize]
            .iter()
            .find(|&&d| indegree[d as usize] > 0)
            .expect("a leftover node has a leftover dependency");
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle = path[pos..].to_vec();
            cycle.reverse(); // read as "a -> b": a is needed by b
            cycle.push(cycle[0]);
            return Some(cycle);
        }
        path.push(next);
        at = next;
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn spec(tasks: &[(&str, &[&str])]) -> WorkflowSpec {
        WorkflowSpec {
            id: None,
            name: None,
            tasks: tasks
                .iter()
                .map(|(id, deps)| WorkflowTaskSpec {
                    id: id.to_string(),
                    agent: "a".into(),
                    capability: None,
                    name: None,
                    priority: None,
                    depends_on: deps.iter().map(|d| d.to_string()).collect(),
                    retry: None,
                    timeout_ms: None,
                    on_error: Default::default(),
                    fallback: None,
                })
                .collect(),
            dependencies: BTreeMap::new(),
            failure_policy: FailurePolicy::FailFast,
            pattern: ExecutionPattern::Dag,
            width: None,
            session: None,
        }
    }

    #[test]
    fn a_diamond_is_fine() {
        let deps = validate_shape(
            "w",
            &spec(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])]),
        )
        .unwrap();
        assert_eq!(deps[3], vec![1, 2]);
    }

    #[test]
    fn cycles_are_named() {
        let err = validate_shape(
            "w",
            &spec(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]),
        )
        .unwrap_err();
        assert_eq!(err.code(), "cycle");
        let msg = err.to_string();
        assert!(
            msg.contains("a -> b -> c -> a")
                || msg.contains("b -> c -> a -> b")
                || msg.contains("c -> a -> b -> c"),
            "{msg}"
        );
        let self_loop = validate_shape("w", &spec(&[("a", &["a"])])).unwrap_err();
        assert_eq!(
            self_loop.to_string(),
            "workflow 'w' has a dependency cycle: a -> a"
        );
    }

    #[test]
    fn unknown_and_duplicate_ids_are_named() {
        let e = validate_shape("w", &spec(&[("a", &["zz"])])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "workflow 'w': task 'a' depends on unknown task 'zz'"
        );
        let e = validate_shape("w", &spec(&[("a", &[]), ("a", &[])])).unwrap_err();
        assert_eq!(e.code(), "duplicate_id");
        let mut s = spec(&[("a", &[])]);
        s.dependencies.insert("q".into(), vec!["a".into()]);
        let e = validate_shape("w", &s).unwrap_err();
        assert_eq!(
            e.code(),
            "unknown_dependency",
            "a key of dependencies is a dependency too"
        );
        assert_eq!(
            e.to_string(),
            "workflow 'w': dependencies names 'q', which is not one of its tasks"
        );
    }
}
