// Entry point for Node: the wasm module is loaded synchronously from the package folder, so the
// default export `init()` is a no-op kept for code shared with browsers.
import { readFileSync } from "node:fs";
import { initSync } from "./baton.js";

initSync({ module: readFileSync(new URL("./baton_wasm_bg.wasm", import.meta.url)) });

export { Orchestrator, BatonError, MemoryStore, IndexedDBStore, initSync } from "./baton.js";
export { FileStore } from "./file-store.js";
export default async function init() {}
