/**
 * Real terraform on every synthesized stack: init (offline through a provider mirror when the
 * machine has one), validate and plan, with no AWS credentials. A machine without terraform
 * fails this suite loudly: CI must never pass by skipping it.
 */
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENT_NAMES, loadEnvironments } from "../environments/index.js";
import { buildApp } from "../stacks/app.js";
import { scratchDir } from "../scripts/scratch-dir.js";
import { SYNTH_TEST_DATE, type Block } from "../stacks/synthesized.js";
import { OFFLINE_OVERRIDE_FILE } from "./offline-workspace.js";
import { costSection, costText, dollars } from "./cost-format.js";
import { stackCost } from "./cost-plan.js";
import { COMMENT_MARKER, renderPlanComment, type ModelDetail, type StackReview } from "./plan-comment.js";
import { planStacks, type StackPlan } from "./plan-stacks.js";
import { changesFromShowJson, summarizeChanges } from "./plan-summary.js";
import { TerraformMissingError, terraformVersion } from "./terraform-runner.js";

const synthDir = scratchDir("synth-");
let plans: StackPlan[];

beforeAll(async () => {
  if (!terraformVersion()) throw new TerraformMissingError();
  buildApp(loadEnvironments(), { projectRoot: resolve(import.meta.dirname, ".."), outdir: synthDir, today: SYNTH_TEST_DATE }).app.synth();
  plans = await planStacks({ synthDir, workRoot: join(synthDir, "work"), showJson: true });
}, 180_000);

async function synthesized(stack: string): Promise<Block> {
  return JSON.parse(await readFile(join(synthDir, "stacks", stack, "cdk.tf.json"), "utf8"));
}

describe("terraform plan of every stack", () => {
  it("plans exactly one stack per environment of the list", () => {
    expect(plans.map((p) => p.stack)).toEqual([...ENVIRONMENT_NAMES].sort());
  });

  it.each(ENVIRONMENT_NAMES)("validates and plans %s: every synthesized resource is created, nothing destroyed", async (name) => {
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
  return { stack, summary: summarizeChanges(changes), changes, cost: stackCost(stack, showJson) };
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

describe("the monthly cost of the real plans", () => {
  const cost = (stack: string) => stackCost(stack, plans.find((p) => p.stack === stack)!.showJson);

  it("prices every stack to the cent from its plan, with nothing left unpriced", () => {
    // dev: t3.small 730 x $0.0228 = $16.644, 16 GB gp3 x $0.088 = $1.408, one NAT $35.04 + its IPv4 $3.65, CLB $20.44, 3 alarms $0.30
    expect(dollars(cost("dev").planned.monthly)).toBe("$77.48");
    // staging: blue and green slots of 2 t3.small = 4 x ($16.644 + $1.408), one NAT + IPv4, CLB, alarms
    expect(dollars(cost("staging").planned.monthly)).toBe("$131.64");
    // prod: 2 slots of 3 c6i.large = 6 x (730 x $0.096 + 20 GB x $0.088) = $431.04, NAT + IPv4 per zone 3 x $38.69, CLB, alarms
    expect(dollars(cost("prod").planned.monthly)).toBe("$567.85");
    for (const stack of ["dev", "staging", "prod"]) {
      expect(cost(stack).notPriced, stack).toEqual([]);
      expect(cost(stack).baseline.monthly, stack).toBe(0);
      expect(cost(stack).regions).toEqual(["eu-west-1"]);
    }
  });

  it("lists usage-based resources as such, not as free", () => {
    const usage = cost("dev").usageBased.map((a) => a.split(".")[0]);
    expect(new Set(usage)).toEqual(new Set(["aws_cloudwatch_log_group", "aws_elb", "aws_flow_log", "aws_lambda_function", "aws_nat_gateway", "aws_s3_bucket", "aws_sqs_queue"]));
    expect(costText(cost("dev"))).toContain("Monthly cost depends on usage: $0.048 per GB");
  });

  it("puts baseline, estimate and change per stack in the comment, with a per-resource breakdown", () => {
    const body = renderPlanComment(["dev", "staging", "prod"].map((s) => review(s, plans.find((p) => p.stack === s)!.showJson)));
    expect(body).toContain("## Monthly cost estimate");
    expect(body).toContain("| dev | $0.00 | $77.48 | +$77.48 |");
    expect(body).toContain("| prod | $0.00 | $567.85 | +$567.85 |");
    expect(body).toContain("<details><summary><b>prod</b>: $567.85 a month, +$567.85</summary>");
    expect(body).toMatch(/\| `aws_instance\.fleet_blue-0_[0-9A-F]+` \(new\) \| — \| \$71\.84 \| \+\$71\.84 \| Instance usage \(Linux\/UNIX, on-demand, c6i\.large\): 730 hours × \$0\.096 = \$70\.08/);
  });
});

describe("one comment within GitHub's limit", () => {
  let showJson: ShowJson;
  beforeAll(() => {
    showJson = plans.find((p) => p.stack === "dev")!.showJson as ShowJson;
  });
  /** A model section whose size depends on its detail, so the test sees which one was kept. */
  const model = (sizes: Record<ModelDetail, number>) => (detail: ModelDetail) => `## Model\n\nMODEL-${detail}\n${"x".repeat(sizes[detail])}\n`;

  it("keeps everything when it fits: plan, cost with breakdowns, full model section", () => {
    const body = renderPlanComment([review("dev", showJson)], { modelSection: model({ full: 2000, compact: 500, minimal: 10 }) });
    expect(body).toContain("MODEL-full");
    expect(body).toContain("<details><summary><b>dev</b>: $77.48 a month");
    expect(body.indexOf("## Monthly cost estimate")).toBeGreaterThan(body.indexOf("## Terraform plan review"));
  });

  it("cuts addresses, then cost breakdowns, then the model section before any plan warning", () => {
    const bucket = showJson.resource_changes.find((rc) => rc.type === "aws_s3_bucket")!;
    const replaced = withActions(showJson, (rc) => (rc.address === bucket.address ? ["delete", "create"] : undefined));
    const sizes = { full: 40_000, compact: 20_000, minimal: 50 };
    const base = renderPlanComment([review("dev", replaced)], { modelSection: model({ full: 0, compact: 0, minimal: 0 }), maxLength: 1_000_000 });
    const maxLength = base.length + 5_000;
    const body = renderPlanComment([review("dev", replaced)], { modelSection: model(sizes), maxLength });
    expect(body.length).toBeLessThanOrEqual(maxLength);
    expect(body).toContain("MODEL-minimal");
    expect(body).not.toContain("MODEL-full");
    expect(body).toContain(`**REPLACE** \`${bucket.address}\``);
    expect(body).toContain("| dev ⚠️ |");
    expect(body).toContain("| dev | $0.00 | $77.48 | +$77.48 |");
    expect(body).not.toContain("a month, +$77.48</summary>");
    expect(costSection([review("dev", replaced).cost!]).join("\n")).toContain("a month, +$77.48</summary>");
    // When not even the verdict fits, the model section says it was left out; the warnings stay.
    const tight = renderPlanComment([review("dev", replaced)], { modelSection: model({ full: 80_000, compact: 70_000, minimal: 60_000 }), maxLength });
    expect(tight.length).toBeLessThanOrEqual(maxLength);
    expect(tight).toContain("The model section was left out to fit GitHub's comment size limit");
    expect(tight).toContain(`**REPLACE** \`${bucket.address}\``);
  });
});
