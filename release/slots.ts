/**
 * Which blue/green slot is live, and which one a release replaces: THE rule, written once
 * against the LoadBalancer interface, so that the S3 trigger, the release CLI (Classic Load
 * Balancer) and the blue/green rehearsal (HAProxy) all decide the same way. The source of truth
 * for traffic is the set of instances registered with the load balancer, mapped to slots by
 * their tags.
 */
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { ENVIRONMENT_TAG_KEY, INITIAL_LIVE_SLOT, SLOT_TAG_KEY, SLOTS, type Slot } from "../environments/names.js";
import { aws, ReleaseError, type AwsClients } from "./aws.js";
import type { LoadBalancer, RegisteredInstance } from "./load-balancer.js";

export type { RegisteredInstance } from "./load-balancer.js";

export interface LiveFleet {
  /** The slot serving traffic, or undefined when nothing is registered (before the first release). */
  readonly liveSlot: Slot | undefined;
  readonly instances: readonly RegisteredInstance[];
}

export const otherSlot = (slot: Slot): Slot => (slot === "blue" ? "green" : "blue");

/**
 * Reads the live slot. Refuses (ReleaseError) when the load balancer serves both slots, an
 * instance of another environment, or an instance without a slot tag: in each case nobody can
 * say which fleet is the original one, and guessing would send traffic to the wrong place.
 */
export async function readLiveFleet(lb: LoadBalancer, environment: string, options: { withHealth?: boolean } = {}): Promise<LiveFleet> {
  const instances = await lb.registeredInstances(options);
  if (instances.length === 0) return { liveSlot: undefined, instances: [] };
  const foreign = instances.filter((i) => i.environment !== environment);
  if (foreign.length > 0) {
    throw new ReleaseError(
      `${lb.label} has instances that are not tagged ${ENVIRONMENT_TAG_KEY}=${environment}: ${foreign.map((i) => `${i.instanceId} (${i.environment ?? "no tag"})`).join(", ")}. Deregister them or fix their tags before releasing.`,
    );
  }
  const unslotted = instances.filter((i) => i.slot === undefined);
  if (unslotted.length > 0) {
    throw new ReleaseError(`${lb.label} has instances without a valid ${SLOT_TAG_KEY} tag (blue|green): ${unslotted.map((i) => i.instanceId).join(", ")}. Fix their tags before releasing.`);
  }
  const slots = [...new Set(instances.map((i) => i.slot as Slot))];
  if (slots.length > 1) {
    const list = SLOTS.map(
      (slot) =>
        `${slot}: ${instances
          .filter((i) => i.slot === slot)
          .map((i) => i.instanceId)
          .join(", ")}`,
    ).join("; ");
    throw new ReleaseError(
      `${lb.label} serves both slots (${list}). A blue/green switch was interrupted or someone registered instances by hand: finish or roll back that deployment, or deregister one slot, then release again.`,
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
 * the original fleet (`groupSlot`, INITIAL_LIVE_SLOT when they name none), so the replacement
 * is the other slot; choosing the group's slot would make the original and the replacement
 * the same instances.
 */
export async function chooseReplacementSlot(lb: LoadBalancer, environment: string, groupSlot?: Slot): Promise<ReplacementChoice> {
  const { liveSlot } = await readLiveFleet(lb, environment);
  return { liveSlot, replacementSlot: otherSlot(liveSlot ?? groupSlot ?? INITIAL_LIVE_SLOT) };
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
