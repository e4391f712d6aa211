/**
 * Real terraform on every synthesized stack: init (offline through a provider mirror when the
 * machine has one), validate and plan, with no AWS credentials. A machine without terraform
 * fails this suite loudly: CI must never pass by skipping it.
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadEnvironments } from "../environments/index.js";
import { buildApp } from "../stacks/app.js";
import { SYNTH_TEST_DATE, type Block } from "../stacks/synthesized.js";
import { OFFLINE_OVERRIDE_FILE } from "./offline-workspace.js";
import { COMMENT_MARKER, renderPlanComment, type StackReview } from "./plan-comment.js";
import { planStacks, type StackPlan } from "./plan-stacks.js";
import { changesFromShowJson, summarizeChanges } from "./plan-summary.js";
import { TerraformMissingError, terraformVersion } from "./terraform-cli.js";

const synthDir = await mkdtemp(join(tmpdir(), "synth-"));
let plans: StackPlan[];

beforeAll(async () => {
  if (!terraformVersion()) throw new TerraformMissingError();
  buildApp(loadEnvironments(), { projectRoot: resolve(import.meta.dirname, ".."), outdir: synthDir, today: SYNTH_TEST_DATE }).app.synth();
  plans = await planStacks({ synthDir, workRoot: join(synthDir, "work"), showJson: ["dev"] });
}, 180_000);

async function synthesized(stack: string): Promise<Block> {
  return JSON.parse(await readFile(join(synthDir, "stacks", stack, "cdk.tf.json"), "utf8"));
}

describe("terraform plan of every stack", () => {
  it("plans exactly the dev, staging and prod stacks", () => {
    expect(plans.map((p) => p.stack)).toEqual(["dev", "prod", "staging"]);
  });

  it.each(["dev", "staging", "prod"])("validates and plans %s: every synthesized resource is created, nothing destroyed", async (name) => {
    const plan = plans.find((p) => p.stack === name)!;
    const resources = (await synthesized(name)).resource as Record<string, Record<string, unknown>>;
    const expected = Object.fromEntries(Object.entries(resources).map(([type, byId]) => [type, { create: Object.keys(byId).length }]));
    expect(plan.summary.byType).toEqual(expected);
    expect(plan.summary.counts).toMatchObject({ update: 0, replace: 0, delete: 0 });
    expect(plan.summary.dangerous).toEqual([]);
  });

  it("leaves the synthesized stacks production-grade: offline settings live only in the scratch copies", async () => {
    for (const plan of plans) {
      const provider = (await synthesized(plan.stack)).provider.aws[0];
      expect(provider.skip_credentials_validation).toBeUndefined();
      expect(provider.access_key).toBeUndefined();
      expect(provider.allowed_account_ids).toHaveLength(1);
      const override = JSON.parse(await readFile(join(plan.workspace, OFFLINE_OVERRIDE_FILE), "utf8"));
      expect(override.provider.aws[0]).toMatchObject({ skip_credentials_validation: true, skip_requesting_account_id: true });
    }
  });
});

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

describe("the pull-request comment of a real plan (dev)", () => {
  let showJson: ShowJson;
  beforeAll(() => {
    showJson = plans.find((p) => p.stack === "dev")!.showJson as ShowJson;
  });

  it("reads the same changes from show -json as from the plan's own event stream", () => {
    expect(review("dev", showJson).summary).toEqual(plans.find((p) => p.stack === "dev")!.summary);
  });

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
