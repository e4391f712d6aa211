/**
 * `npm test [-- VITEST_ARGS]`: every test on this machine's Node.js, then the tests that run the
 * service and the revision again on the fleet's Node.js (scripts/fleet-node.ts), because the
 * machine's node may be another major than the one production runs. Fails if either run fails.
 */
import { x } from "tinyexec";
import { join, resolve } from "node:path";
import { ensureFleetNode, FLEET_NODE, FLEET_RUNTIME_TESTS, runTestsOnFleetNode } from "./fleet-node.js";

const REPO = resolve(import.meta.dirname, "..");

async function vitestHere(args: readonly string[]): Promise<number> {
  const { exitCode } = await x(process.execPath, [join(REPO, "node_modules", "vitest", "vitest.mjs"), "run", ...args], { throwOnError: false, nodeOptions: { cwd: REPO, stdio: "inherit" } });
  return exitCode ?? 1;
}

async function main(args: string[]): Promise<number> {
  const log = (line: string) => console.log(`[test] ${line}`);
  const status = await vitestHere(args);
  if (status !== 0) return status;
  const fleetMajor = FLEET_NODE.version.split(".")[0];
  if (process.versions.node.split(".")[0] === fleetMajor) {
    log(`this machine runs Node.js ${process.version}, the fleet's major (${fleetMajor}): the run above covered the fleet runtime`);
    return 0;
  }
  if (args.some((arg) => !arg.startsWith("-"))) {
    log(`file filters given: the fleet-runtime pass (Node.js ${FLEET_NODE.version}) is NOT run; run it with npm run test:fleet-node`);
    return 0;
  }
  const fleet = ensureFleetNode({ log });
  log(`again on the fleet's Node.js v${fleet.version} (this machine runs ${process.version}): ${FLEET_RUNTIME_TESTS.join(" ")}`);
  return runTestsOnFleetNode(fleet, FLEET_RUNTIME_TESTS);
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(`[test] error: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
