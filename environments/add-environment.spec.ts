/**
 * The promise of environments/declared.ts, kept for real: in a copy of the repository, a `qa`
 * environment is added with one new file and one entry in the list, and then the real program
 * synthesizes its stack, real terraform plans it (offline provider mirror), the pipeline is
 * regenerated and the pipeline checks pass. Nothing else is edited.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = resolve(import.meta.dirname, "..");
const TSX = join(REPO, "node_modules", ".bin", "tsx");
let scratch: string;

/** Runs a command in the copy; its output, or a failure that shows what it printed. */
function run(command: string, args: string[], timeoutMs = 120_000): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd: scratch, encoding: "utf8", timeout: timeoutMs, env: { ...process.env, CHECKPOINT_DISABLE: "1", CDKTF_OUTDIR: join(scratch, "cdktf.out") } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The pipeline checks of the copy (config-checks.ts against its own config.yml, package.json and environments), as JSON. */
function pipelineProblems(): string[] {
  const script = [
    'import { readFileSync } from "node:fs";',
    'import { CONFIG_PATH, projectProblems, repositoryChain, repositoryRuntimes } from "./.circleci/config-checks.ts";',
    'console.log(JSON.stringify(projectProblems(readFileSync(CONFIG_PATH, "utf8"), JSON.parse(readFileSync("package.json", "utf8")), repositoryRuntimes(), repositoryChain())));',
  ].join("\n");
  writeFileSync(join(scratch, ".pipeline-problems.ts"), script);
  const result = run(TSX, [".pipeline-problems.ts"]);
  expect(result.stderr).toBe("");
  return JSON.parse(result.stdout) as string[];
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "mpg15-qa-"));
  const tracked = spawnSync("git", ["ls-files", "-z"], { cwd: REPO, encoding: "utf8" }).stdout.split("\0").filter(Boolean);
  for (const file of tracked) {
    mkdirSync(dirname(join(scratch, file)), { recursive: true });
    try {
      cpSync(join(REPO, file), join(scratch, file));
    } catch (error) {
      // A tracked file deleted in the working tree is not part of what is being tested.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  symlinkSync(join(REPO, "node_modules"), join(scratch, "node_modules"));

  // The one new file: a pre-production environment shaped like staging, with its own name, VPC and tags.
  const staging = readFileSync(join(scratch, "environments/staging.ts"), "utf8");
  const qa = staging
    .replace("/** A production rehearsal: same shape as prod (blue/green, two AZs), smaller and cheaper. */", "/** Quality assurance: the testers' environment, the last stop before production. */")
    .replace("export const staging = ", "export const qa = ")
    .replace('name: "staging"', 'name: "qa"')
    .replaceAll("10.20.", "10.40.")
    .replace('Environment: "staging"', 'Environment: "qa"');
  expect(qa).not.toContain("staging");
  writeFileSync(join(scratch, "environments/qa.ts"), qa);
  // The one entry in the list, between staging and prod.
  const declaredPath = join(scratch, "environments/declared.ts");
  const declared = readFileSync(declaredPath, "utf8");
  const edited = declared.replace('import { prod } from "./prod.js";', 'import { prod } from "./prod.js";\nimport { qa } from "./qa.js";').replace("[dev, staging, prod]", "[dev, staging, qa, prod]");
  expect(edited.split("\n").length - declared.split("\n").length).toBe(1);
  writeFileSync(declaredPath, edited);
}, 60_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("adding an environment to the list", () => {
  it("makes the pipeline checks ask for the new promotion, and npm run ci:generate writes it", () => {
    expect(pipelineProblems()).toEqual([
      expect.stringMatching(
        /^the release chain does not follow environments\/declared\.ts .*expected upload-dev -> promote-staging -> promote-qa -> approve-prod -> promote-prod, found upload-dev -> promote-staging -> approve-prod -> promote-prod .*run npm run ci:generate$/,
      ),
    ]);
    const generate = run(TSX, [".circleci/generate-cli.ts"]);
    expect(generate.status, generate.stderr).toBe(0);
    expect(generate.stdout).toContain("release chain rewritten (dev -> staging -> qa -> prod)");
    expect(pipelineProblems()).toEqual([]);
    const config = readFileSync(join(scratch, ".circleci/config.yml"), "utf8");
    expect(config).toContain("          name: promote-qa\n          from: staging\n          to: qa\n          requires: [promote-staging]");
    expect(config).toContain("          name: promote-prod\n          from: qa\n          to: prod\n          requires: [approve-prod]");
  });

  it("synthesizes the qa stack with the real program and plans it with real terraform", () => {
    // plan-cli synthesizes with main.ts (as cdktf does), then init + validate + plan of the qa stack only.
    const plan = run(TSX, ["terraform/plan-cli.ts", "--json", "qa"], 240_000);
    expect(plan.status, `${plan.stderr}\n${plan.stdout}`).toBe(0);
    const [summary] = JSON.parse(plan.stdout.slice(plan.stdout.indexOf("["))) as Array<{ stack: string; counts: Record<string, number>; byType: Record<string, unknown> }>;
    expect(summary!.stack).toBe("qa");
    expect(summary!.counts).toMatchObject({ update: 0, replace: 0, delete: 0 });
    expect(summary!.counts.create).toBeGreaterThan(50);
    const stack = JSON.parse(readFileSync(join(scratch, "cdktf.out/stacks/qa/cdk.tf.json"), "utf8"));
    const roles = Object.values(stack.resource.aws_iam_role as Record<string, { name: string }>).map((role) => role.name);
    // qa promotes from staging and is the source prod promotes from: both release roles.
    expect(roles).toEqual(expect.arrayContaining(["mpg-model-qa-circleci-promote", "mpg-model-qa-circleci-promotion-source"]));
    expect(Object.values(stack.resource.aws_codedeploy_deployment_group as Record<string, { deployment_style: unknown }>)[0]!.deployment_style).toEqual({
      deployment_option: "WITH_TRAFFIC_CONTROL",
      deployment_type: "BLUE_GREEN",
    });
  }, 300_000);
});
