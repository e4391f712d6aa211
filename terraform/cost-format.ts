/**
 * The cost estimate for people: a text table per stack for `npm run plan -- --cost` (laid out
 * like `infracost breakdown`), and the cost section of the plan review comment (like Infracost's
 * pull-request comment: baseline, new estimate and change per stack, then a collapsible
 * per-resource breakdown). Pure.
 */
import { isUnpriced, isUsageBased, unitMoney, type ResourceCost } from "./cost-estimate.js";
import type { StackCost } from "./cost-plan.js";

/** $1,234.56; cents always. */
export function dollars(x: number): string {
  const cents = Math.round(Math.abs(x) * 100);
  const text = (cents / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return `${x < 0 && cents > 0 ? "-" : ""}$${text}`;
}

/** +$12.30 / -$4.00 / $0.00 */
export function signedDollars(x: number): string {
  const cents = Math.round(x * 100);
  return cents > 0 ? `+${dollars(x)}` : dollars(x);
}

function percent(change: number, baseline: number): string {
  const cents = Math.round(change * 100);
  if (cents === 0) return "";
  if (Math.round(baseline * 100) === 0) return "";
  return ` (${cents > 0 ? "+" : ""}${Math.round((change / baseline) * 100)}%)`;
}

const qty = (x: number) => (Number.isInteger(x) ? x.toLocaleString("en-US") : x.toLocaleString("en-US", { maximumFractionDigits: 2 }));

/** " (not priced: ...)" when part of the estimate is missing: the total is a lower bound then. */
function lowerBound(cost: StackCost): string {
  return cost.notPriced.length ? ` + ${cost.notPriced.length} not priced` : "";
}

function regionLine(cost: StackCost): string {
  const known = cost.regions.filter((r): r is string => r !== null);
  const missing = known.filter((r) => !cost.tables.some((t) => t.region === r));
  const parts = [
    ...cost.tables.map((t) => `${t.region} on-demand list prices (read ${t.read.split(",")[0]})`),
    ...missing.map((r) => `no price table for ${r}`),
    ...(cost.regions.includes(null) ? ["region unknown"] : []),
  ];
  return cost.regions.length === 0 ? "no AWS provider in the plan" : parts.join("; ");
}

/** `npm run plan -- --cost`: one block per stack. */
export function costText(cost: StackCost): string {
  const nameWidth = 72;
  const line = (name: string, qtyText: string, unit: string, monthly: string) => ` ${name.padEnd(nameWidth)} ${qtyText.padStart(10)}  ${unit.padEnd(14)} ${monthly.padStart(12)}`;
  const out = [`Stack: ${cost.stack} (${regionLine(cost)})`, "", line("Name", "Monthly qty", "Unit", "Monthly cost"), ""];
  const free: ResourceCost[] = [];
  for (const r of cost.planned.resources) {
    if (r.free !== undefined) {
      free.push(r);
      continue;
    }
    out.push(` ${r.address}`);
    r.components.forEach((c, i) => {
      const branch = i === r.components.length - 1 ? "└─" : "├─";
      const name = `${branch} ${c.name}`;
      if (c.monthly !== undefined) out.push(line(name, qty(c.quantity!), c.unit!, dollars(c.monthly)));
      else if (c.usage !== undefined) out.push(` ${name.padEnd(nameWidth)}  Monthly cost depends on usage: ${c.usage}`);
      else out.push(` ${name.padEnd(nameWidth)}  not priced: ${c.notPriced}`);
    });
    out.push("");
  }
  out.push(line("OVERALL TOTAL", "", "", `${dollars(cost.planned.monthly)}${lowerBound(cost)}`));
  out.push(
    "",
    ` baseline (state now) ${dollars(cost.baseline.monthly)} -> estimate ${dollars(cost.planned.monthly)}: ${signedDollars(cost.change)}${percent(cost.change, cost.baseline.monthly)}`,
    ` ${cost.planned.resources.length} resources: ${cost.planned.resources.filter((r) => r.monthly > 0).length} with a fixed monthly cost, ${cost.usageBased.length} depend on usage, ${free.length} free, ${cost.notPriced.length} not priced${cost.notPriced.length ? `: ${cost.notPriced.join(", ")}` : ""}`,
  );
  return out.join("\n");
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

/** The per-stack table of the comment. */
export function costSummaryTable(costs: readonly StackCost[]): string[] {
  return [
    "| Stack | Baseline | New monthly estimate | Change |",
    "| --- | ---: | ---: | ---: |",
    ...costs.map((c) => `| ${cell(c.stack)} | ${dollars(c.baseline.monthly)} | ${dollars(c.planned.monthly)}${lowerBound(c)} | ${signedDollars(c.change)}${percent(c.change, c.baseline.monthly)} |`),
  ];
}

function componentText(r: ResourceCost): string {
  return r.components
    .map((c) =>
      c.monthly !== undefined
        ? `${c.name}: ${qty(c.quantity!)} ${c.unit} × ${unitMoney(c.unitPrice!)} = ${dollars(c.monthly)}`
        : c.usage !== undefined
          ? `${c.name}: depends on usage, ${c.usage}`
          : `${c.name}: **not priced** (${c.notPriced})`,
    )
    .join("<br>");
}

/** The collapsible per-resource breakdown of one stack: every non-free resource, before and after. */
export function costBreakdown(cost: StackCost): string[] {
  const before = new Map(cost.baseline.resources.map((r) => [r.address, r]));
  const after = new Map(cost.planned.resources.map((r) => [r.address, r]));
  const addresses = [...new Set([...before.keys(), ...after.keys()])].sort();
  const rows: string[] = [];
  let free = 0;
  for (const address of addresses) {
    const was = before.get(address);
    const now = after.get(address);
    const shown = now ?? was!;
    if (shown.free !== undefined && (was?.free !== undefined || !was) && (now?.free !== undefined || !now)) {
      free += now ? 1 : 0;
      continue;
    }
    const delta = (now?.monthly ?? 0) - (was?.monthly ?? 0);
    const status = !now ? "destroyed" : !was ? "new" : "";
    const monthly = isUnpriced(shown) ? `${dollars(shown.monthly)} + not priced` : isUsageBased(shown) && shown.monthly === 0 ? "usage" : dollars(now?.monthly ?? 0);
    rows.push(`| \`${cell(address)}\`${status ? ` (${status})` : ""} | ${was ? dollars(was.monthly) : "—"} | ${now ? monthly : "—"} | ${signedDollars(delta)} | ${cell(componentText(shown))} |`);
  }
  return [
    `<details><summary><b>${cell(cost.stack)}</b>: ${dollars(cost.planned.monthly)}${lowerBound(cost)} a month, ${signedDollars(cost.change)}</summary>`,
    "",
    "| Resource | Baseline | New | Change | Components |",
    "| --- | ---: | ---: | ---: | --- |",
    ...rows,
    "",
    `${free} free resource${free === 1 ? "" : "s"} (VPC, IAM, security groups, bucket settings, CodeDeploy to EC2) not listed. Prices: ${regionLine(cost)}.`,
    "",
    "</details>",
  ];
}

/** The cost section of the plan review comment. `breakdown: false` leaves the per-resource details out (to fit). */
export function costSection(costs: readonly StackCost[], options: { breakdown?: boolean } = {}): string[] {
  if (costs.length === 0) return [];
  const sources = [...new Map(costs.flatMap((c) => c.tables).map((t) => [t.region, t])).values()];
  const notPriced = costs.flatMap((c) => c.notPriced.map((a) => `${c.stack}: ${a}`));
  return [
    "## Monthly cost estimate",
    "",
    ...costSummaryTable(costs),
    "",
    "On-demand list prices, 730 hours a month. Monthly cost depends on usage for NAT and load balancer data, logs, Lambda, S3 and SQS: not included in the totals.",
    ...(notPriced.length ? ["", "> [!WARNING]", `> Not priced (missing from the price table, so the totals are lower bounds): ${notPriced.map((a) => `\`${cell(a)}\``).join(", ")}`] : []),
    ...(sources.length
      ? ["", `Price table: ${sources.map((t) => `${t.region} read ${t.read.split(",")[0]} from ${t.sources[0]} and the other pages listed in terraform/cost-prices.ts`).join("; ")}.`]
      : []),
    "",
    ...(options.breakdown === false ? [] : costs.flatMap((c) => [...costBreakdown(c), ""])),
  ];
}
