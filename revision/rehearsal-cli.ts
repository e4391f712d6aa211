/**
 * `npm start`: rehearses the whole pipeline locally, ending in a prediction from a revision the
 * local lifecycle runner deployed. Run `npm start -- --help` for the options.
 */
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ENVIRONMENT_NAMES } from "../environments/schema.js";
import { STAGES, type StageId } from "./stages.js";

const USAGE = `usage: npm start [-- options]
  --env NAME          deployment group to rehearse: dev (default), staging or prod
  --target DIR        the local instance's root (default: ${join(tmpdir(), "mpg-model-rehearsal")})
  --skip STAGE        skip a stage (repeatable): ${STAGES.filter((s) => s !== "stop").join(", ")}
  --model-dir DIR     deploy a revision built with this model instead of service/model
  --keep-running      leave the service running at the end
  --stop              only stop a service left running by --keep-running
  --help              this text`;

function fail(message: string): never {
  console.error(`npm start: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        env: { type: "string", default: "dev" },
        target: { type: "string" },
        skip: { type: "string", multiple: true, default: [] },
        "model-dir": { type: "string" },
        "keep-running": { type: "boolean", default: false },
        stop: { type: "boolean", default: false },
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
  const bad = values.skip.filter((s) => !(STAGES as readonly string[]).includes(s) || s === "stop");
  if (bad.length) fail(`--skip: unknown stage ${bad.map((s) => `"${s}"`).join(", ")}; stages are ${STAGES.filter((s) => s !== "stop").join(", ")}`);
  const targetDir = resolve(values.target ?? join(tmpdir(), "mpg-model-rehearsal"));
  // Loaded only once the arguments are known to be good: a typo fails in a fraction of a second.
  const { rehearse, stopTarget } = await import("./rehearsal.js");
  if (values.stop) {
    console.log(await stopTarget(targetDir, values.env));
    return 0;
  }
  const result = await rehearse({
    repoDir: resolve(import.meta.dirname, ".."),
    targetDir,
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
    console.error(`npm start failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
