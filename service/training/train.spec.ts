import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Model } from "../src/model.js";
import { buildArtifacts, createdAt } from "./artifacts.js";
import { loadDataset, split } from "./data.js";
import { float32AtLeast } from "./onnx-export.js";
import { DEFAULT_MODEL_DIR } from "./paths.js";
import { TRAINING_CONFIG, type Trained, train } from "./train.js";
import { toInstance } from "./gate.js";

describe("Auto MPG data", () => {
  const ds = loadDataset();

  it("drops exactly the 14 rows with a missing value and keeps 392", () => {
    expect(ds.rowsInFile).toBe(406);
    expect(ds.dropped).toHaveLength(14);
    expect(ds.dropped.filter((d) => d.missing.includes("Miles_per_Gallon"))).toHaveLength(8);
    expect(ds.dropped.filter((d) => d.missing.includes("Horsepower"))).toHaveLength(6);
    expect(ds.rows).toHaveLength(392);
    expect(ds.rows.every((r) => Object.values(r.car).every((v) => v !== null && v !== undefined))).toBe(true);
  });

  it("turns Year into a four-digit model_year and keeps origin as a category", () => {
    const chevelle = ds.rows.find((r) => r.name === "chevrolet chevelle malibu")!;
    expect(chevelle.car).toEqual({ cylinders: 8, displacement: 307, horsepower: 130, weight: 3504, acceleration: 12, model_year: 1970, origin: "USA" });
    expect(new Set(ds.rows.map((r) => r.car.origin))).toEqual(new Set(["USA", "Europe", "Japan"]));
  });

  it("splits the same way every time, with no row in both parts", () => {
    const a = split(ds.rows, TRAINING_CONFIG.splitSeed, TRAINING_CONFIG.holdoutFraction);
    const b = split(ds.rows, TRAINING_CONFIG.splitSeed, TRAINING_CONFIG.holdoutFraction);
    expect(a).toEqual(b);
    expect(a.train).toHaveLength(314);
    expect(a.holdout).toHaveLength(78);
    const trainSet = new Set(a.train);
    expect(a.holdout.some((r) => trainSet.has(r))).toBe(false);
    expect(split(ds.rows, TRAINING_CONFIG.splitSeed + 1, 0.2).holdout).not.toEqual(a.holdout);
  });
});

describe("float32AtLeast", () => {
  it("returns the smallest float32 that is >= t", () => {
    expect(float32AtLeast(13.5)).toBe(13.5);
    const t = 13.500000000000002; // a float64 midpoint just above 13.5
    const f = float32AtLeast(t);
    expect(f).toBeGreaterThanOrEqual(t);
    expect(Math.fround(f)).toBe(f);
    expect(Math.fround(13.5) < f).toBe(true); // 13.5 < t must stay true in float32
    const g = float32AtLeast(0.1);
    expect(g).toBeGreaterThanOrEqual(0.1);
    expect(float32AtLeast(-0.1)).toBeGreaterThanOrEqual(-0.1);
  });
});

describe("training and ONNX export", () => {
  let trained: Trained;
  let model: Model;

  beforeAll(async () => {
    trained = train();
    const { manifest } = await buildArtifacts(trained, {});
    model = await Model.fromBytes(manifest, trained.onnx);
  }, 60_000);

  it("re-trains to byte-identical committed artifacts (model.onnx and manifest.json)", async () => {
    const { modelBytes, manifestText } = await buildArtifacts(trained, {});
    expect(Buffer.from(modelBytes).equals(readFileSync(join(DEFAULT_MODEL_DIR, "model.onnx"))), "model.onnx is stale: run npm run model:train").toBe(true);
    expect(manifestText).toBe(readFileSync(join(DEFAULT_MODEL_DIR, "manifest.json"), "utf8"));
  });

  it("ONNX and the trained forest agree on every held-out row (max abs diff < 1e-4)", async () => {
    const holdout = trained.split.holdout;
    const forest = trained.predict(holdout);
    const onnx = await model.predict(holdout.map(toInstance));
    const diffs = forest.map((v, i) => Math.abs(v - onnx[i]!));
    expect(holdout.length).toBe(78);
    expect(Math.max(...diffs)).toBeLessThan(1e-4);
  });

  it("ONNX and the trained forest agree on the training rows too", async () => {
    const rows = trained.split.train;
    const forest = trained.predict(rows);
    const onnx = await model.predict(rows.map(toInstance));
    expect(Math.max(...forest.map((v, i) => Math.abs(v - onnx[i]!)))).toBeLessThan(1e-4);
  });

  it("stamps created_at from SOURCE_DATE_EPOCH when set, else the fixed release time", () => {
    expect(createdAt({ SOURCE_DATE_EPOCH: "1700000000" })).toBe("2023-11-14T22:13:20.000Z");
    expect(createdAt({})).toBe("2026-11-26T00:00:00.000Z");
    expect(() => createdAt({ SOURCE_DATE_EPOCH: "yesterday" })).toThrow(/SOURCE_DATE_EPOCH/);
  });
});
