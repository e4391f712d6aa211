/**
 * HAProxy behind the LoadBalancer interface, through its runtime API only:
 *
 * - register = the CLB's RegisterInstancesWithLoadBalancer: the server is added (once) with its
 *   health check, held in DRAIN (checked, but no requests) with its health forced "down", and
 *   made ready only after healthyThreshold checks have passed. (HAProxy would otherwise count a
 *   server leaving maintenance as UP after a single passed check, or before any: traffic to an
 *   instance nobody has checked is exactly what a CLB never does.) A check that never passes
 *   is an error naming the instance, its address and HAProxy's last check result.
 * - deregister = DeregisterInstancesFromLoadBalancer with connection draining: the server goes
 *   to DRAIN (no new requests; requests in flight finish), then to maintenance when none is
 *   left or the draining time is up, and its remaining connections are closed.
 * - registered instances = servers neither in maintenance nor draining, their slot and
 *   environment from the fleet's tags (the local EC2 tags), health from HAProxy's checks.
 */
import { IN_SERVICE, OUT_OF_SERVICE, type LoadBalancer, type RegisteredInstance } from "../release/load-balancer.js";
import type { Slot } from "../environments/names.js";
import type { CounterSample } from "./alarms.js";
import { BACKEND, FRONTEND, LoadBalancerError, serverCheckOptions, sleep, type Haproxy } from "./haproxy.js";
import type { RehearsalTimings } from "./timings.js";

/** What EC2's DescribeInstances says about an instance, locally: where it is and its tags. */
export interface FleetEntry {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly slot: Slot | undefined;
  readonly environment: string;
  readonly state: "running" | "stopped";
}
export interface Fleet {
  describe(id: string): FleetEntry | undefined;
}

/** Registered = taking traffic or checked on its way to it: UP, "UP 1/2" (going down), DOWN, "DOWN 1/2"; not DRAIN or MAINT. */
function isRegistered(status: string): boolean {
  return status.startsWith("UP") || status.startsWith("DOWN");
}

export interface HaproxyLoadBalancerOptions {
  readonly haproxy: Haproxy;
  readonly fleet: Fleet;
  readonly timings: RehearsalTimings;
  readonly name: string;
  /** Extra time, on top of (healthyThreshold + 1) check intervals, before a registration fails. */
  readonly healthGraceMs?: number;
  readonly onEvent?: (line: string) => void;
}

export class HaproxyLoadBalancer implements LoadBalancer {
  readonly label: string;

  constructor(private readonly o: HaproxyLoadBalancerOptions) {
    this.label = `HAProxy load balancer ${o.name} (backend ${BACKEND})`;
  }

  async registeredInstances(options: { withHealth?: boolean } = {}): Promise<RegisteredInstance[]> {
    return (await this.serverStats())
      .filter((row) => isRegistered(row.status ?? ""))
      .map((row) => {
        const entry = this.o.fleet.describe(row.svname ?? "");
        return {
          instanceId: row.svname ?? "?",
          slot: entry?.slot,
          environment: entry?.environment,
          state: entry?.state,
          ...(options.withHealth ? { health: row.status?.startsWith("UP") ? IN_SERVICE : OUT_OF_SERVICE } : {}),
        };
      });
  }

  /** The counters the rollback alarms are computed from (alarms.ts). */
  async counters(): Promise<CounterSample> {
    const rows = await this.o.haproxy.stats();
    const servers = rows.filter((r) => r.pxname === BACKEND && r.svname !== "BACKEND" && r.svname !== "FRONTEND");
    const frontend = rows.find((r) => r.pxname === FRONTEND && r.svname === "FRONTEND");
    return {
      servers5xx: servers.reduce((sum, r) => sum + Number(r.hrsp_5xx || 0), 0),
      frontend5xx: Number(frontend?.hrsp_5xx || 0),
      unhealthyHosts: servers.filter((r) => r.status?.startsWith("DOWN")).length,
    };
  }

  /** One `show stat` row per server of the backend (status UP, DOWN 1/2, DRAIN, MAINT...). */
  async serverStats(): Promise<Record<string, string>[]> {
    return (await this.o.haproxy.stats()).filter((r) => r.pxname === BACKEND && r.svname !== "BACKEND" && r.svname !== "FRONTEND");
  }

  async register(instanceIds: readonly string[]): Promise<void> {
    await Promise.all(instanceIds.map((id) => this.registerOne(id)));
  }

  async deregister(instanceIds: readonly string[]): Promise<void> {
    await Promise.all(instanceIds.map((id) => this.deregisterOne(id)));
  }

  private server(id: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(id)) throw new LoadBalancerError(`instance id ${JSON.stringify(id)} cannot be an HAProxy server name`);
    return `${BACKEND}/${id}`;
  }

  private async stat(id: string): Promise<Record<string, string> | undefined> {
    return (await this.serverStats()).find((r) => r.svname === id);
  }

  private async registerOne(id: string): Promise<void> {
    const entry = this.o.fleet.describe(id);
    if (!entry) throw new LoadBalancerError(`cannot register ${id} with ${this.label}: no such instance in the fleet`);
    if (entry.state !== "running") throw new LoadBalancerError(`cannot register ${id} with ${this.label}: the instance is ${entry.state}`);
    const server = this.server(id);
    const h = this.o.haproxy;
    const existing = await this.stat(id);
    if (existing && isRegistered(existing.status ?? "")) return;
    if (!existing) {
      await h.expect(`add server ${server} ${entry.address}:${entry.port} ${serverCheckOptions(this.o.timings)}`, (a) => /New server registered/.test(a));
      await h.expect(`enable health ${server}`, (a) => a === "");
    }
    // DRAIN takes no new requests but keeps checking (maintenance pauses checks): the server is
    // checked from "down" up to the healthy threshold before it may take traffic.
    await h.expect(`set server ${server} state drain`, (a) => a === "");
    await h.expect(`set server ${server} health down`, (a) => a === "");
    const hc = this.o.timings.healthCheck;
    const started = Date.now();
    const limitMs = (hc.healthyThreshold + 1) * (hc.intervalMs + hc.timeoutMs) + (this.o.healthGraceMs ?? 10_000);
    for (;;) {
      const stat = await this.stat(id);
      if (stat?.status === "DRAIN" && Number(stat.check_health ?? 0) >= hc.healthyThreshold) break;
      if (Date.now() - started > limitMs) {
        await h.expect(`set server ${server} state maint`, (a) => a === "");
        throw new LoadBalancerError(
          `health check GET ${hc.path} on ${id} (${entry.address}:${entry.port}) never passed ${hc.healthyThreshold} times within ${(limitMs / 1000).toFixed(1)} s: ${describeCheck(stat)}`,
        );
      }
      await sleep(Math.max(20, hc.intervalMs / 4));
    }
    await h.expect(`set server ${server} state ready`, (a) => a === "");
    this.o.onEvent?.(`${id} registered and InService after ${((Date.now() - started) / 1000).toFixed(1)} s of health checks`);
  }

  private async deregisterOne(id: string): Promise<void> {
    const server = this.server(id);
    const h = this.o.haproxy;
    const existing = await this.stat(id);
    if (!existing || !isRegistered(existing.status ?? "")) throw new LoadBalancerError(`cannot deregister ${id} from ${this.label}: it is not registered`);
    await h.expect(`set server ${server} state drain`, (a) => a === "");
    const started = Date.now();
    let inFlight = 0;
    for (;;) {
      const stat = await this.stat(id);
      inFlight = Number(stat?.scur ?? 0);
      if (inFlight === 0 || Date.now() - started >= this.o.timings.drainingMs) break;
      await sleep(20);
    }
    await h.expect(`set server ${server} state maint`, (a) => a === "");
    await h.expect(`shutdown sessions server ${server}`, (a) => a === "");
    this.o.onEvent?.(`${id} deregistered: drained in ${((Date.now() - started) / 1000).toFixed(2)} s${inFlight > 0 ? ` (draining time up: ${inFlight} connections closed)` : ""}`);
  }
}

function describeCheck(stat: Record<string, string> | undefined): string {
  if (!stat?.check_status) return "HAProxy has no check result yet (the check never completed)";
  return `HAProxy's last check ${stat.check_status}${stat.check_code ? ` ${stat.check_code}` : ""} (${stat.check_desc || "?"}${stat.last_chk ? `: ${stat.last_chk}` : ""})`;
}
