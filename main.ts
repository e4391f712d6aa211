/**
 * The program `cdktf synth` runs: validate every environment config, then synthesize one
 * stack per environment. A bad config stops here, before any construct exists.
 */
import { EnvironmentConfigError, loadEnvironments } from "./environments/index.js";
import { buildApp } from "./stacks/app.js";

try {
  buildApp(loadEnvironments(), { projectRoot: import.meta.dirname }).app.synth();
} catch (error) {
  if (!(error instanceof EnvironmentConfigError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
