/**
 * The only way in to environment configs: parse with the schema, then check the rules that
 * span environments. Every error names the environment, the field path and the reason.
 */
import { z } from "zod";
import { overlaps } from "./cidr.js";
import { dev } from "./dev.js";
import { prod } from "./prod.js";
import { staging } from "./staging.js";
import { ENVIRONMENT_NAMES, EnvironmentConfigSchema, type EnvironmentConfig, type EnvironmentConfigInput, type EnvironmentName } from "./schema.js";

export { ENVIRONMENT_NAMES, type EnvironmentConfig, type EnvironmentName } from "./schema.js";

export const DECLARED_ENVIRONMENTS: Readonly<Record<EnvironmentName, EnvironmentConfigInput>> = { dev, staging, prod };

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
  const parsed = Object.entries(inputs).map(([key, input]) => parseEnvironment(key, input));
  for (const name of ENVIRONMENT_NAMES) {
    if (!parsed.some((config) => config.name === name)) throw new EnvironmentConfigError(`environment "${name}" is not declared`);
  }
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

let cached: Record<EnvironmentName, EnvironmentConfig> | undefined;
/** All three environments, validated once per process. */
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
