/**
 * Reads a metrics.json written by `npm run model:report` (plan review puts its model section in
 * the pull-request comment from it). A missing, unreadable or foreign file is an error that names
 * the file and the field.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { REPORT_VERSION, type ModelReport } from "./report-types.js";

const result = z.object({ pass: z.boolean(), detail: z.string() });
const schema = z.looseObject({
  report_version: z.literal(REPORT_VERSION),
  model: z.looseObject({ name: z.string(), version: z.string(), sha256: z.string(), data_sha256_claimed: z.string(), data_sha256_scored: z.string() }),
  base: z.discriminatedUnion("status", [
    z.looseObject({ status: z.literal("found"), ref: z.string(), commit: z.string(), same_model: z.boolean() }),
    z.looseObject({ status: z.literal("none"), ref: z.string().nullable(), reason: z.string() }),
    z.looseObject({ status: z.literal("unusable"), ref: z.string(), reason: z.string() }),
  ]),
  gate: z.object({ pass: z.boolean(), failed: z.array(z.string()), compared_with: z.string() }),
  holdout_rows: z.number(),
  metrics: z.array(z.looseObject({ label: z.string(), better: z.enum(["lower", "higher"]), before: z.number().nullable(), after: z.number(), delta: z.number().nullable() })),
  checks: z.array(z.object({ name: z.string(), threshold: z.string(), after: result, before: result.nullable() })),
  smoke: z.array(z.object({ name: z.string(), expected: z.number(), before: z.number().nullable(), after: z.number(), delta: z.number().nullable() })),
  analysis: z.looseObject({ importance: z.array(z.object({ feature: z.string(), rmse_increase: z.number(), std: z.number() })) }),
});

export async function readModelReport(path: string): Promise<ModelReport> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read the model report ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)}): run npm run model:report first`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`the model report ${path} is not JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(`the model report ${path} is not a metrics.json of model:report version ${REPORT_VERSION}:\n${z.prettifyError(parsed.error)}`);
  return parsed.data as unknown as ModelReport;
}
