/**
 * Prices one resource from its Terraform values (as `terraform show -json` gives them) with the
 * region's table. A resource is broken into cost components, Infracost-style: fixed monthly ones
 * (hours x hourly price, GB x GB-month price), usage-based ones (a unit price, no amount: "Monthly
 * cost depends on usage") and ones that cannot be priced, each saying why. Pure.
 */
import { FREE_TYPES, HOURS_PER_MONTH, type RegionPrices } from "./cost-prices.js";

export interface CostComponent {
  readonly name: string;
  /** Fixed monthly components: quantity x unit price = monthly. */
  readonly quantity?: number;
  readonly unit?: string;
  readonly unitPrice?: number;
  readonly monthly?: number;
  /** Usage-based: the unit price in words; the amount is not known from the plan. */
  readonly usage?: string;
  /** Why this component has no price. */
  readonly notPriced?: string;
}

export interface ResourceCost {
  readonly address: string;
  readonly type: string;
  readonly components: readonly CostComponent[];
  /** Set for resources AWS does not bill by themselves. */
  readonly free?: string;
  /** Sum of the fixed components. */
  readonly monthly: number;
}

export interface PricedResource {
  readonly address: string;
  readonly type: string;
  readonly values: Readonly<Record<string, unknown>>;
}

/** A unit price: at least cents, more digits only where the price has them ($0.20, $0.048, $0.00001667). */
export function unitMoney(x: number): string {
  const digits = String(Number(x.toPrecision(4))).split(".")[1]?.length ?? 0;
  return `$${x.toFixed(Math.max(2, digits))}`;
}
const money = unitMoney;

function fixed(name: string, quantity: number, unit: string, unitPrice: number): CostComponent {
  return { name, quantity, unit, unitPrice, monthly: quantity * unitPrice };
}
const hourly = (name: string, price: number, count = 1) => fixed(name, HOURS_PER_MONTH * count, "hours", price);
const usage = (name: string, text: string): CostComponent => ({ name, usage: text });
const notPriced = (name: string, reason: string): CostComponent => ({ name, notPriced: reason });

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const numOf = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? (v.filter((x) => x && typeof x === "object") as Record<string, unknown>[]) : []);

/** An EBS volume's storage (and gp3 performance above the included baseline). */
function volume(prefix: string, v: Record<string, unknown>, prices: RegionPrices): CostComponent[] {
  // aws_instance's block devices say volume_type, aws_ebs_volume says type.
  const type = str(v.volume_type) ?? str(v.type);
  const size = numOf(v.volume_size) ?? numOf(v.size);
  const name = `${prefix}Storage (${type ?? "type unknown"})`;
  if (!type) return [notPriced(name, "volume type unknown until apply")];
  if (size === undefined) return [notPriced(name, "volume size unknown until apply")];
  const gbMonth = prices.ebsGbMonth[type];
  if (gbMonth === undefined) return [notPriced(name, `no ${type} price in the ${prices.region} table`)];
  const out = [fixed(name, size, "GB", gbMonth)];
  if (type === "gp3") {
    const iops = numOf(v.iops) ?? 3000;
    const throughput = numOf(v.throughput) ?? 125;
    if (iops > 3000) out.push(fixed(`${prefix}Provisioned IOPS above 3,000 (gp3)`, iops - 3000, "IOPS", prices.gp3IopsMonth));
    if (throughput > 125) out.push(fixed(`${prefix}Provisioned throughput above 125 MB/s (gp3)`, throughput - 125, "MB/s", prices.gp3ThroughputMonth));
  }
  return out;
}

type Pricer = (values: Readonly<Record<string, unknown>>, prices: RegionPrices) => CostComponent[];

const PRICERS: Readonly<Record<string, Pricer>> = {
  aws_instance: (v, p) => {
    const type = str(v.instance_type);
    const out: CostComponent[] = [];
    const name = `Instance usage (Linux/UNIX, on-demand, ${type ?? "type unknown"})`;
    if (!type) out.push(notPriced(name, "instance type unknown until apply"));
    else if (str(v.tenancy) && v.tenancy !== "default") out.push(notPriced(name, `${String(v.tenancy)} tenancy is not in the table`));
    else if (list(v.instance_market_options).length > 0) out.push(notPriced(name, "spot/capacity-block market options are not in the table"));
    else if (p.ec2LinuxHourly[type] === undefined) out.push(notPriced(name, `no ${type} price in the ${p.region} table`));
    else out.push(hourly(name, p.ec2LinuxHourly[type]));
    // T instances default to unlimited credits: bursting above the baseline is billed per vCPU-hour.
    const credits = str(list(v.credit_specification)[0]?.cpu_credits);
    if (type && /^t\d/.test(type) && credits !== "standard") {
      out.push(usage("CPU credits above the baseline (unlimited mode)", `${money(p.ec2SurplusCreditPerVcpuHour)} per vCPU-hour`));
    }
    for (const root of list(v.root_block_device)) out.push(...volume("Root volume: ", root, p));
    if (list(v.root_block_device).length === 0) out.push(notPriced("Root volume", "root volume size and type unknown until apply (the AMI decides)"));
    for (const ebs of list(v.ebs_block_device)) out.push(...volume(`Volume ${str(ebs.device_name) ?? ""}: `, ebs, p));
    if (v.associate_public_ip_address === true) out.push(hourly("Public IPv4 address", p.publicIpv4Hourly));
    return out;
  },
  aws_ebs_volume: (v, p) => volume("", v, p),
  aws_nat_gateway: (v, p) => [hourly("NAT gateway", p.natGatewayHourly), usage("Data processed", `${money(p.natGatewayPerGb)} per GB`)],
  aws_eip: (_v, p) => [hourly("Public IPv4 address", p.publicIpv4Hourly)],
  aws_elb: (v, p) => [
    hourly("Classic Load Balancer", p.clbHourly),
    usage("Data processed", `${money(p.clbPerGb)} per GB`),
    ...(v.internal === true ? [] : [usage("Public IPv4 addresses of the load balancer (AWS sets how many)", `${money(p.publicIpv4Hourly)} per address-hour`)]),
  ],
  aws_cloudwatch_metric_alarm: (v, p) => {
    if (str(v.threshold_metric_id)) return [notPriced("Anomaly detection alarm", "anomaly detection alarms are not in the table")];
    const metrics = list(v.metric_query).filter((q) => list(q.metric).length > 0).length || 1;
    const queries = list(v.metric_query);
    const periods = queries.length ? queries.flatMap((q) => list(q.metric).map((m) => numOf(m.period))) : [numOf(v.period)];
    const highResolution = periods.some((period) => period !== undefined && period < 60);
    return [fixed(`${highResolution ? "High" : "Standard"}-resolution alarm metrics`, metrics, "alarm metrics", highResolution ? p.alarmHighResolutionMonth : p.alarmStandardMonth)];
  },
  aws_vpc_endpoint: (v, p) => {
    const kind = str(v.vpc_endpoint_type) ?? "Gateway";
    if (kind === "Gateway") return [];
    if (kind !== "Interface") return [notPriced(`${kind} endpoint`, `${kind} endpoints are not in the table`)];
    const zones = Array.isArray(v.subnet_ids) ? v.subnet_ids.length : undefined;
    if (!zones) return [notPriced("Interface endpoint", "its subnets (one endpoint-hour each) are unknown until apply")];
    return [hourly(`Interface endpoint (${zones} zone${zones === 1 ? "" : "s"})`, p.interfaceEndpointHourly, zones), usage("Data processed", `${money(p.interfaceEndpointPerGb)} per GB`)];
  },
  aws_flow_log: (_v, p) => [usage("Flow log records (vended log ingestion)", `${money(p.logsIngestPerGb)} per GB`)],
  aws_cloudwatch_log_group: (_v, p) => [usage("Log ingestion", `${money(p.logsIngestPerGb)} per GB`), usage("Log storage", `${money(p.logsStorageGbMonth)} per GB-month`)],
  aws_lambda_function: (v, p) => [
    usage("Requests", `${money(p.lambdaPerMillionRequests)} per 1M requests`),
    usage(`Duration (${numOf(v.memory_size) ?? 128} MB)`, `${money(p.lambdaPerGbSecond)} per GB-second`),
  ],
  aws_s3_bucket: (_v, p) => [usage("Standard storage", `${money(p.s3StandardGbMonth)} per GB-month`), usage("Requests", "per request, by class")],
  aws_sqs_queue: (_v, p) => [usage("Requests", `${money(p.sqsPerMillionRequests)} per 1M requests`)],
  aws_kms_key: (_v, p) => [fixed("Customer managed key", 1, "months", p.kmsKeyMonth)],
};

/** The cost of one resource in `region` (null: the region is unknown). */
export function priceResource(resource: PricedResource, region: string | null, tables: Readonly<Record<string, RegionPrices>>): ResourceCost {
  const { address, type } = resource;
  const free = FREE_TYPES[type];
  if (free !== undefined) return { address, type, components: [], free, monthly: 0 };
  const pricer = PRICERS[type];
  const prices = region === null ? undefined : tables[region];
  let components: CostComponent[];
  if (!pricer) components = [notPriced(type, `resource type ${type} is not in the price table`)];
  else if (region === null) components = [notPriced(type, "the provider's region is not known from the plan")];
  else if (!prices) components = [notPriced(type, `no price table for region ${region}`)];
  else components = pricer(resource.values, prices);
  if (pricer && components.length === 0) return { address, type, components, free: "no charge", monthly: 0 };
  return { address, type, components, monthly: components.reduce((sum, c) => sum + (c.monthly ?? 0), 0) };
}

export const isUnpriced = (r: ResourceCost) => r.components.some((c) => c.notPriced !== undefined);
export const isUsageBased = (r: ResourceCost) => r.components.some((c) => c.usage !== undefined);
