/**
 * The program `cdktf synth` runs: validate every environment config and the runtimes the stacks
 * ship, then synthesize one stack per environment. A bad config or a retired runtime stops here,
 * before any construct exists.
 */
import { EnvironmentConfigError, loadEnvironments } from "./environments/index.js";
import { RuntimeSupportError } from "./environments/runtime-support.js";
import { buildApp } from "./stacks/app.js";

try {
  // The one read of the clock: the runtime guard judges end-of-support dates against it.
  const { app, warnings } = buildApp(loadEnvironments(), { projectRoot: import.meta.dirname, today: new Date() });
  for (const warning of warnings) console.warn(`WARNING: ${warning}`);
  app.synth();
} catch (error) {
  if (!(error instanceof EnvironmentConfigError || error instanceof RuntimeSupportError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
