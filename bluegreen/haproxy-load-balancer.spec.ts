import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import getPort from "get-port";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadEnvironment } from "../environments/index.js";
import { chooseReplacementSlot, readLiveFleet } from "../release/slots.js";
import { assertPortFree, Haproxy, LoadBalancerError } from "./haproxy.js";
import { HaproxyLoadBalancer, type FleetEntry } from "./haproxy-load-balancer.js";
import { scaleTimings } from "./timings.js";

/** A tiny backend on loopback: /ready answers `ready`, everything else names the backend after `delayMs`. */
interface Backend {
  server: Server;
  port: number;
  ready: boolean;
  delayMs: number;
}
async function backend(name: string): Promise<Backend> {
  const b: Backend = { server: undefined as never, port: 0, ready: true, delayMs: 0 };
  b.server = createServer((req, res) => {
    if (req.url === "/ready") {
      res.writeHead(b.ready ? 200 : 503).end();
      return;
    }
    setTimeout(() => res.writeHead(200, { "content-type": "text/plain" }).end(name), b.delayMs);
  });
  await new Promise<void>((resolve) => b.server.listen(0, "127.0.0.1", resolve));
  b.port = (b.server.address() as { port: number }).port;
  return b;
}

const timings = scaleTimings(loadEnvironment("staging"), 0.02);
let dir: string;
let haproxy: Haproxy;
let blue: Backend;
let green: Backend;
const fleet = new Map<string, FleetEntry>();
let lb: HaproxyLoadBalancer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mpg11-lbspec-"));
  [blue, green] = await Promise.all([backend("blue"), backend("green")]);
  fleet.set("mpg11-blue", { id: "mpg11-blue", address: "127.0.0.1", port: blue.port, slot: "blue", environment: "staging", state: "running" });
  fleet.set("mpg11-green", { id: "mpg11-green", address: "127.0.0.1", port: green.port, slot: "green", environment: "staging", state: "running" });
  haproxy = await Haproxy.start({ workDir: dir, port: await getPort({ host: "127.0.0.1" }), timings, name: "mpg-model-staging" });
  lb = new HaproxyLoadBalancer({ haproxy, fleet: { describe: (id) => fleet.get(id) }, timings, name: "mpg-model-staging", healthGraceMs: 1000 });
});
afterAll(async () => {
  await haproxy?.stop();
  blue?.server.close();
  green?.server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  blue.ready = green.ready = true;
  blue.delayMs = green.delayMs = 0;
});

const get = async (path = "/predict") => {
  const response = await fetch(`http://127.0.0.1:${haproxy.port}${path}`);
  return { status: response.status, body: await response.text() };
};

describe("HaproxyLoadBalancer", () => {
  it("answers 503 with nothing registered, and the live-slot rule then replaces the slot after the initial one", async () => {
    expect((await get()).status).toBe(503);
    expect(await chooseReplacementSlot(lb, "staging")).toEqual({ liveSlot: undefined, replacementSlot: "green" });
  });

  it("registers an instance only once its health check passed the healthy threshold, then sends it traffic", async () => {
    const started = Date.now();
    await lb.register(["mpg11-blue"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual((timings.healthCheck.healthyThreshold - 1) * timings.healthCheck.intervalMs);
    expect(await lb.registeredInstances({ withHealth: true })).toEqual([{ instanceId: "mpg11-blue", slot: "blue", environment: "staging", state: "running", health: "InService" }]);
    expect(await get()).toEqual({ status: 200, body: "blue" });
    expect(await chooseReplacementSlot(lb, "staging")).toEqual({ liveSlot: "blue", replacementSlot: "green" });
  });

  it("refuses to name a live slot while both slots are registered", async () => {
    await lb.register(["mpg11-green"]);
    await expect(readLiveFleet(lb, "staging")).rejects.toThrow(/serves both slots \(blue: mpg11-blue; green: mpg11-green\)/);
  });

  it("deregisters with draining: a request in flight finishes with 200, later ones go to the other instance", async () => {
    green.delayMs = 400;
    // Round robin: send until one request is in flight on green.
    const inFlight: Promise<{ status: number; body: string }>[] = [];
    for (let i = 0; i < 4; i++) inFlight.push(get());
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await lb.deregister(["mpg11-green"]);
    const drainedAfter = Date.now() - t0;
    const answers = await Promise.all(inFlight);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.map((a) => a.body)).toContain("green");
    expect(drainedAfter).toBeGreaterThanOrEqual(200);
    for (let i = 0; i < 6; i++) expect((await get()).body).toBe("blue");
    expect((await readLiveFleet(lb, "staging")).liveSlot).toBe("blue");
  });

  it("re-registers a deregistered instance through its health check again", async () => {
    green.ready = false;
    await expect(lb.register(["mpg11-green"])).rejects.toThrow(
      /health check GET \/ready on mpg11-green \(127\.0\.0\.1:\d+\) never passed 2 times within .* s: HAProxy's last check (\* )?L7STS (503|0)/,
    ); // "* ": a check still running, its code not in yet
    expect((await lb.registeredInstances()).map((i) => i.instanceId)).toEqual(["mpg11-blue"]);
    green.ready = true;
    await lb.register(["mpg11-green"]);
    await lb.deregister(["mpg11-blue"]);
    expect(await chooseReplacementSlot(lb, "staging")).toEqual({ liveSlot: "green", replacementSlot: "blue" });
  });

  it("refuses instances it does not know or that are stopped", async () => {
    await expect(lb.register(["i-unknown"])).rejects.toThrow(/no such instance in the fleet/);
    fleet.set("mpg11-stopped", { id: "mpg11-stopped", address: "127.0.0.1", port: 1, slot: "blue", environment: "staging", state: "stopped" });
    await expect(lb.register(["mpg11-stopped"])).rejects.toThrow(/the instance is stopped/);
  });
});

describe("HAProxy process", () => {
  it("names a port in use", async () => {
    await expect(assertPortFree(haproxy.port, "the load balancer")).rejects.toThrow(new RegExp(`port ${haproxy.port} on 127.0.0.1 is in use`));
    await expect(Haproxy.start({ workDir: dir, port: haproxy.port, timings, name: "x" })).rejects.toBeInstanceOf(LoadBalancerError);
  });

  it("says how to install haproxy when it is missing", async () => {
    await expect(Haproxy.start({ workDir: dir, port: await getPort({ host: "127.0.0.1" }), timings, name: "x", binary: "mpg11-no-haproxy" })).rejects.toThrow(
      /haproxy is not installed \(no mpg11-no-haproxy on PATH\).*install the Debian package haproxy/,
    );
  });
});
