/**
 * `npm run bench:review`: what the pull-request review's new parts cost, as medians of several runs
 * with a baseline measured in the same command.
 *  - model:report (the CLI, as CI runs it) vs model:gate (same process start-up and ONNX scoring, no report);
 *  - the browser check (launch Chromium, open index.html, count marks, screenshot, close) vs
 *    launching Chromium and opening about:blank;
 *  - pricing in plan review (stackCost + the cost text and comment section, three real plans) vs
 *    the terraform plans themselves (planned once here, offline) and vs rendering the comment without cost.
 * Targets: model:report < 5 s, browser check < 20 s, pricing < 1 s.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnvironments } from "../environments/index.js";
import { DEFAULT_CHROMIUM, launchChromium } from "../service/report/browser.js";
import { checkPage } from "../service/report/browser-check.js";
import { writeModelReport } from "../service/report/write-report.js";
import { DEFAULT_MODEL_DIR } from "../service/training/paths.js";
import { buildApp } from "../stacks/app.js";
import { costSection, costText } from "../terraform/cost-format.js";
import { stackCost } from "../terraform/cost-plan.js";
import { renderPlanComment, type StackReview } from "../terraform/plan-comment.js";
import { planStacks } from "../terraform/plan-stacks.js";
import { changesFromShowJson, summarizeChanges } from "../terraform/plan-summary.js";
import { median } from "./stats.js";

const ROOT = join(import.meta.dirname, "..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");
const ROUNDS = 5;

function seconds(work: () => void): number {
  const start = performance.now();
  work();
  return (performance.now() - start) / 1000;
}

async function secondsAsync(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
}

const fmt = (s: number) => (s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`);

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "mpg13-bench-"));
  try {
    // 1. model:report vs model:gate, alternating so drifting load hits both alike.
    const report: number[] = [];
    const gate: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const runReport = () => execFileSync(TSX, [join(ROOT, "service/report/report-cli.ts"), "--base", "HEAD", "--out", join(scratch, "report")], { cwd: ROOT, stdio: "ignore" });
      const runGate = () => execFileSync(TSX, [join(ROOT, "service/training/gate-cli.ts")], { cwd: ROOT, stdio: "ignore" });
      if (i % 2) {
        gate.push(seconds(runGate));
        report.push(seconds(runReport));
      } else {
        report.push(seconds(runReport));
        gate.push(seconds(runGate));
      }
    }
    console.log(
      `${`model:report (CLI, ${ROUNDS} runs)`.padEnd(34)} median ${fmt(median(report))}   model:gate baseline ${fmt(median(gate))}   ratio ${(median(report) / median(gate)).toFixed(2)}x   target < 5 s`,
    );

    // 2. The browser check vs a bare launch + about:blank.
    const html = (await writeModelReport({ modelDir: DEFAULT_MODEL_DIR, outDir: join(scratch, "page"), repo: ROOT, baseRef: "HEAD" })).files.html;
    const check: number[] = [];
    const bare: number[] = [];
    const chromium = process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM;
    for (let i = 0; i < ROUNDS; i++) {
      check.push(
        await secondsAsync(async () => {
          const browser = await launchChromium(chromium);
          try {
            await checkPage(browser, html, join(scratch, "shot.png"));
          } finally {
            await browser.close();
          }
        }),
      );
      bare.push(
        await secondsAsync(async () => {
          const browser = await launchChromium(chromium);
          try {
            const page = await browser.context.newPage();
            await page.goto("about:blank");
          } finally {
            await browser.close();
          }
        }),
      );
    }
    console.log(
      `${`browser check (${ROUNDS} runs)`.padEnd(34)} median ${fmt(median(check))}   launch + about:blank baseline ${fmt(median(bare))}   ratio ${(median(check) / median(bare)).toFixed(2)}x   target < 20 s`,
    );

    // 3. Pricing in plan review, on the real plans of the three stacks.
    const synthDir = join(scratch, "synth");
    buildApp(loadEnvironments(), { projectRoot: ROOT, outdir: synthDir, today: new Date() }).app.synth();
    let plans: Awaited<ReturnType<typeof planStacks>> = [];
    const planSeconds = await secondsAsync(async () => {
      plans = await planStacks({ synthDir, workRoot: join(synthDir, "work"), showJson: true });
    });
    const reviews: StackReview[] = plans.map((p) => {
      const changes = changesFromShowJson(p.showJson);
      return { stack: p.stack, summary: summarizeChanges(changes), changes };
    });
    const pricing: number[] = [];
    const withCost: number[] = [];
    const withoutCost: number[] = [];
    for (let i = 0; i < 20; i++) {
      let priced: StackReview[] = [];
      pricing.push(
        seconds(() => {
          priced = reviews.map((r, k) => {
            const cost = stackCost(r.stack, plans[k]!.showJson);
            costText(cost);
            return { ...r, cost };
          });
          costSection(priced.map((r) => r.cost!));
        }),
      );
      withoutCost.push(seconds(() => renderPlanComment(reviews)));
      withCost.push(seconds(() => renderPlanComment(priced)));
    }
    console.log(
      `${"pricing, 3 stacks (20 runs)".padEnd(34)} median ${fmt(median(pricing))}   terraform init+plan+show of the 3 stacks (once) ${fmt(planSeconds)}   ratio ${((median(pricing) / planSeconds) * 100).toFixed(3)} %   target < 1 s`,
    );
    console.log(`${"comment rendering (20 runs)".padEnd(34)} with cost ${fmt(median(withCost))}   without cost ${fmt(median(withoutCost))}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
