/**
 * The model report's content (written as metrics.json): the candidate model's held-out metrics
 * and gate checks, the same for the base branch's committed model scored on the same cars today,
 * the change between them (like `dvc metrics diff`), the smoke cars' predictions before and
 * after, and the analysis behind the plots. Everything is measured through onnxruntime.
 */
import type { Metrics } from "../src/manifest.js";
import type { Model } from "../src/model.js";
import { loadDataset } from "../training/data.js";
import { gate, holdoutRows, type Check } from "../training/gate.js";
import { analyze } from "./analysis.js";
import type { BaseModel } from "./base-model.js";
import { REPORT_VERSION, type CheckChange, type MetricChange, type ModelReport } from "./report-types.js";

export { REPORT_VERSION, type CheckChange, type MetricChange, type ModelReport, type SmokeChange } from "./report-types.js";

const METRICS: ReadonlyArray<Pick<MetricChange, "metric" | "label" | "better">> = [
  { metric: "rmse", label: "RMSE (MPG)", better: "lower" },
  { metric: "mae", label: "MAE (MPG)", better: "lower" },
  { metric: "r2", label: "R²", better: "higher" },
  { metric: "baseline_rmse", label: "predict-the-mean RMSE", better: "lower" },
];

const round = (x: number) => Number(x.toFixed(4));

function metricChanges(after: Metrics, before: Metrics | null): MetricChange[] {
  return METRICS.map((m) => ({
    ...m,
    before: before ? before[m.metric] : null,
    after: after[m.metric],
    delta: before ? round(after[m.metric] - before[m.metric]) : null,
  }));
}

function checkChanges(after: readonly Check[], before: readonly Check[] | null): CheckChange[] {
  return after.map((c) => {
    const old = c.name === "no-regression" ? undefined : before?.find((b) => b.name === c.name);
    return { name: c.name, threshold: c.threshold, after: { pass: c.pass, detail: c.detail }, before: old ? { pass: old.pass, detail: old.detail } : null };
  });
}

export async function buildReport(candidate: Model, base: BaseModel): Promise<ModelReport> {
  const manifest = candidate.manifest;
  const { holdout } = holdoutRows();
  const baseModel = base.status === "found" ? base.model : null;
  const result = await gate(candidate, base.status === "found" ? base.manifest : null);
  const baseResult = baseModel ? await gate(baseModel, null) : null;

  const smokeInstances = manifest.smoke_test.cases.map((c) => c.instance);
  const smokeAfter = await candidate.predict(smokeInstances);
  let smokeBefore: number[] | null = null;
  if (baseModel) smokeBefore = await baseModel.predict(smokeInstances);

  const analysis = await analyze(candidate, holdout);
  const baseAnalysis = baseModel ? await analyze(baseModel, holdout) : null;
  const compared = base.status === "found" ? `${base.ref} (${base.manifest.name} ${base.manifest.version}, commit ${base.commit.slice(0, 12)})` : `nothing: ${base.reason}`;

  return {
    report_version: REPORT_VERSION,
    model: {
      name: manifest.name,
      version: manifest.version,
      sha256: manifest.model_sha256,
      data_sha256_claimed: manifest.training.data_sha256,
      data_sha256_scored: loadDataset().dataSha256,
      dataset: manifest.training.dataset,
    },
    base:
      base.status === "found"
        ? {
            status: "found",
            ref: base.ref,
            commit: base.commit,
            name: base.manifest.name,
            version: base.manifest.version,
            sha256: base.manifest.model_sha256,
            same_model: base.manifest.model_sha256 === manifest.model_sha256,
          }
        : base,
    gate: { pass: result.pass, failed: result.checks.filter((c) => !c.pass).map((c) => c.name), compared_with: compared },
    holdout_rows: holdout.length,
    metrics: metricChanges(result.metrics, baseResult?.metrics ?? null),
    checks: checkChanges(result.checks, baseResult?.checks ?? null),
    smoke: manifest.smoke_test.cases.map((c, i) => ({
      name: c.name,
      expected: c.expected,
      before: smokeBefore ? round(smokeBefore[i]!) : null,
      after: round(smokeAfter[i]!),
      delta: smokeBefore ? round(smokeAfter[i]! - smokeBefore[i]!) : null,
    })),
    analysis,
    base_partial_dependence: baseAnalysis?.partial_dependence ?? null,
  };
}
