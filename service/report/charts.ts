/**
 * The report's plots as Vega-Lite specs, rendered to SVG on the server by Vega's headless
 * renderer (`view.toSVG()`), so index.html needs no script and no network to show them.
 * Why Vega-Lite: a declarative grammar (each plot is data + encoding, reviewable as JSON), a
 * renderer maintained by the same team (UW IDL) that runs in Node with no canvas or browser,
 * and a stable SVG structure (one group per named mark) that the browser check can count.
 * Every layer that carries data is named: its marks render as `<g class="... <name>_marks">`.
 */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { ModelReport } from "./report.js";

export interface Chart {
  /** Stable id: the figure's `data-chart` attribute in index.html. */
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

const WIDTH = 380;
const HEIGHT = 280;
const CANDIDATE = "this change";
const BASE = "base";
const COLORS = { range: ["#1f77b4", "#aaaaaa"] };

function residualChart(id: string, title: string, field: "model_year" | "origin", groups: ModelReport["analysis"]["by_origin"], report: ModelReport): Chart {
  const points = report.analysis.points.map((p) => ({ group: String(p[field]), residual: p.residual, name: p.name }));
  const order = groups.map((g) => g.group);
  const x = { field: "group", type: "ordinal" as const, title: field === "origin" ? "origin" : "model year", sort: order };
  return {
    id,
    title,
    caption: "Each dot is a held-out car (actual − predicted MPG; above 0: the model under-predicts); the black tick is the group's mean.",
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      width: WIDTH,
      height: HEIGHT,
      layer: [
        { name: "zero", data: { values: [{ y: 0 }] }, mark: { type: "rule", color: "#888" }, encoding: { y: { field: "y", type: "quantitative" } } },
        {
          name: "residuals",
          data: { values: points },
          mark: { type: "circle", opacity: 0.55, size: 40 },
          encoding: { x, y: { field: "residual", type: "quantitative", title: "residual (MPG)" }, tooltip: [{ field: "name" }, { field: "residual", format: ".2f" }] },
        },
        {
          name: "means",
          data: { values: groups.map((g) => ({ group: g.group, mean: g.mean_residual, rows: g.rows })) },
          mark: { type: "tick", color: "black", thickness: 3, size: 24 },
          encoding: { x, y: { field: "mean", type: "quantitative" }, tooltip: [{ field: "group" }, { field: "mean", format: ".2f" }, { field: "rows" }] },
        },
      ],
    },
  };
}

function dependenceChart(id: string, feature: "weight" | "model_year", title: string, report: ModelReport): Chart {
  // The base first, so the candidate's curve is drawn on top where they coincide.
  const rows = [...(report.base_partial_dependence?.[feature] ?? []).map((p) => ({ ...p, model: BASE })), ...report.analysis.partial_dependence[feature].map((p) => ({ ...p, model: CANDIDATE }))];
  const encoding = {
    x: { field: "value", type: "quantitative" as const, title: feature === "weight" ? "weight (lbs)" : "model year", scale: { zero: false }, axis: feature === "model_year" ? { format: "d" } : {} },
    y: { field: "mean_prediction", type: "quantitative" as const, title: "mean predicted MPG", scale: { zero: false } },
    color: { field: "model", type: "nominal" as const, scale: { domain: [CANDIDATE, BASE], ...COLORS }, title: null },
  };
  return {
    id,
    title,
    caption: `Mean prediction over the held-out cars with every car's ${feature === "weight" ? "weight" : "model year"} set to the value on the x axis (partial dependence)${report.base_partial_dependence ? "; grey: the base model" : ""}.`,
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      width: WIDTH,
      height: HEIGHT,
      data: { values: rows },
      layer: [
        { name: "curves", mark: { type: "line" }, encoding },
        { name: "grid", mark: { type: "point", filled: true, size: 30 }, encoding: { ...encoding, tooltip: [{ field: "model" }, { field: "value" }, { field: "mean_prediction", format: ".2f" }] } },
      ],
    },
  };
}

export function reportCharts(report: ModelReport): Chart[] {
  const points = report.analysis.points;
  const importance = [...report.analysis.importance].sort((a, b) => b.rmse_increase - a.rmse_increase);
  const extent = [Math.min(...points.flatMap((p) => [p.actual, p.predicted])), Math.max(...points.flatMap((p) => [p.actual, p.predicted]))];
  return [
    {
      id: "predicted-vs-actual",
      title: "Predicted vs actual MPG (held-out cars)",
      caption: "Each dot is a held-out car; on the line y = x the prediction is exact.",
      spec: {
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        width: WIDTH,
        height: HEIGHT,
        layer: [
          {
            name: "identity",
            data: { values: extent.map((v) => ({ actual: v, predicted: v })) },
            mark: { type: "line", color: "#888", strokeDash: [4, 4] },
            encoding: { x: { field: "actual", type: "quantitative" }, y: { field: "predicted", type: "quantitative" } },
          },
          {
            name: "points",
            data: { values: points },
            mark: { type: "circle", opacity: 0.7, size: 40 },
            encoding: {
              x: { field: "actual", type: "quantitative", title: "actual MPG", scale: { zero: false } },
              y: { field: "predicted", type: "quantitative", title: "predicted MPG", scale: { zero: false } },
              tooltip: [{ field: "name" }, { field: "actual" }, { field: "predicted", format: ".2f" }],
            },
          },
        ],
      },
    },
    residualChart("residuals-by-model-year", "Residuals by model year", "model_year", report.analysis.by_model_year, report),
    residualChart("residuals-by-origin", "Residuals by origin", "origin", report.analysis.by_origin, report),
    {
      id: "permutation-importance",
      title: "Permutation importance (held-out RMSE increase)",
      caption: "How much the held-out RMSE grows when one feature's values are shuffled across the cars (mean of the repeats; the line spans ± one standard deviation).",
      spec: {
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        width: WIDTH,
        height: 200,
        data: { values: importance.map((i) => ({ ...i, low: i.rmse_increase - i.std, high: i.rmse_increase + i.std })) },
        layer: [
          {
            name: "bars",
            mark: { type: "bar", color: "#1f77b4" },
            encoding: {
              y: { field: "feature", type: "nominal", sort: importance.map((i) => i.feature), title: null },
              x: { field: "rmse_increase", type: "quantitative", title: "RMSE increase (MPG)" },
              tooltip: [{ field: "feature" }, { field: "rmse_increase", format: ".3f" }, { field: "std", format: ".3f" }],
            },
          },
          {
            name: "spread",
            mark: { type: "rule", color: "black" },
            encoding: { y: { field: "feature", type: "nominal", sort: importance.map((i) => i.feature) }, x: { field: "low", type: "quantitative" }, x2: { field: "high" } },
          },
        ],
      },
    },
    dependenceChart("partial-dependence-weight", "weight", "How MPG responds to weight", report),
    dependenceChart("partial-dependence-model-year", "model_year", "How MPG responds to model year", report),
  ];
}

/** Vega's headless SVG renderer: no DOM, no canvas (text widths are estimated). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
