// Entry point for browsers and bundlers: call the default export (`init`) once before use.
import init, { initSync, Core } from "./baton_wasm.js";
import { createBaton } from "./driver.js";

export const { Orchestrator, BatonError } = createBaton({
  create: (options, seed, now) => Core.create(options, seed, now),
  restore: (snapshot, now) => Core.restore(snapshot, now),
  load: (snapshot, journal, uptoSeq) => Core.load(snapshot, journal, uptoSeq),
  replay: (journal, uptoSeq) => Core.replay(journal, uptoSeq),
  verifyReplay: (journal) => Core.verifyReplay(journal),
  memory: () => Core.memory(),
  compileShape: (ids, offsets, deps) => Core.compileShape(ids, offsets, deps),
});
export { MemoryStore, IndexedDBStore, FileStore } from "./stores.js";
export { initSync };
export default init;
