/**
 * Test helpers over a synthesized stack's Terraform JSON: find resources and data sources by
 * type, and follow the `${aws_x.y.attr}` references cdktf writes between them.
 */
import { resolve } from "node:path";
import { ENVIRONMENT_NAMES, type EnvironmentConfig, type EnvironmentName } from "../environments/index.js";
import { buildApp } from "./app.js";
import { Testing } from "./platform.js";

const PROJECT_ROOT = resolve(import.meta.dirname, "..");

/**
 * The "today" every test synthesis is judged against by the runtime guard: fixed, so that no
 * test starts failing because the calendar moved (the guard's own spec covers the dates).
 */
export const SYNTH_TEST_DATE = new Date("2026-12-01T00:00:00Z");

export type Block = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- Terraform JSON is untyped by nature

export interface SynthesizedStack {
  readonly json: Block;
  /** Bodies of every resource of a type, keyed by logical id. */
  resources(type: string): Record<string, Block>;
  dataSources(type: string): Record<string, Block>;
  /** The one resource of a type whose logical id contains `fragment`. */
  resource(type: string, fragment: string): Block;
  /** The policy document a `${data.aws_iam_policy_document.x.json}` reference points at. */
  policyDocument(reference: string): Block;
}

/** The synthesizer of each stack of one program, built once. */
function stackSynthesizer(environments: Record<EnvironmentName, EnvironmentConfig>): (name: EnvironmentName) => SynthesizedStack {
  const { stacks } = buildApp(environments, { projectRoot: PROJECT_ROOT, outdir: Testing.app().outdir, today: SYNTH_TEST_DATE });
  return (name) => wrap(JSON.parse(Testing.synth(stacks[name], true)) as Block);
}

/** Every stack of one program. */
export function synthesizeStacks(environments: Record<EnvironmentName, EnvironmentConfig>): Record<EnvironmentName, SynthesizedStack> {
  const synth = stackSynthesizer(environments);
  return Object.fromEntries(ENVIRONMENT_NAMES.map((name) => [name, synth(name)])) as Record<EnvironmentName, SynthesizedStack>;
}

export function synthesizeStack(environments: Record<EnvironmentName, EnvironmentConfig>, name: EnvironmentName): SynthesizedStack {
  return stackSynthesizer(environments)(name);
}

export function wrap(json: Block): SynthesizedStack {
  const resources = (type: string): Record<string, Block> => json.resource?.[type] ?? {};
  const dataSources = (type: string): Record<string, Block> => json.data?.[type] ?? {};
  return {
    json,
    resources,
    dataSources,
    resource(type, fragment) {
      const matches = Object.entries(resources(type)).filter(([id]) => id.includes(fragment));
      if (matches.length !== 1) throw new Error(`expected one ${type} matching "${fragment}", found ${matches.map(([id]) => id).join(", ") || "none"}`);
      return matches[0]![1];
    },
    policyDocument(reference) {
      const match = /^\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}$/.exec(reference);
      if (!match) throw new Error(`not a policy document reference: ${reference}`);
      const document = dataSources("aws_iam_policy_document")[match[1]!];
      if (!document) throw new Error(`no policy document ${match[1]}`);
      return document;
    },
  };
}
