// Types of the `baton` package. Every value that crosses in or out is typed; payloads (task
// inputs and outputs) are whatever JSON-serializable value your agents use, `unknown` by default.

/** A JSON value: what inputs, outputs and event data become in the journal and in snapshots. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Loads the wasm module. Call once before `new Orchestrator()` in browsers; a no-op in Node. */
export default function init(input?: unknown): Promise<unknown>;
/** Loads the wasm module synchronously from its bytes. */
export function initSync(module: { module: WasmBytes | WebAssembly.Module } | WasmBytes | WebAssembly.Module): unknown;
/** The wasm module's bytes (what the DOM lib calls `BufferSource`). */
export type WasmBytes = ArrayBuffer | ArrayBufferView;

declare global {
  // Declared empty so that the package's types resolve in a project without the DOM lib (a
  // Node project with only "ES2022", with or without @types/node); where the DOM lib or
  // @types/node declares them, these merge with the full declarations.
  interface AbortSignal {}
  namespace WebAssembly {
    interface Module {}
  }
}

/** Stable codes on every error Baton throws. */
export type ErrorCode =
  | "unknown_agent"
  | "unknown_task"
  | "unknown_workflow"
  | "unknown_snapshot"
  | "duplicate_id"
  | "illegal_transition"
  | "invalid_task_state"
  | "invalid_state"
  | "agent_unavailable"
  | "unknown_dependency"
  | "cycle"
  | "invalid_argument"
  | "limit_reached"
  | "decode_error"
  | "invalid_payload"
  | "events_overflow"
  | "cancelled"
  | "closed"
  | "timeout"
  | "terminated"
  | "no_capable_agent"
  | "unknown_template"
  | "unknown_message"
  | "unknown_tool"
  | "unknown_job"
  | "unknown_run"
  | "invalid_cron"
  | "permission"
  | "rate_limit"
  | "tool_failed"
  | "pattern_failed"
  | "compression_failed"
  | "store_failed"
  /** Another orchestrator writes the store's directory (`FileStore`: one writer at a time). */
  | "store_busy"
  | "internal";

/** An agent status as `transitionAgent` takes it: also DESIGN's `Idle` and `Active`, in any case. */
export type AgentStatusName =
  | AgentStatus | "Idle" | "Active"
  | Lowercase<AgentStatus | "Idle" | "Active">
  | Uppercase<AgentStatus | "Idle" | "Active">;

/** An error raised by Baton: a JS `Error` named `BatonError` with a stable `code`. */
export class BatonError extends Error {
  constructor(code: ErrorCode, message: string);
  readonly name: "BatonError";
  readonly code: ErrorCode;
  /**
   * The failure's class where one applies: on a tool call's refusal (`permission`, `rate_limit`,
   * `tool`), and on a pattern that failed (`pattern_failed`) that of the task that ended it
   * (`validation` for an answer in the wrong shape).
   */
  readonly class?: ErrorClass;
  /** On a `rate_limit` refusal of a tool call: ms until the tool's next token. Uncaught by the
   * agent, the refusal fails its attempt and the retry waits at least this long. */
  readonly retryAfterMs?: number;
}

/** The agent lifecycle. Only `Running` agents are handed tasks. */
export type AgentStatus =
  | "Created"
  | "Initializing"
  | "Ready"
  | "Running"
  | "Paused"
  | "Error"
  | "Completed"
  | "Stopped"
  | "Terminated";

export type TaskStatus =
  | "Pending"
  | "Queued"
  | "Running"
  | "Retrying"
  | "Completed"
  | "Failed"
  | "Cancelled"
  | "TimedOut"
  | "Skipped";

/** Why an attempt failed. Throw an error with a `class` property to choose one; `agent` otherwise. */
export type ErrorClass = "agent" | "tool" | "timeout" | "validation" | "permission" | "rate_limit" | "cancelled" | "internal";

export interface TaskError {
  class: ErrorClass;
  message: string;
  /** How long the agent asked to be left alone (`retryAfterMs` on the error it threw, or an HTTP 429's `Retry-After`): its retry waits at least this long. */
  retryAfterMs?: number;
}

/** `retry: { maxAttempts, backoff: { initialMs, factor, maxMs }, jitter }`. */
export interface RetryPolicy {
  /** Attempts in all, the first included (1 means no retry); at most 1000. */
  maxAttempts: number;
  /** Delay before retry n is `initialMs * factor^(n-1)`, capped at `maxMs`. Defaults 1000, 2, 60000. */
  backoff?: { initialMs?: number; factor?: number; maxMs?: number };
  /** `true` (full jitter), `false`, or the fraction of each delay drawn from the seeded PRNG (0..1). */
  jitter?: boolean | number;
}

/** What happens to a task whose attempt failed with a given error class. */
export type Strategy = "retry" | "fail" | "fallback" | "skip" | "escalate" | "reset" | "terminate";

/** Strategy per error class. Defaults: `retry` (within the retry policy) except validation, permission, cancelled: `fail`. */
export type ErrorPolicy = Partial<Record<ErrorClass, Strategy>>;

/** Where the `fallback` strategy (or an open breaker) sends a task: one agent, or the least-loaded agent with a capability. */
export type Fallback = { agent: string; capability?: undefined } | { capability: string; agent?: undefined };
/** A fallback as given: also an agent's id alone (`fallback: "backup"`). */
export type FallbackInput = Fallback | string;

/** What `updateAgent` (and the Worker's `PUT /agents/{id}`) changes. */
export interface AgentUpdate {
  name?: string;
  capabilities?: CapabilityInput[];
  concurrency?: number | null;
  maxErrors?: number | null;
}

/** Closed → open after `failureThreshold` failures in a row → half-open after `recoveryMs` → closed after `successThreshold` successes. Defaults 5, 60000, 3. */

export interface CircuitBreaker {
  failureThreshold?: number;
  recoveryMs?: number;
  successThreshold?: number;
}

export type BreakerState = "closed" | "open" | "half-open";

/** A token bucket: `perMinute` calls, up to `burst` at once (default `perMinute`). */
export interface RateLimit {
  perMinute: number;
  burst?: number;
}

/** Failure policy a task (or, as defaults, an agent or the orchestrator) can carry. */
export interface TaskPolicy {
  retry?: RetryPolicy;
  /** Per-attempt timeout: the attempt is `TimedOut` and its `ctx.signal` aborts. */
  timeoutMs?: number;
  onError?: ErrorPolicy;
  fallback?: FallbackInput;
}

export interface OrchestratorOptions {
  /** Seeds the one PRNG (ids, jitter); an integer in 0..=2^53-1. Drawn at random when omitted. */
  seed?: number;
  /**
   * `"virtual"`: once nothing runnable is left (a macrotask after the last promise settled), time
   * jumps straight to the next deadline (`ctx.sleep`, retries, timeouts, schedules). Agents that
   * wait on real I/O belong on the real clock. Default `"real"`; a restored or reopened run
   * (`restore`, `open`) goes on on the clock it was recorded with, unless one is given.
   */
  clock?: "real" | "virtual";
  /** The virtual clock's start, in ms. Default 0. The real clock reads `Date.now()` and has no use for it. */
  startTime?: number;
  /** Agent calls in flight at once over all agents. Default unlimited. */
  maxConcurrency?: number;
  /** Tasks waiting (pending or queued) at once. Default 2,000,000. */
  queueDepthMax?: number;
  /**
   * Agents registered at most, removed ones too (their tasks still name them, so they are kept).
   * Default 100,000; `limit_reached` beyond it.
   */
  agentsMax?: number;
  /** Tasks in one workflow at most. Default 100,000. */
  workflowTasksMax?: number;
  /** Largest JSON of one payload, in bytes. Default 1 MiB. */
  payloadBytesMax?: number;
  /** Snapshot summaries kept. Default 100. */
  snapshotsKeptMax?: number;
  /** Lifecycle transitions kept per agent. Default 1,000. */
  historyRowsMax?: number;
  /** Journal records kept in memory. Default 10,000,000. */
  journalRowsMax?: number;
  /** Events an `events()` iterator buffers before it fails with `events_overflow`. Default 100,000. */
  eventsBufferMax?: number;
  /** Timed-out or cancelled calls remembered so their late answers are recognised. Default 100,000. */
  lateCallsMax?: number;
  /** Default retry policy, under the agent's and the task's. */
  retry?: RetryPolicy;
  /** Default per-attempt timeout. */
  timeoutMs?: number;
  /** Default strategies per error class. */
  onError?: ErrorPolicy;
  /**
   * Writes the run to this store as it goes (journal lines per batch of events, a snapshot every
   * `snapshotEveryEvents`), so `Orchestrator.open(store)` can resume it. A new orchestrator
   * resets the store first.
   */
  store?: Store;
  /**
   * Given for a new run: a listed snapshot (`snapshots()`, reason `every`, a `snapshot.created`
   * record) at the end of each command (a submission, an answer, an `emit`, a message, ...)
   * that brings the events since the last one to this many. The store's snapshots come as often,
   * once as many bytes of journal as the last snapshot's have followed it (writes stay
   * proportional to the change as the state grows).
   * Not given: none is listed for it, and a store snapshots every 1,000 events.
   */
  snapshotEveryEvents?: number;
}

/** What a store holds: the latest snapshot, and the journal lines (JSON Lines) written after it. */
export interface StoredRun {
  snapshot?: string;
  journal: string;
}

/**
 * Where a run is persisted. Baton calls one method at a time, in order, and waits for each.
 * `MemoryStore`, `IndexedDBStore` (browsers) and `FileStore` (Node) implement it.
 */
export interface Store {
  /** The latest snapshot and the lines after it, or `null` when the store is empty. */
  load(): Promise<StoredRun | null>;
  /** Appends JSON Lines (each ends in `\n`); `lastSeq` is the last line's seq. */
  append(lines: string, lastSeq: number): Promise<void>;
  /** Stores a snapshot of the state at `seq`; the lines up to `seq` may then be dropped. */
  saveSnapshot(snapshot: string, seq: number): Promise<void>;
  /** Forgets everything: a new run starts. */
  reset(): Promise<void>;
  /** Optional: the next write replaces the run held, in one step (see the README). */
  replaceNext?(): void;
  /**
   * Optional: takes the store for this orchestrator's writes. `Orchestrator.open` calls it before
   * `load`; each run calls it again, with itself as `run`, before its first write.
   */
  lock?(run?: object): Promise<void>;
  /** Optional: called as the orchestrator closes, with its last write and itself; a lock goes once that write is done. */
  release?(lastWrite?: Promise<void>, run?: object): Promise<void>;
}

/** A store in memory: survives nothing, but keeps the contract (tests, examples). */
export class MemoryStore implements Store {
  constructor();
  load(): Promise<StoredRun | null>;
  append(lines: string, lastSeq: number): Promise<void>;
  saveSnapshot(snapshot: string, seq: number): Promise<void>;
  reset(): Promise<void>;
}

/** A store in the browser's IndexedDB database `name` (default `"baton"`). */
export class IndexedDBStore implements Store {
  constructor(name?: string);
  readonly name: string;
  load(): Promise<StoredRun | null>;
  append(lines: string, lastSeq: number): Promise<void>;
  saveSnapshot(snapshot: string, seq: number): Promise<void>;
  reset(): Promise<void>;
  /**
   * One writer per database: a Web Lock named after it, held by one orchestrator of the origin
   * (`store_busy` for another tab's); another store of the same name in this page waits for a
   * closed run's last writes. `run`: the run taking it, so that it does not wait for itself.
   */
  lock(run?: object): Promise<void>;
  release(lastWrite?: Promise<void>, run?: object): Promise<void>;
  close(): void;
}

/** A store in a directory (Node only): `snapshot-<seq>.json` and `journal-<seq>.jsonl`. */
/**
 * A store in a directory (Node). One writer at a time: the directory's `lock` file holds the
 * writing process's pid. Another FileStore on the directory is refused with `store_busy` while
 * the orchestrator writing it is open (in this process, it waits for a closed one's last
 * writes); a lock left by a process that died is taken over. A journal that follows a snapshot
 * no longer there is a `decode_error`, not a new run that would delete it.
 */
export class FileStore implements Store {
  constructor(dir: string);
  readonly dir: string;
  load(): Promise<StoredRun | null>;
  append(lines: string, lastSeq: number): Promise<void>;
  saveSnapshot(snapshot: string, seq: number): Promise<void>;
  reset(): Promise<void>;
  replaceNext(): void;
  /** `run`: the run taking it (its first write), so that it does not wait for its own release. */
  lock(run?: object): Promise<void>;
  release(lastWrite?: Promise<void>, run?: object): Promise<void>;
}

/** The options make a new run (an empty store); a resumed run keeps its recorded seed and limits (a warning says which given ones differ). */
export interface OpenOptions extends OrchestratorOptions {
  /** Handlers by agent id, for the agents the store holds and for agents registered later without one. */
  agents?: Record<string, AgentHandler<never, unknown>>;
  tools?: Record<string, ToolFunction<never, unknown>>;
}

/** Which tasks `tasks()` lists; every field given must match. */
export interface TaskFilter {
  status?: TaskStatus;
  agent?: string;
  workflow?: string;
  offset?: number;
  limit?: number;
}

/** A workflow in `workflows()`. */
export interface WorkflowSummary {
  id: string;
  name?: string;
  status: "Running" | "Completed" | "Failed" | "Cancelled";
  taskCount: number;
  remaining: number;
  submittedAt: number;
  finishedAt?: number;
}

/** What an agent receives besides its input. */
export interface AgentContext {
  /** The task's id (`task-3`, or `workflow/task` inside a workflow). */
  readonly taskId: string;
  readonly agentId: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /**
   * The run's seed: an agent that simulates (latencies, failures) rolls on it with the task
   * and attempt, so that the same seed gives the same run and another seed another.
   */
  readonly seed: number;
  /** Outputs of the task's dependencies, by their ids within the workflow. */
  readonly upstream: Record<string, unknown>;
  /** Aborted when the task is cancelled while this call runs. */
  readonly signal: AbortSignal;
  /** Resolves after `ms` on the orchestrator's clock (instantly in virtual time). */
  sleep(ms: number): Promise<void>;
  /** Records a custom event. */
  emit(topic: string, data?: unknown): void;
  /** The agent's template configuration, if it was made from a template. */
  readonly config: AgentConfig | undefined;
  /** Sends a message from this agent; returns its id. */
  send(to: string, payload?: unknown): string;
  /** This agent's unacknowledged messages (reading them delivers them). */
  inbox(): Message[];
  ack(messageId: string): void;
  /** Calls a tool granted to this agent. Refused with `code`/`class` `permission` or `rate_limit`
   * (with `retryAfterMs`: when the tool's next token comes). */
  callTool<R = unknown>(name: string, args?: unknown): Promise<R>;
}

export interface AgentConfig {
  template: string;
  instructions: string;
  model?: string;
  temperature?: number;
  tools: string[];
}

export interface Message {
  id: string;
  from: string;
  to: string;
  status: "sent" | "delivered" | "acknowledged";
  payload: unknown;
  sentAt: number;
  deliveredAt?: number | null;
  acknowledgedAt?: number | null;
}

/** `defineTemplate`'s input: a versioned configuration agents are created from. */
export interface TemplateSpec {
  /** 1 to 64 of a-z, 0-9, `-`, `_`. */
  name: string;
  /** Default 1. */
  version?: number;
  description?: string;
  instructions?: string;
  model?: string;
  /** 0 to 2. */
  temperature?: number;
  capabilities?: string[];
  tools?: string[];
  limits?: { concurrency?: number; maxErrors?: number; timeoutMs?: number; retry?: RetryPolicy };
}

export interface Template extends TemplateSpec {
  version: number;
}

export interface Contract {
  id: string;
  kind: "REQUEST" | "RESPONSE";
  sessionId: string;
  taskId: string;
  call: number;
  from: string;
  to: string;
  capability?: string;
  status: "sent" | "completed" | "failed" | "cancelled" | "lost";
  /** The input (REQUEST) or the result (RESPONSE). */
  payload: Json;
  /** A RESPONSE's result: the same as its `payload` (the name for it). */
  result?: Json;
  error?: TaskError;
  at: number;
  /** The same as `at`: when the contract was recorded, in ms on the run's clock. */
  time: number;
  /** The hash of the session's previous contract ("" for the first). */
  prevHash: string;
  hash: string;
}

export interface OrchestrateResult<O = unknown> {
  sessionId: string;
  taskId: string;
  agent: string;
  capability: string;
  status: TaskStatus;
  result: O | undefined;
  error?: TaskError;
}

/**
 * `{ at }` (ms on the orchestrator's clock, a `Date`, or an RFC 3339 time), `{ everyMs }`, or
 * `{ cron }` (5 fields, names allowed, UTC). `once` and `interval` are names for `at` and `everyMs`.
 */
export type Trigger =
  | OneTrigger<"at", number | Date | string>
  | OneTrigger<"once", number | Date | string>
  | OneTrigger<"everyMs", number>
  | OneTrigger<"interval", number>
  | OneTrigger<"cron", string>;
/** One kind of trigger, the others absent (two are refused). */
type OneTrigger<K extends string, V> = { [P in K]: V } & { [P in Exclude<"at" | "once" | "everyMs" | "interval" | "cron", K>]?: undefined };

export interface Job {
  id: string;
  trigger: Trigger;
  task: Omit<TaskSpec, "id" | "metadata">;
  /** `done`: will not fire again (a one-off job that fired, or any job once the orchestrator is terminated). */
  status: "active" | "paused" | "done";
  nextRun?: number | null;
  createdAt: number;
  /** Slots fired, a slot that submitted nothing included (its last task still waited: see `job.fired`'s `error`). */
  runs: number;
  /** The slot it fired last: a slot missed while paused or down fires late, once, and is still named by its own time. */
  lastRun?: number | null;
  /** The task its last slot submitted (also in each `job.fired` event's `task`). */
  lastTask?: string | null;
}

export interface ToolOptions {
  description?: string;
  category?: string;
  rateLimit?: RateLimit;
}

export type ToolFunction<A = unknown, R = unknown> = (args: A, caller: { agentId: string; taskId?: string }) => R | Promise<R>;

export interface ConsensusResult {
  decision: "approved" | "rejected";
  /** Each agent's vote; a voter that fails (or answers in the wrong shape) fails the whole run. */
  votes: Record<string, "approve" | "reject">;
  reasoning: Record<string, string>;
  approvals: number;
  total: number;
  threshold: number;
}

export interface DebateResult {
  topic: unknown;
  winner: "pro" | "con";
  finalVerdict: string;
  transcript: Array<{ round: number; side: "pro" | "con"; agent: string; argument: string }>;
  rounds: number;
}

export interface PatternRun {
  id: string;
  kind: "consensus" | "debate" | "chainOfThought" | "supervisor" | "collaborative";
  status: "Running" | "Completed" | "Failed" | "Cancelled";
  /** Steps concluded so far. */
  step: number;
  error?: string;
  /** Its tasks' ids, in the order they were created. */
  tasks: string[];
  /** Once failed: the failing answer's class (`validation` for an answer of the wrong shape). */
  class?: ErrorClass | null;
  /** Once completed. */
  result?: unknown;
}

export interface ChainOfThoughtResult {
  problem: unknown;
  reasoningChain: string[];
  finalAnswer: unknown;
}

export interface SupervisorResult {
  status: "answered" | "round_limit";
  answer: unknown;
  rounds: number;
  results: Array<{ round: number; agent: string; input: unknown; output?: unknown; error?: string }>;
}

export interface CollaborativeResult {
  status: "done" | "round_limit";
  document: unknown;
  rounds: number;
  turns: Array<{ round: number; agent: string; done: boolean }>;
  doneBy?: string;
}

/** What a pattern run of each kind resolves with. */
export interface PatternResults {
  consensus: ConsensusResult;
  debate: DebateResult;
  chainOfThought: ChainOfThoughtResult;
  supervisor: SupervisorResult;
  collaborative: CollaborativeResult;
}
export type PatternResultOf<K extends keyof PatternResults> = PatternResults[K];

/** `session`: the session whose REQUEST and RESPONSE contracts record the run's calls. */
export type PatternSpec = { session?: string } & (
  | { kind: "consensus"; task: unknown; agents: string[]; threshold?: number }
  | { kind: "debate"; topic: unknown; pro: string; con: string; judge: string; rounds?: number }
  | { kind: "chainOfThought"; problem: unknown; reasoner: string; steps?: number | string[] }
  | { kind: "supervisor"; task: unknown; supervisor: string; agents: string[]; instructions?: string; maxRounds?: number }
  | { kind: "collaborative"; task: unknown; agents: string[]; document?: unknown; maxRounds?: number });

export type AgentHandler<I = unknown, O = unknown> = (input: I, ctx: AgentContext) => O | Promise<O>;

/** A capability by name, or as seed 004 lists them (`{ name, description }`); only names are kept. */
export type CapabilityInput = string | { name: string; description?: string };

export interface AgentSpec<I = unknown, O = unknown> extends TaskPolicy {
  id: string;
  name?: string;
  capabilities?: CapabilityInput[];
  /** Tasks this agent runs at once. Default unlimited. */
  concurrency?: number;
  /**
   * Errors (failed attempts of any class but `cancelled`, timeouts included, and reported errors)
   * after which the agent enters `Error`. Default never.
   * Counted since the agent last left `Error` (recovered, or paused) or was recovered while
   * paused: `error_count` in `agentsStatus()`.
   */
  maxErrors?: number;
  /** The agent itself. Optional for agents whose tasks you run by hand (`createTask`). */
  handler?: AgentHandler<I, O>;
  /** Another name for `handler` (seed 004's agents `execute` their tasks); give one of the two. */
  execute?: AgentHandler<I, O>;
  /**
   * On for every agent: open after 5 consecutive failures, half-open after 60 s, closed after 3
   * successes. Give fields to change them, or `false` to turn it off.
   */
  circuitBreaker?: CircuitBreaker | boolean;
  rateLimit?: RateLimit;
}

export interface TaskSpec<I = unknown> extends TaskPolicy {
  /** The agent to run it; or give `capability` instead. */
  agent?: string;
  /**
   * Routes to the least-loaded running agent with this capability; in a workflow, a task that
   * waited is routed again when it becomes ready.
   */
  capability?: string;
  /** Records REQUEST and RESPONSE contracts of its calls under this session. */
  session?: string;
  input?: I;
  /** 1 (highest) to 255. Default 5. */
  priority?: number;
  /** Your id for the task; generated (`task-<n>`) when omitted. */
  id?: string;
  name?: string;
  metadata?: unknown;
}

/** A task goes to one agent, or to the least-loaded agent with a capability: one of the two. */
export type AgentOrCapability = { agent: string; capability?: undefined } | { capability: string; agent?: undefined };

/** A task for `submit`, which may also name a function to call once it has ended. */
export interface SubmitSpec<I = unknown> extends TaskSpec<I> {
  /** Called with the task once it has ended (seed 001's `callback=on_complete`); what it throws is logged. */
  callback?: (task: Task<I>) => void;
}

export interface Task<I = unknown, O = unknown> {
  id: string;
  name?: string;
  agent: string;
  /** The capability it was routed by, when it was submitted with one instead of an agent. */
  capability?: string;
  status: TaskStatus;
  priority: number;
  attempts: number;
  error?: TaskError;
  createdAt: number;
  startedAt?: number;
  completedAt?: number;
  workflow?: string;
  /** Created with `createTask` (run by the caller). */
  manual: boolean;
  input: I | undefined;
  output: O | undefined;
  /** What `metadata` the task was given (absent if none). */
  metadata?: unknown;
  /** While `Retrying`: when the next attempt is queued. */
  nextAttemptAt?: number;
}

export interface WorkflowTaskFields<I = unknown> extends TaskPolicy {
  agent?: string;
  capability?: string;
  input?: I;
  priority?: number;
  metadata?: unknown;
  /** Ids of tasks (in this workflow) that must complete first; also spelled `dependencies`. */
  dependsOn?: string[];
  dependencies?: string[];
}

/**
 * One task of a workflow: its `id` is unique within the workflow (the task's global id is
 * `workflowId/id`); without one, its `name` is its id (seed 001 names tasks and keys
 * `dependencies` by name), so that name must be an id: at most 128 bytes, no `/`.
 */
export type WorkflowTaskSpec<I = unknown> = WorkflowTaskFields<I> & ({ id: string; name?: string } | { id?: undefined; name: string });

export type FailurePolicy = "failFast" | "continue";
/** A failure policy as given: also `fail-fast` / `fail_fast`, and `continue-and-skip-dependents` (the words) / `continueAndSkipDependents` / `skip-dependents`. */
export type FailurePolicyInput = FailurePolicy | "fail-fast" | "fail_fast" | "continue-and-skip-dependents" | "continueAndSkipDependents" | "continue_and_skip_dependents" | "skip-dependents";

export interface WorkflowSpec {
  id?: string;
  name?: string;
  tasks: WorkflowTaskSpec[];
  /** `{ b: ["a"] }`: b waits for a. Adds to each task's `dependsOn`. */
  dependencies?: Record<string, string[]>;
  /** `failFast` (default) cancels the rest on the first failure; `continue` skips only dependents. */
  failurePolicy?: FailurePolicyInput;
  /** `dag` (default: every ready task), `sequential` (one at a time), `parallel` (up to `width`); also in capitals, as seed 001 writes them. */
  pattern?: "dag" | "sequential" | "parallel" | "DAG" | "SEQUENTIAL" | "PARALLEL";
  width?: number;
  /** Records contracts for the workflow's calls under this session. */
  session?: string;
}

/** A workflow's settings given apart from its tasks: `runWorkflow(spec, { pattern: "sequential" })`. */
export type WorkflowOptions = Partial<Omit<WorkflowSpec, "tasks">>;

declare const idKind: unique symbol;
/**
 * A workflow's id as `submitWorkflow` returns it: a string, typed so that `wait` knows it waits
 * for a workflow (any string is still taken where an id is).
 */
export type WorkflowId = string & { readonly [idKind]: "workflow" };
/** A pattern run's id (`run-1`) as `submitWorkflow` with a `pattern` returns it. */
export type RunId = string & { readonly [idKind]: "run" };

/**
 * A workflow spec taken apart once by `Orchestrator.compileWorkflow` (its dependencies resolved
 * to indexes, its ids and dependencies checked by the core, its JSON written), to submit or run
 * many times, in any orchestrator. What depends on the orchestrator (agents, the workflow id,
 * limits) is checked at each submit, and a submit is refused exactly where the spec's would be.
 * Later changes to the spec it came from change nothing; its inputs and metadata are the spec's
 * values.
 */
export interface CompiledWorkflow {
  /** How many tasks the workflow has. */
  readonly size: number;
  /** Only `compileWorkflow` makes one (a `Set`, which has a `size` too, is not one). */
  readonly [compiledWorkflow]: true;
}
declare const compiledWorkflow: unique symbol;

/** `runWorkflow` with an agent pattern as its execution pattern. */
/** `session`: the session whose contracts record the run's calls. */
export type PatternWorkflowSpec = { session?: string } & (
  | { pattern: "supervisor"; task: unknown; supervisor: string; agents: string[]; instructions?: string; maxRounds?: number }
  | { pattern: "collaborative"; task: unknown; agents: string[]; document?: unknown; maxRounds?: number });

export interface WorkflowResult {
  id: string;
  name?: string;
  status: "Running" | "Completed" | "Failed" | "Cancelled";
  failurePolicy: FailurePolicy;
  /** By task id within the workflow; `dependsOn` are the DAG's edges. */
  tasks: Record<string, { id: string; agent: string; status: TaskStatus; dependsOn: string[]; error?: TaskError }>;
  /**
   * Outputs of the tasks that completed, by task id within the workflow: each has its key, with
   * `undefined` when its agent returned nothing or `null` (the journal records both as none).
   */
  outputs: Record<string, unknown>;
  /**
   * The first task that did not complete, when the workflow failed: its id within the workflow,
   * a key of `tasks` (whose `id` is the task's id for `getTask`).
   */
  failedTask?: string;
  submittedAt: number;
  finishedAt?: number;
}

export interface Transition {
  from: AgentStatus;
  to: AgentStatus;
  reason: string;
  at: number;
}

/** Statistics, with the first seed's keys. */
export interface Statistics {
  total_agents: number;
  agents_running: number;
  agents_paused: number;
  agents_error: number;
  agents_stopped: number;
  agent_errors: number;
  total_tasks: number;
  tasks_pending: number;
  tasks_queued: number;
  tasks_running: number;
  tasks_completed: number;
  tasks_failed: number;
  tasks_cancelled: number;
  tasks_skipped: number;
  tasks_retrying: number;
  tasks_timed_out: number;
  terminated: boolean;
  total_workflows: number;
  workflows_running: number;
  workflows_completed: number;
  workflows_failed: number;
  workflows_cancelled: number;
  snapshots: number;
  journal_seq: number;
  /** The orchestrator's clock, as `now()` gives it. */
  now: number;
}

/** One agent's status, with the first seed's keys. */
export interface AgentStatusView {
  id: string;
  name: string;
  status: AgentStatus;
  capabilities: string[];
  error_count: number;
  last_error?: string;
  running_tasks: number;
  queued_tasks: number;
  completed_tasks: number;
  failed_tasks: number;
  concurrency: number | null;
  /** Errors at which it enters `Error`, if any. */
  max_errors?: number;
  breaker: BreakerState;
  /** While its rate limit is spent: when the agent takes a task again. */
  throttled_until?: number;
}

export interface SnapshotSummary {
  id: string;
  /** `manual`, `workflow.completed`, `workflow.failed`, `workflow.cancelled`, `agent.error` or `every` (`snapshotEveryEvents`). */
  reason: string;
  /** The workflow or agent that caused an automatic snapshot. */
  subject?: string;
  /** The journal position: the seq of the snapshot's own `snapshot.created` record. */
  seq: number;
  at: number;
  /** Each agent's status, for the first 100 agents registered. */
  agentsStatus: Record<string, AgentStatus>;
  /** Every agent, counted by status. */
  agentCounts: Partial<Record<AgentStatus, number>>;
  taskCount: number;
  completedCount: number;
}

/** A summary as `snapshots()` lists it: also under the first seed's names. */
export interface SnapshotListed extends SnapshotSummary {
  snapshot_id: string;
  agents_status: Record<string, AgentStatus>;
  task_count: number;
  completed_count: number;
}

/** A snapshot document: pass it (or its JSON) to `Orchestrator.restore`. */
export interface Snapshot {
  format: "baton.snapshot";
  version: number;
  id: string;
  seq: number;
  at: number;
  /** How many agents and tasks `state` holds (a restore sizes its tables from them; optional). */
  counts?: { agents: number; tasks: number };
  state: { [key: string]: Json };
}

/** An agent as `agent.registered` records it: what it was registered with, defaults resolved. */
export interface RegisteredAgentSpec {
  id: string;
  name: string | null;
  capabilities: string[];
  concurrency: number | null;
  maxErrors: number | null;
  retry?: { maxAttempts: number; backoff: { initialMs: number; factor: number; maxMs: number }; jitter: number };
  timeoutMs?: number;
  onError?: ErrorPolicy;
  fallback?: Fallback;
  circuitBreaker?: Required<CircuitBreaker> | false;
  rateLimit?: RateLimit;
  /** The template it was made from (`analyst@2`), and that template's configuration (`ctx.config`). */
  template?: string;
  config?: AgentConfig;
  tools?: string[];
}

/** What a task carries beside its agent: its capability, session, and place in a pattern run. */
export interface TaskExtra {
  capability?: string;
  session?: string;
  /** The session a summarizer task compresses. */
  compresses?: string;
  /** The pattern run it belongs to, by number (`run-<n>`). */
  run?: number;
  /** Its part in that run (`vote`, `pro`, `judge`, `plan`, ...). */
  role?: string;
}

/** One journal record. `type` is the topic; custom events carry their own topic. */
export type JournalRecord = BuiltInRecord | CustomRecord;

/** The records of Baton's own topics. */
export type BuiltInRecord =
  | Rec<"orchestrator.started", { version: number; seed: number; runId: string; options: { [key: string]: Json } }>
  | Rec<"agent.registered", { spec: RegisteredAgentSpec }>
  | Rec<"orchestrator.terminated", { reason: string; auto?: true }>
  | Rec<"agent.status", { agent: string; from: AgentStatus; to: AgentStatus; reason: string; auto?: true }>
  | Rec<"agent.error", { agent: string; message: string; auto?: true }>
  | Rec<"agent.breaker", { agent: string; from: BreakerState; to: BreakerState }>
  | Rec<"agent.throttled", { agent: string; until: number }>
  | Rec<"agent.unthrottled", { agent: string }>
  | Rec<"agent.updated", { agent: string; update: AgentUpdate }>
  | Rec<"agent.recovered", { agent: string }>
  | Rec<"agent.removed", { agent: string }>
  | Rec<"task.created", { task: string; agent: string; name?: string; priority: number; input: Json; metadata: Json; manual: boolean; extra?: TaskExtra }>
  | Rec<"task.queued", { task: string }>
  | Rec<"task.started", { task: string; call: number; attempt: number; deadline?: number }>
  | Rec<"task.completed", { task: string; call: number; output: Json }>
  | Rec<"task.attempt_failed", { task: string; call: number; attempt: number; error: TaskError; auto?: true }>
  | Rec<"task.retrying", { task: string; attempt: number; delayMs: number; nextAttemptAt: number; jitter?: true }>
  | Rec<"task.reassigned", { task: string; from: string; to: string; reason: string }>
  | Rec<"task.failed", { task: string; error: TaskError; auto?: true }>
  | Rec<"task.cancelled", { task: string; reason: string; auto?: true }>
  | Rec<"task.skipped", { task: string; reason: string }>
  | Rec<"task.requeued", { task: string; reason: string }>
  | Rec<"call.ignored", { call: number; task?: string; reason: string }>
  | Rec<"escalation", { agent: string; task: string; error: TaskError }>
  | Rec<"workflow.submitted", { workflow: { id: string; name?: string; policy: FailurePolicy; session?: string; width?: number; tasks: Array<{ id: string; agent: string; name?: string; priority: number; input: Json; metadata: Json; dependsOn: number[]; extra?: TaskExtra }> } }>
  | Rec<"workflow.completed", { workflow: string }>
  | Rec<"workflow.failed", { workflow: string; task: string; policy: FailurePolicy }>
  /** Ended short by cancels alone (a workflow's cancel, or a task's); `task` is the one that ended first (by time, then by its place in the workflow). */
  | Rec<"workflow.cancelled", { workflow: string; task: string }>
  | Rec<"snapshot.created", { summary: SnapshotSummary }>
  | Rec<"template.defined", { template: Template }>
  | Rec<"message.sent", { message: string; from: string; to: string; payload: Json }>
  | Rec<"message.delivered", { message: string; onAck?: true }>
  | Rec<"message.acknowledged", { message: string }>
  | Rec<"tool.registered", { tool: { name: string; description: string; category: string; rateLimit?: RateLimit } }>
  | Rec<"tool.granted", { agent: string; tools: string[] }>
  | Rec<"tool.revoked", { agent: string; tools: string[] }>
  | Rec<"tool.called", { call: number; tool: string; agent: string; task?: string; args: Json }>
  | Rec<"tool.completed", { call: number; result: Json }>
  | Rec<"tool.failed", { call: number; message: string }>
  | Rec<"tool.refused", { tool: string; agent: string; task?: string; class: ErrorClass }>
  | Rec<"job.scheduled", { job: { id: string; trigger: Trigger; task: { [key: string]: Json }; input: Json; status: "active" | "paused" | "done"; nextRun?: number; createdAt: number; runs: number } }>
  | Rec<"job.fired", { job: string; slot: number; next?: number; error?: string; task?: string }>
  | Rec<"job.paused", { job: string }>
  | Rec<"job.resumed", { job: string }>
  | Rec<"job.deleted", { job: string }>
  | Rec<"pattern.started", { run: string; spec: { kind: string; [key: string]: Json }; session?: string }>
  | Rec<"pattern.progressed", { run: string; step: number; state: Json }>
  | Rec<"pattern.completed", { run: string; result: Json }>
  | Rec<"pattern.failed", { run: string; error: string }>;

/**
 * The record of one built-in topic: `RecordOf<"task.completed">`. A custom event's `type` is any
 * string, so `r.type === "task.completed"` alone cannot narrow `r.data`; cast to this after it.
 */
export type RecordOf<T extends string> = Extract<JournalRecord, { type: T }>;

interface Rec<T extends string, D> {
  seq: number;
  /** The orchestrator's clock when it happened, in ms. */
  at: number;
  type: T;
  data: D;
}

/** A custom event from `emit(topic, data)`. */
export interface CustomRecord {
  seq: number;
  at: number;
  type: string;
  data: Json;
}

/** What `Orchestrator.verifyReplay` finds. */
export interface VerifyReport {
  ok: boolean;
  /** Records that matched. */
  records: number;
  /** The first record where this build disagrees with the journal. */
  divergence?: {
    seq: number;
    /** The recorded record (absent if this build made a record the journal lacks). */
    expected?: JournalRecord;
    /** The record this build made (absent if it made none). */
    actual?: JournalRecord;
    message: string;
  };
}

/** What listeners and `events()` receive: a journal record, with its `type` also as `topic`. */
export type DeliveredEvent = JournalRecord & { topic: string };
/** Every state change is an event: one journal record. */
export type Event = JournalRecord;

export type EventListener = (event: DeliveredEvent) => void;

/** Baton's own topics. */
export type BuiltInTopic = BuiltInRecord["type"];

/**
 * What a subscription to `topic` delivers, as precisely as the topic says: a built-in topic
 * (`"task.retrying"`) gives its record, a one-level wildcard over built-in topics (`"task.*"`)
 * the records of those topics, a custom topic (`"audit.checked"`) its custom record, anything
 * else (`"*"`, `"**"`, other wildcards, a topic not known until run time) any record.
 * (A custom topic under a built-in namespace, `task.note`, also matches `task.*`: read such
 * events with a topic of their own, or as `DeliveredEvent`.)
 */
export type EventOf<T extends string> = string extends T ? DeliveredEvent : TopicEvent<T>;
/** `EventOf` for one topic at a time (a union of topics gives the union of their events). */
type TopicEvent<T extends string> = T extends BuiltInTopic
  ? Extract<BuiltInRecord, { type: T }> & { topic: T }
  : T extends `${infer P}.*`
    ? [Extract<BuiltInRecord, { type: `${P}.${string}` }>] extends [never]
      ? DeliveredEvent
      : Extract<BuiltInRecord, { type: `${P}.${string}` }> & { topic: string }
    : T extends "*" | "**" | `${string}*${string}`
      ? DeliveredEvent
      : CustomRecord & { topic: T };

/** What a restored or replayed run may be given: its seed (checked), its clock and its store; its limits and policies are the recorded ones. */
export type KeptRunOptions = Pick<OrchestratorOptions, "seed" | "clock" | "startTime" | "eventsBufferMax" | "store" | "snapshotEveryEvents">;

/** As for [`RestoreOptions`]: the run's recorded seed and limits are kept. */
export interface ReplayOptions extends KeptRunOptions {
  /** Stop after this record (time travel). */
  uptoSeq?: number;
  /** Start from this snapshot: the journal is then the records written after it. */
  snapshot?: Snapshot | string;
  /**
   * By default a replay is a picture of the state: its timers do not fire and nothing runs by
   * itself. `live: true` continues the run from there (fork), with `agents` and `tools`: from
   * the end of the command `uptoSeq` belongs to (the decisions recorded right after it at the
   * same time, such as a failure's retry), so that it never goes on from a half-made decision.
   */
  live?: boolean;
  /**
   * Handlers by agent id. One for an agent the journal registers after `uptoSeq` serves it if
   * the fork registers it again without a handler; a name the journal never registers is
   * `unknown_agent`.
   */
  agents?: Record<string, AgentHandler<never, unknown>>;
  tools?: Record<string, ToolFunction<never, unknown>>;
}

/**
 * A restored run keeps the options it recorded: `seed` must be its own if given, and limits and
 * policies (`maxConcurrency`, `retry`, ...) are refused; `clock` (by default the run's own),
 * `startTime`, `eventsBufferMax`, `store` and `snapshotEveryEvents` apply.
 */
export interface RestoreOptions extends KeptRunOptions {
  /** Handlers by agent id: functions are not part of a snapshot. */
  agents?: Record<string, AgentHandler<never, unknown>>;
  /** Tool functions by name, for tools the snapshot's registry holds. */
  tools?: Record<string, ToolFunction<never, unknown>>;
}

/**
 * A multi-agent orchestrator. Every method that changes state records events in the journal; a
 * method that throws has changed nothing.
 */
export class Orchestrator {
  constructor(options?: OrchestratorOptions);

  /** Rebuilds an orchestrator from `snapshot()`; calls that were in flight start again (next attempt). */
  static restore(snapshot: Snapshot | string, options?: RestoreOptions): Orchestrator;
  /** Rebuilds the state a journal describes without calling any agent (virtual clock by default). */
  static replay(journal: JournalRecord[] | string, options?: ReplayOptions): Orchestrator;
  /**
   * Reopens the run a store holds (after a reload or a restart): the latest snapshot plus the
   * journal after it; calls that were in flight run again (at-least-once). An empty store starts
   * a new run with these options.
   */
  static open(store: Store, options?: OpenOptions): Promise<Orchestrator>;
  /**
   * Resolves once everything recorded so far is in the store; rejects with `store_failed` while a
   * failed write has not been repaired (the next write after a failure is a whole snapshot), or
   * with `store_busy` while another orchestrator writes the store.
   */
  flush(): Promise<void>;
  /** Re-executes a journal's inputs with this build and reports the first record that differs. */
  static verifyReplay(journal: JournalRecord[] | string): VerifyReport;
  /** `Orchestrator.verifyReplay` over this orchestrator's journal, or the one given. */
  verifyReplay(journal?: JournalRecord[] | string): VerifyReport;

  /** Registers an agent (status `Created`); returns its id. */
  registerAgent<I = unknown, O = unknown>(spec: AgentSpec<I, O>): string;
  /**
   * `Created`/`Stopped` → `Initializing` → `Ready` → `Running`; `Completed` → `Ready` → `Running`;
   * `Ready` or `Paused` → `Running` (from `Paused` as `resumeAgent` does). From `Error` or
   * `Terminated` it throws `illegal_transition` (`recoverAgent` leaves `Error`).
   */
  startAgent(id: string): void;
  /**
   * Changes an agent's name, capabilities, concurrency (`null`: unlimited) or maxErrors (`null`:
   * never); what is not given stays. More room starts its waiting tasks at once; less lets the
   * calls in flight finish. Tasks already given to it by a capability it drops stay with it.
   */
  updateAgent(id: string, update: AgentUpdate): void;
  /** `Running` → `Paused`: takes no new tasks. */
  pauseAgent(id: string): void;
  /** `Paused` → `Running`. */
  resumeAgent(id: string): void;
  stopAgent(id: string): void;
  /**
   * `Error` → `Ready`; start it again to give it tasks. A `Paused` agent stays paused, its error
   * count started again (`agent.recovered`; the seed's report errors, pause, recover, resume):
   * resume it.
   */
  recoverAgent(id: string): void;
  completeAgent(id: string): void;
  /** Final; cancels the agent's unfinished tasks. */
  terminateAgent(id: string): void;
  /**
   * Terminates the agent if it is not already (its unfinished tasks are cancelled), then removes
   * it (`agent.removed`): `agentsStatus()`, `statistics()` and lookups by id no longer see it,
   * and the id may be registered again. Its tasks and journal records keep naming it.
   */
  removeAgent(id: string): void;
  /** Moves an agent along one edge of the lifecycle table. */
  /** `to` may also be DESIGN's `Idle` (Ready) or `Active` (Running), in any case. */
  transitionAgent(id: string, to: AgentStatusName, reason?: string): void;
  /** Counts an error against an agent; at its `maxErrors` it enters `Error`. */
  reportError(agentId: string, message?: string | Error): void;
  agentHistory(id: string): Transition[];
  agentStatus(id: string): AgentStatus;

  /** Submits a task for the orchestrator to run; returns its id. */
  submit<I = unknown>(spec: SubmitSpec<I> & AgentOrCapability): string;
  /** Given a workflow's id (as `submitWorkflow` returns it), waits as `waitWorkflow`. */
  wait(id: WorkflowId): Promise<WorkflowResult>;
  /** Given a pattern run's id, resolves with the pattern's result. */
  wait<R = unknown>(id: RunId): Promise<R>;
  /** Resolves with the task once it is terminal (given a workflow's id, as `waitWorkflow`). */
  wait<O = unknown>(id: string): Promise<Task<unknown, O>>;
  getTask<O = unknown>(id: string): Task<unknown, O>;
  status(id: string): TaskStatus;
  /** Cancels an unfinished task; a running agent sees `ctx.signal` abort. */
  cancel(id: string, reason?: string | Error): void;

  /** The first seed's manual style: a `Pending` task that you run yourself; returns its id. */
  createTask(agentId: string, name?: string, options?: { id?: string; priority?: number; metadata?: unknown }): string;
  startTask(id: string): void;
  completeTask(id: string, result?: unknown): void;
  failTask(id: string, error?: string | Error): void;

  /** Validates and submits a workflow; returns its id. */
  /** `options` (`{ pattern, width, failurePolicy, ... }`) is laid over the spec, as seed 001 gives the execution pattern apart. */
  submitWorkflow(spec: WorkflowSpec, options?: WorkflowOptions): WorkflowId;
  /** A compiled workflow carries its options (give them to `compileWorkflow`). */
  submitWorkflow(spec: WorkflowSpec | CompiledWorkflow): WorkflowId;
  /**
   * An agent pattern as the execution pattern (seed 001's `pattern=SUPERVISOR`): starts its run
   * and returns the run's id (`run-1`), which `waitWorkflow` and `wait` (resolving with the
   * pattern's result) and `getWorkflow` (the run, as `getRun`) also take.
   */
  submitWorkflow(spec: PatternWorkflowSpec): RunId;
  /** Takes a workflow spec apart once, to submit or run many times without that work (see `CompiledWorkflow`). */
  static compileWorkflow(spec: WorkflowSpec): CompiledWorkflow;
  /** Submits a workflow and resolves with its result when it ends; rejects if it is invalid. */
  runWorkflow(spec: WorkflowSpec, options?: WorkflowOptions): Promise<WorkflowResult>;
  runWorkflow(spec: WorkflowSpec | CompiledWorkflow): Promise<WorkflowResult>;
  runWorkflow<S extends PatternWorkflowSpec>(spec: S): Promise<PatternResultOf<S["pattern"]>>;
  /** Given a pattern run's id: the pattern's result. */
  waitWorkflow<R = unknown>(id: RunId): Promise<R>;
  waitWorkflow(id: string): Promise<WorkflowResult>;
  /** Given a pattern run's id: the run, as `getRun` gives it. */
  getWorkflow(id: RunId): PatternRun;
  getWorkflow(id: string): WorkflowResult;
  /** Each task's status by its id within the workflow (cheaper than `getWorkflow` for views that redraw). */
  workflowStatuses(id: string): Record<string, TaskStatus>;
  cancelWorkflow(id: string, reason?: string | Error): void;
  /** Cancels every waiting task of an agent (running calls go on); returns how many. */
  cancelAgentTasks(agentId: string, reason?: string | Error): number;
  /** Stops the orchestrator cleanly: cancels everything unfinished, stops the agents, refuses new work. */
  terminate(reason?: string | Error): void;

  /** Calls `fn` for each event whose topic matches (`task.*`, `*` for all); returns an unsubscribe function. */
  on<T extends string>(topic: T, fn: (event: EventOf<T>) => void): () => void;
  /** Records a custom event (built-in topics are refused). */
  emit(topic: string, data?: unknown): void;
  /**
   * Events as an async iterator; leaving the loop unsubscribes, and every later `next()` is done.
   * `close()` ends it too: the events already buffered are read, then it is done.
   */
  events<T extends string = "*">(topic?: T): AsyncIterableIterator<EventOf<T>>;

    /** Routes to the least-loaded running agent with the capability; records contracts under `sessionId`. */
  orchestrate<O = unknown>(sessionId: string, request: { capability: string; parameters?: unknown; input?: unknown; priority?: number }): Promise<OrchestrateResult<O>>;
  contracts(query: { sessionId: string } | string): Contract[];
  /** Checks the session's hash chain, and `list` (from `contracts()`) against it when given. */
  verifyContracts(sessionId: string, list?: Contract[]): { ok: boolean; checked: number; problem?: string };
  /**
   * Hands the session's contracts to a summarizer agent (without one, the least-loaded running
   * agent with the capability "compress"); resolves with its answer, kept as the session's memory.
   */
  compressSession<M = unknown>(sessionId: string, summarizerAgent?: string, intent?: string): Promise<M>;
  /** `intent` (seed 004's: why the session is kept) is in the summarizer's input, beside the contracts. */
  compressSession<M = unknown>(sessionId: string, options: { agent?: string; intent?: string }): Promise<M>;
  sessionMemory<M = unknown>(sessionId: string): M | undefined;

  defineTemplate(spec: TemplateSpec): string;
  templates(): Template[];
  /** `analyst@2`, or `analyst` for its latest version. */
  createAgentFromTemplate<I = unknown, O = unknown>(template: string, options: { id: string; name?: string; handler?: AgentHandler<I, O>; execute?: AgentHandler<I, O> }): string;

  send(from: string, to: string, payload?: unknown): string;
  inbox(agentId: string): Message[];
  ack(messageId: string): void;
  messages(agentId: string): Message[];

  /**
   * Registers a tool (`duplicate_id` if taken). After a restore without the tool's function,
   * registering it again gives it that function (its recorded options stay).
   */
  registerTool<A = unknown, R = unknown>(name: string, fn: ToolFunction<A, R>, options?: ToolOptions): string;
  grantTools(agentId: string, names: string[]): void;
  revokeTools(agentId: string, names: string[]): void;
  tools(): Array<{ name: string; description: string; category: string; rateLimit?: RateLimit | null; calls: number; failures: number }>;

  /** Schedules a task; a slot missed while paused or down fires once. Returns the job id. */
  schedule(trigger: Trigger, task: Omit<TaskSpec, "id" | "metadata">): string;
  jobs(): Job[];
  listJobs(): Job[];
  pauseJob(id: string): void;
  resumeJob(id: string): void;
  deleteJob(id: string): void;

  /** Runs an agent pattern; resolves with its result (by `kind`), rejects `pattern_failed`. */
  runPattern<S extends PatternSpec>(spec: S): Promise<PatternResultOf<S["kind"]>>;
  /** A pattern run by id (`run-1`, as in the `pattern.*` events); throws `unknown_run`. Runs outlive a restore. */
  getRun(id: string): PatternRun;
  /** Resolves with a run's result once it ends (rejects `pattern_failed`, or `unknown_run`). */
  waitRun(id: string): Promise<unknown>;
  consensus(task: unknown, agents: string[], options?: { threshold?: number; session?: string }): Promise<ConsensusResult>;
  debate(topic: unknown, options: { pro: string; con: string; judge: string; rounds?: number; session?: string }): Promise<DebateResult>;
  /**
   * The reasoner is called once per step with `{ problem, step, steps, chain, instruction? }`
   * (`instruction`: the step's own entry when `steps` lists what each step is to do, as seed 001
   * does); a step may answer `{ thought, answer }` to finish early. Default 3 steps.
   */
  chainOfThought(problem: unknown, reasoner: string, steps?: number | string[], options?: { session?: string }): Promise<ChainOfThoughtResult>;
  /** The supervisor is `options.supervisor`, or else the first of `agents`. */
  supervisor(task: unknown, agents: string[], instructions?: string, options?: { supervisor?: string; maxRounds?: number; session?: string }): Promise<SupervisorResult>;
  collaborate(task: unknown, agents: string[], options?: { document?: unknown; maxRounds?: number; session?: string }): Promise<CollaborativeResult>;

  statistics(): Statistics;
  /** Task views (without input or output) matching the filter, oldest first. */
  tasks(filter?: TaskFilter): Array<Omit<Task, "input" | "output" | "metadata">>;
  /** Every workflow's summary, oldest first. */
  workflows(): WorkflowSummary[];
  agentsStatus(): Record<string, AgentStatusView>;
  /** The orchestrator's clock, in ms. */
  now(): number;
  /**
   * Virtual clock only: runs it up to `timeMs` and holds it there. Everything due by then fires
   * (a day of schedules in milliseconds); resolves once nothing more is due by then, with `now()`
   * at `timeMs`. `Infinity` lets the clock run on by itself again, as it does until this is
   * first called. Rejects with `invalid_state` on the real clock.
   */
  runUntil(timeMs: number): Promise<void>;
  /** `runUntil(now() + ms)`. */
  runFor(ms: number): Promise<void>;
  readonly seed: number;
  readonly runId: string;
  journal(): JournalRecord[];
  /** The journal as JSON Lines: byte-identical for the same seed, agent results and times. */
  journalText(): string;
  /** SHA-256 of `journalText()`, hex. */
  journalDigest(): string;
  snapshot(): Snapshot;
  /**
   * A listed snapshot whole (an automatic one too: a workflow's end, an agent's `Error`), to keep
   * or to `Orchestrator.restore`: the state at its record, rebuilt from the journal (which must
   * still hold everything from seq 1). Throws `unknown_snapshot` for an id not listed.
   */
  getSnapshot(id: string): Snapshot;
  /** Snapshot summaries (manual and automatic), newest first: every one kept (the newest
   * `snapshotsKeptMax`, default 100), or only the newest `limit`. */
  snapshots(limit?: number): SnapshotListed[];
  /**
   * Stops timers, aborts calls in flight, rejects pending waits with `closed` and frees the core;
   * later calls throw `closed`. With a store, what was recorded since the last write is still
   * written (`Orchestrator.open` on the same store in this process waits for it): the promise
   * resolves once it is (and a store's lock is let go), so `await orch.close()` before
   * `process.exit()` loses nothing. It never rejects: `flush()` before it reports a failed write.
   */
  close(): Promise<void>;
}
