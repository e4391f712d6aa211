/**
 * The pipeline's release chain, built from the one list of environments (environments/declared.ts):
 * upload to the first, then one `promote` job per later environment, each after the one before it,
 * with an approval before every production-tier environment. `npm run ci:generate` writes it into
 * config.yml; config-checks.ts fails while the file and the list disagree.
 *
 * Generated, not only checked: adding an environment must not mean writing YAML by hand in step
 * with TypeScript, and the jobs themselves are parameterised (config.yml's `upload` and `promote`),
 * so the chain is data: the generator rewrites only the workflow's release entries (the end of the
 * file) and the plan review's role profiles line, and leaves every other byte of the file as written.
 */
import { parseDocument } from "yaml";
import type { Tier } from "../environments/index.js";

export interface ChainEnvironment {
  readonly name: string;
  readonly tier: Tier;
}

export const WORKFLOW = "build-test-release";

/** Jobs every release job must wait for, in the order the upload entry lists them. */
export const RELEASE_PREREQUISITES = ["lint-typecheck", "unit-tests", "shellcheck", "model-gate", "synth-validate", "bundle", "plan-review"] as const;

/** The job definitions the chain runs; approvals are workflow-only entries. */
export const RELEASE_JOB_DEFINITIONS = ["upload", "promote"] as const;

const MAIN_ONLY = { branches: { only: "main" } };

/** Context variables are named after the environment in capitals (PLAN_ROLE_ARN_DEV). */
export const contextName = (environment: string): string => environment.toUpperCase();

/** The workflow entries of the release chain, as they appear in config.yml. */
export function releaseChainEntries(chain: readonly ChainEnvironment[]): Array<Record<string, Record<string, unknown>>> {
  const [first, ...rest] = chain;
  if (!first) throw new Error("the promotion path is empty: environments/declared.ts lists no environment");
  const entries: Array<Record<string, Record<string, unknown>>> = [
    { upload: { name: `upload-${first.name}`, env: first.name, requires: [...RELEASE_PREREQUISITES], context: contexts(first), filters: MAIN_ONLY } },
  ];
  let previous = `upload-${first.name}`;
  rest.forEach((environment, i) => {
    const from = chain[i]!.name;
    if (environment.tier === "production") {
      const approval = `approve-${environment.name}`;
      entries.push({ [approval]: { type: "approval", requires: [previous], filters: MAIN_ONLY } });
      previous = approval;
    }
    const name = `promote-${environment.name}`;
    entries.push({ promote: { name, from, to: environment.name, requires: [previous], context: contexts(environment), filters: MAIN_ONLY } });
    previous = name;
  });
  return entries;
}

/** Production environments get a context of their own, restricted to the people who approve their releases. */
function contexts(environment: ChainEnvironment): string[] {
  return environment.tier === "production" ? ["mpg-model-release", `mpg-model-${environment.name}`] : ["mpg-model-release"];
}

/** The plan review's profiles: one read-only plan role per environment. */
export function planProfiles(chain: readonly ChainEnvironment[]): string {
  return chain.map((environment) => `plan-${environment.name}=PLAN_ROLE_ARN_${contextName(environment.name)}`).join(" ");
}

/** The line after which config.yml's workflow lists the release chain, up to the end of the file. */
export const CHAIN_MARKER = "      # The release chain: generated from environments/declared.ts by `npm run ci:generate`.";

const flow = (list: readonly string[]): string => `[${list.join(", ")}]`;

/** One workflow entry as config.yml writes it (block mapping, flow lists). */
function renderEntry(entry: Record<string, Record<string, unknown>>): string {
  const [key, settings] = Object.entries(entry)[0]!;
  const lines = [`      - ${key}:`];
  for (const [name, value] of Object.entries(settings)) {
    if (Array.isArray(value)) lines.push(`          ${name}: ${flow(value.map(String))}`);
    else if (name === "filters") lines.push("          filters:", "            branches:", "              only: main");
    else lines.push(`          ${name}: ${String(value)}`);
  }
  return lines.join("\n");
}

/**
 * config.yml's text with the release chain (everything after CHAIN_MARKER) and the plan review's
 * profiles rebuilt from `chain`. Text surgery rather than a YAML round trip, so that every other
 * byte of the file (folded comments, spacing) stays as written. Refuses, rather than drops, a
 * hand-written entry that sits inside the generated part.
 */
export function applyReleaseChain(text: string, chain: readonly ChainEnvironment[]): string {
  const at = text.indexOf(`\n${CHAIN_MARKER}\n`);
  if (at < 0) throw new Error(`config.yml has no line "${CHAIN_MARKER.trim()}" before the release chain`);
  const tail = parseDocument(`jobs:\n${text.slice(at + CHAIN_MARKER.length + 2)}`).toJS() as { jobs?: unknown[] } | null;
  for (const entry of tail?.jobs ?? []) {
    const [key, settings] = Object.entries((entry ?? {}) as Record<string, { type?: string }>)[0] ?? ["?", {}];
    if (!(RELEASE_JOB_DEFINITIONS as readonly string[]).includes(key) && settings?.type !== "approval") {
      throw new Error(`config.yml: workflow entry "${key}" is below the release-chain line, which npm run ci:generate owns; move it above`);
    }
  }
  const chainText = releaseChainEntries(chain).map(renderEntry).join("\n");
  const planProfilesLine = /(\n {2}plan-review:\n(?: {4}.*\n|\n)*? {10}profiles: ).*/;
  if (!planProfilesLine.test(text)) throw new Error("config.yml's plan-review job has no aws-oidc-profiles profiles line");
  return `${text.slice(0, at)}\n${CHAIN_MARKER}\n${chainText}\n`.replace(planProfilesLine, `$1${planProfiles(chain)}`);
}
