/**
 * The only way in to environment configs: parse with the schema, then check the rules that
 * span environments. Every error names the environment, the field path and the reason.
 */
import { z } from "zod";
import { overlaps } from "./cidr.js";
import { ENVIRONMENT_LIST } from "./declared.js";
import { EnvironmentConfigSchema, TIERS, type EnvironmentConfig, type EnvironmentConfigInput, type Tier } from "./schema.js";

export { TIERS, type EnvironmentConfig, type Tier } from "./schema.js";

/** The declared environments' names, a closed set derived from the one list (declared.ts). */
export type EnvironmentName = (typeof ENVIRONMENT_LIST)[number]["name"];
/** Every environment's name, in promotion order. */
export const ENVIRONMENT_NAMES: readonly EnvironmentName[] = ENVIRONMENT_LIST.map((config) => config.name);

/** The first environment of the promotion path: fresh revisions are uploaded there (and rehearsed by default). */
export const FIRST_ENVIRONMENT: EnvironmentName = ENVIRONMENT_LIST[0].name;

/** The declared configs by name, in promotion order (object keys keep insertion order). */
export const DECLARED_ENVIRONMENTS = Object.fromEntries(ENVIRONMENT_LIST.map((config) => [config.name, config])) as {
  readonly [Name in EnvironmentName]: EnvironmentConfigInput & { readonly name: Name };
};

export class EnvironmentConfigError extends Error {
  override readonly name = "EnvironmentConfigError";
}

export function isEnvironmentName(value: string): value is EnvironmentName {
  return (ENVIRONMENT_NAMES as readonly string[]).includes(value);
}

/** Validates one declared config; `key` is the name it is declared under. */
export function parseEnvironment(key: string, input: unknown): EnvironmentConfig {
  if (!isEnvironmentName(key)) {
    throw new EnvironmentConfigError(`unknown environment "${key}": expected one of ${ENVIRONMENT_NAMES.join(", ")}`);
  }
  const result = EnvironmentConfigSchema.safeParse(input);
  if (!result.success) {
    throw new EnvironmentConfigError(`environment "${key}" is invalid:\n${z.prettifyError(result.error)}`);
  }
  if (result.data.name !== key) {
    throw new EnvironmentConfigError(`environment "${key}" is invalid:\n✖ declares name "${result.data.name}"\n  → at name`);
  }
  return result.data;
}

/**
 * Validates a full set of environments, including the rules no single config can check:
 * VPC ranges must not overlap, so that the environments can be peered later.
 */
export function parseEnvironments(inputs: Readonly<Record<string, unknown>>): Record<EnvironmentName, EnvironmentConfig> {
  // In promotion order whatever order the inputs came in: the list in declared.ts decides it.
  const parsed = Object.entries(inputs)
    .map(([key, input]) => parseEnvironment(key, input))
    .sort((a, b) => ENVIRONMENT_NAMES.indexOf(a.name as EnvironmentName) - ENVIRONMENT_NAMES.indexOf(b.name as EnvironmentName));
  for (const name of ENVIRONMENT_NAMES) {
    if (!parsed.some((config) => config.name === name)) throw new EnvironmentConfigError(`environment "${name}" is not declared`);
  }
  // A revision reaches production only through environments held to at least the rules of the one before.
  parsed.forEach((config, i) => {
    const previous = parsed[i - 1];
    if (previous && tierRank(config.tier) < tierRank(previous.tier)) {
      throw new EnvironmentConfigError(
        `environment "${config.name}" is invalid:\n✖ tier ${config.tier} comes after ${previous.name}'s tier ${previous.tier} on the promotion path (${ENVIRONMENT_NAMES.join(" -> ")}); tiers never go down along it (environments/declared.ts)\n  → at tier`,
      );
    }
  });
  parsed.forEach((a, i) =>
    parsed.slice(i + 1).forEach((b) => {
      if (overlaps(a.network.vpcCidr, b.network.vpcCidr)) {
        throw new EnvironmentConfigError(
          `environment "${b.name}" is invalid:\n✖ VPC ${b.network.vpcCidr} overlaps ${a.name}'s VPC ${a.network.vpcCidr}; they could never be peered\n  → at network.vpcCidr`,
        );
      }
    }),
  );
  for (const accountId of new Set(parsed.map((config) => config.accountId))) {
    const creators = parsed.filter((config) => config.accountId === accountId && config.ci.createOidcProvider).map((config) => config.name);
    if (creators.length !== 1) {
      throw new EnvironmentConfigError(
        `environments in account ${accountId} are invalid:\n✖ exactly one of them must create the CircleCI OIDC provider (ci.createOidcProvider), found ${creators.length ? creators.join(", ") : "none"}\n  → at ci.createOidcProvider`,
      );
    }
  }
  // The exact revision that passed dev is promoted to staging and prod: its service is built for one Node.js major.
  const majors = [...new Set(parsed.map((config) => config.fleet.nodeMajorVersion))];
  if (majors.length > 1) {
    const detail = parsed.map((config) => `${config.name}: ${config.fleet.nodeMajorVersion}`).join(", ");
    throw new EnvironmentConfigError(
      `environments are invalid:\n✖ every environment must run the same fleet.nodeMajorVersion, because one revision is promoted through all of them (${detail})\n  → at fleet.nodeMajorVersion`,
    );
  }
  return Object.fromEntries(parsed.map((config) => [config.name, config])) as Record<EnvironmentName, EnvironmentConfig>;
}

function tierRank(tier: Tier): number {
  return TIERS.indexOf(tier);
}

/** The environments a release passes through, in order (the same as ENVIRONMENT_NAMES). */
export const RELEASE_PATH: readonly EnvironmentName[] = ENVIRONMENT_NAMES;

let cached: Record<EnvironmentName, EnvironmentConfig> | undefined;
/** Every declared environment, validated once per process, in promotion order. */
export function loadEnvironments(): Record<EnvironmentName, EnvironmentConfig> {
  cached ??= parseEnvironments(DECLARED_ENVIRONMENTS);
  return cached;
}

/** One environment by a name that came from outside (CLI argument, event, env var). */
export function loadEnvironment(name: string): EnvironmentConfig {
  if (!isEnvironmentName(name)) {
    throw new EnvironmentConfigError(`unknown environment "${name}": expected one of ${ENVIRONMENT_NAMES.join(", ")}`);
  }
  return loadEnvironments()[name];
}
