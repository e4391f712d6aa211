/**
 * Teardown that also runs on Ctrl-C: whatever starts a container, a namespace or a scratch folder
 * registers how to remove it; SIGINT/SIGTERM/SIGHUP run every registered teardown (newest first)
 * and then exit with 128+signal. Normal paths still call the teardown themselves (finally) and
 * unregister it.
 */
type Teardown = () => Promise<void> | void;

const pending = new Set<Teardown>();
let installed = false;
let running = false;

/** Registers `teardown`; returns the function that unregisters it. */
export function onInterrupt(teardown: Teardown): () => void {
  install();
  pending.add(teardown);
  return () => pending.delete(teardown);
}

function install(): void {
  if (installed) return;
  installed = true;
  const signals = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
  for (const [signal, number] of Object.entries(signals) as [NodeJS.Signals, number][]) {
    process.on(signal, () => {
      if (running) return; // a second Ctrl-C while tearing down: keep tearing down
      running = true;
      if (pending.size) process.stderr.write(`\n${signal}: removing the instances, mounts and scratch folders this run made...\n`);
      const all = [...pending].reverse();
      pending.clear();
      void Promise.allSettled(all.map(async (t) => t())).then(() => process.exit(128 + number));
    });
  }
}
