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
import type { Block } from "../stacks/synthesized.js";
import { OFFLINE_OVERRIDE_FILE } from "./offline-workspace.js";
import { planStacks, type StackPlan } from "./plan-stacks.js";
import { TerraformMissingError, terraformVersion } from "./terraform-cli.js";

const synthDir = await mkdtemp(join(tmpdir(), "synth-"));
let plans: StackPlan[];

beforeAll(async () => {
  if (!terraformVersion()) throw new TerraformMissingError();
  buildApp(loadEnvironments(), { projectRoot: resolve(import.meta.dirname, ".."), outdir: synthDir }).app.synth();
  plans = await planStacks({ synthDir, workRoot: join(synthDir, "work") });
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
