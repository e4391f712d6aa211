/**
 * The Classic Load Balancer behind the LoadBalancer interface: registrations from
 * DescribeLoadBalancers, slots and environments from the instances' EC2 tags, health from
 * DescribeInstanceHealth. Deregistration returns at once: the CLB drains by itself for the
 * connection-draining timeout.
 */
import { DescribeInstancesCommand, type Instance } from "@aws-sdk/client-ec2";
import {
  DeregisterInstancesFromLoadBalancerCommand,
  DescribeInstanceHealthCommand,
  DescribeLoadBalancersCommand,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { ENVIRONMENT_TAG_KEY, SLOT_TAG_KEY, SLOTS, type Slot } from "../environments/names.js";
import { aws, ReleaseError, type AwsClients } from "./aws.js";
import type { LoadBalancer, RegisteredInstance } from "./load-balancer.js";

function isSlot(value: string | undefined): value is Slot {
  return (SLOTS as readonly string[]).includes(value ?? "");
}

function tag(instance: Instance, key: string): string | undefined {
  return instance.Tags?.find((t) => t.Key === key)?.Value;
}

export class ClassicLoadBalancer implements LoadBalancer {
  readonly label: string;

  constructor(
    private readonly clients: Pick<AwsClients, "elb" | "ec2">,
    readonly name: string,
  ) {
    this.label = `load balancer ${name}`;
  }

  async registeredInstances(options: { withHealth?: boolean } = {}): Promise<RegisteredInstance[]> {
    const ids = await this.registeredIds();
    if (ids.length === 0) return [];
    const [described, health] = await Promise.all([
      this.describeInstances(ids),
      options.withHealth
        ? aws("elasticloadbalancing:DescribeInstanceHealth", this.label, () => this.clients.elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: this.name })))
        : Promise.resolve(undefined),
    ]);
    return ids.map((instanceId) => {
      const instance = described.get(instanceId);
      const slotTag = instance ? tag(instance, SLOT_TAG_KEY) : undefined;
      return {
        instanceId,
        slot: isSlot(slotTag) ? slotTag : undefined,
        environment: instance ? tag(instance, ENVIRONMENT_TAG_KEY) : undefined,
        state: instance?.State?.Name,
        health: health?.InstanceStates?.find((s) => s.InstanceId === instanceId)?.State,
      };
    });
  }

  async register(instanceIds: readonly string[]): Promise<void> {
    await aws("elasticloadbalancing:RegisterInstancesWithLoadBalancer", `${this.label}: ${instanceIds.join(", ")}`, () =>
      this.clients.elb.send(new RegisterInstancesWithLoadBalancerCommand({ LoadBalancerName: this.name, Instances: instanceIds.map((InstanceId) => ({ InstanceId })) })),
    );
  }

  async deregister(instanceIds: readonly string[]): Promise<void> {
    await aws("elasticloadbalancing:DeregisterInstancesFromLoadBalancer", `${this.label}: ${instanceIds.join(", ")}`, () =>
      this.clients.elb.send(new DeregisterInstancesFromLoadBalancerCommand({ LoadBalancerName: this.name, Instances: instanceIds.map((InstanceId) => ({ InstanceId })) })),
    );
  }

  private async registeredIds(): Promise<string[]> {
    const result = await aws("elasticloadbalancing:DescribeLoadBalancers", this.label, () => this.clients.elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [this.name] })));
    const description = result.LoadBalancerDescriptions?.find((lb) => lb.LoadBalancerName === this.name);
    if (!description) throw new ReleaseError(`${this.label} not found: wrong account/region, or the environment's stack has not been applied.`);
    return (description.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : []));
  }

  private async describeInstances(instanceIds: readonly string[]): Promise<Map<string, Instance>> {
    const found = new Map<string, Instance>();
    let nextToken: string | undefined;
    do {
      const page = await aws("ec2:DescribeInstances", instanceIds.join(", "), () => this.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [...instanceIds], NextToken: nextToken })));
      for (const reservation of page.Reservations ?? []) for (const instance of reservation.Instances ?? []) if (instance.InstanceId) found.set(instance.InstanceId, instance);
      nextToken = page.NextToken;
    } while (nextToken);
    return found;
  }
}
