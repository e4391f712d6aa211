/**
 * `npm run plan:review`: synth, plan every stack against its real state (read-only role), write
 * the summary, the cost and the model report into one comment, and post or update it on the pull
 * request (plan-review.ts does the work).
 */
import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { modelSection } from "../service/report/markdown.js";
import { readModelReport } from "../service/report/read-report.js";
import { renderPlanComment, type StackReview } from "./plan-comment.js";
import { pullRequestFrom, reviewStack, upsertComment } from "./plan-review.js";
import { synthesizedStacks } from "./plan-stacks.js";
import { terraformEnvironment } from "./provider-mirror.js";
import { TerraformMissingError, terraformVersion } from "./terraform-runner.js";

const ROOT = resolve(import.meta.dirname, "..");

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      out: { type: "string", default: "plans/review" },
      "aws-profile-prefix": { type: "string" },
      "synth-dir": { type: "string" },
      "github-api": { type: "string" },
      "model-report": { type: "string" },
      "model-report-url": { type: "string" },
    },
    allowPositionals: true,
  });
  if (!terraformVersion()) throw new TerraformMissingError();
  const outDir = resolve(values.out);
  await mkdir(outDir, { recursive: true });
  // Read first: a missing report fails the review before minutes of planning, not after.
  const model = values["model-report"] ? await readModelReport(join(resolve(values["model-report"]), "metrics.json")) : undefined;

  let synthDir = values["synth-dir"] ? resolve(values["synth-dir"]) : undefined;
  if (!synthDir) {
    const synth = spawnSync(process.execPath, [join(ROOT, "stacks", "run-app.mjs"), "main.ts"], { cwd: ROOT, stdio: "inherit" });
    if (synth.status !== 0) return synth.status ?? 1;
    synthDir = join(ROOT, "cdktf.out");
  }
  const { env } = await terraformEnvironment(outDir);
  const stacks = positionals.length ? positionals : await synthesizedStacks(synthDir);
  const reviews: StackReview[] = [];
  // One stack at a time: each holds a provider process, and the logs stay readable.
  for (const stack of stacks) {
    const profile = values["aws-profile-prefix"] ? { AWS_PROFILE: `${values["aws-profile-prefix"]}${stack}` } : {};
    console.error(`planning ${stack}${profile.AWS_PROFILE ? ` as ${profile.AWS_PROFILE}` : ""}...`);
    reviews.push(await reviewStack({ stack, workdir: join(synthDir, "stacks", stack), outDir, env: { ...env, ...profile } }));
  }

  const reportUrl = values["model-report-url"];
  const body = renderPlanComment(reviews, {
    commit: process.env.CIRCLE_SHA1,
    buildUrl: process.env.CIRCLE_BUILD_URL,
    ...(model ? { modelSection: (detail) => modelSection(model, { detail, reportUrl }) } : {}),
  });
  await writeFile(join(outDir, "comment.md"), body);
  console.log(body);

  let posted = true;
  const token = process.env.GITHUB_TOKEN;
  const pullRequest = pullRequestFrom(process.env);
  if (!token) console.error("GITHUB_TOKEN is not set: the summary is in comment.md only (see docs/circleci.md to post it on pull requests)");
  else if (!pullRequest) console.error("this build is not for a pull request (no CIRCLE_PULL_REQUEST): nothing to comment on");
  else {
    try {
      const apiBase = values["github-api"] ?? process.env.GITHUB_API_URL ?? "https://api.github.com";
      const result = await upsertComment({ apiBase, token, pullRequest, body });
      console.error(`plan review comment ${result.action}: ${result.url}`);
    } catch (error) {
      posted = false;
      console.error(error instanceof Error ? error.message : error);
    }
  }
  const failed = reviews.filter((r) => r.error !== undefined);
  for (const r of failed) console.error(`plan failed for ${r.stack}:\n${r.error}`);
  return failed.length === 0 && posted ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
