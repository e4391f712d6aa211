/**
 * `npm start`: rehearses the whole pipeline locally, ending in a prediction from a revision the
 * real CodeDeploy agent deployed onto a local instance. Run `npm start -- --help` for the options.
 * The instance's settings come from the environment (read here, nowhere below): see
 * revision/instance-settings.ts (CODEDEPLOY_AGENT_DIR, INSTANCE_IMAGE, INSTANCE_MODE, ...).
 */
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ENVIRONMENT_NAMES, FIRST_ENVIRONMENT } from "../environments/index.js";
import { STAGES, type StageId } from "./stages.js";

const SKIPPABLE = STAGES.filter((s) => s !== "stop");
const USAGE = `usage: npm start [-- options]
  --env NAME          deployment group to rehearse: ${ENVIRONMENT_NAMES.join(", ")} (default: ${FIRST_ENVIRONMENT})
  --skip STAGE        skip a stage (repeatable): ${SKIPPABLE.join(", ")}
  --model-dir DIR     deploy a revision built with this model instead of service/model
  --keep-running      keep the instance running until Ctrl-C
  --help              this text
environment: CODEDEPLOY_AGENT_DIR (the agent; default ../shared/vendor), INSTANCE_MODE (auto, container,
namespace), INSTANCE_IMAGE (debian-bookworm, ubuntu-noble), INSTANCE_SUITE/MIRROR/COMPONENTS/KEYRING`;

function fail(message: string): never {
  console.error(`npm start: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        env: { type: "string", default: FIRST_ENVIRONMENT },
        skip: { type: "string", multiple: true, default: [] },
        "model-dir": { type: "string" },
        "keep-running": { type: "boolean", default: false },
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
  if (!(ENVIRONMENT_NAMES as readonly string[]).includes(values.env)) fail(`--env: unknown environment "${values.env}"; expected one of ${ENVIRONMENT_NAMES.join(", ")}`);
  const bad = values.skip.filter((s) => !(SKIPPABLE as readonly string[]).includes(s));
  if (bad.length) fail(`--skip: unknown stage ${bad.map((s) => `"${s}"`).join(", ")}; stages are ${SKIPPABLE.join(", ")}`);
  // Loaded only once the arguments are known to be good: a typo fails in a fraction of a second.
  const [{ rehearse }, { instanceSettings }, { locateAgent }, { fleetNodeForImage }] = await Promise.all([
    import("./rehearsal.js"),
    import("./instance-settings.js"),
    import("./agent-source.js"),
    import("./image.js"),
  ]);
  const repoDir = resolve(import.meta.dirname, "..");
  const settings = instanceSettings(process.env);
  const agent = await locateAgent({ repoDir, cacheDir: settings.cacheDir, ...(settings.agentDir ? { configuredDir: settings.agentDir } : {}) });
  console.log(`CodeDeploy agent: ${agent.agentDir} (${agent.source})`);
  const result = await rehearse({
    repoDir,
    instance: {
      name: `mpg-rehearsal-${randomBytes(3).toString("hex")}`,
      agent,
      cacheDir: settings.cacheDir,
      node: fleetNodeForImage(settings.cacheDir),
      imageSettings: settings.image,
      mode: settings.mode,
    },
    environment: values.env,
    skip: values.skip as StageId[],
    keepRunning: values["keep-running"],
    ...(values["model-dir"] ? { modelDir: resolve(values["model-dir"]) } : {}),
  });
  return result.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    // Settings, a missing agent, a missing tool: one line naming it and how to get it.
    const err = e as Error;
    const known = ["AgentUnavailableError", "InstanceSettingsError", "InstanceError", "ImageError", "FleetNodeError"].includes(err.name);
    console.error(known ? `npm start: ${err.message}` : `npm start failed: ${err.stack ?? String(e)}`);
    process.exit(1);
  },
);
