/**
 * `npm run plan`: synthesize every stack, then init, validate and plan each one with real
 * terraform (offline through a provider mirror when one is available), and print what each
 * plan would do. `--json` prints the summaries as JSON; `--out DIR` also keeps each saved
 * plan and its `terraform show -json` rendering there (plan review artifacts); `--cost` adds each
 * stack's monthly cost estimate (terraform/cost-*.ts) from that rendering.
 */
import { spawnSync } from "node:child_process";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { costText } from "./cost-format.js";
import { stackCost, type StackCost } from "./cost-plan.js";
import { planStacks, type StackPlan } from "./plan-stacks.js";
import { TerraformMissingError, terraformVersion } from "./terraform-runner.js";

const ROOT = resolve(import.meta.dirname, "..");

function formatPlan(plan: StackPlan): string {
  const { counts, byType, dangerous } = plan.summary;
  const lines = [
    `${plan.stack}: ${counts.create} to add, ${counts.update} to change, ${counts.replace} to replace, ${counts.delete} to destroy` +
      `  (init ${plan.seconds.init}s, validate ${plan.seconds.validate}s, plan ${plan.seconds.plan}s)`,
    ...Object.entries(byType)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([type, actions]) =>
          `  ${type.padEnd(48)} ${Object.entries(actions)
            .map(([action, n]) => `${action} ${n}`)
            .join(", ")}`,
      ),
    ...dangerous.map((d) => `  !! ${d.action.toUpperCase()} of stateful resource ${d.address}`),
  ];
  return lines.join("\n");
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { json: { type: "boolean", default: false }, out: { type: "string" }, cost: { type: "boolean", default: false } },
    allowPositionals: true,
  });
  if (!terraformVersion()) throw new TerraformMissingError();

  const synth = spawnSync(process.execPath, [join(ROOT, "stacks", "run-app.mjs"), "main.ts"], { cwd: ROOT, stdio: "inherit" });
  if (synth.status !== 0) return synth.status ?? 1;

  const plans = await planStacks({
    synthDir: join(ROOT, "cdktf.out"),
    workRoot: join(ROOT, ".tmp", "terraform"),
    stacks: positionals.length ? positionals : undefined,
    showJson: Boolean(values.out) || values.cost,
  });
  const costs = new Map<string, StackCost>(values.cost ? plans.map((plan) => [plan.stack, stackCost(plan.stack, plan.showJson)]) : []);
  if (values.out) {
    const out = resolve(values.out);
    await mkdir(out, { recursive: true });
    for (const plan of plans) {
      await copyFile(join(plan.workspace, "plan.bin"), join(out, `${plan.stack}.tfplan`));
      await writeFile(join(out, `${plan.stack}.plan.json`), JSON.stringify(plan.showJson));
    }
  }
  if (values.json) {
    console.log(
      JSON.stringify(
        plans.map(({ stack, summary, seconds }) => ({ stack, ...summary, seconds, ...(costs.has(stack) ? { cost: costs.get(stack) } : {}) })),
        null,
        2,
      ),
    );
  } else {
    console.log(plans.map((plan) => [formatPlan(plan), ...(costs.has(plan.stack) ? ["", costText(costs.get(plan.stack)!)] : [])].join("\n")).join("\n\n"));
  }
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
