/**
 * THE list of environments, in promotion order: the first receives fresh revisions (upload),
 * every later one the exact object that succeeded in the one before it (promote). Each file
 * declares its tier (development / pre-production / production), which decides the rules it must
 * keep (schema.ts) and whether the pipeline waits for a person before it (.circleci/config-checks.ts).
 *
 * Adding an environment: copy a file of the same tier (e.g. staging.ts to qa.ts), give it its own
 * name, VPC range and tags, and add it here. Stacks, release paths, the CLIs and the pipeline
 * checks are built from this list.
 */
import { dev } from "./dev.js";
import { prod } from "./prod.js";
import { staging } from "./staging.js";

export const ENVIRONMENT_LIST = [dev, staging, prod] as const;
