/**
 * Everything the rehearsal creates (namespaces, veth pairs, HAProxy, instances, temp folders)
 * registers its removal here as it is created; `run()` removes them newest first. The whole
 * list is one teardown of revision/cleanup.ts, so Ctrl-C (SIGINT/SIGTERM/SIGHUP) removes it
 * too, beside the instances' own teardowns.
 */
import { onInterrupt } from "../revision/cleanup.js";

export type CleanupStep = { readonly label: string; readonly run: () => Promise<void> | void };

export class Cleanup {
  private readonly steps: CleanupStep[] = [];
  private running: Promise<string[]> | undefined;
  private unregister: (() => void) | undefined;

  /** Also run on Ctrl-C (the CLI; tests clean up through `run()` in afterAll). */
  handleSignals(): this {
    this.unregister ??= onInterrupt(async () => {
      for (const p of await this.run()) process.stderr.write(`cleanup: ${p}\n`);
    });
    return this;
  }

  add(label: string, run: () => Promise<void> | void): void {
    this.steps.push({ label, run });
  }

  /** Removes everything, newest first; never throws: returns what could not be removed. */
  run(): Promise<string[]> {
    this.running ??= (async () => {
      const problems: string[] = [];
      for (let step = this.steps.pop(); step; step = this.steps.pop()) {
        try {
          await step.run();
        } catch (error) {
          problems.push(`${step.label}: ${(error as Error).message}`);
        }
      }
      this.unregister?.();
      this.unregister = undefined;
      return problems;
    })();
    const done = this.running;
    void done.then(() => {
      if (this.running === done) this.running = undefined;
    });
    return done;
  }
}
