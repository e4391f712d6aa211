/**
 * `npm run rehearse:blue-green -- --env <env>`: the blue/green rehearsal (rehearsal.ts) of any
 * environment of the list (environments/declared.ts) that deploys blue/green.
 * Reads the process environment here, once, and passes it down. Exit 0 when every scenario's
 * verdict is ok, 1 when one is not, 2 for bad arguments.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadEnvironments } from "../environments/index.js";
import { parseScenarios, SCENARIOS, type ScenarioId } from "./scenarios.js";

/** The environments whose releases are blue/green (every pre-production and production tier), in promotion order. */
const BLUE_GREEN = Object.values(loadEnvironments())
  .filter((config) => config.deployment.strategy === "blue-green")
  .map((config) => config.name);

const USAGE = `usage: npm run rehearse:blue-green -- [options]
  --env NAME          the environment whose release is rehearsed: ${BLUE_GREEN.join(", ")} (default: ${BLUE_GREEN[0]})
  --scenarios LIST    a subset, e.g. 1,2,3,4 (default: all of ${SCENARIOS.join(",")})
  --lb-port PORT      the load balancer's port on 127.0.0.1 (default: a free one)
  --rate N            requests per second through the load balancer during releases (default 250)
  --time-scale X      scale of the environment's load balancer and alarm times (default 0.08)
  --bundle ZIP        release variants of this bundle (default: build one with npm run bundle's builder)
  --help              this text
Needs root, haproxy and systemd-nspawn (npm run setup). The instances' settings come from the
environment: CODEDEPLOY_AGENT_DIR, INSTANCE_IMAGE, ... (revision/instance-settings.ts).`;

function fail(message: string): never {
  console.error(`rehearse:blue-green: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        env: { type: "string", default: BLUE_GREEN[0] },
        scenarios: { type: "string" },
        "lb-port": { type: "string" },
        rate: { type: "string", default: "250" },
        "time-scale": { type: "string" },
        bundle: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.env || !BLUE_GREEN.includes(values.env)) fail(`--env: "${values.env}" is not a blue/green environment; expected ${BLUE_GREEN.join(" or ")}`);
  let scenarios: ScenarioId[] = [...SCENARIOS];
  try {
    if (values.scenarios !== undefined) scenarios = parseScenarios(values.scenarios);
  } catch (e) {
    fail((e as Error).message);
  }
  const lbPort = values["lb-port"] === undefined ? undefined : Number(values["lb-port"]);
  if (lbPort !== undefined && !(Number.isInteger(lbPort) && lbPort >= 1024 && lbPort <= 65535)) fail(`--lb-port: "${values["lb-port"]}" is not a port between 1024 and 65535`);
  const rate = Number(values.rate);
  if (!(Number.isInteger(rate) && rate >= 1 && rate <= 5000)) fail(`--rate: "${values.rate}" is not a whole number of requests per second (1-5000)`);
  const timeScale = values["time-scale"] === undefined ? undefined : Number(values["time-scale"]);
  if (timeScale !== undefined && !(timeScale > 0 && timeScale <= 1)) fail(`--time-scale: "${values["time-scale"]}" must be a number in (0, 1]`);

  const repoDir = resolve(import.meta.dirname, "..");
  // Loaded only once the arguments are good: a typo fails in a fraction of a second.
  const { instanceSettings } = await import("../revision/instance-settings.js");
  const settings = instanceSettings(process.env);
  const { rehearseBlueGreen } = await import("./rehearsal.js");
  const { blueGreenPrerequisites, containerInstances } = await import("./instances.js");
  const missing = blueGreenPrerequisites();
  if (missing.length) {
    console.error(`rehearse:blue-green cannot run here: missing ${missing.join("; ")}`);
    return 1;
  }
  const { locateAgent } = await import("../revision/agent-source.js");
  const { fleetNodeForImage } = await import("../revision/image.js");
  const agent = await locateAgent({ repoDir, cacheDir: settings.cacheDir, ...(settings.agentDir ? { configuredDir: settings.agentDir } : {}) });
  let bundleZip = values.bundle ? resolve(values.bundle) : undefined;
  if (!bundleZip) {
    const { buildBundle } = await import("../revision/bundle.js");
    const t0 = performance.now();
    const built = await buildBundle({ repoDir });
    console.log(`bundle ${built.zipPath} (${built.files} files, built in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    bundleZip = built.zipPath;
  }
  const result = await rehearseBlueGreen({
    environment: values.env,
    bundleZip,
    bootHost: containerInstances({ agent, cacheDir: settings.cacheDir, node: fleetNodeForImage(settings.cacheDir), imageSettings: settings.image }),
    scenarios,
    lbPort,
    rate,
    ...(timeScale !== undefined ? { timeScale } : {}),
    handleSignals: true,
  });
  return result.ok ? 0 : 1;
}

// Ctrl-C: revision/cleanup.ts removes everything and exits 128+signal; the rehearsal, whose
// instances and load balancer vanish under it, must not exit first with its own verdict.
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, () => (interrupted = true));

main().then(
  (code) => {
    if (!interrupted) process.exit(code);
  },
  (e: unknown) => {
    console.error(`rehearse:blue-green failed: ${(e as Error).message ?? e}`);
    process.exit(1);
  },
);
