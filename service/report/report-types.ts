/**
 * The shape of metrics.json (the model report's content), apart from the code that computes it, so
 * readers (plan review's comment) do not load the model runtime to read a report.
 */
import type { Analysis } from "./analysis.js";

export const REPORT_VERSION = 1;

export interface MetricChange {
  readonly metric: "rmse" | "mae" | "r2" | "baseline_rmse";
  readonly label: string;
  /** Which direction is an improvement. */
  readonly better: "lower" | "higher";
  readonly before: number | null;
  readonly after: number;
  readonly delta: number | null;
}

export interface CheckChange {
  readonly name: string;
  readonly threshold: string;
  readonly after: { readonly pass: boolean; readonly detail: string };
  /** The base model's result on the same check; null without a base (and for no-regression, which compares with the base itself). */
  readonly before: { readonly pass: boolean; readonly detail: string } | null;
}

export interface SmokeChange {
  readonly name: string;
  readonly expected: number;
  readonly before: number | null;
  readonly after: number;
  readonly delta: number | null;
}

export interface ModelReport {
  readonly report_version: typeof REPORT_VERSION;
  readonly model: {
    readonly name: string;
    readonly version: string;
    readonly sha256: string;
    /** The data fingerprint the manifest records, and the one of the data the report scored on. */
    readonly data_sha256_claimed: string;
    readonly data_sha256_scored: string;
    readonly dataset: string;
  };
  readonly base:
    | { readonly status: "found"; readonly ref: string; readonly commit: string; readonly name: string; readonly version: string; readonly sha256: string; readonly same_model: boolean }
    | { readonly status: "none"; readonly ref: string | null; readonly reason: string }
    | { readonly status: "unusable"; readonly ref: string; readonly commit: string; readonly reason: string };
  readonly gate: { readonly pass: boolean; readonly failed: string[]; readonly compared_with: string };
  readonly holdout_rows: number;
  readonly metrics: MetricChange[];
  readonly checks: CheckChange[];
  readonly smoke: SmokeChange[];
  readonly analysis: Analysis;
  /** The base model's partial dependence, drawn beside the candidate's; null without a base. */
  readonly base_partial_dependence: Analysis["partial_dependence"] | null;
}
