import type { EnvironmentConfig, EnvironmentName } from "../environments/index.js";
import { EnvironmentStack } from "./environment-stack.js";
import { App } from "./platform.js";

export interface BuiltApp {
  readonly app: App;
  readonly stacks: Record<EnvironmentName, EnvironmentStack>;
}

/** The whole program: one stack per environment, named exactly after it (`cdktf deploy dev`). */
export function buildApp(environments: Record<EnvironmentName, EnvironmentConfig>, outdir?: string): BuiltApp {
  const app = new App(outdir ? { outdir } : {});
  const stacks = {
    dev: new EnvironmentStack(app, environments.dev),
    staging: new EnvironmentStack(app, environments.staging),
    prod: new EnvironmentStack(app, environments.prod),
  };
  return { app, stacks };
}
