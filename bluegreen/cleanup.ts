/**
 * Everything the rehearsal creates (namespaces, veth pairs, HAProxy, instances, temp folders)
 * registers its removal here as it is created; `run()` removes them newest first. On SIGINT or
 * SIGTERM the same removal runs before the process exits, so Ctrl-C leaves nothing behind.
 */
export type CleanupStep = { readonly label: string; readonly run: () => Promise<void> | void };

export class Cleanup {
  private readonly steps: CleanupStep[] = [];
  private running: Promise<string[]> | undefined;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: removing what the rehearsal created…\n`);
    void this.run().then((problems) => {
      for (const p of problems) process.stderr.write(`cleanup: ${p}\n`);
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  };

  /** Installs the signal handlers (the CLI does; tests clean up through `run()` in afterAll). */
  handleSignals(): this {
    process.once("SIGINT", this.onSignal);
    process.once("SIGTERM", this.onSignal);
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
      process.off("SIGINT", this.onSignal);
      process.off("SIGTERM", this.onSignal);
      return problems;
    })();
    const done = this.running;
    void done.then(() => {
      if (this.running === done) this.running = undefined;
    });
    return done;
  }
}
