/**
 * The cost estimate on plans whose prices were worked out by hand (eu-west-1 table), on what the
 * table does not know (a resource type, an instance type, a region), and on a destroy.
 * Real plans of the three stacks are priced in plan-stacks.spec.ts.
 */
import { describe, expect, it } from "vitest";
import { loadEnvironments } from "../environments/index.js";
import { priceResource } from "./cost-estimate.js";
import { costBreakdown, costSection, costText, dollars, signedDollars } from "./cost-format.js";
import { stackCost } from "./cost-plan.js";
import { PRICE_TABLES } from "./cost-prices.js";

type Resource = { address: string; type: string; values: Record<string, unknown> };

/** A `terraform show -json` document: state before, planned values after, provider region. */
function plan(before: Resource[], after: Resource[], region: unknown = { constant_value: "eu-west-1" }): unknown {
  const module = (resources: Resource[]) => ({ root_module: { resources: resources.map((r) => ({ ...r, mode: "managed", name: r.address.split(".")[1] })) } });
  return {
    format_version: "1.2",
    prior_state: { format_version: "1.0", values: module(before) },
    planned_values: module(after),
    configuration: {
      provider_config: { aws: { name: "aws", expressions: { region } } },
      root_module: { resources: [...before, ...after].map((r) => ({ address: r.address, provider_config_key: "aws" })) },
    },
  };
}

const instance = (name: string, type: string, values: Record<string, unknown> = {}): Resource => ({
  address: `aws_instance.${name}`,
  type: "aws_instance",
  values: { instance_type: type, credit_specification: [{ cpu_credits: "standard" }], root_block_device: [{ volume_size: 16, volume_type: "gp3" }], ...values },
});
const nat: Resource = { address: "aws_nat_gateway.a", type: "aws_nat_gateway", values: { connectivity_type: "public" } };
const eip: Resource = { address: "aws_eip.a", type: "aws_eip", values: { domain: "vpc" } };
const elb: Resource = { address: "aws_elb.lb", type: "aws_elb", values: {} };
const alarm = (name: string, period: number): Resource => ({ address: `aws_cloudwatch_metric_alarm.${name}`, type: "aws_cloudwatch_metric_alarm", values: { period, metric_query: [] } });
const vpc: Resource = { address: "aws_vpc.main", type: "aws_vpc", values: {} };

describe("monthly cost of a plan, checked by hand", () => {
  it("prices the dev layout to the cent: instance, gp3 root volume, NAT, public IPv4, CLB, alarms", () => {
    const cost = stackCost("dev", plan([], [instance("web", "t3.small"), nat, eip, elb, alarm("a", 60), alarm("b", 60), alarm("c", 60), vpc]));
    // 730 h x $0.0228 = $16.644; 16 GB x $0.088 = $1.408; NAT 730 x $0.048 = $35.04; IPv4 730 x $0.005 = $3.65;
    // CLB 730 x $0.028 = $20.44; 3 alarms x $0.10 = $0.30. Total $77.482.
    expect(dollars(cost.planned.monthly)).toBe("$77.48");
    expect(cost.baseline.monthly).toBe(0);
    expect(signedDollars(cost.change)).toBe("+$77.48");
    const web = cost.planned.resources.find((r) => r.address === "aws_instance.web")!;
    expect(web.components.map((c) => [c.name, c.quantity, c.monthly === undefined ? undefined : dollars(c.monthly)])).toEqual([
      ["Instance usage (Linux/UNIX, on-demand, t3.small)", 730, "$16.64"],
      ["Root volume: Storage (gp3)", 16, "$1.41"],
    ]);
    expect(cost.planned.resources.find((r) => r.address === "aws_vpc.main")!.free).toBe("VPC");
    expect(cost.notPriced).toEqual([]);
    expect(cost.usageBased).toEqual(["aws_elb.lb", "aws_nat_gateway.a"]);
  });

  it("prices gp3 performance above the included baseline, high-resolution alarms and interface endpoints per zone", () => {
    const cost = stackCost(
      "x",
      plan(
        [],
        [
          { address: "aws_ebs_volume.data", type: "aws_ebs_volume", values: { type: "gp3", size: 100, iops: 4000, throughput: 250 } },
          alarm("fast", 10),
          { address: "aws_vpc_endpoint.cd", type: "aws_vpc_endpoint", values: { vpc_endpoint_type: "Interface", subnet_ids: ["subnet-a", "subnet-b"] } },
          { address: "aws_vpc_endpoint.s3", type: "aws_vpc_endpoint", values: { vpc_endpoint_type: "Gateway" } },
          instance("burst", "t3.medium", { credit_specification: [], root_block_device: [{ volume_size: 8, volume_type: "gp2" }], associate_public_ip_address: true }),
        ],
      ),
    );
    const monthly = Object.fromEntries(cost.planned.resources.map((r) => [r.address, dollars(r.monthly)]));
    // 100 GB x $0.088 = $8.80; 1,000 IOPS x $0.0055 = $5.50; 125 MB/s x $0.044 = $5.50.
    expect(monthly["aws_ebs_volume.data"]).toBe("$19.80");
    expect(monthly["aws_cloudwatch_metric_alarm.fast"]).toBe("$0.30");
    // 2 zones x 730 h x $0.011 = $16.06
    expect(monthly["aws_vpc_endpoint.cd"]).toBe("$16.06");
    expect(cost.planned.resources.find((r) => r.address === "aws_vpc_endpoint.s3")!.free).toBe("no charge");
    // 730 x $0.0456 = $33.288; 8 GB gp2 x $0.11 = $0.88; public IPv4 $3.65 -> $37.818
    expect(monthly["aws_instance.burst"]).toBe("$37.82");
    expect(cost.usageBased).toContain("aws_instance.burst"); // unlimited CPU credits
    // $19.80 + $0.30 + $16.06 + $37.818 = $73.978
    expect(dollars(cost.planned.monthly)).toBe("$73.98");
  });

  it("lowers the estimate when the plan destroys an instance, and says so per resource", () => {
    const before = [
      instance("blue", "c6i.large", { root_block_device: [{ volume_size: 20, volume_type: "gp3" }] }),
      instance("green", "c6i.large", { root_block_device: [{ volume_size: 20, volume_type: "gp3" }] }),
      nat,
    ];
    const cost = stackCost("prod", plan(before, [before[0]!, nat]));
    // each: 730 x $0.096 = $70.08 + 20 GB x $0.088 = $1.76 -> $71.84; NAT $35.04
    expect(dollars(cost.baseline.monthly)).toBe("$178.72");
    expect(dollars(cost.planned.monthly)).toBe("$106.88");
    expect(signedDollars(cost.change)).toBe("-$71.84");
    const breakdown = costBreakdown(cost).join("\n");
    expect(breakdown).toContain("| `aws_instance.green` (destroyed) | $71.84 | — | -$71.84 |");
    expect(breakdown).toContain("| `aws_instance.blue` | $71.84 | $71.84 | $0.00 |");
    expect(costSection([cost]).join("\n")).toContain("| prod | $178.72 | $106.88 | -$71.84 (-40%) |");
  });

  it("prices a change of instance type as the difference", () => {
    const cost = stackCost("staging", plan([instance("web", "t3.small")], [instance("web", "t3.medium")]));
    // (0.0456 - 0.0228) x 730 = $16.644
    expect(signedDollars(cost.change)).toBe("+$16.64");
  });
});

describe("what the price table does not know is 'not priced', never $0", () => {
  it("a resource type missing from the table", () => {
    const cost = stackCost("dev", plan([], [instance("web", "t3.small"), { address: "aws_lb.app", type: "aws_lb", values: { load_balancer_type: "application" } }]));
    expect(cost.notPriced).toEqual(["aws_lb.app"]);
    const lb = cost.planned.resources.find((r) => r.address === "aws_lb.app")!;
    expect(lb.free).toBeUndefined();
    expect(lb.components).toEqual([{ name: "aws_lb", notPriced: "resource type aws_lb is not in the price table" }]);
    expect(dollars(cost.planned.monthly)).toBe("$18.05");
    expect(costText(cost)).toContain("OVERALL TOTAL");
    expect(costText(cost)).toMatch(/\$18\.05 \+ 1 not priced/);
    expect(costText(cost)).toContain("not priced: resource type aws_lb is not in the price table");
    const section = costSection([cost]).join("\n");
    expect(section).toContain("| dev | $0.00 | $18.05 + 1 not priced | +$18.05 |");
    expect(section).toContain("Not priced (missing from the price table, so the totals are lower bounds): `dev: aws_lb.app`");
  });

  it("an instance type missing from the table", () => {
    const cost = stackCost("dev", plan([], [instance("arm", "m7g.large")]));
    expect(cost.notPriced).toEqual(["aws_instance.arm"]);
    expect(cost.planned.resources[0]!.components[0]).toEqual({ name: "Instance usage (Linux/UNIX, on-demand, m7g.large)", notPriced: "no m7g.large price in the eu-west-1 table" });
    // the root volume is still priced: 16 x $0.088
    expect(dollars(cost.planned.monthly)).toBe("$1.41");
  });

  it("a region missing from the table: everything billable is not priced, free resources stay free", () => {
    const cost = stackCost("dev", plan([], [instance("web", "t3.small"), nat, vpc], { constant_value: "ap-south-2" }));
    expect(cost.regions).toEqual(["ap-south-2"]);
    expect(cost.notPriced).toEqual(["aws_instance.web", "aws_nat_gateway.a"]);
    expect(cost.planned.monthly).toBe(0);
    expect(cost.planned.resources.find((r) => r.address === "aws_nat_gateway.a")!.components).toEqual([{ name: "aws_nat_gateway", notPriced: "no price table for region ap-south-2" }]);
    expect(costText(cost)).toContain("Stack: dev (no price table for ap-south-2)");
    expect(costSection([cost]).join("\n")).toContain("| dev | $0.00 | $0.00 + 2 not priced | $0.00 |");
  });

  it("a region the plan does not state (set outside the configuration)", () => {
    const cost = stackCost("dev", plan([], [nat], { references: ["var.region"] }));
    expect(cost.regions).toEqual([null]);
    expect(cost.planned.resources[0]!.components).toEqual([{ name: "aws_nat_gateway", notPriced: "the provider's region is not known from the plan" }]);
  });

  it("an instance whose size the AMI decides", () => {
    const r = priceResource({ address: "aws_instance.x", type: "aws_instance", values: { instance_type: "t3.small", credit_specification: [{ cpu_credits: "standard" }] } }, "eu-west-1", PRICE_TABLES);
    expect(r.components.find((c) => c.notPriced)).toEqual({ name: "Root volume", notPriced: "root volume size and type unknown until apply (the AMI decides)" });
  });

  it("refuses a document that is not terraform show -json, naming the stack", () => {
    expect(() => stackCost("dev", { resource_changes: [] })).toThrow(/^dev: not the output of terraform show -json/);
  });
});

describe("the price table", () => {
  it("has a table, with sources and a date, for every region and instance type the environments use", () => {
    for (const config of Object.values(loadEnvironments())) {
      const table = PRICE_TABLES[config.region];
      expect(table, config.name).toBeDefined();
      expect(table!.ec2LinuxHourly[config.fleet.instanceType], `${config.name} ${config.fleet.instanceType}`).toBeGreaterThan(0);
      expect(table!.read).toMatch(/^\d{4}-\d{2}-\d{2}/);
      expect(table!.sources.every((s) => s.startsWith("https://aws.amazon.com/"))).toBe(true);
    }
  });
});
