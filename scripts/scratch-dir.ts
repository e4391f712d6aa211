/**
 * The tests' one temp-folder fixture: `scratchDir(prefix)` makes a folder in the temp folder and
 * the spec file that made it removes it when the file ends (the afterAll below is registered in
 * the file suite of every spec that imports this module). Used where a spec needs a folder; the
 * run-wide guard (tmp-guard.global-setup.ts) fails the run if anything else is left behind.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

const made: string[] = [];

afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
