/**
 * init + validate + plan for each synthesized stack, in offline scratch workspaces. Used by
 * the test suite, by `npm run plan`, and by the local rehearsal.
 */
import { mkdir, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { prepareOfflineWorkspace } from "./offline-workspace.js";
import { changesFromPlanStream, summarizeChanges, type PlanSummary } from "./plan-summary.js";
import { terraformEnvironment } from "./provider-mirror.js";
import { terraform } from "./terraform-runner.js";

export interface StackPlan {
  readonly stack: string;
  readonly summary: PlanSummary;
  /** The scratch workspace, holding the saved plan as plan.bin. */
  readonly workspace: string;
  /** `terraform show -json plan.bin`, only when asked for (it costs another provider start). */
  readonly showJson?: unknown;
  readonly seconds: { readonly init: number; readonly validate: number; readonly plan: number };
}

export interface PlanStacksOptions {
  /** cdktf's output directory (holds stacks/<name>/cdk.tf.json). */
  readonly synthDir: string;
  /** Where scratch workspaces go; reused between runs so init stays fast. */
  readonly workRoot: string;
  /** Stacks to plan; all synthesized stacks by default. */
  readonly stacks?: readonly string[];
  /** Also render plans with `terraform show -json` (plan review artifacts): all, or the named stacks. */
  readonly showJson?: boolean | readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

export async function synthesizedStacks(synthDir: string): Promise<string[]> {
  const entries = await readdir(join(synthDir, "stacks"), { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await work();
  return [value, Math.round(performance.now() - start) / 1000];
}

export async function planStack(stack: string, options: PlanStacksOptions & { env: NodeJS.ProcessEnv }): Promise<StackPlan> {
  const workspace = await prepareOfflineWorkspace(join(options.synthDir, "stacks", stack), join(resolve(options.workRoot), stack));
  const run = (args: string[]) => terraform(args, { cwd: workspace, env: options.env });
  const [, init] = await timed(() => run(["init", "-input=false", "-no-color", "-reconfigure"]));
  const [, validate] = await timed(() => run(["validate", "-no-color"]));
  const [stream, plan] = await timed(() => run(["plan", "-input=false", "-no-color", "-lock=false", "-json", "-out=plan.bin"]));
  const summary = summarizeChanges(changesFromPlanStream(stream));
  const wanted = Array.isArray(options.showJson) ? options.showJson.includes(stack) : options.showJson === true;
  const showJson = wanted ? (JSON.parse(await run(["show", "-json", "plan.bin"])) as unknown) : undefined;
  return { stack, summary, workspace, showJson, seconds: { init, validate, plan } };
}

export async function planStacks(options: PlanStacksOptions): Promise<StackPlan[]> {
  const workRoot = resolve(options.workRoot);
  await mkdir(workRoot, { recursive: true });
  const { env } = await terraformEnvironment(workRoot, options.env);
  const stacks = options.stacks ?? (await synthesizedStacks(options.synthDir));
  return Promise.all(stacks.map((stack) => planStack(stack, { ...options, env })));
}
