import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEnvironments } from "../environments/index.js";
import { buildApp } from "../stacks/app.js";
import { code, COMMENT_MARKER, renderPlanComment, type StackReview } from "./plan-comment.js";
import { prepareOfflineWorkspace } from "./offline-workspace.js";
import { reviewStack } from "./plan-review.js";
import { terraformEnvironment } from "./provider-mirror.js";
import { changesFromShowJson, summarizeChanges } from "./plan-summary.js";

const REPO_ROOT = resolve(import.meta.dirname, "..");
const WORK = join(REPO_ROOT, ".tmp/plan-comment-spec");

interface ShowJson {
  format_version: string;
  resource_changes: Array<{ address: string; type: string; mode: string; change: { actions: string[] } }>;
}

function review(stack: string, showJson: unknown): StackReview {
  const changes = changesFromShowJson(showJson);
  return { stack, summary: summarizeChanges(changes), changes };
}

/** The real plan with some actions rewritten: how a plan that replaces or destroys looks. */
function withActions(showJson: ShowJson, rewrite: (rc: ShowJson["resource_changes"][number]) => string[] | undefined): ShowJson {
  return { ...showJson, resource_changes: showJson.resource_changes.map((rc) => ({ ...rc, change: { ...rc.change, actions: rewrite(rc) ?? rc.change.actions } })) };
}

describe("renderPlanComment with a real plan of the dev stack", () => {
  let outdir: string;
  let showJson: ShowJson;
  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), "plan-comment-"));
    buildApp(loadEnvironments(), { projectRoot: REPO_ROOT, outdir }).app.synth();
    mkdirSync(WORK, { recursive: true });
    // The synthesized dev stack in an offline copy (placeholder credentials, local state), planned
    // with the same init + plan + show the CI review runs.
    const workspace = await prepareOfflineWorkspace(join(outdir, "stacks", "dev"), join(WORK, "dev"));
    const { env } = await terraformEnvironment(WORK);
    const result = await reviewStack({ stack: "dev", workdir: workspace, outDir: outdir, env });
    if (result.error) throw new Error(result.error);
    showJson = JSON.parse(readFileSync(join(outdir, "dev.plan.json"), "utf8")) as ShowJson;
    expect(review("dev", showJson).summary).toEqual(result.summary);
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it("counts what terraform plans, stack by stack, and lists every address", () => {
    const creates = showJson.resource_changes.filter((rc) => rc.mode === "managed" && rc.change.actions.join() === "create");
    expect(creates.length).toBeGreaterThan(20);
    const body = renderPlanComment([review("dev", showJson)], { commit: "0123456789abcdef0123", buildUrl: "https://circleci.com/gh/acme/mpg-model/42" });
    expect(body.startsWith(COMMENT_MARKER)).toBe(true);
    expect(body).toContain(`| dev | ${creates.length} | 0 | 0 | 0 |`);
    expect(body).toContain(`<b>dev</b>: ${creates.length} to add, 0 to change, 0 to replace, 0 to destroy`);
    expect(body).toContain("commit `0123456789ab`");
    expect(body).toContain("[full plans in the build artifacts](https://circleci.com/gh/acme/mpg-model/42)");
    for (const rc of creates) expect(body).toContain(`\n+ ${rc.address}\n`);
    expect(body).toContain("| `aws_vpc` | 1 | 0 | 0 | 0 |");
    // Data sources are read, not changed: never listed.
    expect(body).not.toMatch(/^\+ data\./m);
    expect(body).not.toContain("[!CAUTION]");
  });

  it("calls out replaced and destroyed stateful resources above the details, destructive changes first", () => {
    const bucket = showJson.resource_changes.find((rc) => rc.type === "aws_s3_bucket")!;
    const instance = showJson.resource_changes.find((rc) => rc.type === "aws_instance")!;
    const subnetGroup = showJson.resource_changes.find((rc) => rc.type === "aws_security_group")!;
    const changed = withActions(showJson, (rc) =>
      rc.address === bucket.address ? ["delete", "create"] : rc.address === instance.address ? ["delete"] : rc.address === subnetGroup.address ? ["update"] : ["no-op"],
    );
    const body = renderPlanComment([review("prod", changed)]);
    expect(body).toContain("| prod ⚠️ | 0 | 1 | 1 | 1 |");
    expect(body).toContain("This change **replaces or destroys 2 stateful resources**");
    expect(body).toContain(`> - **REPLACE** \`${bucket.address}\` in prod`);
    expect(body).toContain(`> - **DESTROY** \`${instance.address}\` in prod`);
    expect(body.indexOf("[!CAUTION]")).toBeLessThan(body.indexOf("<details>"));
    const diff = body.slice(body.indexOf("```diff"));
    expect(diff.split("\n").slice(1, 4)).toEqual([`- ${instance.address}`, `! ${bucket.address}`, `~ ${subnetGroup.address}`]);
    // A replaced security group is not stateful: counted, not called out.
    expect(body).not.toContain(`**REPLACE** \`${subnetGroup.address}\``);
  });

  it("says so when a stack has no changes, and when a plan failed, without hiding the others", () => {
    const none = withActions(showJson, () => ["no-op"]);
    const failed: StackReview = { stack: "prod", error: "terraform plan failed in cdktf.out/stacks/prod (exit 1):\nError: AccessDenied ```danger```" };
    const body = renderPlanComment([review("dev", showJson), review("staging", none), failed]);
    expect(body).toContain("| staging | 0 | 0 | 0 | 0 |");
    expect(body).toContain("<b>staging</b>: no changes");
    expect(body).toContain("| prod | ❌ plan failed | | | |");
    expect(body).toContain("> The plan failed for prod: the counts above are incomplete.");
    expect(body).toContain("Error: AccessDenied '''danger'''");
    // The error cannot close our code block early.
    expect(body.match(/^```/gm)!.length % 2).toBe(0);
  });

  it("fits GitHub's size limit by listing fewer addresses, never by dropping counts or warnings", () => {
    const bucket = showJson.resource_changes.find((rc) => rc.type === "aws_s3_bucket")!;
    const replaced = withActions(showJson, (rc) => (rc.address === bucket.address ? ["delete", "create"] : undefined));
    const full = renderPlanComment([review("dev", replaced)]);
    const maxLength = Math.floor(full.length * 0.6);
    const cut = renderPlanComment([review("dev", replaced)], { maxLength });
    expect(cut.length).toBeLessThanOrEqual(maxLength);
    expect(cut.length).toBeGreaterThan(maxLength * 0.8);
    expect(cut).toMatch(/\n\d+ more changes not listed here: see the full plan in the build artifacts\./);
    expect(cut).toContain(`**REPLACE** \`${bucket.address}\``);
    expect(cut).toContain(`\n! ${bucket.address}\n`);
    expect(cut).toContain("| dev ⚠️ |");
  });
});

describe("code", () => {
  it("wraps text in a fence longer than any backtick run inside it", () => {
    expect(code("aws_s3_bucket.x")).toBe("`aws_s3_bucket.x`");
    expect(code('module.a["k`v"]')).toBe('``module.a["k`v"]``');
    expect(code("`edge`")).toBe("`` `edge` ``");
    expect(code("two\nlines")).toBe("`two lines`");
  });

  it("keeps a pipe in a stack name from breaking the table", () => {
    const body = renderPlanComment([{ stack: "a|b", error: "boom" }]);
    expect(body).toContain("| a\\|b | ❌ plan failed | | | |");
  });
});
