/**
 * The quality gate: decides whether a model directory (model.onnx +
 * manifest.json) may ship. It scores the ONNX file through the same code path
 * the service uses (Model: manifest-driven encoding + onnxruntime), never the
 * trainer's objects, so it judges exactly what would be served - whatever
 * trained it.
 */
import type { Manifest, Metrics } from "../src/manifest.js";
import { Model, type Instance } from "../src/model.js";
import { loadDataset, split, type LabelledCar } from "./data.js";
import { TRAINING_CONFIG } from "./train.js";

/** Thresholds, stated once. RMSE and MAE in MPG. */
export const GATE = {
  /** Held-out RMSE must be at most this (MPG). */
  maxRmse: 3.5,
  /** Held-out R-squared must be at least this. */
  minR2: 0.8,
  /** RMSE must be at most this fraction of the predict-the-training-mean baseline's RMSE. */
  maxRmseVsBaseline: 0.6,
  /** No regression: RMSE may exceed the committed model's by at most this (MPG)... */
  rmseTolerance: 0.15,
  /** ...and R-squared may drop by at most this. */
  r2Tolerance: 0.02,
  /** Held-out predictions must spread: their standard deviation at least this fraction of the targets'. */
  minPredictionSpread: 0.5,
  /** Adding 500 lbs to every held-out car must lower the mean prediction by at least this (MPG). */
  minWeightEffect: 0.5,
  /** The metrics the manifest claims must match the recomputed ones this closely. */
  manifestMetricsTolerance: 1e-3,
} as const;

/** Each check's rule in words, from the constants above (reports print it next to the measured value). */
export const GATE_THRESHOLDS: Readonly<Record<string, string>> = {
  rmse: `RMSE <= ${GATE.maxRmse} MPG`,
  r2: `R² >= ${GATE.minR2}`,
  "beats-mean-baseline": `RMSE <= ${GATE.maxRmseVsBaseline} x predict-the-mean RMSE`,
  "different-inputs-differ": `prediction std >= ${GATE.minPredictionSpread} x target std, distinct values > half the rows`,
  "heavier-cars-use-more-fuel": `+500 lbs lowers the mean prediction by >= ${GATE.minWeightEffect} MPG`,
  "manifest-metrics-match": `claimed metrics = measured (±${GATE.manifestMetricsTolerance})`,
  "smoke-test-cases": "smoke cars predicted within the manifest's tolerance, and distinct",
  "no-regression": `RMSE <= committed + ${GATE.rmseTolerance} MPG, R² >= committed - ${GATE.r2Tolerance}`,
};

export interface Check {
  name: string;
  pass: boolean;
  detail: string;
  /** The rule, stated once per check so reports can show it beside the measured value. */
  threshold: string;
}

export interface GateResult {
  pass: boolean;
  metrics: Metrics;
  checks: Check[];
}

export function toInstance(r: LabelledCar): Instance {
  return { ...r.car };
}

export function holdoutRows(): { holdout: LabelledCar[]; trainMean: number } {
  const s = split(loadDataset().rows, TRAINING_CONFIG.splitSeed, TRAINING_CONFIG.holdoutFraction);
  const trainMean = s.train.reduce((a, r) => a + r.mpg, 0) / s.train.length;
  return { holdout: s.holdout, trainMean };
}

const round = (x: number, digits = 4) => Number(x.toFixed(digits));

export function scoreMetrics(predicted: readonly number[], actual: readonly number[], baselineValue: number): Metrics {
  const n = actual.length;
  const mean = actual.reduce((a, v) => a + v, 0) / n;
  let se = 0;
  let ae = 0;
  let tot = 0;
  let base = 0;
  for (let i = 0; i < n; i++) {
    const y = actual[i]!;
    const e = predicted[i]! - y;
    se += e * e;
    ae += Math.abs(e);
    tot += (y - mean) ** 2;
    base += (y - baselineValue) ** 2;
  }
  // Rounded so the manifest is byte-stable across CPUs/thread counts (float32 sums may differ in the last bits).
  return { rows: n, rmse: round(Math.sqrt(se / n)), mae: round(ae / n), r2: round(1 - se / tot), baseline_rmse: round(Math.sqrt(base / n)) };
}

export async function evaluate(model: Model): Promise<Metrics> {
  const { holdout, trainMean } = holdoutRows();
  const predicted = await model.predict(holdout.map(toInstance));
  return scoreMetrics(
    predicted,
    holdout.map((r) => r.mpg),
    trainMean,
  );
}

const std = (xs: readonly number[]) => {
  const m = xs.reduce((a, v) => a + v, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, v) => a + (v - m) ** 2, 0) / xs.length);
};
const mean = (xs: readonly number[]) => xs.reduce((a, v) => a + v, 0) / xs.length;

/**
 * Run every check on a loaded model. `committed` is the manifest of the model
 * currently committed (the one this candidate would replace), or null for the
 * very first model.
 */
export async function gate(model: Model, committed: Manifest | null): Promise<GateResult> {
  const m = model.manifest;
  const { holdout, trainMean } = holdoutRows();
  const instances = holdout.map(toInstance);
  const predicted = await model.predict(instances);
  const actual = holdout.map((r) => r.mpg);
  const metrics = scoreMetrics(predicted, actual, trainMean);
  const checks: Check[] = [];
  const check = (name: string, pass: boolean, detail: string) => checks.push({ name, pass, detail, threshold: GATE_THRESHOLDS[name] ?? "" });

  check("rmse", metrics.rmse <= GATE.maxRmse, `held-out RMSE ${metrics.rmse} MPG (max ${GATE.maxRmse})`);
  check("r2", metrics.r2 >= GATE.minR2, `held-out R² ${metrics.r2} (min ${GATE.minR2})`);
  check(
    "beats-mean-baseline",
    metrics.rmse <= GATE.maxRmseVsBaseline * metrics.baseline_rmse,
    `RMSE ${metrics.rmse} vs predict-the-mean ${metrics.baseline_rmse} (must be <= ${GATE.maxRmseVsBaseline}x)`,
  );

  const spread = std(predicted);
  const targetSpread = std(actual);
  const distinct = new Set(predicted).size;
  check(
    "different-inputs-differ",
    spread >= GATE.minPredictionSpread * targetSpread && distinct > holdout.length / 2,
    `prediction std ${spread.toFixed(3)} vs target std ${targetSpread.toFixed(3)} (min ratio ${GATE.minPredictionSpread}); ${distinct} distinct values for ${holdout.length} cars`,
  );

  const heavier = await model.predict(instances.map((x) => ({ ...x, weight: (x.weight as number) + 500 })));
  const effect = mean(predicted) - mean(heavier);
  check(
    "heavier-cars-use-more-fuel",
    effect >= GATE.minWeightEffect,
    `+500 lbs on every held-out car changes the mean prediction by ${(-effect).toFixed(3)} MPG (must drop by >= ${GATE.minWeightEffect})`,
  );

  const claimed = m.metrics.holdout;
  const honest = claimed.rows === metrics.rows && (["rmse", "mae", "r2", "baseline_rmse"] as const).every((k) => Math.abs(claimed[k] - metrics[k]) <= GATE.manifestMetricsTolerance);
  check("manifest-metrics-match", honest, `manifest claims ${JSON.stringify(claimed)}, measured ${JSON.stringify(metrics)}`);

  const smoke = await model.predict(m.smoke_test.cases.map((c) => c.instance));
  const smokeOk = m.smoke_test.cases.every((c, i) => Math.abs(smoke[i]! - c.expected) <= m.smoke_test.tolerance);
  const smokeDiffer = new Set(smoke.map((v) => v.toFixed(3))).size === smoke.length;
  check(
    "smoke-test-cases",
    smokeOk && smokeDiffer,
    `expected ${m.smoke_test.cases.map((c) => c.expected).join(", ")} ± ${m.smoke_test.tolerance}, model gives ${smoke.map((v) => v.toFixed(4)).join(", ")}`,
  );

  if (committed) {
    const c = committed.metrics.holdout;
    check(
      "no-regression",
      metrics.rmse <= c.rmse + GATE.rmseTolerance && metrics.r2 >= c.r2 - GATE.r2Tolerance,
      `RMSE ${metrics.rmse} vs committed ${committed.version} ${c.rmse} (+${GATE.rmseTolerance} allowed); R² ${metrics.r2} vs ${c.r2} (-${GATE.r2Tolerance} allowed)`,
    );
  } else {
    check("no-regression", true, "no committed model to compare with (first model)");
  }

  return { pass: checks.every((c) => c.pass), metrics, checks };
}
