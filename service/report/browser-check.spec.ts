/**
 * The model report in a real browser: headless Chromium opens index.html from disk and every plot
 * must be drawn with one mark per data item, with no console error and no request beyond the page.
 * No Chromium is a failure with instructions, never a skip. CHROMIUM_PATH picks another binary
 * (CI's image ships Google Chrome).
 */
import { mkdirSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL_DIR } from "../training/paths.js";
import { type Browser, ChromiumMissingError, DEFAULT_CHROMIUM, launchChromium } from "./browser.js";
import { checkPage, type PageCheck } from "./browser-check.js";
import type { ModelReport } from "./report.js";
import { REPO_ROOT, writeModelReport } from "./write-report.js";

const SCREENSHOT_DIR = join(REPO_ROOT, "test-results", "model-report");
const out = mkdtempSync(join(tmpdir(), "mpg13-report-"));
let browser: Browser | undefined;
let check: PageCheck;
let report: ModelReport;

beforeAll(async () => {
  ({ report } = await writeModelReport({ modelDir: DEFAULT_MODEL_DIR, outDir: out, repo: REPO_ROOT, baseRef: "HEAD" }));
  browser = await launchChromium(process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM);
  check = await checkPage(browser, join(out, "index.html"), join(out, "screenshot.png"));
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  copyFileSync(join(out, "screenshot.png"), join(SCREENSHOT_DIR, "screenshot.png"));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  rmSync(out, { recursive: true, force: true });
});

describe("the model report in headless Chromium", () => {
  it("draws every plot with one mark per data item", () => {
    const n = report.analysis.points.length;
    const models = report.base_partial_dependence ? 2 : 1;
    const dependence = report.analysis.partial_dependence;
    expect(n).toBe(78);
    expect(check.figures.map((f) => [f.id, f.marks])).toEqual([
      ["predicted-vs-actual", { identity: 1, points: n }],
      ["residuals-by-model-year", { zero: 1, residuals: n, means: report.analysis.by_model_year.length }],
      ["residuals-by-origin", { zero: 1, residuals: n, means: 3 }],
      ["permutation-importance", { bars: 7, spread: 7 }],
      ["partial-dependence-weight", { curves: models, grid: dependence.weight.length * models }],
      ["partial-dependence-model-year", { curves: models, grid: dependence.model_year.length * models }],
    ]);
    expect(report.analysis.by_model_year.map((g) => Number(g.group))).toEqual([...new Set(report.analysis.points.map((p) => p.model_year))].sort());
    for (const f of check.figures) {
      expect(f.width, f.id).toBeGreaterThan(300);
      expect(f.height, f.id).toBeGreaterThan(150);
    }
  });

  it("logs no console error and loads nothing but the page itself", () => {
    expect(check.consoleErrors).toEqual([]);
    expect(check.otherRequests).toEqual([]);
    expect(check.title).toBe(`Model report: ${report.model.name} ${report.model.version}`);
  });

  it("saves a screenshot of the whole page", () => {
    const png = readFileSync(join(SCREENSHOT_DIR, "screenshot.png"));
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
    expect(png.length).toBeGreaterThan(50_000);
  });
});

describe("launchChromium", () => {
  it("fails with instructions when the browser is not installed", async () => {
    await expect(launchChromium("/nonexistent/mpg13-chromium")).rejects.toThrow(ChromiumMissingError);
    await expect(launchChromium("/nonexistent/mpg13-chromium")).rejects.toThrow(/not installed at \/nonexistent\/mpg13-chromium: run `npm run setup`/);
  });
});
