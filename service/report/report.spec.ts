import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Manifest, sha256 } from "../src/manifest.js";
import { Model } from "../src/model.js";
import { INPUT_COLUMNS } from "../training/data.js";
import { holdoutRows } from "../training/gate.js";
import { treeEnsembleToOnnx } from "../training/onnx-export.js";
import { DEFAULT_MODEL_DIR } from "../training/paths.js";
import { analyze } from "./analysis.js";
import { type BaseModel, loadBaseModel } from "./base-model.js";
import { modelSection, reportMarkdown } from "./markdown.js";
import { buildReport, type ModelReport } from "./report.js";
import { REPO_ROOT } from "./write-report.js";

const run = promisify(execFile);
const committedBytes = readFileSync(join(DEFAULT_MODEL_DIR, "model.onnx"));
const committedText = readFileSync(join(DEFAULT_MODEL_DIR, "manifest.json"), "utf8");
const committed = JSON.parse(committedText) as Manifest;
const temps: string[] = [];
const opened: Model[] = [];

function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), "mpg13-report-spec-"));
  temps.push(dir);
  return dir;
}

async function load(manifest: Manifest, bytes: Uint8Array): Promise<Model> {
  const model = await Model.fromBytes({ ...manifest, model_sha256: sha256(bytes) }, bytes);
  opened.push(model);
  return model;
}

/** One tree on weight alone: light cars 30 MPG, heavy cars 18 MPG. It ignores every other feature. */
const weightOnly = treeEnsembleToOnnx([{ leaf: false, feature: 3, threshold: 3000, left: { leaf: true, value: 30 }, right: { leaf: true, value: 18 } }], {
  nFeatures: INPUT_COLUMNS.length,
  aggregate: "AVERAGE",
});

/** A git repository whose `main` holds `files` under service/model (none: an empty commit). */
function repoWith(files: Record<string, string | Uint8Array> | null, branch = "main"): string {
  const dir = temp();
  const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], { cwd: dir, stdio: "pipe" });
  git("init", "-q", "-b", branch);
  if (files) {
    mkdirSync(join(dir, "service", "model"), { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, "service", "model", name), content);
    git("add", ".");
  }
  git("commit", "-q", "--allow-empty", "-m", "base");
  return dir;
}

afterAll(async () => {
  await Promise.all(opened.map((m) => m.close()));
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe("analysis through the ONNX model", () => {
  it("gives a feature the model ignores exactly zero permutation importance, and the one it uses a real one", async () => {
    const { holdout } = holdoutRows();
    const a = await analyze(await load(committed, weightOnly), holdout);
    const byFeature = Object.fromEntries(a.importance.map((i) => [i.feature, i.rmse_increase]));
    expect(Object.keys(byFeature)).toEqual(["cylinders", "displacement", "horsepower", "weight", "acceleration", "model_year", "origin"]);
    for (const feature of ["cylinders", "displacement", "horsepower", "acceleration", "model_year", "origin"]) expect(byFeature[feature], feature).toBe(0);
    expect(byFeature.weight).toBeGreaterThan(1);
  });

  it("traces partial dependence: a step at the split for weight, flat for model year", async () => {
    const { holdout } = holdoutRows();
    const a = await analyze(await load(committed, weightOnly), holdout);
    expect(a.partial_dependence.weight.map((p) => [p.value, p.mean_prediction])).toEqual(
      [1500, 1750, 2000, 2250, 2500, 2750, 3000, 3250, 3500, 3750, 4000, 4250, 4500, 4750, 5000, 5250].map((w) => [w, w < 3000 ? 30 : 18]),
    );
    expect(new Set(a.partial_dependence.model_year.map((p) => p.mean_prediction))).toEqual(new Set([a.points.reduce((s, p) => s + p.predicted, 0) / a.points.length]));
  });

  it("groups residuals (actual - predicted) by model year and origin, covering every held-out car", async () => {
    const { holdout } = holdoutRows();
    const a = await analyze(await load(committed, committedBytes), holdout);
    expect(a.points).toHaveLength(78);
    for (const p of a.points) expect(p.residual).toBeCloseTo(p.actual - p.predicted, 10);
    expect(a.by_origin.map((g) => g.group)).toEqual(["USA", "Europe", "Japan"]);
    expect(a.by_origin.reduce((s, g) => s + g.rows, 0)).toBe(78);
    expect(a.by_model_year.reduce((s, g) => s + g.rows, 0)).toBe(78);
    const usa = a.points.filter((p) => p.origin === "USA");
    expect(a.by_origin[0]!.mean_residual).toBeCloseTo(usa.reduce((s, p) => s + p.residual, 0) / usa.length, 10);
  });
});

describe("the base branch's model", () => {
  it("says there is no base when neither origin/main nor main exists", async () => {
    const base = await loadBaseModel(repoWith(null, "trunk"));
    expect(base).toEqual({ status: "none", ref: null, reason: "no base branch: neither origin/main nor main exists in this clone" });
  });

  it("says this is the first model when main has none committed", async () => {
    const base = await loadBaseModel(repoWith(null));
    expect(base).toMatchObject({ status: "none", ref: "main", reason: expect.stringContaining("no model committed at main") });
  });

  it("refuses a committed model whose bytes do not match its manifest, saying so", async () => {
    const base = await loadBaseModel(repoWith({ "manifest.json": committedText, "model.onnx": weightOnly }));
    expect(base.status).toBe("unusable");
    expect(base).toMatchObject({ reason: expect.stringMatching(/main:service\/model\/model\.onnx has sha256 [0-9a-f]{64}, its manifest says 5a611b50/) });
  });

  it("loads the committed model of main, and fails clearly on a base ref that does not exist", async () => {
    const repo = repoWith({ "manifest.json": committedText, "model.onnx": committedBytes });
    const base = await loadBaseModel(repo);
    expect(base.status).toBe("found");
    if (base.status === "found") {
      opened.push(base.model);
      expect(base.manifest.model_sha256).toBe(committed.model_sha256);
    }
    await expect(loadBaseModel(repo, "mian")).rejects.toThrow(/base ref "mian" does not name a commit/);
  });
});

describe("the report of a change against the base", () => {
  let report: ModelReport;
  let base: BaseModel;
  beforeAll(async () => {
    base = await loadBaseModel(repoWith({ "manifest.json": committedText, "model.onnx": committedBytes }));
    if (base.status === "found") opened.push(base.model);
    report = await buildReport(await load(committed, weightOnly), base);
  });

  it("measures both models on the same cars and reports before, after and the change", () => {
    const rmse = report.metrics.find((m) => m.metric === "rmse")!;
    expect(rmse.before).toBe(committed.metrics.holdout.rmse);
    expect(rmse.after).toBeGreaterThan(4);
    expect(rmse.delta).toBeCloseTo(rmse.after - rmse.before!, 4);
    expect(report.smoke.map((s) => [s.name, s.before, s.after])).toEqual([
      ["chevrolet chevelle malibu", 16.6525, 18],
      ["datsun pl510", 28.0153, 30],
    ]);
    expect(report.smoke[0]!.delta).toBeCloseTo(1.3475, 4);
  });

  it("fails the gate, names the failed checks, and shows each check before and after with its threshold", () => {
    expect(report.gate.pass).toBe(false);
    expect(report.gate.failed).toEqual(expect.arrayContaining(["rmse", "r2", "no-regression", "manifest-metrics-match", "smoke-test-cases"]));
    const rmse = report.checks.find((c) => c.name === "rmse")!;
    expect(rmse).toMatchObject({ threshold: "RMSE <= 3.5 MPG", before: { pass: true }, after: { pass: false } });
    expect(report.checks.find((c) => c.name === "no-regression")!.before).toBeNull();
  });

  it("renders a pull-request section that says worse and FAIL, shrinking to a verdict and a link", () => {
    const full = modelSection(report, { reportUrl: "https://ci.example/artifacts/index.html" });
    expect(full).toContain("❌ **Quality gate: FAIL**");
    expect(full).toMatch(/\| RMSE \(MPG\) \| 2\.9856 \| \d+\.\d+ \| \+\d+\.\d+ \(worse\) \|/);
    expect(full).toContain("| `rmse` | RMSE <= 3.5 MPG | ✅ pass | ❌ fail:");
    expect(full).toContain("| datsun pl510 | 28.0153 | 30 | +1.9847 |");
    expect(full).toContain("[Full model report (plots)](https://ci.example/artifacts/index.html)");
    const compact = modelSection(report, { detail: "compact" });
    expect(compact).toContain("| RMSE (MPG) |");
    expect(compact).not.toContain("Gate check");
    const minimal = modelSection(report, { detail: "minimal" });
    expect(minimal).not.toContain("| RMSE");
    expect(minimal).toContain("Quality gate: FAIL");
    expect(minimal.length).toBeLessThan(compact.length);
    expect(compact.length).toBeLessThan(full.length);
  });

  it("writes report.md with the importance ranking", () => {
    expect(reportMarkdown(report)).toMatch(/\| weight \| \d+\.\d+ \|/);
  });

  it("says plainly when there is no base to compare with", async () => {
    const none = await buildReport(await load(committed, committedBytes), await loadBaseModel(repoWith(null)));
    expect(none.metrics.every((m) => m.before === null && m.delta === null)).toBe(true);
    expect(none.gate).toMatchObject({ pass: true, compared_with: expect.stringContaining("no model committed at main") });
    expect(modelSection(none)).toContain("> No base model to compare with: no model committed at main");
  });
});

describe("npm run model:report", () => {
  const tsx = join(REPO_ROOT, "node_modules", ".bin", "tsx");
  const cli = join(REPO_ROOT, "service", "report", "report-cli.ts");

  it("writes index.html, report.md and metrics.json, and exits 1 naming a base ref that does not exist", async () => {
    const out = temp();
    const ok = await run(tsx, [cli, "--base", "HEAD", "--out", out]);
    expect(ok.stdout).toMatch(/Quality gate: PASS .* compared with HEAD/);
    for (const file of ["index.html", "report.md", "metrics.json"]) expect(existsSync(join(out, file)), file).toBe(true);
    const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8")) as ModelReport;
    expect(metrics.model.sha256).toBe(committed.model_sha256);
    expect(readFileSync(join(out, "index.html"), "utf8")).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    const bad = await run(tsx, [cli, "--base", "no-such-branch-mpg13", "--out", out]).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('model report: base ref "no-such-branch-mpg13" does not name a commit');
  }, 60_000);
});
