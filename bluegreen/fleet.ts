/**
 * The rehearsal's fleet: what EC2 knows about the instances (address, slot and environment
 * tags, state) and what CodeDeploy's service side needs (the agent on each instance, the
 * revision last installed there). The load balancer reads slots from here, as the Classic
 * Load Balancer's implementation reads them from EC2 tags.
 */
import type { Slot } from "../environments/names.js";
import type { Instance } from "../revision/instance.js";
import type { Fleet, FleetEntry } from "./haproxy-load-balancer.js";

/**
 * One instance with the real CodeDeploy agent on it (revision/instance.ts's Instance): the
 * service side tells it which lifecycle events of which revision to run.
 */
export type AgentHost = Pick<Instance, "name" | "deploy" | "stop">;

export interface Revision {
  /** What the service reports as `revision`. */
  readonly id: string;
  readonly zip: string;
}

export interface FleetInstance extends FleetEntry {
  readonly host: AgentHost;
  /** The revision the agent last installed here (its BlockTraffic hooks are that revision's). */
  installed: Revision | undefined;
}

export class LocalFleet implements Fleet {
  private readonly instances = new Map<string, FleetInstance>();

  add(instance: FleetInstance): void {
    this.instances.set(instance.id, instance);
  }

  describe(id: string): FleetInstance | undefined {
    return this.instances.get(id);
  }

  /** Running instances tagged with this slot (runningInstancesOfSlot, locally). */
  ofSlot(slot: Slot): FleetInstance[] {
    return [...this.instances.values()].filter((i) => i.slot === slot && i.state === "running");
  }

  all(): FleetInstance[] {
    return [...this.instances.values()];
  }
}
