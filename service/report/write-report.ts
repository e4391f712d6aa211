/**
 * Builds the whole model report and writes dist/model-report/{index.html, report.md, metrics.json}.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Model } from "../src/model.js";
import { loadBaseModel } from "./base-model.js";
import { renderSvg, reportCharts } from "./charts.js";
import { renderHtml } from "./html.js";
import { reportMarkdown } from "./markdown.js";
import { buildReport, type ModelReport } from "./report.js";

export const REPO_ROOT = resolve(import.meta.dirname, "..", "..");
export const DEFAULT_REPORT_DIR = join(REPO_ROOT, "dist", "model-report");

export interface WriteReportOptions {
  /** The candidate model directory (model.onnx + manifest.json). */
  readonly modelDir: string;
  readonly outDir: string;
  /** The git repository whose base branch holds the committed model. */
  readonly repo: string;
  /** Base ref; the first existing of origin/main, main when absent. */
  readonly baseRef?: string | undefined;
  /** Where the HTML report will be published (CI artifact URL), linked from report.md. */
  readonly reportUrl?: string | undefined;
}

export interface WrittenReport {
  readonly report: ModelReport;
  readonly files: { readonly html: string; readonly markdown: string; readonly json: string };
}

export async function writeModelReport(options: WriteReportOptions): Promise<WrittenReport> {
  const candidate = await Model.load(options.modelDir);
  const base = await loadBaseModel(options.repo, options.baseRef);
  try {
    const report = await buildReport(candidate, base);
    const charts = await Promise.all(reportCharts(report).map(async (c) => ({ id: c.id, title: c.title, caption: c.caption, svg: await renderSvg(c.spec) })));
    const outDir = resolve(options.outDir);
    await mkdir(outDir, { recursive: true });
    const files = { html: join(outDir, "index.html"), markdown: join(outDir, "report.md"), json: join(outDir, "metrics.json") };
    await writeFile(files.html, renderHtml(report, charts));
    await writeFile(files.markdown, reportMarkdown(report, options.reportUrl));
    await writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`);
    return { report, files };
  } finally {
    await candidate.close();
    if (base.status === "found") await base.model.close();
  }
}
