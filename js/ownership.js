// One writer per saved run. Two orchestrators appending to one store would write two histories
// into one journal (a later open refuses it: "two histories in one journal"), and two resuming
// one run would run its pending tasks twice. A store that can be reached by two (a directory, an
// IndexedDB database) holds an Ownership: in this process (or page) one store at a time writes a
// place, another store of it waits for a closed owner's last writes and is refused while the
// owner is open; across processes (or tabs) the store's own outer lock decides (a lock file, a
// Web Lock), taken before the first write and let go after the last.

export const storeError = (code, message) => Object.assign(new Error(message), { name: "BatonError", code });

// The store of this process that writes each place, and when a closed one is done.
const owners = new Map(); // key -> { store, outerless, taking?, released?, closedRun? }

export class Ownership {
  #store;
  #place; // { key(): Promise<string>, keyNow(): string, take(), drop(), label }
  #key = undefined; // the place's key, once known
  #refused = false; // a write of this store was refused (store_busy) since its orchestrator began
  #closing = undefined; // while set, the writes a closed, refused orchestrator left queued fail

  /**
   * `place.key()` names the place (a directory's real path), `keyNow()` the same without waiting;
   * `take()` takes the outer lock (throwing `store_busy` if another process holds it) and
   * `drop()` lets it go; `label` names the place in messages.
   */
  constructor(store, place) {
    this.#store = store;
    this.#place = place;
  }

  async #keyed() {
    this.#key = await this.#place.key();
    return this.#key;
  }

  /** Takes the place for this store's next write, or throws `store_busy`. */
  async own() {
    try {
      return await this.#take();
    } catch (e) {
      if (e?.code === "store_busy") this.#refused = true;
      throw e;
    }
  }

  async #take() {
    const key = await this.#keyed();
    if (this.#closing !== undefined) {
      throw storeError("store_busy", `${this.#place.label} is another orchestrator's: this one was refused it, and closed`);
    }
    for (let owner = owners.get(key); owner !== undefined; owner = owners.get(key)) {
      // This store's own (its closing orchestrator's last writes pass too). Held for a closed
      // run that never took the outer lock (see release), the lock is still to be taken.
      if (owner.store === this.#store) {
        if (owner.taking !== undefined) {
          await owner.taking.catch(() => {}); // another write of this store is taking it
          continue;
        }
        if (!owner.outerless) return;
        break;
      }
      if (owner.released === undefined) {
        throw storeError("store_busy", `${this.#place.label} is written by another store of this ${this.#place.scope}: close its orchestrator first`);
      }
      await owner.released;
    }
    // Held in this process from now on (another store of it waits or is refused), while the
    // outer lock that holds it against other processes is taken.
    let owner = owners.get(key);
    if (owner === undefined) owners.set(key, (owner = { store: this.#store, outerless: true }));
    try {
      owner.taking = this.#place.take();
      await owner.taking;
    } catch (e) {
      if (owners.get(key) === owner && owner.released === undefined) owners.delete(key);
      throw e;
    } finally {
      owner.taking = undefined;
    }
    owner.outerless = false;
  }

  /**
   * Called by the orchestrator as it closes, with its last write: once that is done the lock
   * goes, and another store may write the place. It holds the place from now on even if the run
   * has not written yet (its first write may be the one still on its way), so that another store
   * of this process waits for that write rather than starting a run beside it.
   */
  release(lastWrite = Promise.resolve(), run = undefined) {
    const key = this.#key ?? this.#place.keyNow();
    let owner = owners.get(key);
    if ((owner !== undefined && owner.store !== this.#store) || (owner === undefined && this.#refused)) {
      // Refused while another store or process wrote: what it still has queued (the whole
      // snapshot a failed write asks for) must not replace the other run once that one closes.
      // Writes queued later (a new orchestrator on this store) may try again.
      const gate = {};
      this.#closing = gate;
      return Promise.resolve(lastWrite).catch(() => {}).then(() => {
        if (this.#closing === gate) {
          this.#closing = undefined;
          this.#refused = false;
        }
      });
    }
    this.#refused = false;
    // Closed before its first write took the outer lock: the place is held for that write in
    // this process, and the write still takes the lock (another process may hold it).
    if (owner === undefined) owners.set(key, (owner = { store: this.#store, outerless: true }));
    owner.closedRun = run; // whose lock() still queued must not wait for this release
    const released = Promise.resolve(lastWrite).catch(() => {}).then(async () => {
      if (owners.get(key) !== owner || owner.released !== released) return; // taken again since
      if (!owner.outerless) await this.#place.drop();
      if (owners.get(key) === owner && owner.released === released) owners.delete(key);
    });
    owner.released = released;
    return released;
  }

  /**
   * Takes the place for this store's writes (see own): `Orchestrator.open` calls it before it
   * loads, so that two orchestrators never resume one run. Reading alone (`load`) does not.
   * A store reopened after its orchestrator closed first waits for that run's last writes.
   */
  async lock(run = undefined) {
    const owner = owners.get(await this.#keyed());
    // A new run on a store whose last run is closing waits for its last writes and takes the
    // place anew (that release must not let go of it under the new run). The closing run's own
    // first write, queued before it closed, does not wait for itself.
    if (owner !== undefined && owner.store === this.#store && owner.released !== undefined && (run === undefined || owner.closedRun !== run)) {
      await owner.released;
    }
    return this.own();
  }
}
