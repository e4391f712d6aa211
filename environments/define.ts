import type { EnvironmentConfigInput } from "./schema.js";

/**
 * Declares one environment file's config. The only thing it adds to a plain typed literal is the
 * name as a literal type ("dev", not string), so that the list in declared.ts yields the
 * EnvironmentName union and `environments.dev` stays typed without anyone spelling the names again.
 */
export function defineEnvironment<const Name extends string>(config: EnvironmentConfigInput & { readonly name: Name }): EnvironmentConfigInput & { readonly name: Name } {
  return config;
}
