/**
 * The Auto MPG data set (cars.json from the vega-datasets devDependency):
 * loading, the explicit missing-value policy, the deterministic split and the
 * encoding into the model's float input columns.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Feature, InputColumn } from "../src/manifest.js";
import { sha256 } from "../src/manifest.js";

export const ORIGINS = ["USA", "Europe", "Japan"] as const;

/** One car as the request contract spells it. */
export interface Car {
  cylinders: number;
  displacement: number;
  horsepower: number;
  weight: number;
  acceleration: number;
  model_year: number;
  origin: (typeof ORIGINS)[number];
}

export interface LabelledCar {
  name: string;
  car: Car;
  mpg: number;
}

/**
 * Valid ranges: physically plausible bounds that contain every training row
 * (checked at load), a little wider than the data so that real cars near the
 * edges are served, but narrow enough that typos (weight in kg, two-digit
 * years) are refused instead of silently extrapolated by the trees.
 */
export const FEATURES: Feature[] = [
  { name: "cylinders", type: "integer", min: 3, max: 12, description: "number of cylinders" },
  { name: "displacement", type: "number", unit: "cubic inches", min: 60, max: 500, description: "engine displacement" },
  { name: "horsepower", type: "number", unit: "hp", min: 40, max: 250 },
  { name: "weight", type: "number", unit: "lbs", min: 1500, max: 6000 },
  { name: "acceleration", type: "number", unit: "s", min: 7, max: 26, description: "0-60 mph time" },
  { name: "model_year", type: "integer", min: 1970, max: 1982, description: "four-digit model year (the data covers 1970-1982)" },
  { name: "origin", type: "category", categories: [...ORIGINS] },
];

/** The model's input tensor columns, in order: the numeric features, then origin one-hot. */
export const INPUT_COLUMNS: InputColumn[] = [
  { feature: "cylinders" },
  { feature: "displacement" },
  { feature: "horsepower" },
  { feature: "weight" },
  { feature: "acceleration" },
  { feature: "model_year" },
  ...ORIGINS.map((o) => ({ feature: "origin", one_hot: o })),
];

/**
 * The float32 input row, as the ONNX model (and the service) sees it. The
 * forest is trained on these float32 values too, so the trained model and its
 * ONNX export take identical branches on every input (see float32AtLeast).
 */
export function encode(car: Car): number[] {
  return [car.cylinders, car.displacement, car.horsepower, car.weight, car.acceleration, car.model_year, ...ORIGINS.map((o) => (car.origin === o ? 1 : 0))].map(Math.fround);
}

interface RawCar {
  Name: string;
  Miles_per_Gallon: number | null;
  Cylinders: number | null;
  Displacement: number | null;
  Horsepower: number | null;
  Weight_in_lbs: number | null;
  Acceleration: number | null;
  Year: string | null;
  Origin: string | null;
}

export interface Dataset {
  /** SHA-256 of cars.json as shipped. */
  fileSha256: string;
  /** SHA-256 of the canonical JSON of the cleaned rows, in order: the training-data fingerprint. */
  dataSha256: string;
  rowsInFile: number;
  dropped: { name: string; missing: string[] }[];
  rows: LabelledCar[];
}

/** The package's "exports" hide data/, so resolve its entry point and walk to data/cars.json. */
export function carsJsonPath(): string {
  const entry = createRequire(import.meta.url).resolve("vega-datasets");
  return join(dirname(entry), "..", "data", "cars.json");
}

/**
 * Missing values: 8 rows have no Miles_per_Gallon (no label: unusable for
 * training or evaluation) and 6 have no Horsepower. Those 14 rows are dropped,
 * not imputed: the request contract requires horsepower, so the model never
 * has to handle a missing value, and imputing would train on invented numbers.
 */
export function loadDataset(path = carsJsonPath()): Dataset {
  const bytes = readFileSync(path);
  const raw = JSON.parse(bytes.toString("utf8")) as RawCar[];
  const rows: LabelledCar[] = [];
  const dropped: Dataset["dropped"] = [];
  for (const r of raw) {
    const missing = (Object.keys(r) as (keyof RawCar)[]).filter((k) => r[k] === null || r[k] === undefined);
    if (missing.length > 0) {
      dropped.push({ name: r.Name, missing });
      continue;
    }
    const year = Number(String(r.Year).slice(0, 4));
    const origin = r.Origin as Car["origin"];
    if (!ORIGINS.includes(origin)) throw new Error(`unexpected origin ${r.Origin} for ${r.Name}`);
    const car: Car = {
      cylinders: r.Cylinders!,
      displacement: r.Displacement!,
      horsepower: r.Horsepower!,
      weight: r.Weight_in_lbs!,
      acceleration: r.Acceleration!,
      model_year: year,
      origin,
    };
    for (const f of FEATURES) {
      const v = car[f.name as keyof Car];
      if (f.type === "category") continue;
      if (typeof v !== "number" || !(v >= f.min && v <= f.max)) {
        throw new Error(`training row ${r.Name}: ${f.name}=${String(v)} outside the declared range [${f.min}, ${f.max}]`);
      }
    }
    rows.push({ name: r.Name, car, mpg: r.Miles_per_Gallon! });
  }
  return {
    fileSha256: sha256(bytes),
    dataSha256: sha256(JSON.stringify(rows)),
    rowsInFile: raw.length,
    dropped,
    rows,
  };
}

/** mulberry32: a tiny, well-known seeded PRNG, so the split never depends on Math.random. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Split {
  train: LabelledCar[];
  holdout: LabelledCar[];
}

/** Seeded Fisher-Yates shuffle of the cleaned rows, then the last `holdoutFraction` is held out. */
export function split(rows: readonly LabelledCar[], seed: number, holdoutFraction: number): Split {
  const order = rows.map((_, i) => i);
  const rand = mulberry32(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const shuffled = order.map((i) => rows[i]!);
  const nHoldout = Math.round(rows.length * holdoutFraction);
  return { train: shuffled.slice(0, rows.length - nHoldout), holdout: shuffled.slice(rows.length - nHoldout) };
}
