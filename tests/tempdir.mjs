// A throwaway directory under the system's temporary directory, removed when the test process
// exits, so that test runs leave no state directories behind (node --test runs each file in its
// own process). Removal happens after every test of the file, Worker processes included, has ended.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made = [];
process.on("exit", () => {
  for (const dir of made) {
    // A process stopped without being waited for may still hold a file: never fail the run for it.
    try { rmSync(dir, { recursive: true, force: true, maxRetries: 3 }); } catch { /* left behind */ }
  }
});

/** Makes `<tmp>/<prefix>XXXXXX` and registers it for removal at exit. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
