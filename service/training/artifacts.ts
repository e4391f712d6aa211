/**
 * Turns a trained model into the two committed artifacts: model.onnx and
 * manifest.json. Deterministic: same data + same code = same bytes.
 */
import { createRequire } from "node:module";
import { type Manifest, manifestSchema, sha256 } from "../src/manifest.js";
import { Model, type Instance } from "../src/model.js";
import { FEATURES, INPUT_COLUMNS, type LabelledCar } from "./data.js";
import { evaluate, toInstance } from "./gate.js";
import { TRAINING_CONFIG, type Trained } from "./train.js";

/** Bump both when the model changes in a way users should see. */
export const MODEL_NAME = "auto-mpg";
export const MODEL_VERSION = "1.0.0";
/**
 * created_at is the release time of MODEL_VERSION, fixed here so that
 * re-training gives byte-identical files (a wall-clock time would change the
 * manifest, and so the revision, on every run). SOURCE_DATE_EPOCH (the
 * reproducible-builds convention) overrides it when a build system sets it.
 */
export const MODEL_RELEASED_AT = "2026-11-26T00:00:00Z";

/** Cars used by the smoke test (ValidateService hook, make_prediction.sh): very different, so their predictions must differ. */
export const SMOKE_CARS = ["chevrolet chevelle malibu", "datsun pl510"] as const;
export const SMOKE_TOLERANCE = 0.01;

export function createdAt(env: NodeJS.ProcessEnv = process.env): string {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && epoch !== "") {
    if (!/^\d+$/.test(epoch)) throw new Error(`SOURCE_DATE_EPOCH must be whole seconds since 1970, got ${epoch}`);
    return new Date(Number(epoch) * 1000).toISOString();
  }
  return new Date(MODEL_RELEASED_AT).toISOString();
}

function trainerVersion(): string {
  const req = createRequire(import.meta.url);
  return `ml-random-forest ${(req("ml-random-forest/package.json") as { version: string }).version}`;
}

export interface Artifacts {
  modelBytes: Uint8Array;
  manifest: Manifest;
  manifestText: string;
}

export async function buildArtifacts(trained: Trained, env: NodeJS.ProcessEnv = process.env): Promise<Artifacts> {
  const { dataset } = trained;
  const smokeRows = SMOKE_CARS.map((name) => {
    const row = dataset.rows.find((r) => r.name === name);
    if (!row) throw new Error(`smoke car ${name} not in the data`);
    return row;
  });
  const draft: Manifest = {
    manifest_version: 1,
    name: MODEL_NAME,
    version: MODEL_VERSION,
    created_at: createdAt(env),
    description: "Predicts a car's fuel economy (miles per gallon) from its specification. Random forest, exported to ONNX.",
    model_file: "model.onnx",
    model_sha256: sha256(trained.onnx),
    input: { name: "float_input", dtype: "float32", columns: INPUT_COLUMNS },
    output: { name: "variable" },
    features: FEATURES,
    target: { name: "mpg", unit: "miles per gallon", description: "Miles_per_Gallon in the Auto MPG data" },
    training: {
      trainer: trainerVersion(),
      dataset: `vega-datasets data/cars.json (Auto MPG), ${dataset.rowsInFile} rows, file sha256 ${dataset.fileSha256}`,
      data_sha256: dataset.dataSha256,
      rows_used: dataset.rows.length,
      missing_values: `dropped ${dataset.dropped.length} rows with a missing value (${dataset.dropped.filter((d) => d.missing.includes("Miles_per_Gallon")).length} without Miles_per_Gallon, ${dataset.dropped.filter((d) => d.missing.includes("Horsepower")).length} without Horsepower); nothing imputed`,
      split: `seeded shuffle (mulberry32, seed ${TRAINING_CONFIG.splitSeed}), ${trained.split.train.length} train / ${trained.split.holdout.length} held out`,
      hyperparameters: TRAINING_CONFIG.forest,
    },
    metrics: { holdout: { rows: 1, rmse: 0, mae: 0, r2: 0, baseline_rmse: 0 } },
    smoke_test: { tolerance: SMOKE_TOLERANCE, cases: [] },
  };
  // Metrics and smoke expectations come from the ONNX model as served, not from the trainer's objects.
  const model = await Model.fromBytes(draft, trained.onnx);
  try {
    draft.metrics.holdout = await evaluate(model);
    const instances = smokeRows.map((r: LabelledCar) => toInstance(r));
    const expected = await model.predict(instances);
    draft.smoke_test.cases = smokeRows.map((r, i) => ({
      name: r.name,
      instance: instances[i] as Instance,
      expected: Number(expected[i]!.toFixed(4)),
    }));
  } finally {
    await model.close();
  }
  const manifest = manifestSchema.parse(draft);
  return { modelBytes: trained.onnx, manifest, manifestText: `${JSON.stringify(manifest, null, 2)}\n` };
}
