/**
 * A stack's monthly cost from `terraform show -json` of its plan: the baseline prices the state's
 * current resources (`prior_state`), the estimate prices what the plan leaves (`planned_values`),
 * both with the region of the AWS provider each resource uses.
 */
import { z } from "zod";
import { isUnpriced, isUsageBased, priceResource, type PricedResource, type ResourceCost } from "./cost-estimate.js";
import { PRICE_TABLES, type RegionPrices } from "./cost-prices.js";

export interface CostEstimate {
  readonly resources: readonly ResourceCost[];
  /** Sum of every fixed component: a lower bound when something is not priced. */
  readonly monthly: number;
}

export interface StackCost {
  readonly stack: string;
  /** Region(s) of the stack's AWS providers (null: one whose region the plan does not say; none: no AWS provider). */
  readonly regions: readonly (string | null)[];
  readonly baseline: CostEstimate;
  readonly planned: CostEstimate;
  readonly change: number;
  /** Resources priced in neither estimate, by address (types or regions missing from the table). */
  readonly notPriced: readonly string[];
  readonly usageBased: readonly string[];
  /** The tables used, for the source and date lines. */
  readonly tables: readonly RegionPrices[];
}

interface Module {
  resources?: Array<{ address: string; mode: string; type: string; values?: Record<string, unknown> | null }>;
  child_modules?: Module[];
}

const ModuleSchema: z.ZodType<Module> = z.lazy(() =>
  z.object({
    resources: z.array(z.object({ address: z.string(), mode: z.string(), type: z.string(), values: z.record(z.string(), z.unknown()).nullish() })).optional(),
    child_modules: z.array(ModuleSchema).optional(),
  }),
);

const Expression = z.object({ constant_value: z.unknown().optional() }).passthrough();
const ShowJson = z.object({
  format_version: z.string(),
  prior_state: z.object({ values: z.object({ root_module: ModuleSchema }).optional() }).optional(),
  planned_values: z.object({ root_module: ModuleSchema }).optional(),
  configuration: z
    .object({
      provider_config: z.record(z.string(), z.object({ name: z.string(), expressions: z.record(z.string(), z.unknown()).optional() })).optional(),
      root_module: z.object({ resources: z.array(z.object({ address: z.string(), provider_config_key: z.string().optional() })).optional() }).optional(),
    })
    .optional(),
});
type Parsed = z.infer<typeof ShowJson>;

function managed(module: Module | undefined): PricedResource[] {
  if (!module) return [];
  return [...(module.resources ?? []).filter((r) => r.mode === "managed").map((r) => ({ address: r.address, type: r.type, values: r.values ?? {} })), ...(module.child_modules ?? []).flatMap(managed)];
}

/** Provider config key -> region, when the region is a constant in the configuration. */
function providerRegions(plan: Parsed): Map<string, string | null> {
  const regions = new Map<string, string | null>();
  for (const [key, config] of Object.entries(plan.configuration?.provider_config ?? {})) {
    if (config.name !== "aws") continue;
    const region = Expression.safeParse(config.expressions?.region);
    regions.set(key, region.success && typeof region.data.constant_value === "string" ? region.data.constant_value : null);
  }
  return regions;
}

/** The region of each resource: its provider's (by its configuration address), else the default `aws` provider's. */
function regionOf(plan: Parsed, regions: Map<string, string | null>): (address: string) => string | null {
  const keys = new Map((plan.configuration?.root_module?.resources ?? []).map((r) => [r.address, r.provider_config_key ?? "aws"]));
  return (address) => {
    const key = keys.get(address.replace(/\[[^\]]*\]$/, "")) ?? "aws";
    return regions.get(key) ?? regions.get("aws") ?? null;
  };
}

function estimate(resources: readonly PricedResource[], region: (address: string) => string | null, tables: Readonly<Record<string, RegionPrices>>): CostEstimate {
  const priced = resources.map((r) => priceResource(r, region(r.address), tables)).sort((a, b) => a.address.localeCompare(b.address));
  return { resources: priced, monthly: priced.reduce((sum, r) => sum + r.monthly, 0) };
}

export function stackCost(stack: string, showJson: unknown, tables: Readonly<Record<string, RegionPrices>> = PRICE_TABLES): StackCost {
  const parsed = ShowJson.safeParse(showJson);
  if (!parsed.success) throw new Error(`${stack}: not the output of terraform show -json: ${z.prettifyError(parsed.error)}`);
  const plan = parsed.data;
  const regions = providerRegions(plan);
  const region = regionOf(plan, regions);
  const baseline = estimate(managed(plan.prior_state?.values?.root_module), region, tables);
  const planned = estimate(managed(plan.planned_values?.root_module), region, tables);
  const addresses = (pick: (r: ResourceCost) => boolean) => [...new Set([...baseline.resources, ...planned.resources].filter(pick).map((r) => r.address))].sort();
  const used = [...new Set([...regions.values()])];
  return {
    stack,
    regions: used,
    baseline,
    planned,
    change: planned.monthly - baseline.monthly,
    notPriced: addresses(isUnpriced),
    usageBased: addresses(isUsageBased),
    tables: used.flatMap((r) => (r !== null && tables[r] ? [tables[r]] : [])),
  };
}
