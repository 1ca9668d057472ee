// The promise driver: Baton's user-facing `Orchestrator`, a thin JS layer over the wasm `Core`.
//
// It holds no orchestration rule. The core decides who runs what and when; this file calls the
// agent functions the core asks for, awaits their promises, reports outcomes, keeps the JS values
// (handlers, inputs, outputs) in arrays indexed by the small integers the core hands out, arms one
// timer for the core's next deadline, and wakes waiters and listeners. JS calls into wasm are
// nearly free and wasm never calls JS, so the per-task cost stays close to a bare `await`.
//
// The file has no imports so that tests can load it next to any build of the core: the package
// entry points call `createBaton(coreApi)` with the generated wasm class.

const NO_PAYLOAD = 4294967295;
const INVOKE = 1, ABORT = 2, TASK_SETTLED = 3, WORKFLOW_SETTLED = 4, TIMER_FIRED = 5, RUN_SETTLED = 6;
const WANTS_JSON = 1 << 8; // in an invoke's kind word: the core reads the answer as JSON
const INTERNAL = Symbol("baton.internal");
const LIMIT_KEYS = [
  "queueDepthMax", "agentsMax", "workflowTasksMax", "payloadBytesMax",
    "snapshotsKeptMax", "historyRowsMax", "journalRowsMax", "lateCallsMax",
];
const OPTION_KEYS = new Set(["seed", "clock", "maxConcurrency", "startTime", "eventsBufferMax", "retry", "timeoutMs", "onError", "store", "snapshotEveryEvents", ...LIMIT_KEYS]);
const EVENTS_BUFFER_MAX_DEFAULT = 100_000;
const SNAPSHOT_EVERY_EVENTS_DEFAULT = 1_000;
const PERSIST_BATCH_MS = 10;
const STORE_METHODS = ["load", "append", "saveSnapshot", "reset"];

// What a closed orchestrator's methods reach: every call is a coded error.
const CLOSED_CORE = new Proxy({}, {
  get: () => () => { throw new BatonError("closed", "the orchestrator was closed"); },
});

/** A core that failed inside: every call says why (see Runtime.fatal). */
class StoppedCore {
  constructor(cause) {
    return new Proxy(this, { get: (target, key) => (key === "constructor" ? StoppedCore : () => { throw cause; }) });
  }
}

/** Errors Baton raises are `Error`s named `BatonError` with a stable `code`. */
export class BatonError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "BatonError";
    this.code = code;
  }
  // Errors made inside wasm are plain `Error`s with the same name and a code: they count too.
  static [Symbol.hasInstance](x) {
    return x instanceof Error && x.name === "BatonError" && typeof x.code === "string";
  }
}

const invalid = (message) => new BatonError("invalid_argument", message);

/** What a store throws while it is opened, as a BatonError: its own, or `store_failed`. */
async function storeRead(step, what) {
  try {
    return await step();
  } catch (e) {
    if (e instanceof BatonError) throw e;
    throw Object.assign(new BatonError("store_failed", `the store could not be ${what}: ${errorMessage(e)}`), { cause: e });
  }
}

/** A snapshot summary with the first seed's names too (`snapshot.agents_status`, ...). */
function withSeedNames(summary) {
  return {
    ...summary,
    snapshot_id: summary.id,
    agents_status: summary.agentsStatus,
    task_count: summary.taskCount,
    completed_count: summary.completedCount,
  };
}

/** A cancel or terminate reason: anything with a string form (an Error reads "Error: ..."). */
function reasonText(reason) {
  if (typeof reason === "string") return reason;
  if (reason instanceof Error) return errorMessage(reason);
  throw invalid(`a reason must be a string (or an Error), got ${shown(reason)}`);
}

/** A reported error's message: a string, an Error (its message), or none (`fallback`). */
function reportedMessage(error, fallback) {
  if (error === undefined) return fallback;
  if (typeof error === "string" || (error !== null && typeof error === "object")) return errorMessage(error);
  throw invalid(`an error is a string or an Error, got ${shown(error)}`);
}

/** A user's value in an error message: a Symbol or an object without toString must not turn a refusal into a TypeError. */
function shown(value) {
  try {
    return typeof value === "bigint" ? `${value}n` : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

// JSON of a spec for the core. JSON.stringify would turn NaN and Infinity into null, which the
// core would read as "not set", and drop functions: refuse both here, naming the field.
function specJson(value, what, listsEveryField = false) {
  // A replacer costs a call per key; it is only needed to name a bad value, which is rare.
  if (!hasNonFinite(value, 0)) return jsonText(value, what);
  const paths = new WeakMap(); // object -> its path from the root ("retry.backoff")
  return jsonText(value, what, function (key, v) {
    const parent = paths.get(this);
    const path = parent === undefined ? "" : parent === "" ? key : `${parent}.${key}`;
    if (v !== null && typeof v === "object") paths.set(v, path);
    // An Invalid Date's JSON is null: the core would see the field missing.
    const raw = key === "" ? value : this[key];
    if (raw instanceof Date && Number.isNaN(raw.getTime())) throw invalid(`invalid ${what}${path ? `.${path}` : ""}: an Invalid Date`);
    if (typeof v === "number" && !Number.isFinite(v)) {
      // Where the core names every bad field (a template), it names this one among them too.
      if (listsEveryField) return String(v);
      throw invalid(`invalid ${what}${path ? `.${path}` : ""}: ${v} is not a finite number`);
    }
    // JSON would drop it without a word, and a misnamed handler or callback would do nothing.
    if (typeof v === "function") throw invalid(`invalid ${what}: '${path}' is a function, which is not an option here`);
    return v;
  });
}

/** JSON.stringify of a caller's value: a BigInt, a cycle or a toJSON that throws is a refusal. */
function jsonText(value, what, replacer) {
  try {
    return JSON.stringify(value, replacer);
  } catch (e) {
    if (e instanceof BatonError) throw e;
    throw invalid(`invalid ${what}: ${e instanceof Error ? e.message : shown(e)}`);
  }
}
const isObject = (x) => x !== null && typeof x === "object" && !Array.isArray(x);

/** A task spec as the user would have written it: what was not given (null, an empty policy, the id a job's tasks get later) left out. */
function given(spec) {
  const out = {};
  for (const [k, v] of Object.entries(spec)) {
    if (v === null || k === "id" || (isObject(v) && Object.keys(v).length === 0)) continue;
    if (k === "agent" && v === "" && spec.capability != null) continue; // routed by capability
    out[k] = v;
  }
  return out;
}

/** Whether JSON.stringify would meet NaN or ±Infinity (which it writes as null) in `value`. */
function hasNonFinite(value, depth) {
  if (typeof value === "number") return !Number.isFinite(value);
  if (typeof value === "function") return true; // the slow path names it (JSON would drop it)
  if (value === null || typeof value !== "object") return false;
  if (depth > 64 || typeof value.toJSON === "function") return true; // let the slow path decide
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasNonFinite(value[i], depth + 1)) return true;
    return false;
  }
  for (const k in value) {
    if (Object.prototype.hasOwnProperty.call(value, k) && hasNonFinite(value[k], depth + 1)) return true;
  }
  return false;
}

// A macrotask that browsers do not clamp (setTimeout(0) is clamped to 4 ms once nested).
const macrotask = (() => {
  if (typeof setImmediate === "function") return (f) => setImmediate(f);
  const channel = new MessageChannel();
  const queue = [];
  channel.port1.onmessage = () => queue.shift()();
  return (f) => { queue.push(f); channel.port2.postMessage(0); };
})();

function toJson(value) {
  try {
    return JSON.stringify(value) ?? "";
  } catch (e) {
    return JSON.stringify({ $unserializable: e instanceof Error ? e.message : shown(e) });
  }
}

// A journal as JSON Lines, from journal()'s array or journalText()'s string.
function journalText(journal) {
  if (typeof journal === "string") return journal;
  if (Array.isArray(journal)) return journal.map((r) => jsonText(r, "journal record")).join("\n");
  throw invalid("journal must be journal()'s array or journalText()'s string");
}

function errorMessage(e) {
  try {
    const message = readMessage(e);
    if (typeof message === "string") return message;
    // An Error whose message was set to a number or an object.
    const json = toJson(message);
    return json === "" ? shown(message) : json;
  } catch {
    return "an error whose message could not be read"; // a getter that throws, a revoked proxy
  }
}

/** An id or name the caller gave: a string (a number is taken as its digits). */
function idOf(value, what) {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  throw invalid(`${what} must be a string, got ${shown(value)}`);
}

function readMessage(e) {
  if (e instanceof Error) return e.message || e.name || "Error";
  if (typeof e === "string") return e;
  // A plain object thrown with a message (`throw { class, message }`) fails with that message.
  if (e !== null && typeof e === "object" && typeof e.message === "string" && e.message !== "") return e.message;
  const json = toJson(e);
  return json === "" ? shown(e) : json;
}

// In the core's order (TaskStatus::ALL): workflowStatusCodes() answers with these indices.
const TASK_STATUSES = ["Pending", "Queued", "Running", "Retrying", "Completed", "Failed", "Cancelled", "TimedOut", "Skipped"];
const COMPLETED = TASK_STATUSES.indexOf("Completed");

/**
 * The `tasks` of a workflow whose tasks all completed, from its shape (see `workflowResult`) and
 * the agents' ids by index.
 */
/** An enumerable property computed on its first read (then kept), and writable like a plain one. */
function lazyProperty(object, key, compute) {
  let value;
  let computed = false;
  Object.defineProperty(object, key, {
    enumerable: true,
    configurable: true,
    get: () => {
      if (!computed) { value = compute(); computed = true; }
      return value;
    },
    set: (v) => { value = v; computed = true; },
  });
}

/**
 * A workflow's outputs by task id: every completed task has its key, with `undefined` if its
 * agent returned nothing (or `null`: the journal writes both as none, so a restore reads the same).
 */
function keyedOutputs(ids, values, codes) {
  const outputs = {};
  for (let i = 0; i < ids.length; i++) if (codes[i] === COMPLETED || values[i] !== undefined) outputs[ids[i]] = values[i];
  return outputs;
}

function completedTasks(workflowId, ids, agents, shape) {
  const n = ids.length;
  const tasks = {};
  for (let i = 0; i < n; i++) {
    const dependsOn = [];
    for (let k = shape[n + i]; k < shape[n + i + 1]; k++) dependsOn.push(ids[shape[2 * n + 1 + k]]);
    tasks[ids[i]] = { id: `${workflowId}/${ids[i]}`, agent: agents[shape[i]], status: "Completed", dependsOn };
  }
  return tasks;
}
const ERROR_CLASSES = new Set(["agent", "tool", "timeout", "validation", "permission", "rate_limit", "rate-limit", "rateLimit", "cancelled", "internal"]);

/**
 * Writes a run to a store as it goes: the journal lines of each batch of events (10 ms'
 * worth), and every `everyEvents` events a snapshot, after which the store drops the lines it
 * covers. Writes are chained, so the store sees them in order; a reload or a crash loses what the
 * store has not taken yet (the batch being written, and any queued behind a slow write), whose
 * calls then run again (at-least-once). `flush()` waits until everything so far is written.
 */
class Persister {
  constructor(rt, store, everyEvents, savedSeq, sinceSnapshot) {
    this.rt = rt;
    this.store = store;
    this.everyEvents = everyEvents;
    this.saved = savedSeq;            // the last seq handed to the store
    this.sinceSnapshot = sinceSnapshot;
    // A snapshot holds the whole state, which grows with the run (finished tasks stay in it):
    // the next one waits until as many bytes of journal follow the last, so that the store's
    // writes stay within about twice the journal's, not its square.
    this.snapshotBytes = 0;           // the last snapshot's size (0: none written by this run)
    this.tailBytes = 0;               // journal bytes appended since
    this.mine = DONE;                 // this run's last write queued (see chain)
    this.scheduled = false;
    this.error = undefined;
    this.broken = false;
    this.refused = false; // its last write was refused: another open run of this process writes the store
    // The store holds another run, which this one replaces with its first write (see replaceNow).
    this.replacing = false;
    // A store one writer at a time writes (FileStore) is taken before this run's first write:
    // after the last writes of a run of this process closed on it, and held anew, so that the
    // closed run's release does not let go of it under this one.
    if (typeof store.lock === "function") this.write(() => store.lock(this));
    // The store object is this run's from now on, unless another run of this process holds it
    // (open, or closed with writes still to do): then this run's writes wait their turn in the
    // chain and are refused while that one holds it (see write).
    if (!storeRuns.has(store)) storeRuns.set(store, this);
  }

  /**
   * A new run on a store (or a restored or forked one): the store forgets the run it held and
   * gets this one's first write in the same queued step, at once rather than a batch later, so
   * a reload or crash finds one run or the other; it can only find neither while the two writes
   * themselves run.
   */
  replaceNow() {
    this.replacing = true;
    this.collect();
  }

    schedule() {
    if (this.scheduled || this.rt.closed) return;
    this.scheduled = true;
    // A batch is whatever happened within PERSIST_BATCH_MS: fewer, larger writes (an IndexedDB
    // transaction per task would cost more than the task).
    setTimeout(() => {
      this.scheduled = false;
      try {
        if (!this.rt.closed) this.collect();
      } catch (e) {
        this.rt.fatal(e); // the whole state as one string is where wasm memory runs out first
      }
    }, PERSIST_BATCH_MS);
  }

    /** Reads what changed from the core now (synchronously) and queues its write. */
  collect() {
    const core = this.rt.core;
    const seq = core.seq();
    // After a failed write the store has a hole: only a snapshot (of the state now) closes it.
    if (seq <= this.saved && !this.broken) return;
    this.rt.resolvePayloads();
    const fresh = seq - this.saved;
    // Lines no longer in memory (journalRowsMax) can only be covered by a snapshot.
    // Replacing another run, the store is reset in the same step as this write (see replaceNow).
    const replacing = this.replacing;
    this.replacing = false;
    // (Failed, the step is taken again with the snapshot that repairs the store.)
    // A store that can replace in one step (replaceNext) is told to; another is reset first.
    const first = (op) => (!replacing ? op : () => {
      const before = typeof this.store.replaceNext === "function" ? this.store.replaceNext() : this.store.reset();
      return Promise.resolve(before).then(op).catch((e) => {
        this.replacing = true;
        throw e;
      });
    });
    const forced = this.broken || core.journalFirstSeq() > this.saved + 1;
    const lines = forced ? "" : core.journal(this.saved);
    const due = core.storeSnapshotDue(this.sinceSnapshot + fresh, this.everyEvents, this.tailBytes + lines.length, this.snapshotBytes);
    if (forced || due) {
      const text = core.snapshotState();
      this.write(first(() => this.store.saveSnapshot(text, seq)), true);
      this.sinceSnapshot = 0;
      this.snapshotBytes = text.length;
      this.tailBytes = 0;
    } else {
      this.write(first(() => this.store.append(lines, seq)), false);
      this.sinceSnapshot += fresh;
      this.tailBytes += lines.length;
    }
    this.saved = seq;
  }

  // One chain per store, shared by every orchestrator of this process that writes to it: a run
  // closed while its writes are still going, then opened again from the same store, must load
  // after them (else it read half a run, and the late writes then mixed two histories).
  get chain() { return storeWrites.get(this.store) ?? DONE; }

  /** Whether this run may write its store: no other open run of this process writes it. */
  get holds() {
    const holder = storeRuns.get(this.store);
    return holder === undefined || holder === this;
  }

  /** Closing: once this run's last write is done, the store object is free for another run. */
  letGo() {
    const last = this.chain;
    last.then(() => {
      if (storeRuns.get(this.store) === this) storeRuns.delete(this.store);
    });
    return last;
  }
  set chain(p) {
    storeWrites.set(this.store, p);
    this.mine = p;
  }

  /** Until none of this run's writes is queued, counting those queued while it waits (a batch's timer). */
  async settled() {
    let last;
    do {
      last = this.mine;
      await last;
    } while (last !== this.mine);
  }

  write(op, isSnapshot = false) {
    this.chain = this.chain
      .then(() => {
        // Appends queued behind a failed write would land after the hole: skip them.
        if (this.broken && !isSnapshot) return undefined;
        const holder = storeRuns.get(this.store);
        // Another run holds the store until its last write is done (letGo). Refused last, and
        // closed since: what this one left queued must not replace the other run once that one
        // has gone (as FileStore keeps a refused store's writes out).
        if ((holder !== undefined && holder !== this) || (this.refused && this.rt.closed)) {
          this.refused = true;
          // Its state never reached the store: once it gets the store, its first write (a
          // whole snapshot, the store being broken for it) replaces the run there.
          this.replacing = true;
          throw new BatonError("store_busy", "another orchestrator of this process writes this store: close it first");
        }
        this.refused = false;
        storeRuns.set(this.store, this);
        return Promise.resolve(op()).then(() => {
          if (isSnapshot && this.broken) {
            this.broken = false;
            this.error = undefined;
          }
        });
      })
      .catch((e) => {
        if (this.error === undefined) {
          console.error("baton: a store write failed; the next write is a whole snapshot, flush() reports it until then:", e);
        }
        this.error = e; // flush() says the latest failure
        this.broken = true;
      });
  }

    async flush() {
    if (!this.rt.closed) this.collect();
    await this.settled();
    // A write failed since: try the snapshot that repairs the store once more.
    if (this.broken && !this.rt.closed) {
      this.collect();
      await this.settled();
    }
    if (this.error !== undefined) {
      // Refused the store (another orchestrator writes it) is said as the store said it.
      const code = this.error?.code === "store_busy" ? "store_busy" : "store_failed";
      const err = new BatonError(code, `a store write failed: ${errorMessage(this.error)}`);
      err.cause = this.error;
      throw err;
    }
  }
}

/** The last write queued on each store, by any orchestrator of this process (see Persister). */
const storeWrites = new WeakMap();
// The run writing each store object: another run given the same object while that one is open
// is refused its writes (store_busy), as another store of the same place would be, and may
// write once that one has closed and its last write is done.
const storeRuns = new WeakMap();
const DONE = Promise.resolve();


function checkStore(store) {
  if (!isObject(store) && typeof store !== "function") throw invalid("store must be an object with load, append, saveSnapshot and reset");
  for (const m of STORE_METHODS) {
    if (typeof store[m] !== "function") throw invalid(`store.${m} must be a function (a store has ${STORE_METHODS.join(", ")})`);
  }
}

/**
 * The calls in flight, by call id. Ids rise and most calls end soon after they start, so a call
 * sits in the slot of its id modulo a power of two; one that finds its slot taken (lapped by
 * later calls while it runs long) waits in a Map. Per call this costs a fraction of a Map's
 * set, get and delete, which were 6% of a 1,000-task DAG.
 */
class LiveCalls {
  constructor() {
    this.size = 0;
    this.reset(16);
  }

  reset(slots) {
    this.mask = slots - 1;
    // Plain arrays, not a typed one: a short-lived orchestrator should not pay for an
    // ArrayBuffer. 0 marks an empty slot (call ids start at 1).
    this.ids = new Array(slots).fill(0);
    this.ctxs = new Array(slots).fill(undefined);
    this.spill = new Map();
  }

  get(call) {
    const s = call & this.mask;
    if (this.ids[s] === call) return this.ctxs[s];
    return this.spill.size === 0 ? undefined : this.spill.get(call);
  }

  set(call, ctx) {
    if (this.size >= (this.mask + 1) >>> 1) this.grow();
    this.place(call, ctx);
    this.size++;
  }

  place(call, ctx) {
    const s = call & this.mask;
    if (this.ids[s] === 0) {
      this.ids[s] = call;
      this.ctxs[s] = ctx;
    } else {
      this.spill.set(call, ctx);
    }
  }

  delete(call) {
    const s = call & this.mask;
    if (this.ids[s] === call) {
      this.ids[s] = 0;
      this.ctxs[s] = undefined;
    } else if (!this.spill.delete(call)) {
      return false;
    }
    this.size--;
    return true;
  }

  grow() {
    const entries = this.entries();
    this.reset(2 * (this.mask + 1));
    for (const [call, ctx] of entries) this.place(call, ctx);
  }

  /** Every [call, context] pair, as an array (the table may change while it is walked). */
  entries() {
    const out = [];
    for (let s = 0; s <= this.mask; s++) if (this.ids[s] !== 0) out.push([this.ids[s], this.ctxs[s]]);
    for (const e of this.spill) out.push(e);
    return out;
  }

  values() {
    return this.entries().map((e) => e[1]);
  }

  clear() {
    if (this.size === 0) return;
    this.size = 0;
    this.reset(16);
  }
}

/**
 * Says which running agent of a resumed run has calls to make (tasks queued for it, or in flight
 * to be made again) but no handler, or undefined. Only a running agent's: another's tasks wait
 * (open the run to cancel them, or to remove the agent). Manual tasks call no one. One status
 * read for every agent, and the task lists only when some agent without a handler has work.
 */
function unservedAgent(core, rt, given) {
  const unserved = new Set();
  for (const [id, a] of Object.entries(JSON.parse(core.agentsStatus()))) {
    const ix = rt.agentIx.get(id);
    if (ix === undefined || typeof rt.handlers[ix] === "function" || a.status !== "Running") continue;
    if (a.running_tasks + a.queued_tasks > 0) unserved.add(id);
  }
  if (unserved.size === 0) return undefined;
  for (const status of ["Running", "Queued"]) {
    const task = JSON.parse(core.taskList(JSON.stringify({ status }))).find((t) => !t.manual && unserved.has(t.agent));
    if (task === undefined) continue;
    return `agent '${task.agent}' has tasks to run (${task.id} ${task.status}) but agents gives it no handler (given: ${given.length > 0 ? given.map((g) => `'${g}'`).join(", ") : "none"}); without one they would fail at once`;
  }
  return undefined;
}

export function createBaton(coreApi) {
  // A view of the wasm memory for reading effects; a grown memory detaches it (length 0).
  let words = new Uint32Array(0);
  const effectWords = () => (words.byteLength === 0 ? (words = new Uint32Array(coreApi.memory().buffer)) : words);

  /** What an agent receives besides its input. Built per call, its fields computed on demand. */
  class Context {
    #rt; #call; #task; #agent; #upstream; #wantsJson;
    // While the call is in flight the context is also the runtime's record of it (one object per
    // call, not two): its abort controller (made when `signal` is read) and why it was aborted.
    #controller = undefined;
    #aborted = undefined;
    constructor(rt, call, task, agent, attempt, wantsJson) {
      this.#rt = rt; this.#call = call; this.#task = task; this.#agent = agent;
      this.#wantsJson = wantsJson;
      this.attempt = attempt;
    }
    static wantsJson(ctx) { return ctx.#wantsJson; }
    static abort(ctx, reason) {
      ctx.#aborted = reason;
      ctx.#controller?.abort(reason);
    }
    static signalOf(ctx) {
      if (!ctx.#controller) {
        ctx.#controller = new AbortController();
        if (ctx.#aborted) ctx.#controller.abort(ctx.#aborted);
      }
      return ctx.#controller.signal;
    }
    get taskId() { return this.#rt.core.taskId(this.#task); }
    get agentId() { return this.#rt.core.agentId(this.#agent); }
    /** The run's seed, for an agent that simulates: the same seed, the same rolls. */
    get seed() { return this.#rt.core.seed(); }
    /** Outputs of the task's dependencies, by their ids within the workflow. */
    get upstream() {
      if (this.#upstream === undefined) this.#upstream = this.#rt.upstream(this.#task);
      return this.#upstream;
    }
    /** Fires when the task is cancelled while this call runs. */
    get signal() {
      // Aborted, it keeps its own reason (a timeout, a cancel) after the call is forgotten.
      if (this.#aborted !== undefined || this.#rt.live.get(this.#call) === this) return Context.signalOf(this);
      return this.#rt.signal(this.#call); // answered: an ended signal
    }
    /**
     * Resolves after `ms` on the orchestrator's clock (virtual or real); rejects with the abort's
     * reason if the call is cancelled or times out first (its timer is dropped, so a dead sleep
     * does not move the virtual clock).
     */
    sleep(ms) { return this.#rt.sleep(ms, this.signal); }
    /**
     * Refuses what a call that is over would still do: once it timed out, was cancelled or
     * answered, its handler may still be running, but it speaks for no attempt any more. A
     * timed-out attempt that then charged a tool or sent a message would act twice beside its
     * retry (and spend the tool's rate limit the retry needs).
     */
    #live(what) {
      if (this.#aborted === undefined && this.#rt.live.get(this.#call) === this) return;
      const e = this.#aborted !== undefined
        ? new BatonError(this.#aborted.code, `${what}: this call is over (${this.#aborted.message}); its handler can no longer act`)
        : new BatonError("invalid_state", `${what}: this call has already answered; its handler can no longer act`);
      e.class = "cancelled";
      throw e;
    }
    /** Records a custom event. */
    emit(topic, data) { this.#live("emit"); this.#rt.emit(topic, data); }
    /** The agent's template configuration (instructions, model, temperature, tools), if any. */
    get config() { return this.#rt.agentConfig(this.#agent); }
    /** Sends a message from this agent; returns its id. */
    send(to, payload) { this.#live("send"); return this.#rt.send(this.#agent, to, payload); }
    /** This agent's unacknowledged messages (reading delivers them). */
    inbox() { this.#live("inbox"); return this.#rt.inbox(this.#agent); }
    /** Acknowledges one of this agent's messages. */
    ack(messageId) { this.#live("ack"); this.#rt.ack(messageId, this.#agent); }
    /** Calls a tool granted to this agent; refused with class `permission` or `rate_limit`. */
    callTool(name, args) {
      try {
        this.#live(`callTool '${name}'`);
      } catch (e) {
        return Promise.reject(e);
      }
      return this.#rt.callTool(this.#agent, this.#task, name, args);
    }
  }

  /** The mutable machinery behind an Orchestrator. Not exported. */
  class Runtime {
    constructor(core, clock, startMs, eventsBufferMax) {
      this.core = core;
      core.watchTaskEnds(false); // until something waits on a task (see waitFor)
      this.virtual = clock === "virtual";
      this.vnow = startMs;
      this.eventsBufferMax = eventsBufferMax;
      this.handlers = [];          // agent index -> handler
      this.agentIx = new Map();    // agent id -> index
      this.values = [];            // payload id -> JS value
      this.live = new LiveCalls(); // call in flight -> its Context
      this.agentIds = [];          // agent index -> id, filled as results need them (ids never change)
      this.taskWaiters = new Map(); // task index -> [resolve]
      this.flowWaiters = new Map(); // workflow index -> [resolve]
      this.runWaiters = new Map();  // pattern run index -> [resolve]
      this.tools = new Map();       // tool name -> function
      this.configs = new Map();     // agent index -> ctx.config
      this.sleepers = new Map();   // timer id -> resolve
      this.listeners = new Map();  // subscription id -> fn
      this.iteratorEnds = undefined; // Set of the open events() iterators' ends, made with the first
      this.unrecorded = 0; // payloads written as { $unrecorded } (warned of once)
      this.delivered = 0;
      // Answers of agent calls, waiting to go to the core together (see settleValue): the first
      // `answerCount` of each array. The arrays are reused, not emptied (setting an array's length
      // to 0 frees its storage).
      this.answerCalls = [];
      this.answerValues = [];
      this.answerCount = 0;
      this.answersQueued = false;
      this.advanceSafely = () => {
        try { this.advance(); } catch (e) { this.fatal(e); }
      };
      this.flushAnswers = () => {
        try { this.takeAnswers(); } catch (e) { this.fatal(e); }
      };
      this.pumping = false;
      this.again = false;
      this.advancing = false;
      // The virtual clock jumps no further than `vlimit` (see runUntil); those waiting for it to
      // stand there, resolved once nothing is due by then.
      this.vlimit = Infinity;
      this.untilWaiters = [];
      this.timer = undefined;
      this.armedFor = -1;
      this.closed = false;
      this.frozen = false;
      this.persister = undefined;
      this.localIds = new Map();    // workflow index -> task ids within it (they never change)
      this.defaultHandlers = undefined; // from Orchestrator.open: handlers for agents registered later
    }

    now() {
      return this.virtual ? this.vnow : Date.now();
    }

    // ---- payloads ----
    payload(value) {
      if (value === undefined || value === null) return NO_PAYLOAD;
      const id = this.core.allocPayload();
      this.values[id] = value;
      return id;
    }
    /**
     * `[input, metadata]` payload ids of each task, their slots taken in one call. A plain array:
     * wasm-bindgen copies it into wasm memory as it would a typed one, and a typed array's buffer
     * of its own costs more than the copy for a short run.
     */
    payloads(inputs, metadatas) {
      const n = inputs.length;
      const out = new Array(2 * n);
      let wanted = 0;
      for (let i = 0; i < n; i++) {
        if (inputs[i] !== undefined && inputs[i] !== null) wanted++;
        if (metadatas[i] !== undefined && metadatas[i] !== null) wanted++;
      }
      let id = wanted > 0 ? this.core.allocPayloads(wanted) : NO_PAYLOAD;
      for (let i = 0; i < n; i++) {
        const input = inputs[i];
        const metadata = metadatas[i];
        if (input === undefined || input === null) out[2 * i] = NO_PAYLOAD;
        else { this.values[id] = input; out[2 * i] = id++; }
        if (metadata === undefined || metadata === null) out[2 * i + 1] = NO_PAYLOAD;
        else { this.values[id] = metadata; out[2 * i + 1] = id++; }
      }
      return out;
    }
    /** Forgets the values of payload ids the core refused (a submission that threw). */
    dropValues(ids) {
      for (const id of ids) if (id !== NO_PAYLOAD) this.values[id] = undefined;
    }
    value(id) {
      if (id === NO_PAYLOAD) return undefined;
      const v = this.values[id];
      if (v !== undefined) return v;
      const json = this.core.payloadJson(id);
      return json === undefined ? undefined : (this.values[id] = JSON.parse(json));
    }
    /** Hands the core the JSON of every value it has not seen yet (journal, snapshot, events). */
    resolvePayloads() {
      for (const id of this.core.takeUnresolved()) {
        let why;
        try {
          const value = this.values[id];
          const json = JSON.stringify(value);
          // A function or a symbol has no JSON at all: unrecorded, as a value that fails would be.
          // (A slot whose value was dropped, a refused submission's, is written as none.)
          if (json === undefined && value !== undefined) throw new Error(`a ${typeof value} is not JSON`);
          this.core.resolvePayload(id, json ?? "");
          continue;
        } catch (e) {
          why = errorMessage(e).slice(0, 200);
        }
        // Too large or not JSON (a BigInt, a cycle): the journal says so rather than failing to be
        // written, and the user hears of it, as a restore from this journal will not have it.
        if (this.unrecorded++ === 0) console.warn(`baton: a payload could not be recorded in the journal (${why}); it is written as { $unrecorded } and a restore will not have it. Keep inputs and outputs JSON and under payloadBytesMax.`);
        try {
          this.core.resolvePayload(id, JSON.stringify({ $unrecorded: why }));
        } catch {
          this.core.resolvePayload(id, "null");
        }
      }
    }

    /** A task's index by its id (a string: anything else is refused, not passed to wasm). */
    taskIx(id) {
      if (typeof id !== "string") throw invalid(`a task id is a string, got ${describe(id)}`);
      return this.core.taskIx(id); // throws unknown_task
    }

    workflowIx(id) {
      if (typeof id !== "string") throw invalid(`a workflow id is a string, got ${describe(id)}`);
      return this.core.workflowIx(id); // throws unknown_workflow
    }

    agent(id) {
      const ix = this.agentIx.get(id);
      if (ix !== undefined) return ix;
      if (typeof id !== "string") throw invalid(`agent id must be a string, got ${typeof id}`);
      return this.core.agentIx(id); // throws unknown_agent
    }

    // ---- the loop: drain effects, deliver events, arm the timer ----
    pump() {
      if (this.closed) return;
      if (this.pumping) { this.again = true; return; }
      this.pumping = true;
      try {
        do {
          this.again = false;
          this.drain();
          if (this.listeners.size > 0) this.deliver();
        } while (this.again);
      } finally {
        this.pumping = false;
      }
      this.arm();
      if (this.persister !== undefined) this.persister.schedule();
    }

    drain() {
      const core = this.core;
      // One crossing takes every pending effect (see Core.pollMany), 6 words each, read from
      // wasm memory; the view is checked per effect because a handler may grow the memory.
      for (let n = core.pollMany(); n > 0 && !this.closed; n = core.pollMany()) {
        const base = core.effectsPtr() >>> 2;
        for (let i = base; i < base + n && !this.closed; i += 6) {
          const fx = effectWords();
          const kind = fx[i] & 0xff;
          switch (kind) {
            case INVOKE:
              // A handler earlier in this batch may have cancelled the call (a command it gave
              // set `again`): one that is over is not made, rather than made with its signal
              // aborted only after its first await.
              if (this.again && !core.callLive(fx[i + 1])) break;
              this.invoke(fx[i + 1], fx[i + 2], fx[i + 3], fx[i + 4], fx[i + 5], (fx[i] & WANTS_JSON) !== 0);
              break;
            case ABORT: {
              const ctx = this.live.get(fx[i + 1]);
              if (ctx) {
                Context.abort(ctx, fx[i + 2] === 2
                  ? new BatonError("timeout", "the attempt timed out")
                  : new BatonError("cancelled", "the task was cancelled"));
                // The call is over: a handler that never settles must not keep its context
                // (and what its listeners hold) for the life of the orchestrator. Its late
                // answer, if any, still reaches the core, which records it as ignored.
                this.live.delete(fx[i + 1]);
              }
              break;
            }
            // A task's end is an effect only while something waits on a task (see waitFor).
            case TASK_SETTLED: this.wakeTask(fx[i + 1]); break;
            case WORKFLOW_SETTLED: this.wake(this.flowWaiters, fx[i + 1], (w) => this.workflowView(w)); break;
            case RUN_SETTLED: this.wake(this.runWaiters, fx[i + 1], (r) => this.runOutcome(r)); break;
            case TIMER_FIRED: {
              const id = fx[i + 1];
              const resolve = this.sleepers.get(id);
              this.sleepers.delete(id);
              resolve?.();
              break;
            }
          }
        }
      }
    }

    invoke(call, task, agent, attempt, input, wantsJson) {
      const handler = this.handlers[agent];
      if (typeof handler !== "function") {
        const id = this.core.agentId(agent);
        this.takeAnswers(); // answers that came first go first
        this.core.fail(call, "internal", `agent '${id}' has no handler (give one to registerAgent or restore)`, this.now());
        // A command within the batch, as a handler's would be: it may have cancelled a call
        // handed out with this one (see drain).
        this.again = true;
        return;
      }
      const ctx = new Context(this, call, task, agent, attempt, wantsJson);
      this.live.set(call, ctx);
      let result;
      try {
        result = handler(this.value(input), ctx);
      } catch (e) {
        this.settleError(call, e);
        return;
      }
      let thenable;
      try {
        thenable = result !== null && typeof result === "object" && typeof result.then === "function";
      } catch (e) {
        this.settleError(call, e); // a revoked Proxy, say
        return;
      }
      if (!thenable) {
        this.settleValue(call, result);
        return;
      }
      // The first of its outcomes counts, as a promise's would: a `then` that answers and then
      // throws (or throws, then answers) settles the call once.
      let settled = false;
      // (An answer is taken in a promise reaction: what the core throws then is fatal(), not an
      // unhandled rejection that ends the process.)
      const ok = (v) => {
        if (settled) return;
        settled = true;
        try { this.settleValue(call, v); } catch (e) { this.fatal(e); }
      };
      const no = (e) => {
        if (settled) return;
        settled = true;
        try { this.settleError(call, e); } catch (e2) { this.fatal(e2); }
      };
      try {
        result.then(ok, no);
      } catch (e) {
        no(e);
      }
    }

    /**
     * An agent call's value. Answers that arrive in the same turn (a pool of calls resolving
     * together) go to the core at the end of the turn and are followed by one pump for the lot,
     * not one each. The last call in flight goes at once, as nothing could join it. The journal
     * is the same either way: the core applies the answers one by one, in the order they came.
     */
    settleValue(call, value) {
      if (this.closed) return;
      const ctx = this.live.get(call);
      this.live.delete(call);
      if (ctx !== undefined && Context.wantsJson(ctx)) {
        this.takeAnswers();
        this.settleJson(call, value);
        return;
      }
      this.answerCalls[this.answerCount] = call;
      this.answerValues[this.answerCount++] = value;
      if (this.live.size === 0) this.takeAnswers();
      else if (!this.answersQueued) {
        this.answersQueued = true;
        queueMicrotask(this.flushAnswers);
      }
    }

    /** Hands the core the answers waiting (see settleValue), then pumps once for them all. */
    takeAnswers() {
      this.answersQueued = false;
      const n = this.answerCount;
      if (n === 0 || this.closed) return;
      this.answerCount = 0;
      const calls = this.answerCalls;
      const values = this.answerValues;
      const core = this.core;
      const now = this.now();
      for (let i = 0; i < n; i++) {
        const value = values[i];
        values[i] = undefined;
        // A stale call (cancelled, or settled already) is ignored by the core, and takes no slot.
        if (value === undefined || value === null) core.complete(calls[i], NO_PAYLOAD, now);
        else {
          const id = core.completeValue(calls[i], now);
          if (id !== NO_PAYLOAD) this.values[id] = value;
        }
      }
      this.pump();
    }

    /** A pattern task's answer, which the core reads: its JSON goes with it. */
    settleJson(call, value) {
      const id = this.payload(value);
      if (id !== NO_PAYLOAD) {
        try {
          this.core.resolvePayload(id, toJson(value));
        } catch (e) {
          this.core.fail(call, "validation", `the answer could not be recorded: ${errorMessage(e)}`, this.now());
          this.pump();
          return;
        }
      }
      // A stale call (cancelled, or settled already) is ignored by the core.
      if (!this.core.complete(call, id, this.now()) && id !== NO_PAYLOAD) this.values[id] = undefined;
      this.pump();
    }

    settleError(call, e) {
      if (this.closed) return;
      this.live.delete(call);
      this.takeAnswers(); // answers that came first go first
      let cls = "agent", message, after;
      try {
        if (e !== null && typeof e === "object") {
          if (ERROR_CLASSES.has(e.class)) cls = e.class;
          // An agent that says when to come back (`retryAfterMs`, as an HTTP 429's Retry-After)
          // is not retried sooner.
          if (typeof e.retryAfterMs === "number") after = e.retryAfterMs;
        }
        message = errorMessage(e);
      } catch {
        // A revoked Proxy, a getter that throws: the call still fails, with what can be said.
        message = "the agent failed with a value that cannot be read";
      }
      this.core.fail(call, cls, message, this.now(), after);
      this.pump();
    }

    signal(call) {
      const ctx = this.live.get(call);
      if (!ctx) {
        const done = new AbortController();
        done.abort(new BatonError("cancelled", "the call has already ended"));
        return done.signal;
      }
      return Context.signalOf(ctx);
    }

    upstream(task) {
      const pairs = this.core.upstream(task);
      const out = {};
      for (let i = 0; i < pairs.length; i += 2) out[this.core.localId(pairs[i])] = this.value(pairs[i + 1]);
      return out;
    }

    wake(waiters, ix, view) {
      const list = waiters.get(ix);
      if (!list) return;
      waiters.delete(ix);
      const v = view(ix);
      for (const resolve of list) resolve(v);
    }

    /** A task ended: its waiters get its view, and with none left the core stops reporting ends. */
    wakeTask(ix) {
      this.wake(this.taskWaiters, ix, (t) => this.taskView(t));
      if (this.taskWaiters.size === 0 && !this.closed) this.core.watchTaskEnds(false);
    }

    taskView(ix) {
      const view = JSON.parse(this.core.taskView(ix));
      const [input, output, metadata] = this.core.taskPayloads(ix);
      view.input = this.value(input);
      view.output = this.value(output);
      const meta = this.value(metadata);
      if (meta !== undefined) view.metadata = meta; // absent if none, as in the JSON
      return view;
    }

    workflowView(ix) {
      const core = this.core;
      const view = JSON.parse(core.workflowHead(ix));
      // Split only if `outputs` or `tasks` is read: a string per task costs more than the rest.
      const joined = core.workflowLocalIds(ix);
      let split;
      const ids = () => (split ??= joined.split("\n"));
      // Statuses, outputs and shape in one copy (see Core.workflowResult).
      const result = core.workflowResult(ix);
      const n = result[0];
      const codes = result.subarray(1, 1 + n);
      // The values are taken now (after close() the core's copies are gone); the object keyed by
      // task id is built when first read: with thousands of tasks, its keys cost more than the run.
      const values = new Array(n);
      for (let i = 0; i < n; i++) values[i] = this.value(result[1 + n + i]);
      if (codes.every((c) => c === COMPLETED)) {
        // Every task completed: `tasks` follows from the shape alone, so it too is built only if
        // read, from a copy that outlives close().
        const shape = result.subarray(1 + 2 * n);
        const agents = this.agentIds;
        for (let i = 0; i < n; i++) if (agents[shape[i]] === undefined) agents[shape[i]] = core.agentId(shape[i]);
        lazyProperty(view, "tasks", () => completedTasks(view.id, ids(), agents, shape));
      } else {
        const full = JSON.parse(core.workflowView(ix));
        view.tasks = full.tasks;
      }
      lazyProperty(view, "outputs", () => keyedOutputs(ids(), values, codes));
      return view;
    }

    /** A finished run: its result, or a rejection naming why it failed. */
    runOutcome(ix) {
      const run = JSON.parse(this.core.runView(ix));
      if (run.status === "Completed") return this.value(run.resultId);
      const e = new BatonError("pattern_failed", `${run.kind} ${run.id} failed: ${run.error}`);
      if (run.status === "Failed" && run.class) e.class = run.class; // `validation` for an answer's wrong shape
      return Promise.reject(e);
    }

    waitRun(ix) {
      return this.waitFor(this.runWaiters, () => ix, (r) => this.core.runDone(r), (r) => this.runOutcome(r));
    }

    /** A promise of `view(ix)` once `done(ix)`, woken by the matching settle effect. */
    waitFor(waiters, find, done, view) {
      // Closed within a handler, the core lives until the pump ends, but close() has already
      // settled every waiter: a new one would never be.
      if (this.closed) return Promise.reject(new BatonError("closed", "the orchestrator was closed"));
      let ix;
      try {
        ix = find();
        if (done(ix)) return Promise.resolve().then(() => view(ix));
      } catch (e) {
        return Promise.reject(e);
      }
      // The first task waiter turns on the core's reports of task ends (off until then: a
      // workflow's tasks end by the thousand with nothing waiting on each).
      if (waiters === this.taskWaiters && waiters.size === 0) this.core.watchTaskEnds(true);
      return new Promise((resolve) => {
        const list = waiters.get(ix);
        if (list) list.push(resolve); else waiters.set(ix, [resolve]);
      });
    }

    agentConfig(agent) {
      if (!this.configs.has(agent)) {
        const json = this.core.agentConfig(agent);
        this.configs.set(agent, json === undefined ? undefined : JSON.parse(json));
      }
      return this.configs.get(agent);
    }

    // ---- messages and tools ----
    send(from, to, payload) {
      const id = this.core.send(from, this.agent(to), this.payload(payload), this.now());
      this.pump();
      return id;
    }

    messages(json) {
      return JSON.parse(json).map(({ payloadId, ...m }) => ({ ...m, payload: this.value(payloadId) }));
    }

    inbox(agent) {
      const list = this.messages(this.core.inbox(agent, this.now()));
      this.pump();
      return list;
    }

    ack(messageId, agent) {
      this.core.acknowledge(idOf(messageId, "a message id"), this.now(), agent);
      this.pump();
    }

    async callTool(agent, task, name, args) {
      const fn = this.tools.get(name);
      let call;
      try {
        call = this.core.callTool(agent, task, idOf(name, "a tool name"), this.payload(args), this.now());
      } catch (e) {
        // Uncaught by the agent, the refusal fails its task with the refusal's class.
        if (e && (e.code === "permission" || e.code === "rate_limit")) e.class = e.code;
        else if (e && e.code === "unknown_tool") e.class = "tool";
        this.pump();
        throw e;
      }
      this.pump();
      try {
        // Restored without it: the tool is recorded, its function is not in this process.
        if (typeof fn !== "function") throw new Error("it has no function here: give it in restore's tools, or registerTool it again");
        const result = await fn(args, { agentId: this.core.agentId(agent), taskId: task === NO_PAYLOAD ? undefined : this.core.taskId(task) });
        this.core.toolResult(call, this.payload(result), this.now());
        this.pump();
        return result;
      } catch (e) {
        this.core.toolError(call, errorMessage(e), this.now());
        this.pump();
        const err = new BatonError("tool_failed", `tool '${name}' failed: ${errorMessage(e)}`);
        err.class = "tool";
        err.cause = e;
        throw err;
      }
    }

    // ---- time ----
    sleep(ms, signal = undefined) {
      if (typeof ms !== "number" || !(ms >= 0)) return Promise.reject(invalid(`sleep: ${shown(ms)} is not a non-negative number of ms`));
      if (ms === Infinity) return new Promise(() => {}); // a hang, as a test would simulate one
      // Deadlines stay far inside the clock's exact range (2^53 ms).
      if (ms > SLEEP_MS_MAX) return Promise.reject(invalid(`sleep: ${shown(ms)} ms is over ${SLEEP_MS_MAX} (about 31 years; Infinity sleeps for ever)`));
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise((resolve, reject) => {
        const id = this.core.addTimer(this.now() + Math.ceil(ms));
        if (signal === undefined) {
          this.sleepers.set(id, resolve);
        } else {
          const aborted = () => {
            if (!this.sleepers.delete(id)) return;
            if (!this.closed) this.core.cancelTimer(id);
            reject(signal.reason); // closed too: the handler's catch and finally run
          };
          // A sleep that ends takes its listener off: a handler that polls would pile them up.
          this.sleepers.set(id, () => {
            signal.removeEventListener("abort", aborted);
            resolve();
          });
          signal.addEventListener("abort", aborted, { once: true });
        }
        this.arm();
      });
    }

    arm() {
      // A replayed state is a picture: its timers fire only once it is made live.
      if (this.closed || this.frozen) return;
      const d = this.core.nextDeadline();
      if (this.virtual) {
        if ((d >= 0 || this.untilWaiters.length > 0) && !this.advancing) { this.advancing = true; macrotask(this.advanceSafely); }
        return;
      }
      if (d === this.armedFor) return;
      if (d < 0) {
        // Nothing is due any more (a timeout whose call answered, a cancelled retry): the timer
        // set for it goes, or it would hold a Node process open until it fired for nothing.
        clearTimeout(this.timer);
        this.armedFor = -1;
        return;
      }
      clearTimeout(this.timer);
      this.armedFor = d;
      this.timer = setTimeout(() => {
        this.armedFor = -1;
        try {
          this.core.handleTimeout(Date.now());
          this.pump();
        } catch (e) {
          this.fatal(e);
        }
      }, Math.min(Math.max(0, d - Date.now()), 2 ** 31 - 1)); // longer delays fire at once in JS
    }

    // The virtual clock: once everything runnable has run (a macrotask later, every promise
    // reaction is done), jump to the next deadline and fire what is due there.
    advance() {
      this.advancing = false;
      if (this.closed || this.frozen) return;
      const d = this.core.nextDeadline();
      if (d >= 0 && d <= this.vlimit) {
        if (d > this.vnow) this.vnow = d;
        this.core.handleTimeout(this.vnow);
        this.pump();
        return;
      }
      // Nothing is due by the limit: the clock moves to it, and those waiting for that time are
      // answered (all of them when nothing at all is due and the limit is lifted).
      if (this.untilWaiters.length === 0) return;
      if (this.vlimit !== Infinity && this.vlimit > this.vnow) this.vnow = this.vlimit;
      const reached = this.untilWaiters.filter((w) => w.t <= this.vnow || this.vlimit === Infinity);
      this.untilWaiters = this.untilWaiters.filter((w) => !reached.includes(w));
      // The next one waiting sets the limit; with none, the clock holds where it is.
      if (this.untilWaiters.length > 0) {
        this.vlimit = Math.min(...this.untilWaiters.map((w) => w.t));
        this.arm();
      }
      for (const w of reached) w.resolve();
    }

    /** See Orchestrator.runUntil. */
    runUntil(t) {
      if (!this.virtual) return Promise.reject(new BatonError("invalid_state", "runUntil drives the virtual clock; this orchestrator runs on the real one"));
      if (typeof t !== "number" || Number.isNaN(t)) return Promise.reject(invalid(`runUntil: ${shown(t)} is not a time in ms`));
      if (this.closed) return Promise.reject(new BatonError("closed", "the orchestrator was closed"));
      if (this.frozen) return Promise.reject(new BatonError("invalid_state", "a replayed state is a picture: its clock runs once it is made live"));
      // A time already past holds the clock now (what is due now still fires). Past 2^50 ms (the
      // latest a schedule takes), the clock stops at 2^50, unless told to run on (Infinity).
      const target = Math.max(t === Infinity ? t : Math.min(t, TIME_MS_MAX), this.vnow);
      return new Promise((resolve) => {
        this.untilWaiters.push({ t: target, resolve });
        // Overlapping calls: the clock stops at each of their times in turn, earliest first.
        this.vlimit = Math.min(...this.untilWaiters.map((w) => w.t));
        this.arm();
      });
    }

    // ---- events ----
    emit(topic, data) {
      if (typeof topic !== "string") throw invalid(`an event's topic is a string, got ${describe(topic)}`);
      this.core.emit(topic, this.payload(data), this.now());
      this.pump();
    }

    deliver() {
      if (this.core.seq() <= this.delivered) return;
      this.resolvePayloads();
      const batch = JSON.parse(this.core.deliveries(this.delivered));
      this.delivered = this.core.seq();
      for (const { subs, event } of batch) {
        event.topic = event.type; // what listeners subscribe by
        for (const sub of subs) {
          const fn = this.listeners.get(sub);
          if (!fn) continue;
          try {
            fn(event);
          } catch (e) {
            console.error(`baton: a listener for '${event.type}' threw:`, e);
          }
        }
      }
    }

    subscribe(pattern, fn) {
      if (this.listeners.size === 0) this.delivered = this.core.seq();
      const sub = this.core.subscribe(pattern);
      this.listeners.set(sub, fn);
      return () => {
        if (this.listeners.delete(sub) && !this.closed) this.core.unsubscribe(sub);
      };
    }

    /**
     * The core failed inside, where no user error can come from (a trap: wasm memory, at most
     * 4 GiB, ran out; or a bug): it cannot be trusted to go on. Everything waiting hears why,
     * and later calls throw it, rather than the process ending on an unhandled rejection.
     */
    fatal(e) {
      if (this.closed) return;
      const why = new BatonError("internal", `the orchestrator stopped after an internal error: ${errorMessage(e)}`);
      console.error(`baton: ${why.message}`);
      this.close(why);
    }

    /** Resolves once the store has the last writes (see Orchestrator.close). */
    close(cause = undefined) {
      if (this.closed) return this.closing ?? DONE;
      // What happened since the last write still reaches the store, after the core is gone.
      if (this.persister !== undefined && this.core !== CLOSED_CORE && cause === undefined) {
        try {
          this.persister.collect();
        } catch (e) {
          cause = new BatonError("internal", `the orchestrator stopped after an internal error: ${errorMessage(e)}`);
          console.error(`baton: ${cause.message}`);
        }
      }
      // A store that holds a lock (FileStore) lets it go once that last write is done.
      // (Not a run refused the store object another open run of this process writes: that run
      // holds it.)
      let released = DONE;
      if (this.persister !== undefined && typeof this.persister.store.release === "function" && this.persister.holds) {
        released = Promise.resolve(this.persister.store.release(this.persister.chain, this.persister)).catch((e) => console.warn(`baton: the store was not released: ${e?.message ?? e}`));
      }
      const written = this.persister?.letGo() ?? DONE;
      // Never rejects: a failed write is flush()'s to report, and close() is often not awaited.
      this.closing = Promise.all([written, released]).then(() => {}, () => {});
      this.closed = true;
      clearTimeout(this.timer);
      const closed = () => cause ?? new BatonError("closed", "the orchestrator was closed");
      for (const ctx of this.live.values()) Context.abort(ctx, closed());
      this.live.clear();
      if (this.pumping) {
        // Called from a handler or a listener inside pump(): free the core once pump() is done.
        queueMicrotask(() => this.free(cause));
      } else {
        this.free(cause);
      }
      for (const waiters of [this.taskWaiters, this.flowWaiters, this.runWaiters]) {
        for (const list of waiters.values()) for (const resolve of list) resolve(Promise.reject(closed()));
        waiters.clear();
      }
      this.sleepers.clear();
      for (const w of this.untilWaiters) w.resolve(Promise.reject(closed()));
      this.untilWaiters = [];
      // An events() loop waiting for its next event ends (done), as the stream has.
      if (this.iteratorEnds !== undefined) for (const end of [...this.iteratorEnds]) end();
      this.listeners.clear();
      // A closed handle kept around holds none of the run's values.
      this.values = [];
      this.handlers = [];
      this.tools.clear();
      this.configs.clear();
      return this.closing;
    }

    free(cause = undefined) {
      // Give the core's memory back now rather than whenever the GC finalizes it.
      if (this.core === CLOSED_CORE || this.core instanceof StoppedCore) return;
      try {
        this.core.free();
      } catch {
        // A core that trapped may not free; its memory goes with the module's.
      }
      this.core = cause === undefined ? CLOSED_CORE : new StoppedCore(cause);
    }
  }

  function checkOptions(options) {
    if (options === undefined) options = {};
    if (!isObject(options)) throw invalid("options must be an object");
    for (const k of Object.keys(options)) if (!OPTION_KEYS.has(k)) throw invalid(`unknown option '${k}'`);
    const { seed, clock = "real", maxConcurrency, startTime = 0, eventsBufferMax = EVENTS_BUFFER_MAX_DEFAULT, store, snapshotEveryEvents = SNAPSHOT_EVERY_EVENTS_DEFAULT } = options;
    if (store !== undefined) checkStore(store);
    if (!(Number.isSafeInteger(snapshotEveryEvents) && snapshotEveryEvents >= 1)) throw invalid(`invalid snapshotEveryEvents: ${shown(snapshotEveryEvents)}`);
    if (clock !== "real" && clock !== "virtual") throw invalid(`clock must be "real" or "virtual", got ${typeof clock === "string" ? JSON.stringify(clock) : shown(clock)}`);
    if (seed !== undefined && !(Number.isSafeInteger(seed) && seed >= 0)) throw invalid(`invalid seed: ${shown(seed)} is not an integer in 0..=2^53-1`);
    if (maxConcurrency !== undefined && maxConcurrency !== Infinity && !(Number.isInteger(maxConcurrency) && maxConcurrency >= 1 && maxConcurrency <= 4294967295)) {
      throw invalid(`invalid maxConcurrency: ${shown(maxConcurrency)} is not a positive integer`);
    }
    if (!(Number.isSafeInteger(startTime) && startTime >= 0 && startTime <= START_TIME_MAX)) throw invalid(`invalid startTime: ${shown(startTime)} (ms, 0 to 2^50)`);
    if (!(Number.isSafeInteger(eventsBufferMax) && eventsBufferMax >= 1)) throw invalid(`invalid eventsBufferMax: ${shown(eventsBufferMax)}`);
    const core = {};
    if (maxConcurrency !== undefined && maxConcurrency !== Infinity) core.maxConcurrency = maxConcurrency;
    for (const k of ["retry", "timeoutMs", "onError"]) if (options[k] !== undefined) core[k] = options[k];
    for (const k of LIMIT_KEYS) {
      if (options[k] === undefined) continue;
      if (!(Number.isInteger(options[k]) && options[k] >= 1 && options[k] <= 4294967295)) throw invalid(`invalid ${k}: ${shown(options[k])}`);
      core[k] = options[k];
    }
    return { seed, clock, startTime, eventsBufferMax, store, snapshotEveryEvents, core };
  }

  /**
   * A restored or replayed run keeps the options it recorded (its seed, limits and policies):
   * given here, one that would differ is refused rather than silently ignored.
   */
  function checkRecorded(o, core, how) {
    if (o.seed !== undefined && o.seed !== core.seed()) {
      throw invalid(`${how} keeps the run's seed (${core.seed()}); seed ${shown(o.seed)} applies to new runs`);
    }
    const given = Object.keys(o.core);
    if (given.length > 0) {
      throw invalid(`${how} keeps the run's recorded options: ${given.map((k) => `'${k}'`).join(", ")} cannot be given here (it applies to new runs); ${how} takes clock, startTime, eventsBufferMax, store and snapshotEveryEvents`);
    }
  }

  /** The ids of the agents a journal's text registers (its `agent.registered` records). */
  function registeredIn(text) {
    const ids = new Set();
    for (const line of text.split("\n")) {
      if (!line.includes('"agent.registered"')) continue;
      try {
        const id = JSON.parse(line)?.data?.spec?.id;
        if (typeof id === "string") ids.add(id);
      } catch {
        // The core read the journal already; a line it took is JSON.
      }
    }
    return ids;
  }

  /** The clock a restored or reopened run goes on with: the one given, else the one it had. */
  function recordedClock(options, core) {
    return options.clock ?? (core.virtualClock() ? "virtual" : "real");
  }

  const SLEEP_MS_MAX = 1e12;
  const START_TIME_MAX = 2 ** 50;
  /** The latest time the virtual clock stops at short of Infinity, as the core's `AT_MS_MAX`. */
  const TIME_MS_MAX = 2 ** 50;

  /** What a value is, for an error message: `a number (5)`, `an object`, `undefined`. */
  function describe(v) {
    if (v === null || v === undefined) return String(v);
    if (typeof v === "object") return Array.isArray(v) ? "an array" : "an object (pass its id)";
    return `a ${typeof v} (${String(v).slice(0, 40)})`;
  }

  const PLAIN_SPEC_KEYS = new Set(["id", "name", "tasks", "failurePolicy"]);
  const plainTaskKey = (k) => k === "id" || k === "agent" || k === "input" || k === "dependsOn" || k === "priority" || k === "metadata";

  /**
   * A workflow spec taken apart for the core: its inputs and metadata as values, and either its
   * shape as integer arrays (the plain path) or its JSON without the values. `eager` (compiling)
   * writes the JSON at once, so that later changes to the spec change nothing; otherwise it is
   * written only if the plain path cannot take the spec.
   */
  /**
   * A workflow with its execution pattern given apart, as seed 001 does
   * (`submit_workflow(workflow, pattern=SEQUENTIAL)`): `(spec, { pattern, width, ... })`.
   */
  function withOptions(spec, options) {
    if (options === undefined || options === null) return spec;
    if (!isObject(options)) throw invalid("a workflow's second argument is its options: { pattern?, width?, failurePolicy?, ... }");
    // An option left undefined (`{ pattern: opts.pattern }`) keeps the spec's.
    const given = Object.entries(options).filter(([, v]) => v !== undefined);
    if (given.length === 0) return spec;
    if (given.some(([k]) => k === "tasks")) throw invalid("a workflow's tasks are in its spec, not its options");
    if (spec instanceof CompiledWorkflow) throw invalid("a compiled workflow takes no options: give them to compileWorkflow");
    if (!isObject(spec)) return spec; // refused as it is
    return { ...spec, ...Object.fromEntries(given) };
  }

  // The plain ones the core runs as a workflow; the last two runWorkflow runs as agent patterns.
  const WORKFLOW_PATTERNS = ["dag", "sequential", "parallel", "supervisor", "collaborative"];

  /** The spec with its `pattern` in the core's spelling (seed 001 writes `SEQUENTIAL`). */
  function withPattern(spec) {
    if (!isObject(spec) || typeof spec.pattern !== "string") return spec;
    const pattern = spec.pattern.toLowerCase();
    if (!WORKFLOW_PATTERNS.includes(pattern)) {
      throw invalid(`invalid workflow.pattern: '${spec.pattern}' is not one of ${WORKFLOW_PATTERNS.join(", ")}`);
    }
    return pattern === spec.pattern ? spec : { ...spec, pattern };
  }

  function takeApart(spec, eager) {
    spec = withPattern(spec);
    if (isObject(spec) && (spec.pattern === "supervisor" || spec.pattern === "collaborative")) {
      throw invalid(`a ${spec.pattern} workflow is an agent pattern: run it with runWorkflow (or runPattern), which resolves with its result, or submitWorkflow, which returns its run's id`);
    }
    if (!isObject(spec) || !Array.isArray(spec.tasks)) throw invalid("a workflow needs { tasks: [...], dependencies?, failurePolicy?, id?, name? }");
    const tasks = spec.tasks;
    const n = tasks.length;
    const inputs = new Array(n);
    const metadata = new Array(n);
    for (let i = 0; i < n; i++) {
      const t = tasks[i];
      if (!isObject(t)) throw invalid(`workflow task #${i} must be an object`);
      inputs[i] = t.input;
      metadata[i] = t.metadata;
    }
    const json = () => {
      const { tasks: _, ...rest } = spec;
      const light = tasks.map(({ input: _i, metadata: _m, ...t }) => t);
      return specJson({ ...rest, tasks: light }, "workflow");
    };
    let plain = plainShape(spec);
    if (eager && plain !== undefined) {
      // Compiling: the core checks the ids and dependencies once, and keeps them.
      const { ids, offsets, deps, ...rest } = plain;
      plain = { ...rest, shape: coreApi.compileShape(ids, offsets, deps) };
    }
    const parts = { size: n, inputs, metadata, plain, json };
    if (eager || plain === undefined) {
      const text = json();
      parts.json = () => text;
    }
    return parts;
  }

  // A workflow whose tasks have only an id, an agent, an input, a priority and dependencies goes to
  // the core as arrays of integers instead of JSON, its agents named by slot (resolved to indexes
  // when submitted). Anything else, or anything wrong, takes the JSON path, whose errors name the
  // culprit.
  function plainShape(spec) {
    for (const k in spec) if (!PLAIN_SPEC_KEYS.has(k)) return undefined;
    const n = spec.tasks.length;
    if (n === 0) return undefined;
    const ids = new Array(n);
    const agentSlot = new Map();
    const agentNames = [];
    const slots = new Uint32Array(n);
    const priorities = new Uint32Array(n);
    let depCount = 0;
    for (let i = 0; i < n; i++) {
      const t = spec.tasks[i];
      if (typeof t.id !== "string" || typeof t.agent !== "string" || t.id.includes("\n")) return undefined;
      for (const k in t) if (!plainTaskKey(k)) return undefined;
      let slot = agentSlot.get(t.agent);
      if (slot === undefined) {
        slot = agentNames.push(t.agent) - 1;
        agentSlot.set(t.agent, slot);
      }
      const p = t.priority;
      if (p !== undefined && !(Number.isInteger(p) && p >= 1 && p <= 255)) return undefined;
      if (t.dependsOn !== undefined) {
        if (!Array.isArray(t.dependsOn)) return undefined;
        depCount += t.dependsOn.length;
      }
      ids[i] = t.id;
      slots[i] = slot;
      priorities[i] = p ?? 0;
    }
    // Ids are checked for repeats by the core; here only to resolve dependencies by name.
    const offsets = new Uint32Array(n + 1);
    const deps = new Uint32Array(depCount);
    if (depCount > 0) {
      const index = new Map();
      for (let i = 0; i < n; i++) {
        if (index.has(ids[i])) return undefined;
        index.set(ids[i], i);
      }
      let k = 0;
      for (let i = 0; i < n; i++) {
        const list = spec.tasks[i].dependsOn;
        if (list !== undefined) {
          for (let m = 0; m < list.length; m++) {
            const j = index.get(list[m]);
            if (j === undefined) return undefined;
            deps[k++] = j;
          }
        }
        offsets[i + 1] = k;
      }
    }
    const { tasks, ...header } = spec;
    return { header: specJson(header, "workflow"), ids: ids.join("\n"), agentNames, slots, priorities, offsets, deps };
  }

  /**
   * A workflow spec taken apart once, to submit many times to any orchestrator
   * (`Orchestrator.compileWorkflow`): dependencies are resolved by name, the ids and dependencies
   * checked by the core (a `WorkflowShape` in wasm) and the JSON written once; each submit checks
   * what depends on the orchestrator, and reports a problem the shape holds. It keeps its own copy
   * of the spec's shape, so changing the spec afterwards changes nothing; inputs and metadata are
   * the same values the spec held.
   */
  class CompiledWorkflow {
    #parts;
    constructor(token, parts) {
      if (token !== INTERNAL) throw invalid("use Orchestrator.compileWorkflow(spec)");
      this.#parts = parts;
      Object.freeze(this);
    }
    /** How many tasks the workflow has. */
    get size() { return this.#parts.size; }
    static parts(compiled) { return compiled.#parts; }
  }

  function checkHandler(id, handler) {
    if (handler !== undefined && typeof handler !== "function") {
      throw invalid(`agent '${shown(id)}': handler must be a function, got ${handler === null ? "null" : typeof handler}`);
    }
  }

  /**
   * A multi-agent orchestrator. Every method that changes state records events in the journal;
   * a method that throws has changed nothing.
   */
  class Orchestrator {
    #runtime;

    /** The runtime, once agents' answers still waiting for the end of the turn are in: every
     * method then sees (and acts after) everything the agents have answered. */
    get #rt() {
      const rt = this.#runtime;
      if (rt.answerCount > 0) rt.takeAnswers();
      return rt;
    }

    constructor(options) {
      if (isObject(options) && options[INTERNAL]) {
        this.#runtime = options[INTERNAL];
        return;
      }
      const o = checkOptions(options);
      const now = o.clock === "virtual" ? o.startTime : Date.now();
      // Given for a new run, snapshotEveryEvents also has the core list a snapshot every N events
      // (DESIGN's "every N events"), recorded in the journal as the run's option; a store's
      // snapshots follow it too. Without it, a store snapshots every 1,000 and none is listed.
      if (options?.snapshotEveryEvents !== undefined) o.core.snapshotEveryEvents = o.snapshotEveryEvents;
      // Recorded, so that a restore or a reopened store goes on on the same clock.
      if (o.clock === "virtual") o.core.virtualClock = true;
      const core = coreApi.create(specJson(o.core, "options"), o.seed, now);
      const rt = this.#runtime = new Runtime(core, o.clock, now, o.eventsBufferMax);
      if (o.store !== undefined) {
        // A new run: the store forgets the one it held, then gets this run's journal from seq 1.
        rt.persister = new Persister(rt, o.store, o.snapshotEveryEvents, 0, 0);
        rt.persister.replaceNow();
      }
    }

    static #wrap(core, options, agents, tools, frozen, live = false, persisted = undefined, later = undefined, given = Object.keys(agents ?? {})) {
      const o = checkOptions(options);
      if (agents !== undefined && !isObject(agents)) throw invalid("agents must be an object of handlers by agent id");
      if (tools !== undefined && !isObject(tools)) throw invalid("tools must be an object of functions by tool name");
      const start = o.clock === "virtual" ? Math.max(o.startTime, core.now()) : Date.now();
      const rt = new Runtime(core, o.clock, start, o.eventsBufferMax);
      rt.frozen = frozen;
      if (frozen) core.decideEverySnapshots(false); // a picture records nothing of its own
      for (const [name, fn] of Object.entries(tools ?? {})) {
        if (typeof fn !== "function") throw invalid(`tools.${shown(name)} must be a function`);
        rt.tools.set(name, fn);
      }
      const removed = new Set();
      for (let i = 0; i < core.agentCount(); i++) {
        if (!core.agentRemoved(i)) rt.agentIx.set(core.agentId(i), i);
        else removed.add(core.agentId(i));
      }
      for (const [id, handler] of Object.entries(agents ?? {})) {
        checkHandler(id, handler);
        const ix = rt.agentIx.get(id);
        // The run's handlers, given again: one for an agent removed since has nothing to run.
        if (ix === undefined && removed.has(id)) continue;
        // A fork from before an agent was registered: its handler serves it once it is
        // registered again without one. A name the run never registered is a mistake.
        if (ix === undefined && later?.has(id)) (rt.defaultHandlers ??= {})[id] = handler;
        else if (ix === undefined) throw new BatonError("unknown_agent", `unknown agent '${id}' in agents`);
        else rt.handlers[ix] = handler;
      }
      // A run resumed (restore, open) whose agent has work but was given no handler would fail
      // that work at once, for good (a misspelled id in `agents`): refused, nothing written.
      const unserved = later === undefined && !frozen ? unservedAgent(core, rt, given) : undefined;
      if (unserved !== undefined) {
        core.free();
        throw new BatonError("invalid_argument", unserved);
      }
      const orch = new Orchestrator({ [INTERNAL]: rt });
      rt.delivered = core.seq();
      if (o.store !== undefined) {
        const { savedSeq = 0, sinceSnapshot = 0 } = persisted ?? {};
        rt.persister = new Persister(rt, o.store, o.snapshotEveryEvents, savedSeq, sinceSnapshot);
        // Handed a store, a restored or forked run is written whole: its journal when the core
        // holds it from seq 1, else a snapshot (Persister.collect decides).
        if (persisted === undefined) rt.persister.replacing = true;
      }
      if (live) core.reissueInFlight(rt.now());
      rt.pump();
      if (rt.persister?.replacing) rt.persister.replaceNow();
      return orch;
    }

    /**
     * Rebuilds an orchestrator from `snapshot()`. Handlers are functions, so they are given again:
     * `{ agents: { id: handler } }`. Calls that were in flight are started again (next attempt).
     */
    static restore(snapshot, options = {}) {
      if (!isObject(options)) throw invalid("options must be an object");
      const { agents, tools, ...rest } = options;
      if (isObject(snapshot) && !("format" in snapshot) && typeof snapshot.id === "string" && "reason" in snapshot) {
        throw new BatonError("decode_error", `that is the summary of snapshot '${snapshot.id}', as snapshots() lists it: getSnapshot('${snapshot.id}') on its orchestrator gives the snapshot whole, to restore`);
      }
      const text = typeof snapshot === "string" ? snapshot : jsonText(snapshot, "snapshot");
      if (typeof text !== "string") throw invalid("snapshot must be a string or an object from snapshot()");
      const probe = checkOptions(rest);
      const core = coreApi.load(text, "");
      let clock;
      try {
        checkRecorded(probe, core, "restore");
        clock = recordedClock(rest, core);
        // Calls that were in flight are started again, at the time the restored run goes on from.
        core.reissueInFlight(clock === "virtual" ? Math.max(probe.startTime, core.now()) : Date.now());
      } catch (e) {
        core.free();
        throw e;
      }
      return Orchestrator.#wrap(core, { ...rest, clock }, agents, tools, false);
    }

    /**
     * Reopens the run a store holds (after a page reload or a process restart): loads its latest
     * snapshot, applies the journal written after it, and starts the calls that were in flight
     * again with the next attempt number (at-least-once). `agents` gives the handlers by agent
     * id; an agent registered later without a handler takes its handler from there too. An empty
     * store starts a new run with the other options.
     */
    static async open(store, options = {}) {
      checkStore(store);
      if (!isObject(options)) throw invalid("options must be an object");
      const { agents, tools, ...rest } = options;
      if (agents !== undefined && !isObject(agents)) throw invalid("agents must be an object of handlers by agent id");
      // Another open run of this process writes this store object: resuming its run beside it
      // would run its tasks twice.
      const busy = () => {
        const holder = storeRuns.get(store);
        if (holder !== undefined && !holder.rt.closed) {
          throw new BatonError("store_busy", "another orchestrator of this process writes this store: close it first");
        }
      };
      busy();
      // A run of this process closed on this store may still be writing to it: load after its
      // last write (close() queued it), not after whatever a live run writes later.
      await (storeWrites.get(store) ?? DONE);
      busy(); // (one made meanwhile)
      // A store that can be written by two (a FileStore's directory) is taken before it is read,
      // so that two orchestrators never resume, and re-run, one run.
      if (typeof store.lock === "function") await storeRead(() => store.lock(), "taken");
      // Refused after the lock was taken (a bad option, a run that does not load): no
      // orchestrator holds it, so it goes.
      let made;
      try {
        made = await Orchestrator.#openTaken(store, rest, agents, tools);
        return made;
      } catch (e) {
        if (made !== undefined) made.close();
        else if (typeof store.release === "function") await Promise.resolve(store.release()).catch(() => {});
        throw e;
      }
    }

    static async #openTaken(store, rest, agents, tools) {
      const contents = await storeRead(() => store.load(), "read");
      const snapshot = contents?.snapshot;
      const journal = contents?.journal ?? "";
      if (snapshot === undefined && journal.trim() === "") {
        for (const [name, fn] of Object.entries(tools ?? {})) {
          if (typeof fn !== "function") throw invalid(`tools.${shown(name)} must be a function`);
        }
        const orch = new Orchestrator({ ...rest, store });
        const rt = orch.#rt;
        rt.defaultHandlers = { ...agents };
        for (const [name, fn] of Object.entries(tools ?? {})) rt.tools.set(name, fn);
        return orch;
      }
      const probe = checkOptions(rest); // a bad option is refused before anything is built
      const core = snapshot === undefined ? coreApi.replay(journal) : coreApi.load(snapshot, journal);
      // Only the options that differ from the recorded ones: the same call that starts a run
      // when the store is empty reopens it later, and says nothing when nothing differs.
      const differing = new Set(core.optionsDiffering(specJson(probe.core, "options")));
      const changed = Object.fromEntries(Object.entries(probe.core).filter(([k]) => differing.has(k)));
      try {
        checkRecorded({ ...probe, core: changed }, core, "a resumed run");
      } catch (e) {
        // Options given for a new run (as at every start) do not apply to a resumed one: said once.
        console.warn(`baton: Orchestrator.open resumed the stored run: ${e.message}`);
      }
      const known = new Set();
      for (let i = 0; i < core.agentCount(); i++) if (!core.agentRemoved(i)) known.add(core.agentId(i));
      const now = {}, later = {};
      for (const [id, fn] of Object.entries(agents ?? {})) (known.has(id) ? now : later)[id] = fn;
      const lines = journal.split("\n").filter((l) => l.trim() !== "").length;
      const persisted = { savedSeq: core.seq(), sinceSnapshot: lines };
      const orch = Orchestrator.#wrap(core, { ...rest, clock: recordedClock(rest, core), store }, now, tools, false, true, persisted, undefined, Object.keys(agents ?? {}));
      orch.#rt.defaultHandlers = { ...orch.#rt.defaultHandlers, ...later };
      return orch;
    }

    /**
     * Resolves once everything recorded so far is written to the store (rejects with
     * `store_failed` if a write failed). Without a store it resolves at once.
     */
    flush() {
      const p = this.#rt.persister;
      return p === undefined ? Promise.resolve() : p.flush();
    }

    /**
     * Re-executes a journal's inputs against this build of Baton and compares every record it
     * makes with the recorded one: `{ ok, records, divergence?: { seq, expected, actual, message } }`.
     */
    static verifyReplay(journal) {
      const text = journalText(journal);
      const report = JSON.parse(coreApi.verifyReplay(text));
      if (report.divergence) {
        const d = report.divergence;
        d.expected = d.expected === null || d.expected === undefined ? undefined : JSON.parse(d.expected);
        d.actual = d.actual === null || d.actual === undefined ? undefined : JSON.parse(d.actual);
      }
      return report;
    }

    /** `Orchestrator.verifyReplay` over this orchestrator's journal (or the one given). */
    verifyReplay(journal) {
      return Orchestrator.verifyReplay(journal ?? this.journalText());
    }

    /**
     * Rebuilds the state a journal describes, without calling any agent; `uptoSeq` stops early
     * (time travel). Accepts `journal()`'s array or `journalText()`'s JSON Lines.
     */
    static replay(journal, options = {}) {
      if (!isObject(options)) throw invalid("options must be an object");
      const { agents, tools, uptoSeq, live = false, snapshot, ...rest } = options;
      const text = journalText(journal);
      if (uptoSeq !== undefined && !(Number.isSafeInteger(uptoSeq) && uptoSeq >= 1)) throw invalid(`invalid uptoSeq: ${shown(uptoSeq)}`);
      if (typeof live !== "boolean") throw invalid("live must be a boolean");
      if (rest.store !== undefined && !live) throw invalid("a replay writes to a store only when it is live (live: true)");
      // From a snapshot, the journal is what was written after it (a store's contents).
      const base = snapshot === undefined ? undefined : typeof snapshot === "string" ? snapshot : jsonText(snapshot, "snapshot");
      if (snapshot !== undefined && typeof base !== "string") throw invalid("snapshot must be a string or an object from snapshot()");
      const core = base === undefined ? coreApi.replay(text, uptoSeq) : coreApi.load(base, text, uptoSeq);
      try {
        // A run made live goes on from the end of the command its last record belongs to: from
        // the middle of one (a failure whose retry was not decided yet) it would be stuck.
        if (live && uptoSeq !== undefined) core.finishCommand(text);
        checkRecorded(checkOptions(rest), core, "replay");
      } catch (e) {
        core.free();
        throw e;
      }
      return Orchestrator.#wrap(core, { clock: "virtual", ...rest }, agents, tools, !live, live, undefined, registeredIn(text));
    }

    // ---- agents ----

    registerAgent(spec) {
      if (!isObject(spec)) throw invalid("registerAgent needs an object { id, name?, capabilities?, concurrency?, maxErrors?, handler? }");
      // `execute` is the handler's name in seed 004's agents (`async def execute(self, task)`).
      if (spec.handler !== undefined && spec.execute !== undefined) throw invalid(`agent '${spec.id}': give handler or execute, not both`);
      const { handler: named, execute, ...rest } = spec;
      const given = named ?? execute;
      checkHandler(spec.id, given);
      const rt = this.#rt;
      const handler = given ?? rt.defaultHandlers?.[spec.id];
      checkHandler(spec.id, handler);
      const ix = rt.core.registerAgent(specJson(rest, "agent"), rt.now());
      rt.handlers[ix] = handler;
      rt.agentIx.set(spec.id, ix);
      rt.pump();
      return spec.id;
    }

    #lifecycle(id, command) {
      const rt = this.#rt;
      rt.core.lifecycle(rt.agent(id), command, rt.now());
      rt.pump();
    }
    startAgent(id) { this.#lifecycle(id, "start"); }
    /** Changes an agent's `name`, `capabilities`, `concurrency` or `maxErrors`; the rest stays. */
    updateAgent(id, update) {
      if (!isObject(update)) throw invalid("updateAgent(id, { name?, capabilities?, concurrency?, maxErrors? })");
      const rt = this.#rt;
      rt.core.updateAgent(rt.agent(id), specJson(update, "update"), rt.now());
      rt.pump();
    }

    pauseAgent(id) { this.#lifecycle(id, "pause"); }
    resumeAgent(id) { this.#lifecycle(id, "resume"); }
    stopAgent(id) { this.#lifecycle(id, "stop"); }
    recoverAgent(id) { this.#lifecycle(id, "recover"); }
    completeAgent(id) { this.#lifecycle(id, "complete"); }
    terminateAgent(id) { this.#lifecycle(id, "terminate"); }
    /** Terminates the agent if it is not already, then removes it (`agent.removed`). */
    removeAgent(id) {
      const rt = this.#rt;
      const ix = rt.agent(id);
      rt.core.lifecycle(ix, "remove", rt.now());
      rt.agentIx.delete(id);
      rt.handlers[ix] = undefined; // it starts no call again
      rt.pump();
    }

    /** Moves an agent along one edge of the lifecycle table. */
    transitionAgent(id, to, reason = "manual") {
      const rt = this.#rt;
      if (typeof to !== "string" || typeof reason !== "string") throw invalid("transitionAgent(id, to: string, reason?: string)");
      rt.core.transition(rt.agent(id), to, reason, rt.now());
      rt.pump();
    }

    /** Counts an error against an agent (the first seed's `report_error`). */
    reportError(agentId, message) {
      const rt = this.#rt;
      rt.core.reportError(rt.agent(agentId), reportedMessage(message, "an error reported by the caller"), rt.now());
      rt.pump();
    }

    agentHistory(id) {
      const rt = this.#rt;
      return JSON.parse(rt.core.agentHistory(rt.agent(id)));
    }

    agentStatus(id) {
      const rt = this.#rt;
      return rt.core.agentStatus(rt.agent(id));
    }

    // ---- tasks ----

    /** Submits a task for the orchestrator to run; returns its id. */
    submit(spec) {
      if (!isObject(spec)) throw invalid("submit needs an object { agent, input?, priority?, id?, name?, metadata? }");
      const rt = this.#rt;
      const { input, metadata, callback, ...rest } = spec;
      if (callback !== undefined && typeof callback !== "function") throw invalid(`callback must be a function of the ended task, got ${describe(callback)}`);
      const inputId = rt.payload(input);
      let ix;
      try {
        const p = rest.priority;
        // The hot path: only an agent, an input and maybe a priority, so no JSON at all.
        let plain = metadata === undefined && (p === undefined || (Number.isInteger(p) && p >= 1 && p <= 255));
        for (const k in rest) if (k !== "agent" && k !== "priority") plain = false;
        if (plain && typeof rest.agent === "string") {
          ix = rt.core.submitTo(rt.agent(rest.agent), p ?? 0, inputId, rt.now());
        } else {
          ix = rt.core.submit(specJson(rest, "task"), inputId, rt.payload(metadata), rt.now());
        }
      } catch (e) {
        if (inputId !== NO_PAYLOAD) rt.values[inputId] = undefined;
        throw e;
      }
      rt.pump();
      const id = rt.core.taskId(ix);
      // Seed 001's `submit(..., callback=on_complete)`: called with the task once it has ended.
      if (callback !== undefined) {
        this.wait(id).then((task) => callback(task)).catch((e) => {
          if (e?.code !== "closed") console.error(`baton: the callback of task '${id}' threw:`, e);
        });
      }
      return id;
    }

    /** Resolves with the task once it is terminal (completed, failed, cancelled, ...). */
    /** A task's view once it is terminal; given a workflow's id instead, as `waitWorkflow`. */
    wait(id) {
      const rt = this.#rt;
      let workflow = false;
      const find = () => {
        try {
          return rt.taskIx(id);
        } catch (e) {
          if (e?.code !== "unknown_task") throw e;
          try { this.#workflowOrRun(id); } catch { throw e; } // none of them: the task's error
          workflow = true;
          throw e;
        }
      };
      const waited = rt.waitFor(rt.taskWaiters, find, (ix) => rt.core.taskTerminal(ix), (ix) => rt.taskView(ix));
      if (!workflow) return waited;
      waited.catch(() => {}); // the task's refusal, answered by the workflow's wait instead
      return this.waitWorkflow(id);
    }

    getTask(id) {
      const rt = this.#rt;
      return rt.taskView(rt.taskIx(id));
    }

    status(id) {
      const rt = this.#rt;
      return rt.core.taskStatus(rt.taskIx(id));
    }

    cancel(id, reason = "cancelled by the user") {
      const rt = this.#rt;
      rt.core.cancelTask(rt.taskIx(id), reasonText(reason), rt.now());
      rt.pump();
    }

    /** The first seed's manual style: a task that you run yourself and report. */
    createTask(agentId, name, options = {}) {
      if (!isObject(options)) throw invalid("createTask options must be an object");
      // What submit() takes besides would be taken and never used (a timeout that never fires,
      // an agent other than the one named): the caller runs this task.
      for (const key of Object.keys(options)) {
        if (key !== "id" && key !== "priority" && key !== "metadata") {
          throw invalid(`createTask options take id, priority and metadata, not '${key}': a task created by hand is run by its caller, so retries, timeouts, routing and input are submit()'s`);
        }
      }
      const rt = this.#rt;
      const { metadata, ...rest } = options;
      const spec = specJson({ ...rest, agent: agentId, name }, "task");
      const ix = rt.core.createTask(spec, rt.payload(metadata), rt.now());
      rt.pump();
      return rt.core.taskId(ix);
    }

    startTask(id) {
      const rt = this.#rt;
      rt.core.startTask(rt.taskIx(id), rt.now());
      rt.pump();
    }

    completeTask(id, result) {
      const rt = this.#rt;
      const ix = rt.taskIx(id);
      rt.core.completeTask(ix, rt.payload(result), rt.now());
      rt.pump();
    }

    failTask(id, error) {
      const rt = this.#rt;
      rt.core.failTask(rt.taskIx(id), reportedMessage(error, "failed by the caller"), rt.now());
      rt.pump();
    }

    // ---- workflows ----

    /** Validates and submits a workflow; returns its id. Nothing is stored if it is invalid. */
    submitWorkflow(spec, options) {
      spec = withOptions(spec, options);
      const pattern = isObject(spec) && typeof spec.pattern === "string" ? spec.pattern.toLowerCase() : undefined;
      if (pattern === "supervisor" || pattern === "collaborative") {
        // Seed 001's `submit_workflow(workflow, pattern=SUPERVISOR)`: the agent pattern's run,
        // whose id waitWorkflow, wait and getWorkflow also take.
        const { pattern: _, ...rest } = spec;
        const rt = this.#rt;
        const ix = this.#startRun({ kind: pattern, ...rest });
        return JSON.parse(rt.core.runView(ix)).id;
      }
      return this.#rt.core.workflowId(this.#submitWorkflow(spec));
    }

    /** A workflow's index, or (`run`) undefined if `id` is a pattern run's (see submitWorkflow). */
    #workflowOrRun(id) {
      const rt = this.#rt;
      try {
        return rt.workflowIx(id);
      } catch (e) {
        if (e?.code !== "unknown_workflow") throw e;
        try { rt.core.runIx(id); } catch { throw e; } // neither: the workflow's error
        return undefined;
      }
    }

    /** submitWorkflow, giving the workflow's index (runWorkflow waits on it without its id). */
    #submitWorkflow(spec) {
      const parts = spec instanceof CompiledWorkflow ? CompiledWorkflow.parts(spec) : takeApart(spec, false);
      const rt = this.#rt;
      const plain = parts.plain;
      let agents;
      if (plain !== undefined) {
        const ixs = plain.agentNames.map((a) => rt.agentIx.get(a));
        // An agent this orchestrator does not know: the JSON path says which.
        if (!ixs.includes(undefined)) {
          const slots = plain.slots;
          agents = new Array(slots.length); // plain, as payloads() says
          for (let i = 0; i < slots.length; i++) agents[i] = ixs[slots[i]];
        }
      }
      const payloads = rt.payloads(parts.inputs, parts.metadata);
      let ix;
      try {
        if (agents === undefined) ix = rt.core.submitWorkflow(parts.json(), payloads, rt.now());
        else if (plain.shape !== undefined) ix = rt.core.submitWorkflowShaped(plain.header, plain.shape, agents, plain.priorities, payloads, rt.now());
        else ix = rt.core.submitWorkflowPlain(plain.header, plain.ids, agents, plain.priorities, plain.offsets, plain.deps, payloads, rt.now());
      } catch (e) {
        rt.dropValues(payloads);
        throw e;
      }
      rt.pump();
      return ix;
    }

    /**
     * Takes a workflow spec apart once, for `submitWorkflow` and `runWorkflow` to take many
     * times, in this or any orchestrator, without doing that work again.
     */
    static compileWorkflow(spec) {
      return new CompiledWorkflow(INTERNAL, takeApart(spec, true));
    }

    /**
     * Submits a workflow and resolves with its result when it ends (completed or failed).
     * `pattern: "supervisor" | "collaborative"` runs that agent pattern instead.
     */
    runWorkflow(spec, options) {
      // Not `async`: the waiter's promise is returned as it is, without a wrapper promise and
      // the turns it costs to adopt one; a refused spec still rejects rather than throws.
      try {
        spec = withPattern(withOptions(spec, options));
        if (isObject(spec) && (spec.pattern === "supervisor" || spec.pattern === "collaborative")) {
          const { pattern, ...rest } = spec;
          return this.runPattern({ kind: pattern, ...rest });
        }
        const ix = this.#submitWorkflow(spec);
        const rt = this.#rt;
        return rt.waitFor(rt.flowWaiters, () => ix, (w) => rt.core.workflowDone(w), (w) => rt.workflowView(w));
      } catch (e) {
        return Promise.reject(e);
      }
    }

    waitWorkflow(id) {
      const rt = this.#rt;
      try {
        if (typeof id === "string" && this.#workflowOrRun(id) === undefined) return this.waitRun(id);
      } catch {
        // answered by waitFor, as a rejection
      }
      return rt.waitFor(rt.flowWaiters, () => rt.workflowIx(id), (ix) => rt.core.workflowDone(ix), (ix) => rt.workflowView(ix));
    }

    getWorkflow(id) {
      const rt = this.#rt;
      if (typeof id === "string" && this.#workflowOrRun(id) === undefined) return this.getRun(id);
      return rt.workflowView(rt.workflowIx(id));
    }

    /** Each task's status by its id within the workflow: a cheap read for views that redraw often. */
    workflowStatuses(id) {
      const rt = this.#rt;
      const ix = rt.workflowIx(id);
      let ids = rt.localIds.get(ix);
      if (ids === undefined) {
        ids = rt.core.workflowLocalIds(ix).split("\n");
        rt.localIds.set(ix, ids);
      }
      const codes = rt.core.workflowStatusCodes(ix);
      const out = {};
      for (let i = 0; i < ids.length; i++) out[ids[i]] = TASK_STATUSES[codes[i]];
      return out;
    }

    /** Cancels every task of the agent that waits (pending, queued or retrying); returns how many. */
    cancelAgentTasks(agentId, reason = "cancelled by the user") {
      const rt = this.#rt;
      const n = rt.core.cancelAgentTasks(rt.agent(agentId), reasonText(reason), rt.now());
      rt.pump();
      return n;
    }

    /** Stops the orchestrator cleanly: cancels everything unfinished and refuses new work. */
    terminate(reason = "terminated by the user") {
      const rt = this.#rt;
      rt.core.terminate(reasonText(reason), rt.now());
      rt.pump();
    }

    cancelWorkflow(id, reason = "cancelled by the user") {
      const rt = this.#rt;
      rt.core.cancelWorkflow(rt.workflowIx(id), reasonText(reason), rt.now());
      rt.pump();
    }

    // ---- routing, sessions, contracts ----

    /**
     * Routes `{ capability, parameters }` to the least-loaded running agent with the capability,
     * records REQUEST and RESPONSE contracts under `sessionId`, and resolves with the outcome.
     */
    async orchestrate(sessionId, request) {
      if (typeof sessionId !== "string") throw invalid("orchestrate(sessionId, { capability, parameters }): sessionId must be a string");
      if (!isObject(request) || typeof request.capability !== "string") throw invalid("orchestrate needs { capability: string, parameters?, priority? }");
      const { capability, parameters, ...rest } = request;
      // `input`, as submit takes it, is the same thing as seed 004's `parameters`: one of them.
      if (parameters !== undefined && rest.input !== undefined) throw invalid("orchestrate takes parameters or input, not both");
      const input = parameters !== undefined ? parameters : rest.input;
      const id = this.submit({ ...rest, capability, input, session: sessionId });
      const task = await this.wait(id);
      return { sessionId, taskId: task.id, agent: task.agent, capability, status: task.status, result: task.output, error: task.error };
    }

    /** The session's REQUEST and RESPONSE contracts, each with the hash of the one before. */
    contracts(query) {
      const sessionId = typeof query === "string" ? query : query?.sessionId;
      if (typeof sessionId !== "string") throw invalid("contracts({ sessionId }) needs a session id");
      const rt = this.#rt;
      rt.resolvePayloads();
      // `result` and `time` are the issue's names for a response's payload and for `at`; they are
      // not hashed, and verifyContracts takes the list back with them.
      return JSON.parse(rt.core.contracts(sessionId)).map((c) => (c.kind === "RESPONSE" ? { ...c, result: c.payload, time: c.at } : { ...c, time: c.at }));
    }

    /** Checks a session's hash chain; pass a list from `contracts()` to check that list too. */
    verifyContracts(sessionId, list) {
      if (typeof sessionId !== "string") throw invalid("verifyContracts(sessionId, list?) needs a session id");
      const rt = this.#rt;
      rt.resolvePayloads();
      const report = JSON.parse(rt.core.verifyContracts(sessionId, list === undefined ? undefined : specJson(list, "contracts")));
      // `result` and `time` (contracts()'s names for a response's payload and for `at`) are not
      // hashed: each must say what the hashed field says, or the list was changed.
      if (report.ok && Array.isArray(list)) {
        const changed = list.find((c) => isObject(c) && (("result" in c && toJson(c.result) !== toJson(c.payload)) || ("time" in c && c.time !== c.at)));
        if (changed !== undefined) return { ok: false, checked: report.checked, problem: `contract ${changed.id}: its result or time differs from its payload or at` };
      }
      return report;
    }

    /** Hands the session's contracts to a summarizer agent; resolves with its answer, stored as the session's memory. */
    async compressSession(sessionId, summarizerAgent, intent) {
      const rt = this.#rt;
      // Also `compressSession(id, { agent, intent })`.
      if (isObject(summarizerAgent)) {
        const { agent: a, intent: i, ...other } = summarizerAgent;
        const unknown = Object.keys(other)[0];
        if (unknown !== undefined) throw invalid(`compressSession: unknown option '${unknown}' (agent, intent)`);
        summarizerAgent = a;
        intent = i;
      }
      if (intent !== undefined && intent !== null && typeof intent !== "string") throw invalid(`compressSession: intent is a string, got ${describe(intent)}`);
      rt.resolvePayloads();
      // No summarizer named (seed 004 passes the session alone): the core routes to an agent with
      // the capability "compress".
      const agent = summarizerAgent === undefined || summarizerAgent === null ? undefined : idOf(summarizerAgent, "an agent id");
      const ix = rt.core.compressSession(idOf(sessionId, "a session id"), agent, intent ?? undefined, rt.now());
      rt.pump();
      const task = await this.wait(rt.core.taskId(ix));
      if (task.status !== "Completed") throw new BatonError("compression_failed", `the summarizer's task ${task.id} is ${task.status}: ${task.error?.message}`);
      return task.output;
    }

    /** The session's memory block (the last summarizer's answer), if any. */
    sessionMemory(sessionId) {
      const rt = this.#rt;
      return rt.value(rt.core.sessionMemory(idOf(sessionId, "a session id")));
    }

    // ---- templates ----

    /** Defines a versioned template (`name@version`); every bad field is listed in one error. */
    defineTemplate(spec) {
      if (!isObject(spec)) throw invalid("defineTemplate needs { name, version?, instructions?, model?, temperature?, capabilities?, tools?, limits? }");
      const rt = this.#rt;
      const ref = rt.core.defineTemplate(specJson(spec, "template", true), rt.now());
      rt.pump();
      return ref;
    }

    /** Every template, built-in and defined. */
    templates() { return JSON.parse(this.#rt.core.templates()); }

    /** Registers an agent from a template (`analyst@2`, or `analyst` for the latest); returns its id. */
    createAgentFromTemplate(template, options) {
      if (!isObject(options) || typeof options.id !== "string") throw invalid("createAgentFromTemplate(template, { id, handler?, name? })");
      // The template is the agent's configuration: anything else here would be silently lost.
      const unknown = Object.keys(options).filter((k) => !["id", "handler", "execute", "name"].includes(k));
      if (unknown.length > 0) throw invalid(`createAgentFromTemplate: unknown option ${unknown.map((k) => `'${k}'`).join(", ")}; it takes { id, handler?, name? } (the rest comes from the template; change it with updateAgent)`);
      if (options.handler !== undefined && options.execute !== undefined) throw invalid(`agent '${options.id}': give handler or execute, not both`);
      const handler = options.handler ?? options.execute; // `execute`: as in registerAgent
      checkHandler(options.id, handler);
      const rt = this.#rt;
      const ix = rt.core.createAgentFromTemplate(idOf(template, "a template id"), options.id, options.name, rt.now());
      rt.handlers[ix] = handler ?? rt.defaultHandlers?.[options.id];
      rt.agentIx.set(options.id, ix);
      rt.pump();
      return options.id;
    }

    // ---- messages ----

    /** Sends a message between agents; returns its id (`msg-<n>`). Status: sent → delivered → acknowledged. */
    send(from, to, payload) {
      const rt = this.#rt;
      return rt.send(rt.agent(from), to, payload);
    }

    /** The agent's unacknowledged messages; reading delivers them. */
    inbox(agentId) {
      const rt = this.#rt;
      return rt.inbox(rt.agent(agentId));
    }

    /** Acknowledges a message. */
    ack(messageId) { this.#rt.ack(messageId); }

    /** Every message from or to the agent, with its status. */
    messages(agentId) {
      const rt = this.#rt;
      return rt.messages(rt.core.messageHistory(rt.agent(agentId)));
    }

    // ---- tools ----

    /** Registers a tool: `fn(args, { agentId, taskId })`, sync or async. */
    registerTool(name, fn, options = {}) {
      if (typeof fn !== "function") throw invalid(`registerTool('${shown(name)}', fn): fn must be a function`);
      if (!isObject(options)) throw invalid("registerTool options must be an object { description?, category?, rateLimit? }");
      const rt = this.#rt;
      try {
        rt.core.registerTool(specJson({ ...options, name }, "tool"), rt.now());
      } catch (e) {
        // A tool restored without its function: this gives it one (its recorded options stay).
        if (!(e?.code === "duplicate_id" && !rt.tools.has(name))) throw e;
      }
      rt.tools.set(name, fn);
      rt.pump();
      return name;
    }

    grantTools(agentId, names) {
      if (!Array.isArray(names)) throw invalid(`grantTools(agentId, names): names is an array of tool names, got ${describe(names)}`);
      const rt = this.#rt;
      rt.core.grantTools(rt.agent(agentId), specJson(names, "tools"), rt.now());
      rt.pump();
    }

    revokeTools(agentId, names) {
      if (!Array.isArray(names)) throw invalid(`revokeTools(agentId, names): names is an array of tool names, got ${describe(names)}`);
      const rt = this.#rt;
      rt.core.revokeTools(rt.agent(agentId), specJson(names, "tools"), rt.now());
      rt.pump();
    }

    tools() { return JSON.parse(this.#rt.core.tools()); }

    // ---- schedules ----

    /** Schedules a task: `{ at }` (ms), `{ everyMs }`, or `{ cron: "0 9 * * MON" }`; returns the job id. */
    schedule(trigger, task) {
      if (!isObject(trigger)) throw invalid("schedule({ at } | { everyMs } | { cron }, task)");
      if (!isObject(task)) throw invalid("schedule(trigger, task): task must be { agent | capability, input?, priority? }");
      const rt = this.#rt;
      const { input, ...rest } = task;
      const json = input === undefined ? undefined : toJson(input);
      const pid = json === undefined || json === "" ? NO_PAYLOAD : rt.core.allocJson(json);
      const id = rt.core.schedule(specJson(trigger, "schedule"), specJson(rest, "task"), pid, rt.now());
      rt.pump();
      return id;
    }

    /** The jobs, with their next run. */
    jobs() {
      const rt = this.#rt;
      return JSON.parse(rt.core.jobs()).map(({ inputId, ...j }) => ({ ...j, task: { ...given(j.task), input: rt.value(inputId) } }));
    }

    /** The same as `jobs()`. */
    listJobs() { return this.jobs(); }

    pauseJob(id) { const rt = this.#rt; rt.core.pauseJob(idOf(id, "a job id"), rt.now()); rt.pump(); }
    resumeJob(id) { const rt = this.#rt; rt.core.resumeJob(idOf(id, "a job id"), rt.now()); rt.pump(); }
    deleteJob(id) { const rt = this.#rt; rt.core.deleteJob(idOf(id, "a job id"), rt.now()); rt.pump(); }

    // ---- agent patterns ----

    /** Runs a pattern (`{ kind: "consensus" | "debate" | "chainOfThought" | "supervisor" | "collaborative", ... }`); resolves with its result. */
    async runPattern(spec) {
      return this.#rt.waitRun(this.#startRun(spec));
    }

    /** Starts a pattern run; returns its index. */
    #startRun(spec) {
      if (!isObject(spec)) throw invalid("runPattern needs { kind, ... }");
      const rt = this.#rt;
      // `session`: the contracts of the run's calls are recorded under it.
      const { session, ...rest } = spec;
      if (session != null && typeof session !== "string") throw invalid(`invalid session: ${shown(session)} is not a string`);
      const ix = rt.core.startPattern(specJson(rest, "pattern"), rt.now(), session ?? undefined);
      rt.pump();
      return ix;
    }

    /**
     * A pattern run by its id (`run-1`, from the `pattern.*` events): `{ id, kind, status, step,
     * error?, tasks, result? }`. A run outlives a restore; this is how to read it after one.
     */
    getRun(id) {
      const rt = this.#rt;
      const run = JSON.parse(rt.core.runView(rt.core.runIx(idOf(id, "a run id"))));
      const { resultId, ...view } = run;
      if (view.error === null) delete view.error;
      if (run.status === "Completed") view.result = rt.value(resultId);
      return view;
    }

    /** Resolves with a run's result once it ends, or rejects with `pattern_failed`. */
    waitRun(id) {
      const rt = this.#rt;
      let ix;
      try {
        ix = rt.core.runIx(idOf(id, "a run id"));
      } catch (e) {
        return Promise.reject(e);
      }
      return rt.waitRun(ix);
    }

    /** Each agent votes `{ vote: "approve" | "reject", reasoning }`; resolves with `{ decision: "approved" | "rejected", votes, reasoning, ... }`. */
    consensus(task, agents, options = {}) {
      return this.runPattern({ kind: "consensus", task, agents, ...options });
    }

    /** `pro` and `con` argue for `rounds`, `judge` decides; resolves with `{ transcript, winner, finalVerdict }`. */
    debate(topic, options) {
      return this.runPattern({ kind: "debate", topic, ...options });
    }

    /** The reasoner thinks in steps; resolves with `{ reasoningChain, finalAnswer }`. */
    chainOfThought(problem, reasoner, steps = 3, options = {}) {
      return this.runPattern({ kind: "chainOfThought", problem, reasoner, steps, ...options });
    }

    /** A supervisor plans and delegates to `agents` until it answers; the supervisor is `options.supervisor` or the first agent. */
    supervisor(task, agents, instructions = "", options = {}) {
      if (!Array.isArray(agents) || agents.length === 0) return Promise.reject(invalid("supervisor(task, agents, instructions): agents must be a non-empty array"));
      const { supervisor = agents[0], ...rest } = options;
      const workers = options.supervisor === undefined ? agents.slice(1) : agents;
      return this.runPattern({ kind: "supervisor", task, supervisor, agents: workers, instructions, ...rest });
    }

    /** Agents take turns on a shared document until one marks it done. */
    collaborate(task, agents, options = {}) {
      return this.runPattern({ kind: "collaborative", task, agents, ...options });
    }

    // ---- events ----

    /** Calls `fn` with every event whose topic matches (`task.*` style); returns an unsubscribe function. */
    on(topic, fn) {
      if (typeof topic !== "string") throw invalid("on(topic, fn): topic must be a string");
      if (typeof fn !== "function") throw invalid(`on('${shown(topic)}', fn): fn must be a function`);
      return this.#rt.subscribe(topic, fn);
    }

    /** Records a custom event. */
    emit(topic, data) {
      if (typeof topic !== "string") throw invalid("emit(topic, data): topic must be a string");
      this.#rt.emit(topic, data);
    }

    /**
     * The events as an async iterator; leaving the loop unsubscribes. After `return()` (a loop
     * left) every `next()` is done; after `close()` the events already buffered are read, then
     * it is done, and a `next()` waiting at the close settles as done.
     */
    events(topic = "*") {
      const rt = this.#rt;
      const buffer = [];
      const waiting = [];
      let overflow = false;
      let left = false; // return() called: done from then on, whatever was buffered
      let subscribed = true;
      const off = this.on(topic, (event) => {
        if (waiting.length > 0) return waiting.shift()({ value: event, done: false });
        if (buffer.length < rt.eventsBufferMax) return void buffer.push(event);
        // Overflowed, it can only end in events_overflow once read to there: it stops listening
        // now, so that an iterator left unread costs nothing more per event.
        overflow = true;
        end();
      });
      const done = () => Promise.resolve({ value: undefined, done: true });
      // Unsubscribes and settles a waiting next() as done (there is nothing buffered then); what
      // is buffered stays readable unless the loop was left.
      const end = () => {
        if (subscribed) {
          subscribed = false;
          off();
          rt.iteratorEnds.delete(end);
        }
        for (const w of waiting.splice(0)) w({ value: undefined, done: true });
      };
      (rt.iteratorEnds ??= new Set()).add(end);
      return {
        next() {
          if (left) return done();
          if (buffer.length > 0) return Promise.resolve({ value: buffer.shift(), done: false });
          if (overflow) {
            end();
            left = true;
            return Promise.reject(new BatonError("events_overflow", `more than eventsBufferMax = ${rt.eventsBufferMax} events were not read`));
          }
          if (rt.closed || !subscribed) { end(); return done(); }
          return new Promise((resolve) => waiting.push(resolve));
        },
        return() { left = true; buffer.length = 0; end(); return done(); },
        [Symbol.asyncIterator]() { return this; },
      };
    }

    // ---- reads ----

    statistics() {
      const stats = JSON.parse(this.#rt.core.statistics());
      // The clock's time, as now() gives it: the core's moves only with a command, so after
      // runUntil it would still say when the last thing happened.
      stats.now = this.#rt.now();
      return stats;
    }

    /** Task views (without payloads) matching `{ status?, agent?, workflow?, offset?, limit? }`, oldest first. */
    tasks(filter = {}) {
      if (!isObject(filter)) throw invalid("tasks(filter): filter must be an object { status?, agent?, workflow?, offset?, limit? }");
      return JSON.parse(this.#rt.core.taskList(specJson(filter, "filter")));
    }

    /** Every workflow's summary `{ id, name?, status, taskCount, remaining, submittedAt, finishedAt? }`, oldest first. */
    workflows() { return JSON.parse(this.#rt.core.workflowList()); }
    agentsStatus() { return JSON.parse(this.#rt.core.agentsStatus()); }
    /** The orchestrator's clock, in ms (virtual or real). */
    now() {
      if (this.#rt.closed) throw new BatonError("closed", "the orchestrator was closed");
      return this.#rt.now();
    }

    /**
     * Runs the virtual clock up to `timeMs` and holds it there: everything due by then fires
     * (a day of schedules in milliseconds), and the promise resolves once nothing more is due by
     * then, with the clock at `timeMs`. Later timers wait for the next call (`Infinity` lets the
     * clock run on by itself again, as it does until this is first called).
     */
    runUntil(timeMs) { return this.#rt.runUntil(timeMs); }

    /** `runUntil(now() + ms)`. */
    runFor(ms) {
      if (typeof ms !== "number" || !(ms >= 0)) return Promise.reject(invalid(`runFor: ${shown(ms)} is not a non-negative number of ms`));
      return this.#rt.runUntil(this.#rt.now() + ms);
    }
    get seed() { return this.#rt.core.seed(); }
    get runId() { return this.#rt.core.runId(); }

    /** The journal: every event since the start (or since the snapshot this was restored from). */
    journal() {
      return this.journalText().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
    }

    /** The journal as JSON Lines, byte-identical for the same seed, agents' results and times. */
    journalText() {
      this.#rt.resolvePayloads();
      return this.#rt.core.journal(0);
    }

    /** SHA-256 of `journalText()`, in hex. */
    journalDigest() {
      this.#rt.resolvePayloads();
      return this.#rt.core.journalDigest();
    }

    /** Takes a snapshot of the whole state (recorded in the journal as `snapshot.created`). */
    snapshot() {
      const rt = this.#rt;
      rt.resolvePayloads();
      const snap = JSON.parse(rt.core.snapshot(rt.now()));
      rt.pump();
      return snap;
    }

    /** A listed snapshot (an automatic one too) whole, to restore: rebuilt from the journal. */
    getSnapshot(id) {
      if (typeof id !== "string") throw invalid("getSnapshot(id: string)");
      const rt = this.#rt;
      rt.resolvePayloads();
      return JSON.parse(rt.core.snapshotById(id));
    }

    /** Snapshot summaries (including automatic ones), newest first: all that are kept (up to
     * `snapshotsKeptMax`), or the newest `limit`. */
    snapshots(limit = 4294967295) {
      if (!(Number.isInteger(limit) && limit >= 0)) throw invalid(`invalid limit: ${shown(limit)}`);
      return JSON.parse(this.#rt.core.snapshots(Math.min(limit, 4294967295))).map(withSeedNames);
    }

    /** Stops timers, aborts calls in flight and frees the core's memory; later calls throw `closed`. */
    /**
     * Closes the orchestrator (see baton.d.ts); the promise resolves once a store has the last
     * writes, so that `await orch.close()` before `process.exit()` loses nothing.
     */
    close() {
      return this.#rt.close();
    }
  }

  return { Orchestrator, BatonError };
}
