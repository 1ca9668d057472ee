// A store in a directory, for Node: `snapshot-<seq>.json` holds the latest snapshot and
// `journal-<seq>.jsonl` the journal lines written after it (`journal-0.jsonl` before the first
// snapshot). Appends go to the end of one file; a snapshot is written to a temporary file,
// synced and renamed into place, and only then are the older files removed, so a crash at any
// point leaves a snapshot and the lines after it. Each append ends with a blank line, and a file
// written so starts with one: lines after the last blank line are a batch cut short by a crash,
// dropped whole on load. A batch holds whole commands, so a resumed run never starts from half a
// command (a task created but never queued).
import { readlinkSync } from "node:fs";
import { appendFile, link, mkdir, open, readdir, readFile, realpath, rename, rm, stat, truncate, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { Ownership, storeError } from "./ownership.js";

const SNAPSHOT = /^snapshot-(\d+)\.json$/;
const JOURNAL = /^journal-(\d+)\.jsonl$/;
/** What a write killed midway leaves: a whole file's temporary copy, a lock file's (of a pid). */
const LEFTOVER = /^(?:(?:snapshot-\d+\.json|journal-\d+\.jsonl)\.tmp|lock(?:\.takeover)?\.(\d+)\.[0-9a-z]+)$/;
/** The file that says which process writes the directory: its pid, then its PID namespace. */
const LOCK = "lock";
/**
 * Where a pid means this process's kind of pid: the PID namespace (two containers sharing a
 * volume both run as pid 1), or on systems without /proc the host.
 */
const PID_SPACE = (() => {
  // The namespace's name alone repeats across machines (the first one's is the same on every
  // Linux host): with the host's name, two machines sharing a volume differ too.
  try {
    return `${readlinkSync("/proc/self/ns/pid")}@${hostname()}`;
  } catch {
    return `host:${hostname()}`;
  }
})();
/**
 * A lock of another PID namespace cannot be checked by its pid: its holder touches it this
 * often, and one untouched for LOCK_STALE_MS is a dead holder's (a container restarted on the
 * same volume takes it over after that wait).
 */
const LOCK_REFRESH_MS = 2_000;
const LOCK_STALE_MS = 10_000;
/** Tries to take the lock file (a takeover in progress elsewhere waits 10 ms a try). */
const LOCK_TRIES = 200;
/** A takeover guard older than this was left by a process that died taking over. */
const TAKEOVER_STALE_MS = 10_000;

/** Creates `path` holding `text`, or returns false if it exists: never seen empty or half written. */
async function createWhole(path, text) {
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(temp, text);
  try {
    await link(temp, path);
    return true;
  } catch (e) {
    if (e.code === "EEXIST") return false;
    throw e;
  } finally {
    await rm(temp, { force: true });
  }
}


/** A lock file's holder: its pid and PID namespace (a file from before namespaces: this one's). */
function holder(text) {
  const [pid, space] = text.split("\n");
  return { pid: Number(pid.trim()), space: space?.trim() || PID_SPACE };
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM"; // it exists, under another user
  }
}

export class FileStore {
  #dir;
  #base = undefined; // the seq of the snapshot the current journal file follows
  #fresh = false; // the current journal file is empty: its first append starts it with a blank line
  #owner; // one writer per directory (see ownership.js): in this process, and by a lock file
  #repairable = false; // locked and not yet loaded: load() may cut a torn batch off the file
  #refresh = undefined; // the timer that touches the lock file while this store holds it
  #verifiedAt = 0; // when the lock file was last found to be this process's
  #lost = false; // the lock was taken over (this process stalled past LOCK_STALE_MS): no more writes

  constructor(dir) {
    if (typeof dir !== "string" || dir === "") {
      throw Object.assign(new Error("FileStore(dir): dir must be a non-empty path"), { name: "BatonError", code: "invalid_argument" });
    }
    this.#dir = dir;
    this.#owner = new Ownership(this, {
      key: () => this.#keyNow(),
      keyNow: () => resolve(this.#dir),
      take: () => this.#lockFile(),
      drop: () => this.#unlockFile(),
      label: dir,
      scope: "process",
    });
  }

  get dir() { return this.#dir; }

  /** Takes the directory for this store's next write, or throws `store_busy` (see ownership.js). */
  async #own() {
    await this.#owner.own();
    this.#repairable = false; // written now: only open()'s load, before any write, repairs
    // Stalled (a paused container, a long synchronous step) past the refresh, this process may
    // have lost the lock to another namespace: it checks before it writes again.
    if (this.#refresh !== undefined && Date.now() - this.#verifiedAt > LOCK_REFRESH_MS * 2) await this.#verify();
    if (this.#lost) throw storeError("store_busy", `${this.#dir}: its lock was taken over by another process while this one stalled; it writes no more`);
  }

  /** Touches the lock file if it is still this process's; otherwise stops, and writes no more. */
  async #verify() {
    if (this.#refresh === undefined) return;
    const path = join(this.#dir, LOCK);
    const held = holder(await readFile(path, "utf8").catch(() => ""));
    if (held.pid !== process.pid || held.space !== PID_SPACE) {
      clearInterval(this.#refresh);
      this.#refresh = undefined;
      this.#lost = true;
      return;
    }
    const now = new Date();
    await utimes(path, now, now);
    this.#verifiedAt = Date.now();
  }

  /** The directory's key among this process's stores: its real path (a symlink is no other). */
  async #keyNow() {
    await mkdir(this.#dir, { recursive: true });
    return realpath(this.#dir).catch(() => resolve(this.#dir));
  }

  /**
   * Called by the orchestrator as it closes, with its last write: once that is done the lock
   * file goes, and another store may write the directory (see ownership.js).
   */
  release(lastWrite = Promise.resolve(), run = undefined) { return this.#owner.release(lastWrite, run); }

  /**
   * Takes the directory for this store's writes: `Orchestrator.open` calls it before it loads,
   * so that two orchestrators never resume one run. Reading alone (`load`) does not.
   */
  async lock(run = undefined) {
    await this.#owner.lock(run);
    // Just taken: what this store knew of the files may be stale (another writer may have
    // moved the run on since it last held them), so its next load reads them afresh, repairing.
    this.#base = undefined;
    this.#repairable = true;
  }

  /** Removes the lock file if it is still this process's. */
  async #unlockFile() {
    clearInterval(this.#refresh);
    this.#refresh = undefined;
    const path = join(this.#dir, LOCK);
    const held = holder(await readFile(path, "utf8").catch(() => ""));
    if (held.pid === process.pid && held.space === PID_SPACE) await rm(path, { force: true });
  }

  /**
   * Creates the lock file holding this process's pid, whole or not at all (a temporary file
   * linked into place: a reader never sees it empty). One held by a live process is refused; a
   * dead process's (or garbage, or this process's from a store never closed) is taken over by
   * one process at a time, through a second file, so that two never both take it.
   */
  async #lockFile() {
    const path = join(this.#dir, LOCK);
    for (let tries = 0; tries < LOCK_TRIES; tries++) {
      if (await createWhole(path, `${process.pid}\n${PID_SPACE}\n`)) {
        // Touched while held, so that a process of another PID namespace sees it is alive.
        this.#lost = false;
        this.#verifiedAt = Date.now();
        this.#refresh = setInterval(() => this.#verify().catch(() => {}), LOCK_REFRESH_MS);
        this.#refresh.unref?.();
        return;
      }
      const held = await readFile(path, "utf8").catch(() => undefined);
      if (held === undefined) continue; // let go meanwhile
      const { pid, space } = holder(held);
      if (space !== PID_SPACE && Number.isInteger(pid) && pid > 0) {
        if (await this.#refreshed(path, held)) {
          throw storeError("store_busy", `${this.#dir} is written by process ${pid} of another PID namespace or host (${space}), which keeps its lock fresh; if it is gone, remove ${path}`);
        }
      } else if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw storeError("store_busy", `${this.#dir} is written by process ${pid}; if it is gone, remove ${path}`);
      }
      const guard = `${path}.takeover`;
      if (await createWhole(guard, `${process.pid}\n`)) {
        try {
          // Still the stale file read above (not one another process has put in its place).
          if ((await readFile(path, "utf8").catch(() => undefined)) === held) await rm(path, { force: true });
        } finally {
          await rm(guard, { force: true });
        }
        continue;
      }
      // Another process is taking it over; a guard its process left when it died is old.
      const age = Date.now() - (await stat(guard).then((st) => st.mtimeMs, () => Date.now()));
      if (age > TAKEOVER_STALE_MS) await rm(guard, { force: true });
      await new Promise((r) => setTimeout(r, 10));
    }
    throw storeError("store_busy", `${this.#dir}: its lock changed hands while this store took it; try again`);
  }

  /**
   * Whether a lock of another PID namespace is alive: touched within LOCK_STALE_MS. One that is
   * not yet that old is watched until it would be: touched meanwhile, it is alive.
   */
  async #refreshed(path, held) {
    const touched = async () => (await stat(path).catch(() => undefined))?.mtimeMs;
    const first = await touched();
    if (first === undefined) return false;
    const wait = LOCK_STALE_MS - (Date.now() - first);
    if (wait <= 0) return false;
    await new Promise((r) => setTimeout(r, wait + 100));
    const again = await readFile(path, "utf8").catch(() => undefined);
    return again === held && (await touched()) !== first;
  }

  async #files() {
    await mkdir(this.#dir, { recursive: true });
    const names = await readdir(this.#dir);
    const seqs = (re) => names.map((n) => re.exec(n)).filter(Boolean).map((m) => Number(m[1])).sort((a, b) => a - b);
    return { snapshots: seqs(SNAPSHOT), journals: seqs(JOURNAL) };
  }

  /**
   * The latest snapshot and the journal's whole batches after it. Only the load of a store that
   * holds the directory and has not written yet (`Orchestrator.open`'s, after `lock`) cuts a
   * batch torn by a crash off the file: for any other reader that batch may be one the writer
   * is still appending, and cutting it would put the writer's next lines after a gap.
   */
  async load() {
    const repair = this.#repairable;
    this.#repairable = false;
    return this.#load(repair);
  }

  async #load(repair) {
    if (repair) this.#repairable = false;
    const { snapshots, journals } = await this.#files();
    const base = snapshots.length > 0 ? snapshots[snapshots.length - 1] : 0;
    // A journal after a snapshot that is not there: the run cannot be rebuilt, and starting a
    // new one would delete it. (One that holds no record is a snapshot's start cut short.)
    for (const seq of journals.filter((j) => j > base)) {
      const text = await readFile(join(this.#dir, `journal-${seq}.jsonl`), "utf8");
      if (text.trim() !== "") {
        throw storeError("decode_error", `${this.#dir} has journal-${seq}.jsonl but not snapshot-${seq}.json: the run before it cannot be rebuilt (move the files away to start a new one)`);
      }
    }
    if (repair) this.#base = base;
    const snapshot = snapshots.length > 0 ? await readFile(join(this.#dir, `snapshot-${base}.json`), "utf8") : undefined;
    const journalPath = join(this.#dir, `journal-${base}.jsonl`);
    let journal = journals.includes(base) ? await readFile(journalPath, "utf8") : "";
    // A line cut short by a crash mid-append was never acknowledged: cut it off the file too,
    // so the next append starts on a line of its own.
    let whole = journal !== "" && !journal.endsWith("\n") ? journal.lastIndexOf("\n") + 1 : journal.length;
    // Batches: everything up to the last blank line (a file from before batches has none, and
    // keeps its whole lines).
    if (journal.startsWith("\n")) whole = Math.min(whole, journal.lastIndexOf("\n\n", whole - 1) + 2 || 1);
    if (whole < journal.length) {
      journal = journal.slice(0, whole);
      if (repair) await truncate(journalPath, Buffer.byteLength(journal));
    }
    if (repair) {
      this.#fresh = journal === "";
      await this.#dropLeftovers();
    }
    if (snapshot === undefined && journal.trim() === "") return null;
    return { snapshot, journal };
  }

  /**
   * Removes the temporary files of writes a killed process left (a snapshot's whole copy each,
   * otherwise kept for ever): called holding the directory, before this store writes. A lock
   * file's temporary copy goes only once its process is gone (it may be taking the lock now).
   */
  async #dropLeftovers() {
    for (const name of await readdir(this.#dir)) {
      const m = LEFTOVER.exec(name);
      if (m === null || (m[1] !== undefined && alive(Number(m[1])))) continue;
      // (A pid of another PID namespace reads as dead here: its copy goes only once old.)
      const age = Date.now() - (await stat(join(this.#dir, name)).then((st) => st.mtimeMs, () => Date.now()));
      if (m[1] !== undefined && age < LOCK_STALE_MS) continue;
      await rm(join(this.#dir, name), { force: true });
    }
  }

  /**
   * The next write replaces the run held before (see the store contract): its file is written
   * whole and renamed into place first, and only then are the other files removed. Until then
   * load() finds the old run (its latest snapshot, or its journal-0 whole), after it the new.
   */
  replaceNext() { this.#replacing = true; }
  #replacing = false;

  /** Writes `text` to `name` whole: a temporary file, synced, renamed into place. */
  async #writeWhole(name, text) {
    await this.#own();
    await mkdir(this.#dir, { recursive: true });
    const path = join(this.#dir, name);
    const file = await open(`${path}.tmp`, "w");
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(`${path}.tmp`, path);
  }

  async #syncDir() {
    const dir = await open(this.#dir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Once the new run's files are in place: every other file goes. */
  async #dropAllBut(seq) {
    await this.#syncDir();
    const { snapshots, journals } = await this.#files();
    for (const s of snapshots) if (s !== seq) await rm(join(this.#dir, `snapshot-${s}.json`), { force: true });
    for (const j of journals) if (j !== seq) await rm(join(this.#dir, `journal-${j}.jsonl`), { force: true });
  }

  async append(lines) {
    await this.#own();
    if (this.#replacing) {
      // The new run's first lines, before any snapshot of it: journal-0, replaced whole.
      this.#replacing = false;
      await this.#writeWhole("journal-0.jsonl", `\n${lines}\n`);
      await this.#dropAllBut(0);
      this.#base = 0;
      this.#fresh = false;
      return;
    }
    if (this.#base === undefined) await this.#load(true); // owned (see #own above)
    const head = this.#fresh ? "\n" : "";
    this.#fresh = false;
    await appendFile(join(this.#dir, `journal-${this.#base}.jsonl`), `${head}${lines}\n`);
  }

  async saveSnapshot(text, seq) {
    if (this.#replacing) {
      // The journal after it first (an old run's journal-<seq> must not follow it), then the
      // snapshot; until the others go, load() may still prefer an old snapshot of a later seq.
      this.#replacing = false;
      await this.#writeWhole(`journal-${seq}.jsonl`, "\n");
      await this.#writeWhole(`snapshot-${seq}.json`, text);
      await this.#dropAllBut(seq);
      this.#base = seq;
      this.#fresh = false;
      return;
    }
    await this.#own();
    await mkdir(this.#dir, { recursive: true });
    const path = join(this.#dir, `snapshot-${seq}.json`);
    const tmp = `${path}.tmp`;
    const file = await open(tmp, "w");
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await appendFile(join(this.#dir, `journal-${seq}.jsonl`), "\n"); // starts it, or ends its last batch
    await rename(tmp, path);
    // The rename must be durable before the files it replaces are removed.
    const dir = await open(this.#dir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.#base = seq;
    this.#fresh = false;
    const { snapshots, journals } = await this.#files();
    for (const s of snapshots) if (s < seq) await rm(join(this.#dir, `snapshot-${s}.json`), { force: true });
    for (const j of journals) if (j < seq) await rm(join(this.#dir, `journal-${j}.jsonl`), { force: true });
  }

  async reset() {
    await this.#own();
    this.#replacing = false;
    const { snapshots, journals } = await this.#files();
    for (const s of snapshots) await rm(join(this.#dir, `snapshot-${s}.json`), { force: true });
    for (const j of journals) await rm(join(this.#dir, `journal-${j}.jsonl`), { force: true });
    this.#base = 0;
    this.#fresh = true;
  }
}
