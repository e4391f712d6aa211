/**
 * The model report as markdown: report.md, and the model section of the pull-request comment
 * (plan review's), at three levels of detail so the comment can shrink to fit GitHub's limit.
 * Pure: report in, markdown out.
 */
import type { ModelReport } from "./report-types.js";

/** full: metrics, checks, smoke cars, fingerprints; compact: metrics table and verdict; minimal: verdict and link. */
export type SectionDetail = "full" | "compact" | "minimal";

export interface SectionOptions {
  readonly detail?: SectionDetail;
  /** Where the HTML report is (the CI artifact); without it the text says where to find it. */
  readonly reportUrl?: string | undefined;
  /** Heading level of the section title ("##" in the comment). */
  readonly heading?: string;
}

/** Fixed digits without trailing zeros: 2.9856, 3, 0.5. */
export function num(x: number, digits = 4): string {
  const rounded = Number(x.toFixed(digits));
  const text = (rounded === 0 ? 0 : rounded).toFixed(digits);
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}
const signed = (x: number, digits = 4) => (num(x, digits) === "0" ? "0" : x > 0 ? `+${num(x, digits)}` : `−${num(-x, digits)}`);
const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
const mark = (pass: boolean) => (pass ? "✅ pass" : "❌ fail");

function baseLabel(report: ModelReport): string {
  const b = report.base;
  return b.status === "found" ? `base (${b.ref})` : "base";
}

export function verdictLine(report: ModelReport): string {
  const g = report.gate;
  const verdict = g.pass ? "✅ **Quality gate: PASS**" : `❌ **Quality gate: FAIL** (${g.failed.map((f) => `\`${f}\``).join(", ")})`;
  return `${verdict} for ${report.model.name} ${report.model.version} on ${report.holdout_rows} held-out cars; compared with ${g.compared_with}.`;
}

function baseNote(report: ModelReport): string[] {
  const b = report.base;
  if (b.status === "found") return b.same_model ? [`The model is unchanged from ${b.ref} (same model hash).`] : [];
  if (b.status === "none") return [`> [!NOTE]`, `> No base model to compare with: ${cell(b.reason)}.`];
  return [`> [!WARNING]`, `> The base model at ${b.ref} cannot be used: ${cell(b.reason)}`];
}

function change(delta: number | null, better: "lower" | "higher"): string {
  if (delta === null) return "—";
  if (delta === 0) return "0";
  const improved = better === "lower" ? delta < 0 : delta > 0;
  return `${signed(delta)} ${improved ? "(better)" : "(worse)"}`;
}

export function metricsTable(report: ModelReport): string[] {
  return [
    `| Metric | ${baseLabel(report)} | this change | Change |`,
    "| --- | ---: | ---: | ---: |",
    ...report.metrics.map((m) => `| ${m.label} | ${m.before === null ? "—" : num(m.before)} | ${num(m.after)} | ${change(m.delta, m.better)} |`),
  ];
}

export function checksTable(report: ModelReport): string[] {
  return [
    `| Gate check | Threshold | ${baseLabel(report)} | this change |`,
    "| --- | --- | --- | --- |",
    ...report.checks.map((c) => `| \`${c.name}\` | ${cell(c.threshold)} | ${c.before ? mark(c.before.pass) : "—"} | ${mark(c.after.pass)}: ${cell(c.after.detail)} |`),
  ];
}

export function smokeTable(report: ModelReport): string[] {
  return [
    `| Smoke car | ${baseLabel(report)} | this change | Change |`,
    "| --- | ---: | ---: | ---: |",
    ...report.smoke.map((s) => `| ${cell(s.name)} | ${s.before === null ? "—" : num(s.before)} | ${num(s.after)} | ${s.delta === null ? "—" : signed(s.delta)} |`),
  ];
}

function fingerprints(report: ModelReport): string {
  const m = report.model;
  const data =
    m.data_sha256_claimed === m.data_sha256_scored
      ? `data \`${m.data_sha256_scored.slice(0, 12)}\``
      : `data \`${m.data_sha256_scored.slice(0, 12)}\` (the manifest claims \`${m.data_sha256_claimed.slice(0, 12)}\`: trained on other data)`;
  return `Model \`${m.sha256.slice(0, 12)}\` · ${data}`;
}

function link(options: SectionOptions): string {
  return options.reportUrl ? `[Full model report (plots)](${options.reportUrl})` : "Full model report (plots): `dist/model-report/index.html` in the build artifacts";
}

/** The model section of the pull-request comment. */
export function modelSection(report: ModelReport, options: SectionOptions = {}): string {
  const detail = options.detail ?? "full";
  const lines = [`${options.heading ?? "##"} Model`, "", verdictLine(report), "", ...baseNote(report)];
  if (lines[lines.length - 1] !== "") lines.push("");
  if (detail !== "minimal") lines.push(...metricsTable(report), "");
  if (detail === "full") {
    lines.push("<details><summary>Gate checks and smoke cars</summary>", "", ...checksTable(report), "", ...smokeTable(report), "", "</details>", "", fingerprints(report), "");
  }
  lines.push(link(options), "");
  return lines.join("\n");
}

/** report.md: the full section, plus the importance ranking. */
export function reportMarkdown(report: ModelReport, reportUrl?: string): string {
  const ranked = [...report.analysis.importance].sort((a, b) => b.rmse_increase - a.rmse_increase);
  return [
    modelSection(report, { detail: "full", heading: "#", reportUrl }).trimEnd(),
    "",
    "## Permutation importance (held-out RMSE increase, MPG)",
    "",
    "| Feature | Increase | ± std |",
    "| --- | ---: | ---: |",
    ...ranked.map((i) => `| ${i.feature} | ${num(i.rmse_increase, 3)} | ${num(i.std, 3)} |`),
    "",
  ].join("\n");
}
