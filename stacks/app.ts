import { ENVIRONMENT_NAMES, type EnvironmentConfig, type EnvironmentName } from "../environments/index.js";
import { assertRuntimesSupported, TRIGGER_RUNTIME, type ShippedRuntime } from "../environments/runtime-support.js";
import { buildHandlerArtifact } from "../release/handler-artifact.js";
import { EnvironmentStack } from "./environment-stack.js";
import { App } from "./platform.js";

export interface BuiltApp {
  readonly app: App;
  readonly stacks: Record<EnvironmentName, EnvironmentStack>;
  /** Runtimes close to their end of support (environments/runtime-support.ts): print them. */
  readonly warnings: readonly string[];
}

export interface BuildAppOptions {
  /** The repository root: the deployment trigger's handler is bundled from it (release/handler-artifact.ts). */
  readonly projectRoot: string;
  /** Where to write the synthesized stacks; cdktf's default (cdktf.out, or CDKTF_OUTDIR) otherwise. */
  readonly outdir?: string;
  /** The date the runtime guard judges support against: the clock in main.ts, a fixed date in tests. */
  readonly today: Date;
}

/** Every runtime the stacks ship: each environment's fleet Node.js and its deployment trigger. */
function shippedRuntimes(environments: Record<EnvironmentName, EnvironmentConfig>): ShippedRuntime[] {
  return Object.values(environments).flatMap((config) => [
    { usedBy: `environment "${config.name}" fleet.nodeMajorVersion`, runtime: { kind: "node-major", major: config.fleet.nodeMajorVersion } },
    { usedBy: `environment "${config.name}" deployment trigger`, runtime: { kind: "lambda", id: TRIGGER_RUNTIME } },
  ]);
}

/**
 * The whole program: one stack per environment of the list (environments/declared.ts), in its
 * order, named exactly after it (`cdktf deploy dev`).
 * Refuses (RuntimeSupportError) to build stacks that ship a runtime past its end of support.
 */
export function buildApp(environments: Record<EnvironmentName, EnvironmentConfig>, options: BuildAppOptions): BuiltApp {
  const warnings = assertRuntimesSupported(shippedRuntimes(environments), options.today);
  const app = new App(options.outdir ? { outdir: options.outdir } : {});
  // Once for every stack, here rather than in the construct: constructs build and write nothing.
  const triggerCode = buildHandlerArtifact({ projectRoot: options.projectRoot });
  const stacks = Object.fromEntries(ENVIRONMENT_NAMES.map((name) => [name, new EnvironmentStack(app, environments[name], triggerCode)])) as Record<EnvironmentName, EnvironmentStack>;
  return { app, stacks, warnings };
}
