/**
 * Every test run gets a temp folder of its own (TMPDIR, inherited by every worker and every
 * process the tests start), and the run fails if anything is left in it at the end: a spec that
 * forgets to remove what it made shows up by name instead of piling up in /tmp.
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * What tools write there on their own and keep: tsx's compile cache (tsx-UID), and the two files
 * onnxruntime-node's native library writes whenever a process loads it (.ses, an empty
 * mat-debug-PID.log; no option turns them off).
 */
const TOOLS_OWN = [/^tsx-\d+$/, /^\.ses$/, /^mat-debug-\d+\.log$/];

export default function setup(): () => void {
  const parent = tmpdir();
  const runDir = mkdtempSync(join(parent, "mpg-model-test-run-"));
  // Like /tmp itself (sticky, writable by all): some specs run processes as another user (nobody).
  chmodSync(runDir, 0o1777);
  process.env.TMPDIR = runDir;
  return () => {
    const left = readdirSync(runDir).filter((name) => !TOOLS_OWN.some((tool) => tool.test(name)));
    rmSync(runDir, { recursive: true, force: true });
    process.env.TMPDIR = parent;
    if (left.length > 0) {
      // vitest reports an error thrown here but keeps its exit code: set it, so the run fails.
      process.exitCode = 1;
      throw new Error(`the tests left ${left.length} item(s) in the temp folder (every spec must remove what it makes: scripts/scratch-dir.ts): ${left.sort().join(", ")}`);
    }
  };
}
