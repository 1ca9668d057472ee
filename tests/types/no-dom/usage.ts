// The package's types in a project without the DOM lib (a Node project with only "ES2022"):
// everything resolves, AbortSignal and WebAssembly.Module included.
import { initSync, Orchestrator, MemoryStore, IndexedDBStore, type Store, type Task } from "baton";

initSync(new Uint8Array(0));
const orch = new Orchestrator({ seed: 1, clock: "virtual" });
orch.registerAgent({
  id: "a",
  handler: async (input: unknown, ctx) => {
    const signal = ctx.signal;
    return { input, attempt: ctx.attempt, signal };
  },
});
const stores: Store[] = [new MemoryStore(), new IndexedDBStore("runs")];
export async function done(id: string): Promise<Task> {
  return orch.wait(id);
}
export { stores };
