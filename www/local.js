// Local mode: the orchestrator runs in the page with the demo agents, persisted in IndexedDB so
// a reload resumes the run. Time travel replays the journal in the core up to a seq.
import init, { Orchestrator, IndexedDBStore } from "baton";
import { handlers, registerDemoAgents } from "./demo.js";

const DB = "baton-dashboard";
// The page keeps the whole journal in the store (time travel reaches seq 1 after a reload).
const SNAPSHOT_EVERY_EVENTS = 1_000_000;

export class LocalSource {
  mode = "local";
  orch = undefined;       // the live orchestrator
  view = undefined;       // what is shown: the live one, or a replay at `travelSeq`
  travelSeq = undefined;
  records = [];           // the live journal since `base` (or seq 1)
  base = undefined;       // the snapshot the live journal starts from, if not seq 1
  #taken = [];            // snapshots taken from the page (whole, for after a restore)
    profile = "demo";
  replacing = false;      // true while a run is being replaced (restore, new run, fork)
  onChange = () => {};
  /** Why this page runs without its saved run (another tab has it, or it does not load). */
  loadError = undefined;
  #off = undefined;
  #store = new IndexedDBStore(DB);
  #persist = true;
  #settings;

  static async open(settings) {
    await init();
    const s = new LocalSource();
    s.#settings = { seed: settings.seed, clock: settings.clock, speed: settings.speed ?? 1 };
    s.profile = settings.profile ?? "demo";
    let orch, stored;
    if (!(await ownTheSavedRun())) {
      // Two tabs writing one run would interleave their records: this one does not save.
      s.loadError = Object.assign(new Error("another tab has the saved run open: this tab's run is not saved"), { code: "busy" });
    } else {
      try {
        stored = await s.#store.load();
        orch = await Orchestrator.open(s.#store, s.#options());
      } catch (e) {
        // A saved run that does not load (written by another version, say) is left as it is;
        // the page runs a new one in memory, and "new run" replaces the saved one.
        s.loadError = Object.assign(new Error(`the saved run does not load (${e.code ?? e.name}: ${e.message}); this run is not saved until "new run"`), { code: e.code ?? "load_failed" });
        stored = undefined;
      }
    }
    if (orch === undefined) {
      s.#persist = s.loadError.code !== "busy" ? "on new run" : false;
      const { store, agents, ...options } = s.#options();
      orch = new Orchestrator(options);
    }
    if (orch.agentsStatus().researcher === undefined) registerDemoAgents(orch, handlers(s.profile, s.#settings.speed));
    s.#attach(orch, stored?.snapshot);
    return s;
  }

  get settings() { return { ...this.#settings, seed: this.orch.seed }; }

  #options() {
    const store = this.#persist === true ? this.#store : undefined;
    return { agents: handlers(this.profile, this.#settings.speed), seed: this.#settings.seed, clock: this.#settings.clock, store, snapshotEveryEvents: SNAPSHOT_EVERY_EVENTS };
  }

  /** A restored or forked run keeps its own seed. */
  #resumeOptions() {
    const { seed, ...options } = this.#options();
    return options;
  }

    /** Stops the live run (its last writes still reach the store) and any replay shown. */
  async close() {
    this.#off?.();
    this.#off = undefined;
    if (this.view && this.view !== this.orch) this.view.close();
    const old = this.orch;
    old?.close();
    await old?.flush().catch(() => {});
  }

  // A new run, restore or fork writes to the same store: the old run must be closed and its
  // writes finished first, or they would land after the new run's reset.
    async #replace(make, base, prior) {
        this.replacing = true; // the page does not read a closed run meanwhile
    try {
      await this.close();
      let orch;
      try {
        orch = make();
      } catch (e) {
        // The old run is whole in the store: carry on with it (its own seed: the one refused may
        // be in the options), and say what failed.
        if (this.#persist !== true) throw e;
        const stored = await this.#store.load();
        this.#attach(await Orchestrator.open(this.#store, this.#resumeOptions()), stored?.snapshot);
        throw e;
      }
      this.#attach(orch, base, prior);
    } finally {
      this.replacing = false;
    }
  }

  /**
   * Shows `orch`, whose journal follows `base` (a snapshot's JSON; none: seq 1). `prior` is
   * history the run's own journal does not hold (a restored run's records up to its snapshot),
   * as parsed records and as journal text, so the views and time travel still reach it.
   */
  #attach(orch, base, prior = { records: [], text: "" }) {
    this.orch = orch;
    this.base = base;
    // The seq the journal starts after (the snapshot's, written near the front of its JSON).
    const head = typeof base === "string" ? base.slice(0, 400) : "";
    this.baseSeq = base === undefined ? 0 : Number(head.match(/"seq":(\d+)/)?.[1] ?? base.seq ?? 0);
    this.prior = prior;
    this.records = prior.records.concat(orch.journal());
    this.#off = orch.on("*", (e) => { this.records.push(e); this.onChange(); });
    this.back();
  }

  // ---- reads (from `view`) ----
  statistics() { return this.view.statistics(); }
  agentsStatus() { return this.view.agentsStatus(); }
  tasks(filter) { return this.view.tasks(filter); }
  workflows() { return this.view.workflows(); }
  workflow(id) { return this.view.getWorkflow(id); }
  workflowStatuses(id) { return this.view.workflowStatuses(id); }
  now() { return this.view.now(); }
  journal() { return this.travelSeq === undefined ? this.records : this.records.filter((r) => r.seq <= this.travelSeq); }
  firstSeq() { return this.records[0]?.seq ?? Math.max(this.baseSeq, 1); }
  /** The last record's seq; with none since the snapshot the run started from, the snapshot's. */
  lastSeq() { return this.records.length > 0 ? this.records[this.records.length - 1].seq : this.baseSeq; }

  // ---- controls (on the live orchestrator) ----
  agent(act, id) {
    ({ start: () => this.orch.startAgent(id), pause: () => this.orch.pauseAgent(id), resume: () => this.orch.resumeAgent(id), stop: () => this.orch.stopAgent(id) })[act]();
  }
  /** A task (`{ agent | capability, ... }`) or a workflow (`{ tasks: [...] }`); returns its id. */
  submit(spec) { return Array.isArray(spec?.tasks) ? this.orch.submitWorkflow(spec) : this.orch.submit(spec); }
  cancel(taskId) { this.orch.cancel(taskId, "cancelled from the dashboard"); }
  snapshot() {
    const snap = this.orch.snapshot();
    this.#taken.push({ id: snap.id, seq: snap.seq, snap });
    return snap.id;
  }
  /**
   * The snapshots to restore, newest first: the run's own list (manual and automatic ones, kept
   * in the run, so a reload keeps them) and those taken in this page.
   */
  get saved() {
    // Those of this run only (ids start again with each run): from where its journal starts.
    const from = this.baseSeq ?? 0;
    const listed = this.orch.snapshots(100).filter((s) => s.seq >= from);
    // And those taken in this page on a line the run has left (restoring an older snapshot drops
    // the records after it): kept whole, they restore as well, named with their seq.
    const elsewhere = this.#taken.filter((t) => !listed.some((s) => s.id === t.id && s.seq === t.seq));
    return [...listed.map((s) => ({ id: s.id })), ...elsewhere.reverse().map((t) => ({ id: takenKey(t) }))];
  }
  /** Replaces the live run with one restored from one of its snapshots. */
  async restore(id) {
    // A snapshot taken on a line the run has left, by its listed name, or by its own id when
    // the run now has no snapshot of that id.
    const listed = this.orch.snapshots(100).some((s) => s.id === id);
    const left = this.#taken.findLast((t) => takenKey(t) === id || (!listed && t.id === id));
    if (left !== undefined) {
      await this.#replace(() => Orchestrator.restore(left.snap, this.#resumeOptions()), JSON.stringify(left.snap));
      return;
    }
    const summary = this.orch.snapshots(100).find((s) => s.id === id);
    if (!summary) throw Object.assign(new Error(`no snapshot ${id} in this run`), { code: "unknown_snapshot" });
    // With the journal whole from where the run starts, the restore is a live replay up to the
    // snapshot (the state it holds): the new run's journal then starts where this one did, and
    // the store keeps that history, so a reload still time-travels back before the restore.
    const first = this.records.find((r) => r.seq <= summary.seq);
    if (first !== undefined && first.seq === this.baseSeq + 1) return this.#fork(summary.seq, this.profile);
    // Otherwise from the snapshot: taken in this page (the same id and seq: ids repeat across
    // runs), or rebuilt from the journal, which starts at `base` after a restore.
    let snap = this.#taken.findLast((s) => s.id === id && s.seq === summary.seq)?.snap;
    if (snap === undefined) {
      const then = Orchestrator.replay(this.#journalText(), { uptoSeq: summary.seq, snapshot: this.base });
      try {
        snap = then.getSnapshot(id);
      } finally {
        then.close();
      }
    }
    await this.#replace(() => Orchestrator.restore(snap, this.#resumeOptions()), JSON.stringify(snap));
  }
  /** A new run with this seed and clock (the store starts over). */
    async newRun({ seed, clock }) {
    // Options the package refuses (a seed out of range) leave the run as it is: checked on a
    // throwaway orchestrator first, as the real one resets the store.
    new Orchestrator({ seed, clock }).close();
    this.#settings = { ...this.#settings, seed, clock };
    // A saved run that did not load is replaced by this one (another tab's is left alone).
    if (this.#persist === "on new run") {
      this.#persist = true;
      this.loadError = undefined;
    }
    const { agents, ...options } = this.#options();
    await this.#replace(() => {
      const orch = new Orchestrator(options);
      registerDemoAgents(orch, agents);
      return orch;
    }, undefined);
    this.#taken = []; // another run: the old one's snapshots are not this one's
  }
  /** Continues this run on the other clock: a live replay of the whole journal. */
    setClock(clock) {
    this.#settings = { ...this.#settings, clock };
    return this.#fork(this.lastSeq(), this.profile);
  }

  // ---- time travel ----
  /** Shows the state at `seq`, rebuilt by the core from the journal. */
  travel(seq) {
    if (seq >= this.lastSeq()) return this.back();
    const old = this.view !== this.orch ? this.view : undefined;
    this.view = Orchestrator.replay(this.#journalText(), { uptoSeq: seq, snapshot: this.base });
    this.travelSeq = seq;
    old?.close();
  }
  back() {
    if (this.view && this.view !== this.orch) this.view.close();
    this.view = this.orch;
    this.travelSeq = undefined;
  }
  /** Continues the run from `seq` with the agents of `profile`; the later records are dropped. */
    fork(seq, profile) { return this.#fork(seq, profile); }

  async #fork(seq, profile) {
    const before = this.profile;
    this.profile = profile; // the options below give its handlers
    const text = this.#journalText();
    const base = this.base;
    try {
      await this.#replace(() => Orchestrator.replay(text, { ...this.#resumeOptions(), uptoSeq: seq, snapshot: base, live: true }), base);
    } catch (e) {
      this.profile = before; // the run goes on as it was, with its own agents
      throw e;
    }
    // From before the demo agents were registered (all or some), the fork registers them, as a
    // new run does.
    registerDemoAgents(this.orch, handlers(profile, this.#settings.speed));
  }

  #journalText() {
    const own = this.orch.journalText();
    const prior = this.prior?.text ?? "";
    return prior === "" ? own : own === "" ? prior : `${prior}\n${own}`;
  }
}

/** How a snapshot taken on a line the run has since left is listed (its id may be taken again). */
const takenKey = (t) => `${t.id} (seq ${t.seq})`;

/** Takes the saved run for this page's lifetime, unless another tab has it. */
function ownTheSavedRun() {
  if (!globalThis.navigator?.locks) return Promise.resolve(true);
  return new Promise((resolve) => {
    navigator.locks.request(DB, { ifAvailable: true }, (lock) => {
      resolve(lock !== null);
      // Held until the page goes away (a reload lets the next page have it).
      return lock === null ? undefined : new Promise(() => {});
    });
  });
}
