/**
 * Rules the pipeline must keep, checked on the parsed `.circleci/config.yml`. Each check returns
 * the problems it found (empty when the rule holds), so that the spec can show the real config
 * passes and that a broken one is caught, and `npm run ci:validate` can print them.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import semver from "semver";
import { parse } from "yaml";
import { loadEnvironments } from "../environments/index.js";
import { TRIGGER_RUNTIME } from "../environments/runtime-support.js";
import { applyReleaseChain, RELEASE_PREREQUISITES, WORKFLOW, type ChainEnvironment } from "./release-chain.js";

export { RELEASE_PREREQUISITES } from "./release-chain.js";

export const REPO = resolve(import.meta.dirname, "..");
export const CONFIG_PATH = join(REPO, ".circleci", "config.yml");

/** What this repository ships, read from its one source each: environments, runtime-support.ts, .nvmrc. */
export function repositoryRuntimes(): ShippedRuntimes {
  return {
    fleetMajors: Object.values(loadEnvironments()).map((config) => config.fleet.nodeMajorVersion),
    lambdaRuntime: TRIGGER_RUNTIME,
    nvmrc: readFileSync(join(REPO, ".nvmrc"), "utf8").trim(),
  };
}

/** The promotion path as the pipeline must follow it: environments/declared.ts, in order, with tiers. */
export function repositoryChain(): ChainEnvironment[] {
  return Object.values(loadEnvironments()).map(({ name, tier }) => ({ name, tier }));
}

type Json = Record<string, unknown>;

export interface WorkflowJob {
  /** The name other entries `require` (the job name, or the entry's `name:`). */
  readonly name: string;
  /** The job definition it runs (approval entries name none). */
  readonly job: string;
  readonly type?: string;
  readonly requires: string[];
  readonly context: string[];
  readonly branchesOnly?: string[];
  readonly branchesIgnore?: string[];
  /** Arguments for the job's parameters (`env: dev`), as strings. */
  readonly parameters: Record<string, string>;
}

/** Keys of a workflow entry that are not job parameters. */
const ENTRY_KEYS = new Set(["name", "requires", "context", "filters", "type", "matrix", "pre-steps", "post-steps"]);

export interface Config {
  readonly raw: Json;
  readonly text: string;
  readonly jobs: Record<string, Json>;
  readonly commands: Record<string, Json>;
  readonly executors: Record<string, Json>;
  readonly workflows: Record<string, WorkflowJob[]>;
}

const asObject = (value: unknown): Json => (value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {});
const asList = (value: unknown): string[] => (value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)]);

export function parseConfig(text: string): Config {
  const raw = asObject(parse(text));
  const workflows: Record<string, WorkflowJob[]> = {};
  for (const [name, workflow] of Object.entries(asObject(raw.workflows))) {
    const entries = Array.isArray(asObject(workflow).jobs) ? (asObject(workflow).jobs as unknown[]) : [];
    workflows[name] = entries.map((entry) => {
      if (typeof entry === "string") return { name: entry, job: entry, requires: [], context: [], parameters: {} };
      const [jobName, settings] = Object.entries(asObject(entry))[0] ?? ["?", {}];
      const s = asObject(settings);
      const branches = asObject(asObject(s.filters).branches);
      return {
        name: typeof s.name === "string" ? s.name : jobName,
        job: jobName,
        ...(typeof s.type === "string" ? { type: s.type } : {}),
        requires: asList(s.requires),
        context: asList(s.context),
        ...(branches.only !== undefined ? { branchesOnly: asList(branches.only) } : {}),
        ...(branches.ignore !== undefined ? { branchesIgnore: asList(branches.ignore) } : {}),
        parameters: Object.fromEntries(
          Object.entries(s)
            .filter(([key]) => !ENTRY_KEYS.has(key))
            .map(([key, value]) => [key, String(value)]),
        ),
      };
    });
  }
  return {
    raw,
    text,
    jobs: asObject(raw.jobs) as Record<string, Json>,
    commands: asObject(raw.commands) as Record<string, Json>,
    executors: asObject(raw.executors) as Record<string, Json>,
    workflows,
  };
}

export function loadConfig(path = CONFIG_PATH): Config {
  return parseConfig(readFileSync(path, "utf8"));
}

/** `<< parameters.x >>` in `steps` replaced by the arguments given (a job's from its workflow entry, a command's from its step). */
function substitute(steps: unknown, args: Record<string, unknown>): unknown {
  let body = JSON.stringify(steps ?? []);
  for (const [param, arg] of Object.entries(args)) body = body.replaceAll(`<< parameters.${param} >>`, String(arg).replaceAll('"', '\\"'));
  return JSON.parse(body);
}

/**
 * Every shell command a job runs, with reusable commands expanded one level per use. `args` are the
 * job's parameters as a workflow entry passes them (a parameterised job means nothing without them).
 */
export function jobCommands(config: Config, jobName: string, args: Record<string, string> = {}): string[] {
  const out: string[] = [];
  const visit = (steps: unknown, depth: number): void => {
    if (!Array.isArray(steps) || depth > 5) return;
    for (const step of steps) {
      if (typeof step === "string") {
        const command = config.commands[step];
        if (command) visit(command.steps, depth + 1);
        continue;
      }
      for (const [key, value] of Object.entries(asObject(step))) {
        if (key === "run") out.push(typeof value === "string" ? value : String(asObject(value).command ?? ""));
        else if (config.commands[key]) {
          // Substitute the step's parameters so that `<< parameters.x >>` reads as the job uses it.
          visit(substitute(config.commands[key].steps, asObject(value)), depth + 1);
        }
      }
    }
  };
  visit(substitute(config.jobs[jobName]?.steps, args), 0);
  return out;
}

/** A job as it runs: once per workflow entry (with that entry's arguments), or alone when no workflow runs it. */
export interface JobRun {
  /** The workflow entry's name (upload-dev), or the job's name. */
  readonly label: string;
  readonly job: string;
  readonly args: Record<string, string>;
}

export function jobRuns(config: Config): JobRun[] {
  const listed = Object.values(config.workflows)
    .flat()
    .filter((entry) => config.jobs[entry.job]);
  const runs: JobRun[] = listed.map((entry) => ({ label: entry.name, job: entry.job, args: entry.parameters }));
  for (const job of Object.keys(config.jobs)) if (!listed.some((entry) => entry.job === job)) runs.push({ label: job, job, args: {} });
  return runs;
}

/** The steps of a job run, with its arguments substituted. */
function runSteps(config: Config, run: JobRun): unknown[] {
  const steps = substitute(config.jobs[run.job]?.steps, run.args);
  return Array.isArray(steps) ? steps : [];
}

/** Workflow entries that run a job, by workflow. */
function entries(config: Config): Array<{ workflow: string; entry: WorkflowJob }> {
  return Object.entries(config.workflows).flatMap(([workflow, list]) => list.map((entry) => ({ workflow, entry })));
}

export function checkJobsExist(config: Config): string[] {
  const problems: string[] = [];
  for (const [workflow, list] of Object.entries(config.workflows)) {
    const names = new Set(list.map((e) => e.name));
    for (const entry of list) {
      if (entry.type !== "approval" && !config.jobs[entry.job]) problems.push(`${workflow}: job ${entry.job} is not defined under jobs`);
      for (const required of entry.requires) if (!names.has(required)) problems.push(`${workflow}: ${entry.name} requires ${required}, which is not in the workflow`);
    }
  }
  return problems;
}

/** `npm run X` and `npm test` in any job must be scripts of package.json. */
export function checkNpmScripts(config: Config, scripts: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const run of jobRuns(config)) {
    for (const command of jobCommands(config, run.job, run.args)) {
      for (const match of command.matchAll(/\bnpm\s+(?:run(?:-script)?\s+(?:--?[\w-]+\s+)*([\w:.-]+)|(test)\b)/g)) {
        const script = match[1] ?? match[2]!;
        if (!(script in scripts)) problems.push(`${run.label}: npm run ${script} is not a script in package.json`);
      }
    }
  }
  return [...new Set(problems)];
}

/** All jobs a workflow entry waits for, directly or through other jobs. */
export function upstream(list: readonly WorkflowJob[], name: string): Set<string> {
  const byName = new Map(list.map((e) => [e.name, e]));
  const seen = new Set<string>();
  const walk = (n: string) => {
    for (const r of byName.get(n)?.requires ?? []) {
      if (seen.has(r)) continue;
      seen.add(r);
      walk(r);
    }
  };
  walk(name);
  return seen;
}

/** Workflow entries that change an environment: anything that runs `release -- upload|promote|rollback`. */
export function releaseJobs(config: Config): string[] {
  return jobRuns(config)
    .filter((run) => jobCommands(config, run.job, run.args).some((c) => /\bnpm run (?:--silent )?release -- (upload|promote|rollback)\b/.test(c)))
    .map((run) => run.label);
}

/**
 * Release jobs run on main only, after the jobs that prove the change (tests, gate, plan...); a
 * job that releases to a production-tier environment (`production`, from environments/) waits for an approval.
 */
export function checkReleaseGates(config: Config, mustFollow: readonly string[], production: readonly string[]): string[] {
  const problems: string[] = [];
  const release = new Set(releaseJobs(config));
  if (release.size === 0) problems.push("no job releases anything (npm run release -- upload|promote)");
  for (const { workflow, entry } of entries(config)) {
    if (!release.has(entry.name)) continue;
    const where = `${workflow}/${entry.name}`;
    if (JSON.stringify(entry.branchesOnly) !== JSON.stringify(["main"]) || entry.branchesIgnore) problems.push(`${where} must be filtered to branches: only: main`);
    const list = config.workflows[workflow]!;
    const before = upstream(list, entry.name);
    for (const job of mustFollow) if (!before.has(job)) problems.push(`${where} does not wait for ${job}`);
    const released = jobCommands(config, entry.job, entry.parameters).flatMap((c) =>
      [...c.matchAll(/\bnpm run (?:--silent )?release -- (?:promote\b.*--to|(?:upload|rollback)\b.*--env) ([\w-]+)/g)].map((m) => m[1]!),
    );
    for (const target of new Set(released.filter((name) => production.includes(name)))) {
      if (![...before].some((name) => list.find((e) => e.name === name)?.type === "approval")) problems.push(`${where} releases to ${target} (production) without an approval job before it`);
    }
  }
  for (const { workflow, entry } of entries(config)) {
    if (entry.type === "approval" && JSON.stringify(entry.branchesOnly) !== JSON.stringify(["main"])) problems.push(`${workflow}/${entry.name}: the approval must also be main-only`);
  }
  return problems;
}

/** Jobs that assume AWS roles need a context: CircleCI issues OIDC tokens only to jobs that use one. */
export function checkOidcJobsHaveContext(config: Config): string[] {
  const problems: string[] = [];
  for (const { workflow, entry } of entries(config)) {
    const usesOidc = JSON.stringify(config.jobs[entry.job]?.steps ?? []).includes("aws-oidc-profiles");
    if (usesOidc && entry.context.length === 0) problems.push(`${workflow}/${entry.name} assumes AWS roles but has no context, so it gets no OIDC token`);
  }
  return problems;
}

/** Every --profile/--from-profile/--to-profile a job passes must be a profile the same job configured. */
export function checkProfiles(config: Config): string[] {
  const problems: string[] = [];
  for (const run of jobRuns(config)) {
    const job = run.label;
    const commands = jobCommands(config, run.job, run.args);
    const configured = new Set<string>();
    for (const step of runSteps(config, run)) {
      const profiles = asObject(asObject(step)["aws-oidc-profiles"]).profiles;
      if (typeof profiles === "string") for (const pair of profiles.split(/\s+/)) configured.add(pair.split("=")[0]!);
    }
    const prefix = commands.join("\n").match(/--aws-profile-prefix\s+([\w-]+)/)?.[1];
    if (prefix && ![...configured].some((p) => p.startsWith(prefix))) problems.push(`${job}: no profile starts with ${prefix}`);
    for (const c of commands) {
      for (const m of c.matchAll(/--(?:from-|to-)?profile\s+([\w-]+)/g)) if (!configured.has(m[1]!)) problems.push(`${job}: profile ${m[1]} is not configured in the job`);
    }
  }
  return problems;
}

/** No credentials, tokens or account-bound ARNs in the file: those live in contexts. */
export function checkNoSecrets(config: Config): string[] {
  const problems: string[] = [];
  const patterns: Array<[RegExp, string]> = [
    [/\b(AKIA|ASIA)[A-Z0-9]{16}\b/, "an AWS access key id"],
    [/aws_secret_access_key|AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|AWS_SESSION_TOKEN/, "AWS key variables (use OIDC)"],
    [/\b(ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}/, "a GitHub token"],
    [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
    [/arn:aws[a-z-]*:iam::\d{12}:role\//, "a role ARN (put it in a context)"],
    [/\bxox[abpr]-[A-Za-z0-9-]+/, "a Slack token"],
  ];
  for (const [pattern, what] of patterns) if (pattern.test(config.text)) problems.push(`config contains ${what}`);
  const environments = [...Object.values(config.executors).map((e) => e.environment), ...Object.values(config.jobs).map((j) => j.environment)];
  for (const env of environments) {
    for (const [key, value] of Object.entries(asObject(env))) {
      if (/TOKEN|SECRET|PASSWORD|PRIVATE|CREDENTIAL|API_KEY|ACCESS_KEY/i.test(key) && value !== undefined && !/^\$\{?[A-Z_]+\}?$/.test(String(value))) {
        problems.push(`environment variable ${key} is set inline; secrets belong in a context`);
      }
    }
  }
  return problems;
}

/** Docker images and orbs pinned to an exact version. */
export function checkPinned(config: Config): string[] {
  const problems: string[] = [];
  const images = [...Object.values(config.executors), ...Object.values(config.jobs)].flatMap((x) => (Array.isArray(x.docker) ? x.docker : []).map((d) => String(asObject(d).image)));
  if (images.length === 0) problems.push("no docker image found");
  for (const image of images) if (!/^[\w./-]+(:\d+\.\d+\.\d+|@sha256:[0-9a-f]{64})$/.test(image)) problems.push(`image ${image} is not pinned to an exact version`);
  for (const [alias, orb] of Object.entries(asObject(config.raw.orbs))) {
    if (typeof orb !== "string" || !/^[\w-]+\/[\w-]+@\d+\.\d+\.\d+$/.test(orb)) problems.push(`orb ${alias} is not pinned to an exact version`);
  }
  return problems;
}

/** Whether a version satisfies an engines range, with npm's own semver; an unreadable range is an error. */
export function satisfies(version: string, range: string): boolean {
  if (semver.validRange(range) === null) throw new Error(`engines range "${range}" is not a semver range`);
  return semver.satisfies(version, range);
}

/** Node.js images run the project's Node major, at a version the engines range admits. */
/** The runtimes the project ships, which CI must test on. */
export interface ShippedRuntimes {
  /** Every environment's fleet.nodeMajorVersion. */
  readonly fleetMajors: readonly number[];
  /** The deployment trigger's Lambda runtime, e.g. nodejs22.x. */
  readonly lambdaRuntime: string;
  /** The project's .nvmrc: the exact Node.js developers and CI use, the fleet's pinned build. */
  readonly nvmrc: string;
}

/**
 * CI runs the Node.js the fleet runs, at the exact version of .nvmrc, inside package.json's
 * engines; and never an older major than the Lambda runtime, so that nothing ships on a runtime
 * newer than the one it was tested on.
 */
export function checkNodeVersion(config: Config, engines: string, shipped: ShippedRuntimes): string[] {
  const problems: string[] = [];
  const nodeImages = [...Object.values(config.executors), ...Object.values(config.jobs)]
    .flatMap((x) => (Array.isArray(x.docker) ? x.docker : []).map((d) => String(asObject(d).image)))
    .filter((image) => /\/node:/.test(image));
  if (nodeImages.length === 0) problems.push("no Node.js image found");
  const fleetMajors = [...new Set(shipped.fleetMajors)];
  const lambdaMajor = Number(/^nodejs(\d+)\.x$/.exec(shipped.lambdaRuntime)?.[1] ?? NaN);
  if (Number.isNaN(lambdaMajor)) problems.push(`cannot read a Node.js major from the Lambda runtime "${shipped.lambdaRuntime}"`);
  for (const image of nodeImages) {
    const version = image.split(":")[1] ?? "";
    const major = semver.coerce(version)?.major ?? NaN;
    for (const fleet of fleetMajors) if (major !== fleet) problems.push(`${image} runs Node.js ${major}, the fleet runs ${fleet} (fleet.nodeMajorVersion)`);
    if (version !== shipped.nvmrc) problems.push(`${image}: CI runs ${version}, .nvmrc says ${shipped.nvmrc}`);
    if (!satisfies(version, engines)) problems.push(`${image}: ${version} does not satisfy engines.node "${engines}"`);
    if (major < lambdaMajor) problems.push(`${image} runs Node.js ${major}, older than the trigger's Lambda runtime ${shipped.lambdaRuntime}`);
  }
  return problems;
}

/** The dependency cache is keyed on the lock file, so a changed lock never restores stale modules. */
export function checkCache(config: Config): string[] {
  const steps = Object.values(config.jobs).flatMap((j) => (Array.isArray(j.steps) ? j.steps : []));
  const keys = steps
    .flatMap((s) => [asObject(asObject(s).save_cache).key, ...asList(asObject(asObject(s).restore_cache).keys)])
    .filter((k) => k !== undefined)
    .map(String);
  if (keys.length === 0) return ["no dependency cache"];
  return keys.filter((k) => !k.includes('{{ checksum "package-lock.json" }}')).map((k) => `cache key ${k} is not keyed on package-lock.json`);
}

/** What CI keeps: test results, the bundle, the plans and the model report. */
export function checkArtifacts(config: Config): string[] {
  // Reusable commands' steps count too (the model report is stored by the model-report command).
  const steps = [...Object.values(config.jobs), ...Object.values(config.commands)].flatMap((j) => (Array.isArray(j.steps) ? j.steps : []));
  const stored = steps
    .map((s) => asObject(asObject(s).store_artifacts).path)
    .filter(Boolean)
    .map(String);
  const problems: string[] = [];
  if (!steps.some((s) => asObject(s).store_test_results)) problems.push("no store_test_results");
  const testCommands = Object.keys(config.jobs)
    .flatMap((job) => jobCommands(config, job))
    .filter((c) => /\bnpm test\b/.test(c));
  if (!testCommands.some((c) => /--reporter[= ]junit/.test(c))) problems.push("npm test does not write a junit report for store_test_results");
  for (const [what, path] of [
    ["the bundle", "dist"],
    ["the review plans", "plans/review"],
    ["the model gate's output", "reports"],
    ["the model report", "dist/model-report"],
  ] as const) {
    if (!stored.includes(path)) problems.push(`${what} (${path}) is not stored as an artifact`);
  }
  return problems;
}

/**
 * The model report: the gate job writes it before the gate can fail the job (so a failing model
 * still leaves its report), and the plan review makes its own and puts it in the comment.
 */
export function checkModelReport(config: Config): string[] {
  const problems: string[] = [];
  const gate = jobCommands(config, "model-gate");
  const report = gate.findIndex((c) => /\bnpm run model:report\b/.test(c));
  const verdict = gate.findIndex((c) => /\bnpm run model:gate\b/.test(c));
  if (verdict < 0) problems.push("the model-gate job does not run npm run model:gate");
  if (report < 0) problems.push("the model-gate job does not write the model report");
  else if (verdict >= 0 && report > verdict) problems.push("the model-gate job writes the model report after the gate, so a failing gate leaves no report");
  const review = jobCommands(config, "plan-review");
  if (!review.some((c) => /\bnpm run model:report\b/.test(c)) || !review.some((c) => /\bnpm run plan:review\b[\s\S]*--model-report\s/.test(c))) {
    problems.push("the plan-review job does not put the model report in its comment (npm run model:report, then plan:review --model-report)");
  }
  return problems;
}

/**
 * The release chain (upload, promotions, approvals) and the plan review's profiles are exactly what
 * release-chain.ts builds from environments/declared.ts: an environment added, removed or moved
 * there is a failing check here until `npm run ci:generate` has rewritten config.yml.
 */
export function checkReleaseChain(config: Config, chain: readonly ChainEnvironment[]): string[] {
  const expected = parseConfig(applyReleaseChain(config.text, chain));
  const describe = (c: Config) => JSON.stringify(c.workflows) + JSON.stringify(c.jobs["plan-review"]);
  if (describe(expected) === describe(config)) return [];
  const chainOf = (c: Config) =>
    (c.workflows[WORKFLOW] ?? [])
      .filter((e) => e.job === "upload" || e.job === "promote" || e.type === "approval")
      .map((e) => e.name)
      .join(" -> ");
  return [
    `the release chain does not follow environments/declared.ts (${chain.map((e) => `${e.name}: ${e.tier}`).join(", ")}): expected ${chainOf(expected)}, found ${chainOf(config) || "none"} (or different settings); run npm run ci:generate`,
  ];
}

/** Schema errors of `document`, one readable line each (instance path, then what is wrong). */
export function schemaErrors(schema: object, document: unknown): string[] {
  // strict: false because the schema is CircleCI's, written for its language server, not for Ajv's strict mode.
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat("uri", (value: string) => URL.canParse(value));
  const validate = ajv.compile(schema);
  if (validate(document)) return [];
  return (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ""}`);
}

/** The project's rules, for a config text and the package.json it runs with. */
export function projectProblems(text: string, packageJson: { scripts?: Record<string, string>; engines?: { node?: string } }, shipped: ShippedRuntimes, chain: readonly ChainEnvironment[]): string[] {
  const config = parseConfig(text);
  return [
    ...checkJobsExist(config),
    ...checkReleaseChain(config, chain),
    ...checkNpmScripts(config, packageJson.scripts ?? {}),
    ...checkReleaseGates(config, RELEASE_PREREQUISITES, productionOf(chain)),
    ...checkOidcJobsHaveContext(config),
    ...checkProfiles(config),
    ...checkNoSecrets(config),
    ...checkPinned(config),
    ...checkNodeVersion(config, packageJson.engines?.node ?? "", shipped),
    ...checkCache(config),
    ...checkArtifacts(config),
    ...checkModelReport(config),
  ];
}

/** Names of the production-tier environments: releases to them wait for an approval. */
export function productionOf(chain: readonly ChainEnvironment[]): string[] {
  return chain.filter((environment) => environment.tier === "production").map((environment) => environment.name);
}
