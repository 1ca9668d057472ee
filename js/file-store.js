// A store in a directory, for Node: `snapshot-<seq>.json` holds the latest snapshot and
// `journal-<seq>.jsonl` the journal lines written after it (`journal-0.jsonl` before the first
// snapshot). Appends go to the end of one file; a snapshot is written to a temporary file,
// synced and renamed into place, and only then are the older files removed, so a crash at any
// point leaves a snapshot and the lines after it. Each append ends with a blank line, and a file
// written so starts with one: lines after the last blank line are a batch cut short by a crash,
// dropped whole on load. A batch holds whole commands, so a resumed run never starts from half a
// command (a task created but never queued).
import { appendFile, mkdir, open, readdir, readFile, rename, rm, truncate } from "node:fs/promises";
import { join } from "node:path";

const SNAPSHOT = /^snapshot-(\d+)\.json$/;
const JOURNAL = /^journal-(\d+)\.jsonl$/;

export class FileStore {
  #dir;
  #base = undefined; // the seq of the snapshot the current journal file follows
  #fresh = false; // the current journal file is empty: its first append starts it with a blank line

  constructor(dir) {
    if (typeof dir !== "string" || dir === "") {
      throw Object.assign(new Error("FileStore(dir): dir must be a non-empty path"), { name: "BatonError", code: "invalid_argument" });
    }
    this.#dir = dir;
  }

  get dir() { return this.#dir; }

  async #files() {
    await mkdir(this.#dir, { recursive: true });
    const names = await readdir(this.#dir);
    const seqs = (re) => names.map((n) => re.exec(n)).filter(Boolean).map((m) => Number(m[1])).sort((a, b) => a - b);
    return { snapshots: seqs(SNAPSHOT), journals: seqs(JOURNAL) };
  }

  async load() {
    const { snapshots, journals } = await this.#files();
    const base = snapshots.length > 0 ? snapshots[snapshots.length - 1] : 0;
    this.#base = base;
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
      await truncate(journalPath, Buffer.byteLength(journal));
    }
    this.#fresh = journal === "";
    if (snapshot === undefined && journal.trim() === "") return null;
    return { snapshot, journal };
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
    if (this.#replacing) {
      // The new run's first lines, before any snapshot of it: journal-0, replaced whole.
      this.#replacing = false;
      await this.#writeWhole("journal-0.jsonl", `\n${lines}\n`);
      await this.#dropAllBut(0);
      this.#base = 0;
      this.#fresh = false;
      return;
    }
    if (this.#base === undefined) await this.load();
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
    this.#replacing = false;
    const { snapshots, journals } = await this.#files();
    for (const s of snapshots) await rm(join(this.#dir, `snapshot-${s}.json`), { force: true });
    for (const j of journals) await rm(join(this.#dir, `journal-${j}.jsonl`), { force: true });
    this.#base = 0;
    this.#fresh = true;
  }
}
