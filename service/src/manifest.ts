/**
 * The model manifest: the contract between whoever trains a model (this repo's
 * trainer, or a Python user with skl2onnx) and the service that serves it.
 * The service knows nothing about how a model was trained; everything it needs
 * to validate requests and build the input tensor is in here.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";

const featureName = z.string().regex(/^[a-z][a-z0-9_]*$/, "lower_snake_case feature name");

const numericFeature = z.strictObject({
  name: featureName,
  type: z.enum(["integer", "number"]),
  unit: z.string().optional(),
  description: z.string().optional(),
  /** Inclusive valid range; requests outside it get a 422. */
  min: z.number(),
  max: z.number(),
});

const categoricalFeature = z.strictObject({
  name: featureName,
  type: z.literal("category"),
  description: z.string().optional(),
  categories: z.array(z.string().min(1)).min(1),
});

export const featureSchema = z.discriminatedUnion("type", [numericFeature, categoricalFeature]);
export type Feature = z.infer<typeof featureSchema>;

/**
 * One column of the model's float input tensor: either a numeric feature as is,
 * or a one-hot indicator (1 when the categorical feature equals `one_hot`, else 0).
 */
export const inputColumnSchema = z.union([z.strictObject({ feature: featureName }), z.strictObject({ feature: featureName, one_hot: z.string().min(1) })]);
export type InputColumn = z.infer<typeof inputColumnSchema>;

const metricsSchema = z.strictObject({
  rows: z.number().int().positive(),
  rmse: z.number().nonnegative(),
  mae: z.number().nonnegative(),
  r2: z.number().max(1),
  baseline_rmse: z.number().nonnegative(),
});
export type Metrics = z.infer<typeof metricsSchema>;

export const manifestSchema = z
  .strictObject({
    manifest_version: z.literal(1),
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "lowercase name usable in a URL path"),
    version: z.string().regex(/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/, "semantic version"),
    created_at: z.iso.datetime(),
    description: z.string().optional(),
    model_file: z.string().regex(/^[^/\\]+\.onnx$/, "a file name beside the manifest"),
    model_sha256: z.string().regex(/^[0-9a-f]{64}$/, "lowercase hex SHA-256"),
    input: z.strictObject({
      name: z.string().min(1),
      dtype: z.literal("float32"),
      columns: z.array(inputColumnSchema).min(1),
    }),
    output: z.strictObject({ name: z.string().min(1) }),
    features: z.array(featureSchema).min(1),
    target: z.strictObject({ name: z.string(), unit: z.string(), description: z.string().optional() }),
    training: z
      .strictObject({
        trainer: z.string(),
        dataset: z.string(),
        data_sha256: z.string().regex(/^[0-9a-f]{64}$/),
        rows_used: z.number().int().nonnegative(),
        missing_values: z.string(),
        split: z.string(),
        hyperparameters: z.record(z.string(), z.unknown()),
      })
      .partial({ hyperparameters: true }),
    metrics: z.strictObject({ holdout: metricsSchema }),
    smoke_test: z.strictObject({
      tolerance: z.number().positive(),
      cases: z.array(z.strictObject({ name: z.string(), instance: z.record(z.string(), z.union([z.number(), z.string()])), expected: z.number() })).min(2),
    }),
  })
  .superRefine((m, ctx) => {
    const names = new Set<string>();
    m.features.forEach((f, i) => {
      if (names.has(f.name)) ctx.addIssue({ code: "custom", path: ["features", i, "name"], message: `duplicate feature ${f.name}` });
      names.add(f.name);
      if (f.type !== "category" && !(f.min <= f.max)) {
        ctx.addIssue({ code: "custom", path: ["features", i, "max"], message: "max must be >= min" });
      }
    });
    m.input.columns.forEach((c, i) => {
      const f = m.features.find((x) => x.name === c.feature);
      if (!f) {
        ctx.addIssue({ code: "custom", path: ["input", "columns", i, "feature"], message: `unknown feature ${c.feature}` });
      } else if ("one_hot" in c) {
        if (f.type !== "category" || !f.categories.includes(c.one_hot)) {
          ctx.addIssue({ code: "custom", path: ["input", "columns", i, "one_hot"], message: `${c.one_hot} is not a category of ${c.feature}` });
        }
      } else if (f.type === "category") {
        ctx.addIssue({ code: "custom", path: ["input", "columns", i], message: `categorical feature ${c.feature} needs one_hot` });
      }
    });
    for (const f of m.features) {
      if (!m.input.columns.some((c) => c.feature === f.name)) {
        ctx.addIssue({ code: "custom", path: ["features"], message: `feature ${f.name} is not used by any input column` });
      }
    }
  });
export type Manifest = z.infer<typeof manifestSchema>;

export class ModelLoadError extends Error {
  override name = "ModelLoadError";
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Parse a manifest, with errors that say which file and which field. */
export function parseManifest(text: string, where: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ModelLoadError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) throw new ModelLoadError(`${where}: invalid manifest\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/**
 * The example car: the first smoke-test case of the manifest in `modelDir`, the car make_prediction.sh sends
 * without arguments. Tests, benchmarks and rehearsals take it from here, so a retrained model needs no edit there.
 */
export function exampleCar(modelDir: string): Readonly<Record<string, number | string>> {
  const where = join(modelDir, "manifest.json");
  return parseManifest(readFileSync(where, "utf8"), where).smoke_test.cases[0]!.instance;
}

export interface ModelFiles {
  manifest: Manifest;
  modelBytes: Uint8Array;
  modelPath: string;
}

/**
 * Read manifest.json and the model it names from `dir`, and check the model's
 * SHA-256 against the manifest. Any problem is a ModelLoadError with a message
 * fit for an operator.
 */
export async function readModelFiles(dir: string): Promise<ModelFiles> {
  const manifestPath = join(dir, "manifest.json");
  let text: string;
  try {
    text = await readFile(manifestPath, "utf8");
  } catch (e) {
    throw new ModelLoadError(`cannot read model manifest ${manifestPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const manifest = parseManifest(text, manifestPath);
  const modelPath = join(dir, manifest.model_file);
  let modelBytes: Uint8Array;
  try {
    modelBytes = await readFile(modelPath);
  } catch (e) {
    throw new ModelLoadError(`cannot read model file ${modelPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const actual = sha256(modelBytes);
  if (actual !== manifest.model_sha256) {
    throw new ModelLoadError(`model file ${modelPath} does not match its manifest: SHA-256 is ${actual}, manifest says ${manifest.model_sha256}`);
  }
  return { manifest, modelBytes, modelPath };
}
