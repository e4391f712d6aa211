/**
 * What the model does on the held-out cars, computed through the ONNX model the service runs
 * (Model: manifest-driven encoding + onnxruntime), never the trainer's objects: predictions and
 * residuals, residuals grouped by model year and by origin, permutation importance and partial
 * dependence. Pure apart from the model calls; seeded, so the same model gives the same numbers.
 */
import type { Instance, Model } from "../src/model.js";
import { mulberry32, ORIGINS, type LabelledCar } from "../training/data.js";
import { toInstance } from "../training/gate.js";

export interface HoldoutPoint {
  readonly name: string;
  readonly model_year: number;
  readonly origin: string;
  readonly actual: number;
  readonly predicted: number;
  /** actual - predicted: positive when the model under-predicts MPG. */
  readonly residual: number;
}

export interface ResidualGroup {
  readonly group: string;
  readonly rows: number;
  readonly mean_residual: number;
  readonly rmse: number;
}

export interface Importance {
  readonly feature: string;
  /** Mean increase of held-out RMSE (MPG) when the feature's values are shuffled across the cars. */
  readonly rmse_increase: number;
  /** Standard deviation of that increase over the repeats. */
  readonly std: number;
}

export interface DependencePoint {
  readonly value: number;
  /** Mean prediction over the held-out cars with the feature set to `value`. */
  readonly mean_prediction: number;
}

export interface Analysis {
  readonly points: HoldoutPoint[];
  readonly by_model_year: ResidualGroup[];
  readonly by_origin: ResidualGroup[];
  readonly importance: Importance[];
  readonly partial_dependence: { readonly weight: DependencePoint[]; readonly model_year: DependencePoint[] };
}

export const ANALYSIS_SETTINGS = {
  /** Shuffles per feature; the spread over repeats is reported with the mean. */
  permutationRepeats: 10,
  permutationSeed: 13,
  /** Weight grid for partial dependence (lbs): the data's range, 1613-5140, in 250 lbs steps. */
  weightGrid: Array.from({ length: 16 }, (_, i) => 1500 + 250 * i),
  modelYearGrid: Array.from({ length: 13 }, (_, i) => 1970 + i),
} as const;

const FEATURES = ["cylinders", "displacement", "horsepower", "weight", "acceleration", "model_year", "origin"] as const;

function rmse(predicted: ArrayLike<number>, actual: readonly number[], offset = 0): number {
  let se = 0;
  for (let i = 0; i < actual.length; i++) se += (predicted[offset + i]! - actual[i]!) ** 2;
  return Math.sqrt(se / actual.length);
}

function groupResiduals(points: readonly HoldoutPoint[], key: (p: HoldoutPoint) => string, order: readonly string[]): ResidualGroup[] {
  return order.flatMap((group) => {
    const members = points.filter((p) => key(p) === group);
    if (members.length === 0) return [];
    const mean = members.reduce((a, p) => a + p.residual, 0) / members.length;
    const rms = Math.sqrt(members.reduce((a, p) => a + p.residual ** 2, 0) / members.length);
    return [{ group, rows: members.length, mean_residual: mean, rmse: rms }];
  });
}

/** Seeded Fisher-Yates permutation of 0..n-1. */
function permutation(n: number, rand: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * Permutation importance (Breiman; scikit-learn's permutation_importance): shuffle one feature's
 * values across the held-out cars, keep everything else, and measure how much the RMSE grows.
 * A feature the model ignores scores exactly 0. Every shuffled copy goes to onnxruntime in one call.
 */
async function permutationImportance(model: Model, instances: readonly Instance[], actual: readonly number[], base: number): Promise<Importance[]> {
  const rand = mulberry32(ANALYSIS_SETTINGS.permutationSeed);
  const repeats = ANALYSIS_SETTINGS.permutationRepeats;
  const shuffled: Instance[] = [];
  for (const feature of FEATURES) {
    for (let r = 0; r < repeats; r++) {
      const order = permutation(instances.length, rand);
      instances.forEach((x, i) => shuffled.push({ ...x, [feature]: instances[order[i]!]![feature]! }));
    }
  }
  const predicted = await model.predict(shuffled);
  return FEATURES.map((feature, f) => {
    const increases = Array.from({ length: repeats }, (_, r) => rmse(predicted, actual, (f * repeats + r) * instances.length) - base);
    const mean = increases.reduce((a, v) => a + v, 0) / repeats;
    const std = Math.sqrt(increases.reduce((a, v) => a + (v - mean) ** 2, 0) / repeats);
    return { feature, rmse_increase: mean, std };
  });
}

/** Partial dependence (Friedman): the mean prediction with one feature forced to each grid value. */
async function partialDependence(model: Model, instances: readonly Instance[], feature: string, grid: readonly number[]): Promise<DependencePoint[]> {
  const forced = grid.flatMap((value) => instances.map((x) => ({ ...x, [feature]: value })));
  const predicted = await model.predict(forced);
  return grid.map((value, g) => {
    let sum = 0;
    for (let i = 0; i < instances.length; i++) sum += predicted[g * instances.length + i]!;
    return { value, mean_prediction: sum / instances.length };
  });
}

export async function analyze(model: Model, holdout: readonly LabelledCar[]): Promise<Analysis> {
  const instances = holdout.map(toInstance);
  const actual = holdout.map((r) => r.mpg);
  const predicted = await model.predict(instances);
  const points = holdout.map((r, i) => ({
    name: r.name,
    model_year: r.car.model_year,
    origin: r.car.origin,
    actual: r.mpg,
    predicted: predicted[i]!,
    residual: r.mpg - predicted[i]!,
  }));
  const years = [...new Set(points.map((p) => p.model_year))].sort((a, b) => a - b).map(String);
  return {
    points,
    by_model_year: groupResiduals(points, (p) => String(p.model_year), years),
    by_origin: groupResiduals(points, (p) => p.origin, ORIGINS),
    importance: await permutationImportance(model, instances, actual, rmse(predicted, actual)),
    partial_dependence: {
      weight: await partialDependence(model, instances, "weight", ANALYSIS_SETTINGS.weightGrid),
      model_year: await partialDependence(model, instances, "model_year", ANALYSIS_SETTINGS.modelYearGrid),
    },
  };
}
