/**
 * index.html of the model report: one self-contained page (tables + the plots as inline SVG,
 * CSS inline, no script). Its Content-Security-Policy forbids every fetch, so it opens from disk
 * or from a CI artifact store exactly the same, and the browser check proves it needs no network.
 */
import { num } from "./markdown.js";
import type { ModelReport } from "./report-types.js";

export interface RenderedChart {
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly svg: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const CSS = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1160px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .3rem .6rem; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 600; }
.verdict { font-size: 1.1rem; padding: .6rem 1rem; border-radius: 6px; }
.verdict.pass { background: #dafbe1; } .verdict.fail { background: #ffebe9; }
.note { background: #fff8c5; padding: .5rem 1rem; border-radius: 6px; }
figure { display: inline-block; margin: 1rem 1rem 1rem 0; vertical-align: top; max-width: 540px; }
figcaption { font-size: .85rem; color: #555; } figure h3 { font-size: 1rem; margin: 0 0 .3rem; }
code { font-size: .85rem; word-break: break-all; }
#checks td:first-child code { white-space: nowrap; word-break: normal; } #checks td:nth-child(2) { min-width: 14rem; } #checks td:last-child { overflow-wrap: anywhere; } #checks { width: 100%; }`;

const status = (pass: boolean) => `<span class="${pass ? "pass" : "fail"}">${pass ? "pass" : "fail"}</span>`;
const delta = (d: number | null, better?: "lower" | "higher") => {
  if (d === null) return "—";
  if (Number(num(d)) === 0) return "0";
  const improved = better === undefined ? undefined : better === "lower" ? d < 0 : d > 0;
  return `${d > 0 ? "+" : "−"}${num(Math.abs(d))}${improved === undefined ? "" : improved ? " (better)" : " (worse)"}`;
};

function baseSummary(report: ModelReport): string {
  const b = report.base;
  if (b.status === "found") {
    return `<p>Compared with the model committed at <code>${escapeHtml(b.ref)}</code> (commit <code>${b.commit.slice(0, 12)}</code>, ${escapeHtml(b.name)} ${escapeHtml(b.version)}, model <code>${b.sha256.slice(0, 12)}</code>)${b.same_model ? ": <b>the same model</b>" : ""}, scored on the same held-out cars.</p>`;
  }
  if (b.status === "none") return `<p class="note">No base model to compare with: ${escapeHtml(b.reason)}.</p>`;
  return `<p class="note">The base model at <code>${escapeHtml(b.ref)}</code> cannot be used: ${escapeHtml(b.reason)}</p>`;
}

export function renderHtml(report: ModelReport, charts: readonly RenderedChart[]): string {
  const base = report.base.status === "found" ? `base (${escapeHtml(report.base.ref)})` : "base";
  const m = report.model;
  const gate = report.gate;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Model report: ${escapeHtml(m.name)} ${escapeHtml(m.version)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>Model report: ${escapeHtml(m.name)} ${escapeHtml(m.version)}</h1>
<p class="verdict ${gate.pass ? "pass" : "fail"}" id="verdict">Quality gate: <b>${gate.pass ? "PASS" : "FAIL"}</b>${gate.pass ? "" : ` (${gate.failed.map(escapeHtml).join(", ")})`} on ${report.holdout_rows} held-out cars; no-regression compared with ${escapeHtml(gate.compared_with)}.</p>
${baseSummary(report)}

<h2>Held-out metrics</h2>
<table id="metrics">
<tr><th>Metric</th><th>${base}</th><th>this change</th><th>change</th></tr>
${report.metrics.map((x) => `<tr><td>${escapeHtml(x.label)}</td><td class="n">${x.before === null ? "—" : num(x.before)}</td><td class="n">${num(x.after)}</td><td class="n">${delta(x.delta, x.better)}</td></tr>`).join("\n")}
</table>

<h2>Quality-gate checks</h2>
<table id="checks">
<tr><th>Check</th><th>Threshold</th><th>${base}</th><th>this change</th><th>Measured</th></tr>
${report.checks.map((c) => `<tr><td><code>${escapeHtml(c.name)}</code></td><td>${escapeHtml(c.threshold)}</td><td>${c.before ? status(c.before.pass) : "—"}</td><td>${status(c.after.pass)}</td><td>${escapeHtml(c.after.detail)}</td></tr>`).join("\n")}
</table>

<h2>Smoke cars</h2>
<table id="smoke">
<tr><th>Car</th><th>manifest expects</th><th>${base}</th><th>this change</th><th>change</th></tr>
${report.smoke.map((s) => `<tr><td>${escapeHtml(s.name)}</td><td class="n">${num(s.expected)}</td><td class="n">${s.before === null ? "—" : num(s.before)}</td><td class="n">${num(s.after)}</td><td class="n">${delta(s.delta)}</td></tr>`).join("\n")}
</table>

<h2>Plots</h2>
${charts.map((c) => `<figure data-chart="${escapeHtml(c.id)}"><h3>${escapeHtml(c.title)}</h3>\n${c.svg}\n<figcaption>${escapeHtml(c.caption)}</figcaption></figure>`).join("\n")}

<h2>Fingerprints</h2>
<table id="fingerprints">
<tr><td>model.onnx sha256</td><td><code>${m.sha256}</code></td></tr>
<tr><td>data fingerprint (cleaned rows, sha256), scored</td><td><code>${m.data_sha256_scored}</code></td></tr>
<tr><td>data fingerprint claimed by the manifest</td><td><code>${m.data_sha256_claimed}</code>${m.data_sha256_claimed === m.data_sha256_scored ? "" : ' <span class="fail">differs: the model was trained on other data</span>'}</td></tr>
<tr><td>dataset</td><td>${escapeHtml(m.dataset)}</td></tr>
</table>
</body>
</html>
`;
}
