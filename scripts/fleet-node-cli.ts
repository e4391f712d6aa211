/**
 * The fleet's Node.js on this machine (scripts/fleet-node.ts):
 *
 *   tsx scripts/fleet-node-cli.ts install        # download once, verify, cache; prints the node path
 *   tsx scripts/fleet-node-cli.ts test [PATHS]   # the service and revision tests on the fleet's Node
 */
import { ensureFleetNode, FLEET_RUNTIME_TESTS, runTestsOnFleetNode } from "./fleet-node.js";

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const log = (line: string) => console.error(`[fleet-node] ${line}`);
  if (command === "install") {
    console.log(ensureFleetNode({ log }).node);
    return 0;
  }
  if (command === "test") {
    const fleet = ensureFleetNode({ log });
    const paths = rest.length > 0 ? rest : [...FLEET_RUNTIME_TESTS];
    log(`running ${paths.join(" ")} on Node.js v${fleet.version} (the fleet's runtime; this machine's node is ${process.version})`);
    return runTestsOnFleetNode(fleet, paths);
  }
  console.error("usage: tsx scripts/fleet-node-cli.ts install | test [PATHS...]");
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(`[fleet-node] error: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
