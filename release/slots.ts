/**
 * Which blue/green slot is live, read from the source of truth for traffic: the instances
 * registered with the Classic Load Balancer, mapped to slots through their EC2 tags.
 */
import { DescribeInstancesCommand, type Instance } from "@aws-sdk/client-ec2";
import { DescribeInstanceHealthCommand, DescribeLoadBalancersCommand } from "@aws-sdk/client-elastic-load-balancing";
import { ENVIRONMENT_TAG_KEY, INITIAL_LIVE_SLOT, SLOT_TAG_KEY, SLOTS, type Slot } from "../environments/names.js";
import { aws, ReleaseError, type AwsClients } from "./aws.js";

export interface FleetTarget {
  /** Environment name, as in the instances' Environment tag. */
  readonly environment: string;
  /** Classic Load Balancer name. */
  readonly loadBalancer: string;
}

export interface RegisteredInstance {
  readonly instanceId: string;
  readonly slot: Slot | undefined;
  readonly environment: string | undefined;
  /** EC2 state (running, stopped, terminated...). */
  readonly state: string | undefined;
  /** CLB health (InService, OutOfService, Unknown) when it was asked for. */
  readonly health?: string | undefined;
}

export interface LiveFleet {
  /** The slot serving traffic, or undefined when nothing is registered (before the first release). */
  readonly liveSlot: Slot | undefined;
  readonly instances: readonly RegisteredInstance[];
}

export const otherSlot = (slot: Slot): Slot => (slot === "blue" ? "green" : "blue");

function isSlot(value: string | undefined): value is Slot {
  return (SLOTS as readonly string[]).includes(value ?? "");
}

function tag(instance: Instance, key: string): string | undefined {
  return instance.Tags?.find((t) => t.Key === key)?.Value;
}

async function describeInstances(clients: AwsClients, instanceIds: readonly string[]): Promise<Map<string, Instance>> {
  const found = new Map<string, Instance>();
  let nextToken: string | undefined;
  do {
    const page = await aws("ec2:DescribeInstances", instanceIds.join(", "), () =>
      clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [...instanceIds], NextToken: nextToken })),
    );
    for (const reservation of page.Reservations ?? []) for (const instance of reservation.Instances ?? []) if (instance.InstanceId) found.set(instance.InstanceId, instance);
    nextToken = page.NextToken;
  } while (nextToken);
  return found;
}

async function registeredInstanceIds(clients: AwsClients, loadBalancer: string): Promise<string[]> {
  const result = await aws("elasticloadbalancing:DescribeLoadBalancers", `load balancer ${loadBalancer}`, () =>
    clients.elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [loadBalancer] })),
  );
  const description = result.LoadBalancerDescriptions?.find((lb) => lb.LoadBalancerName === loadBalancer);
  if (!description) throw new ReleaseError(`load balancer ${loadBalancer} not found: wrong account/region, or the environment's stack has not been applied.`);
  return (description.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : []));
}

/**
 * Reads the live slot. Refuses (ReleaseError) when the load balancer serves both slots, an
 * instance of another environment, or an instance without a slot tag: in each case nobody can
 * say which fleet is the original one, and guessing would send traffic to the wrong place.
 */
export async function readLiveFleet(clients: AwsClients, target: FleetTarget, options: { withHealth?: boolean } = {}): Promise<LiveFleet> {
  const ids = await registeredInstanceIds(clients, target.loadBalancer);
  if (ids.length === 0) return { liveSlot: undefined, instances: [] };
  const [described, health] = await Promise.all([
    describeInstances(clients, ids),
    options.withHealth
      ? aws("elasticloadbalancing:DescribeInstanceHealth", `load balancer ${target.loadBalancer}`, () =>
          clients.elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: target.loadBalancer })),
        )
      : Promise.resolve(undefined),
  ]);
  const instances: RegisteredInstance[] = ids.map((instanceId) => {
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
  const foreign = instances.filter((i) => i.environment !== target.environment);
  if (foreign.length > 0) {
    throw new ReleaseError(
      `load balancer ${target.loadBalancer} has instances that are not tagged ${ENVIRONMENT_TAG_KEY}=${target.environment}: ${foreign.map((i) => `${i.instanceId} (${i.environment ?? "no tag"})`).join(", ")}. Deregister them or fix their tags before releasing.`,
    );
  }
  const unslotted = instances.filter((i) => i.slot === undefined);
  if (unslotted.length > 0) {
    throw new ReleaseError(
      `load balancer ${target.loadBalancer} has instances without a valid ${SLOT_TAG_KEY} tag (blue|green): ${unslotted.map((i) => i.instanceId).join(", ")}. Fix their tags before releasing.`,
    );
  }
  const slots = [...new Set(instances.map((i) => i.slot as Slot))];
  if (slots.length > 1) {
    const list = SLOTS.map((slot) => `${slot}: ${instances.filter((i) => i.slot === slot).map((i) => i.instanceId).join(", ")}`).join("; ");
    throw new ReleaseError(
      `load balancer ${target.loadBalancer} serves both slots (${list}). A blue/green switch was interrupted or someone registered instances by hand: finish or roll back that deployment, or deregister one slot, then release again.`,
    );
  }
  return { liveSlot: slots[0], instances };
}

export interface ReplacementChoice {
  readonly liveSlot: Slot | undefined;
  readonly replacementSlot: Slot;
}

/**
 * The slot a blue/green deployment must install to: the one NOT behind the load balancer.
 * With nothing registered (the first release), the deployment group's tag filters still name
 * INITIAL_LIVE_SLOT as the original fleet, so the replacement is the other slot; choosing
 * INITIAL_LIVE_SLOT would make the original and the replacement the same instances.
 */
export async function chooseReplacementSlot(clients: AwsClients, target: FleetTarget): Promise<ReplacementChoice> {
  const { liveSlot } = await readLiveFleet(clients, target);
  return { liveSlot, replacementSlot: otherSlot(liveSlot ?? INITIAL_LIVE_SLOT) };
}

/** Running instances of one slot: CodeDeploy fails a deployment whose target tags match nothing. */
export async function runningInstancesOfSlot(clients: AwsClients, environment: string, slot: Slot): Promise<string[]> {
  const ids: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await aws("ec2:DescribeInstances", `instances tagged ${ENVIRONMENT_TAG_KEY}=${environment}, ${SLOT_TAG_KEY}=${slot}`, () =>
      clients.ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: `tag:${ENVIRONMENT_TAG_KEY}`, Values: [environment] },
            { Name: `tag:${SLOT_TAG_KEY}`, Values: [slot] },
            { Name: "instance-state-name", Values: ["running"] },
          ],
          NextToken: nextToken,
        }),
      ),
    );
    for (const reservation of page.Reservations ?? []) for (const instance of reservation.Instances ?? []) if (instance.InstanceId) ids.push(instance.InstanceId);
    nextToken = page.NextToken;
  } while (nextToken);
  return ids;
}
