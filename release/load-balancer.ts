/**
 * The load balancer as the release tools see it: who is registered (with the slot and
 * environment each instance is tagged with), register, deregister. Two implementations: the
 * Classic Load Balancer through the SDK (release/classic-load-balancer.ts) and HAProxy through
 * its runtime API (bluegreen/haproxy-load-balancer.ts, the blue/green rehearsal). The live-slot
 * rule (release/slots.ts) is written once against this interface and used by both.
 */
import type { Slot } from "../environments/names.js";

export interface RegisteredInstance {
  readonly instanceId: string;
  readonly slot: Slot | undefined;
  readonly environment: string | undefined;
  /** Instance state (running, stopped, terminated...). */
  readonly state: string | undefined;
  /** Health as the load balancer reports it (InService, OutOfService, Unknown) when it was asked for. */
  readonly health?: string | undefined;
}

export interface LoadBalancer {
  /** How errors name it: "load balancer mpg-model-staging", "HAProxy backend app". */
  readonly label: string;
  /** Instances registered with the load balancer (taking traffic or on their way to it). */
  registeredInstances(options?: { withHealth?: boolean }): Promise<RegisteredInstance[]>;
  /** RegisterInstancesWithLoadBalancer: traffic reaches them once they pass the health check. */
  register(instanceIds: readonly string[]): Promise<void>;
  /** DeregisterInstancesFromLoadBalancer: no new requests; in-flight ones drain for the configured time. */
  deregister(instanceIds: readonly string[]): Promise<void>;
}

/** CLB names for health: what the rule and the operators read, whatever the implementation. */
export const IN_SERVICE = "InService";
export const OUT_OF_SERVICE = "OutOfService";
