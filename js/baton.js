// Entry point for browsers and bundlers: call the default export (`init`) once before use.
import wasmInit, { initSync as wasmInitSync, Core } from "./baton_wasm.js";
import { createBaton } from "./driver.js";

// Used before the wasm is loaded, the generated bindings fail with a TypeError deep inside;
// say instead what to do.
let loaded = false;
const ready = (f) => (...args) => {
  if (!loaded) throw new BatonError("invalid_state", "Baton's wasm is not loaded: call `await init()` (the package's default export) once before use");
  return f(...args);
};

export const { Orchestrator, BatonError } = createBaton({
  create: ready((options, seed, now) => Core.create(options, seed, now)),
  restore: ready((snapshot, now) => Core.restore(snapshot, now)),
  load: ready((snapshot, journal, uptoSeq) => Core.load(snapshot, journal, uptoSeq)),
  replay: ready((journal, uptoSeq) => Core.replay(journal, uptoSeq)),
  verifyReplay: ready((journal) => Core.verifyReplay(journal)),
  memory: () => Core.memory(),
  compileShape: ready((ids, offsets, deps) => Core.compileShape(ids, offsets, deps)),
});
export { MemoryStore, IndexedDBStore, FileStore } from "./stores.js";

/** Loads the wasm from a module, bytes or a URL (by default the `.wasm` beside this file). */
export default async function init(input) {
  const exports = await wasmInit(input);
  loaded = true;
  return exports;
}

/** Loads the wasm synchronously from a `WebAssembly.Module` or bytes. */
export function initSync(input) {
  const exports = wasmInitSync(input);
  loaded = true;
  return exports;
}
