// Stores for `new Orchestrator({ store })` and `Orchestrator.open(store, ...)`, usable anywhere:
// an in-memory store (tests, and a model of the contract) and an IndexedDB store for browsers.
//
// The contract every store keeps (the driver calls one method at a time, in order):
//   load()                     -> { snapshot?: string, journal: string } | null
//                                 the latest snapshot, and the journal lines written after it
//   append(lines, lastSeq)     -> appends JSON Lines (each ends in "\n"); lastSeq is the last line's seq.
//                                 The lines are whole commands: after a crash, load() must give
//                                 each append whole or not at all
//   saveSnapshot(text, seq)    -> stores a snapshot of the state at seq; lines up to seq may go
//   reset()                    -> forgets everything (a new run starts)
//   replaceNext() (optional)   -> the next append or saveSnapshot replaces everything, in one
//                                 step: a crash finds the run held before or the new one, never
//                                 neither. Without it, a new run calls reset() then writes.
//   lock(run?) (optional)      -> takes the store for one orchestrator's writes, or throws a
//                                 BatonError `store_busy`; called before the first write and by
//                                 Orchestrator.open before load()
//   release(lastWrite?, run?)  -> (optional) lets it go once the closing orchestrator's last
//                                 write has settled

import { Ownership, storeError } from "./ownership.js";

/** Keeps the run in memory: survives nothing, but shows (and tests) the store contract. */
export class MemoryStore {
  #snapshot = undefined;
  #batches = [];
  async load() {
    if (this.#snapshot === undefined && this.#batches.length === 0) return null;
    return { snapshot: this.#snapshot?.text, journal: this.#batches.join("") };
  }
  async append(lines) { this.#batches.push(lines); }
  async saveSnapshot(text, seq) {
    this.#snapshot = { text, seq };
    this.#batches = [];
  }
  async reset() {
    this.#snapshot = undefined;
    this.#batches = [];
  }
}

const DB_VERSION = 1;

const done = (request) => new Promise((resolve, reject) => {
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});
const committed = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve();
  tx.onerror = () => reject(tx.error);
  tx.onabort = () => reject(tx.error ?? new Error("the IndexedDB transaction was aborted"));
});

/**
 * Keeps the run in the browser's IndexedDB, in the database `name`: one row per batch of journal
 * lines (keyed by its last seq) and one row for the latest snapshot. A snapshot and the removal
 * of the batches it covers happen in one transaction.
 */
export class IndexedDBStore {
  #name;
  #db = undefined;
  #owner; // one writer per database (see ownership.js): in this page, and by a Web Lock
  #letGo = undefined; // lets the Web Lock go, while this store holds it

  constructor(name = "baton") {
    if (typeof name !== "string" || name === "") throw unsupported("IndexedDBStore(name): name must be a non-empty string");
    this.#name = name;
    const key = `indexeddb:${name}`;
    this.#owner = new Ownership(this, {
      key: async () => key,
      keyNow: () => key,
      take: () => this.#webLock(),
      drop: async () => this.#unlock(),
      label: `the IndexedDB database '${name}'`,
      scope: "page",
    });
  }

  get name() { return this.#name; }

  /**
   * Takes the database against other tabs and workers of this origin: a Web Lock named after
   * it, held until release. Where there are no Web Locks, only this page's stores are kept apart.
   */
  async #webLock() {
    const locks = globalThis.navigator?.locks;
    if (locks === undefined || this.#letGo !== undefined) return;
    let letGo;
    const held = new Promise((resolve) => { letGo = resolve; });
    const got = await new Promise((resolve, reject) => {
      locks.request(`baton:indexeddb:${this.#name}`, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        return lock === null ? undefined : held;
      }).catch(reject);
    });
    if (!got) {
      throw storeError("store_busy", `the IndexedDB database '${this.#name}' is written by another tab or worker: close its orchestrator first`);
    }
    this.#letGo = letGo;
  }

  #unlock() {
    this.#letGo?.();
    this.#letGo = undefined;
  }

  /**
   * One writer per database: two orchestrators writing one would write two histories into one
   * journal. Called before the first write and by `Orchestrator.open` before it loads; another
   * store of this page waits for a closed owner's last writes, another tab is refused
   * (`store_busy`) until its orchestrator closes.
   */
  lock(run = undefined) { return this.#owner.lock(run); }

  /** Called by the orchestrator as it closes: once its last write is done, the database goes. */
  release(lastWrite = Promise.resolve(), run = undefined) { return this.#owner.release(lastWrite, run); }

  async #open() {
    if (this.#db !== undefined) return this.#db;
    if (typeof indexedDB === "undefined") throw unsupported("IndexedDBStore needs a browser with IndexedDB; in Node use FileStore");
    try {
      const request = indexedDB.open(this.#name, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains("journal")) db.createObjectStore("journal");
        if (!db.objectStoreNames.contains("snapshot")) db.createObjectStore("snapshot");
      };
      this.#db = await done(request);
    } catch (e) {
      throw Object.assign(storeError("store_failed", `the IndexedDB database '${this.#name}' could not be opened: ${e?.message ?? e}`), { cause: e });
    }
    return this.#db;
  }

  async load() {
    const db = await this.#open();
    const tx = db.transaction(["journal", "snapshot"], "readonly");
    const snap = await done(tx.objectStore("snapshot").get("latest"));
    const range = snap === undefined ? undefined : IDBKeyRange.lowerBound(snap.seq, true);
    const batches = await done(tx.objectStore("journal").getAll(range));
    if (snap === undefined && batches.length === 0) return null;
    return { snapshot: snap?.text, journal: batches.join("") };
  }

  #replacing = false;

  /** The next write clears the run held before, in its own transaction (see the contract). */
  replaceNext() { this.#replacing = true; }

  /** A read-write transaction over both stores; replacing, it clears them first. */
  async #write() {
    await this.#owner.own();
    const db = await this.#open();
    const tx = db.transaction(["journal", "snapshot"], "readwrite");
    if (this.#replacing) {
      tx.objectStore("journal").clear();
      tx.objectStore("snapshot").clear();
      this.#replacing = false;
    }
    return tx;
  }

  async append(lines, lastSeq) {
    const tx = await this.#write();
    tx.objectStore("journal").put(lines, lastSeq);
    await committed(tx);
  }

  async saveSnapshot(text, seq) {
    const tx = await this.#write();
    tx.objectStore("snapshot").put({ text, seq }, "latest");
    tx.objectStore("journal").delete(IDBKeyRange.upperBound(seq));
    await committed(tx);
  }

  async reset() {
    await this.#owner.own();
    this.#replacing = false;
    const db = await this.#open();
    const tx = db.transaction(["journal", "snapshot"], "readwrite");
    tx.objectStore("journal").clear();
    tx.objectStore("snapshot").clear();
    await committed(tx);
  }

  /** Closes the database connection (the next call opens it again). */
  close() {
    this.#db?.close();
    this.#db = undefined;
  }
}

/** The browser build's stand-in for Node's FileStore: says where to look instead. */
export class FileStore {
  constructor() {
    throw unsupported("FileStore needs Node (node:fs); in a browser use IndexedDBStore");
  }
}

/** A BatonError (`invalid_argument`) for a store given a bad argument or used where it cannot work. */
const unsupported = (message) => storeError("invalid_argument", message);
