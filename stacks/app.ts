import type { EnvironmentConfig, EnvironmentName } from "../environments/index.js";
import { EnvironmentStack } from "./environment-stack.js";
import { App } from "./platform.js";

export interface BuiltApp {
  readonly app: App;
  readonly stacks: Record<EnvironmentName, EnvironmentStack>;
}

export interface BuildAppOptions {
  /** The repository root: the stacks package code from it (the deployment trigger's handler). */
  readonly projectRoot: string;
  /** Where to write the synthesized stacks; cdktf's default (cdktf.out, or CDKTF_OUTDIR) otherwise. */
  readonly outdir?: string;
}

/** The whole program: one stack per environment, named exactly after it (`cdktf deploy dev`). */
export function buildApp(environments: Record<EnvironmentName, EnvironmentConfig>, options: BuildAppOptions): BuiltApp {
  const app = new App(options.outdir ? { outdir: options.outdir } : {});
  const stacks = {
    dev: new EnvironmentStack(app, environments.dev, options.projectRoot),
    staging: new EnvironmentStack(app, environments.staging, options.projectRoot),
    prod: new EnvironmentStack(app, environments.prod, options.projectRoot),
  };
  return { app, stacks };
}
