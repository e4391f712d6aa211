/**
 * The blue/green rehearsal: a staging or prod release on one machine, from real parts. Two
 * instances (blue, green) in their own network namespaces, each with the real CodeDeploy agent;
 * HAProxy as the load balancer, configured from the environment; our CodeDeploy service side
 * (orchestrator.ts) moving traffic; autocannon sending predictions through the load balancer
 * during every release; the scenarios of scenarios.ts, each with a verdict.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import getPort from "get-port";
import { loadEnvironment, type EnvironmentConfig } from "../environments/index.js";
import { INITIAL_LIVE_SLOT, resourceNames, SLOTS, type Slot } from "../environments/names.js";
import { readLiveFleet } from "../release/slots.js";
import { parseAppSpec } from "../revision/appspec.js";
import { readZip } from "../revision/zip.js";
import { Cleanup } from "./cleanup.js";
import { LocalFleet, type AgentHost, type Revision } from "./fleet.js";
import { assertPortFree, Haproxy, haproxyVersion, sleep } from "./haproxy.js";
import { HaproxyLoadBalancer } from "./haproxy-load-balancer.js";
import { createNetworks } from "./netns.js";
import { BlueGreenOrchestrator, newDeploymentId, type DeploymentGroup, type DeploymentRecord } from "./orchestrator.js";
import { writeVariant } from "./revisions.js";
import { SCENARIO_TITLES, type ScenarioId } from "./scenarios.js";
import { describeTimings, scaleTimings, DEFAULT_TIME_SCALE, type RehearsalTimings } from "./timings.js";
import { formatTimeline, revisionTimeline, startLoad, type TrafficReport } from "./traffic.js";

/** Boots one instance with the real agent in a network namespace (revision/instance.ts). */
export type BootHost = (options: { name: string; networkNamespace: string; log: (line: string) => void }) => Promise<AgentHost>;

export interface BlueGreenOptions {
  readonly environment: string;
  /** The revision every release is made from (npm run bundle). */
  readonly bundleZip: string;
  readonly bootHost: BootHost;
  readonly scenarios: readonly ScenarioId[];
  readonly lbPort?: number | undefined;
  readonly timeScale?: number;
  /** Requests per second through the load balancer during each release. */
  readonly rate?: number;
  readonly out?: (line: string) => void;
  /** Remove everything also on Ctrl-C (the CLIs; tests clean up through the normal path). */
  readonly handleSignals?: boolean;
  /** Prefix of everything the rehearsal creates (namespaces, instances, temp folders). */
  readonly prefix?: string;
  /** Before the scenarios, the same load for this long with no release: the benchmark's baseline. */
  readonly baselineMs?: number;
}

export interface ScenarioOutcome {
  readonly id: ScenarioId;
  readonly title: string;
  readonly ok: boolean;
  readonly verdict: string;
  readonly traffic?: TrafficReport;
  readonly ms: number;
  /** Scenario 5: ms from the first 5xx a client saw to the last one (traffic back on the original). */
  readonly incidentMs?: number;
  readonly incidentFailed?: number;
}

export interface BlueGreenResult {
  readonly ok: boolean;
  readonly scenarios: ScenarioOutcome[];
  readonly setupMs: number;
  readonly totalMs: number;
  readonly timings?: RehearsalTimings;
  readonly error?: string;
  /** The load with no release (when baselineMs was given), and the wall time it took. */
  readonly baseline?: TrafficReport;
  readonly baselineWallMs?: number;
}

/** Requests per second asked of autocannon: above the 200/s target, since its pacing (a burst per second) runs a little under. */
export const DEFAULT_RATE = 250;

export class RehearsalError extends Error {
  override readonly name = "RehearsalError";
}

export async function rehearseBlueGreen(o: BlueGreenOptions): Promise<BlueGreenResult> {
  const out = o.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const started = performance.now();
  const cleanup = new Cleanup();
  if (o.handleSignals) cleanup.handleSignals();
  const outcomes: ScenarioOutcome[] = [];
  let setupMs = 0;
  let timings: RehearsalTimings | undefined;
  let closeLoadBalancer: () => Promise<void> = async () => {};
  try {
    const config = loadEnvironment(o.environment);
    if (config.deployment.strategy !== "blue-green")
      throw new RehearsalError(`environment ${config.name} deploys ${config.deployment.strategy}: the blue/green rehearsal needs a blue-green environment (a pre-production or production tier)`);
    timings = scaleTimings(config, o.timeScale ?? DEFAULT_TIME_SCALE);
    const names = resourceNames(config);
    out(`blue/green rehearsal of ${config.name}: load balancer ${names.loadBalancer}, deployment group ${names.deploymentGroup}, service port ${config.service.port}`);
    for (const line of describeTimings(timings, config)) out(`  ${line}`);
    out(`  HAProxy ${haproxyVersion()}`);
    const port = o.lbPort ?? (await getPort({ host: "127.0.0.1" }));
    await assertPortFree(port, "the load balancer");

    const prefix = o.prefix ?? "mpg11-";
    const work = mkdtempSync(join(tmpdir(), `${prefix}bluegreen-`));
    cleanup.add(`temp folder ${work}`, () => rmSync(work, { recursive: true, force: true }));
    const revisions = await makeRevisions(o.bundleZip, work);

    out("\n▶ setup");
    const networks = await createNetworks({ prefix, onEvent: (l) => out(`  ${l}`) });
    cleanup.add(`network namespaces ${networks.slots.blue.namespace}, ${networks.slots.green.namespace}`, () => networks.remove());
    const haproxy = await Haproxy.start({ workDir: work, port, timings, name: names.loadBalancer });
    let lbOpen = true;
    closeLoadBalancer = async () => {
      if (!lbOpen) return;
      lbOpen = false;
      out("load balancer closing");
      await haproxy.stop();
    };
    cleanup.add("the load balancer (HAProxy)", () => closeLoadBalancer());
    out(`  HAProxy pid ${haproxy.pid}, config ${haproxy.configPath}, admin socket ${haproxy.socketPath}`);

    const fleet = new LocalFleet();
    const hosts = await Promise.allSettled(
      SLOTS.map(async (slot) => {
        const name = `${prefix}${networks.id}-${slot}`;
        const host = await o.bootHost({ name, networkNamespace: networks.slots[slot].namespace, log: (l) => out(`  ${l}`) });
        cleanup.add(`instance ${name}`, () => host.stop());
        return { slot, host };
      }),
    );
    const failedBoot = hosts.find((h): h is PromiseRejectedResult => h.status === "rejected");
    if (failedBoot) throw new RehearsalError(`an instance failed to boot: ${(failedBoot.reason as Error).message}`);
    for (const h of hosts) {
      if (h.status !== "fulfilled") continue;
      const { slot, host } = h.value;
      fleet.add({ id: host.name, address: networks.slots[slot].address, port: config.service.port, slot, environment: config.name, state: "running", host, installed: undefined });
    }
    const lb = new HaproxyLoadBalancer({ haproxy, fleet, timings, name: names.loadBalancer, onEvent: (l) => out(`    ${l}`) });
    const group: DeploymentGroup = { applicationName: names.application, deploymentGroupName: names.deploymentGroup, environment: config.name, originalSlot: INITIAL_LIVE_SLOT, history: [] };
    const orchestrator = new BlueGreenOrchestrator({ lb, fleet, group, timings, counters: () => lb.counters(), alarmPrefix: names.prefix, log: out });

    // The environment before any blue/green release: the first revision on the initial live
    // slot (as the stack's first deployment leaves it), registered with the load balancer.
    const initial = fleet.ofSlot(INITIAL_LIVE_SLOT)[0]!;
    out(`  first revision ${revisions.initial.id} on ${initial.id} (all lifecycle events), then registered`);
    const first = await initial.host.deploy(revisions.initial.zip, { applicationName: group.applicationName, deploymentGroupName: group.deploymentGroupName });
    if (first.status !== "Succeeded") throw new RehearsalError(`the first revision failed on ${initial.id} at ${first.failure?.event}: ${first.failure?.reason}`);
    initial.installed = revisions.initial;
    await lb.register([initial.id]);
    group.history.push(initialRecord(revisions.initial));
    setupMs = performance.now() - started;
    out(`load balancer up at http://127.0.0.1:${port}`);

    let baseline: TrafficReport | undefined;
    const baselineStart = performance.now();
    if (o.baselineMs) {
      const load = startLoad({ url: `http://127.0.0.1:${port}`, ratePerSecond: o.rate ?? DEFAULT_RATE, connections: 10 });
      await sleep(o.baselineMs);
      baseline = await load.stop();
      out(
        `  baseline (no release, ${(o.baselineMs / 1000).toFixed(0)} s): ${baseline.requests} requests, ${baseline.ratePerSecond.toFixed(0)}/s, failed ${baseline.failed}, p50 ${baseline.p50Ms} ms, p99 ${baseline.p99Ms} ms`,
      );
    }
    const ctx: ScenarioContext = {
      baselineWallMs: performance.now() - baselineStart,
      out,
      lb,
      fleet,
      group,
      orchestrator,
      timings,
      config,
      url: `http://127.0.0.1:${port}`,
      rate: o.rate ?? DEFAULT_RATE,
      revisions,
    };
    for (const id of o.scenarios) {
      out(`\n▶ scenario ${id}: ${SCENARIO_TITLES[id]}`);
      const t0 = performance.now();
      let outcome: Omit<ScenarioOutcome, "id" | "title" | "ms">;
      try {
        outcome = await SCENARIO_RUNS[id](ctx);
      } catch (error) {
        outcome = { ok: false, verdict: `error: ${(error as Error).message}` };
      }
      const done: ScenarioOutcome = { id, title: SCENARIO_TITLES[id], ms: performance.now() - t0, ...outcome };
      outcomes.push(done);
      out(`  ${done.ok ? "✔" : "✖"} scenario ${id} (${(done.ms / 1000).toFixed(1)} s): ${done.verdict}`);
    }
    await closeLoadBalancer();
    const totalMs = performance.now() - started;
    printSummary(out, config, timings, o.rate ?? DEFAULT_RATE, outcomes, setupMs, totalMs);
    return { ok: outcomes.every((s) => s.ok), scenarios: outcomes, setupMs, totalMs, timings, ...(baseline ? { baseline, baselineWallMs: ctx.baselineWallMs } : {}) };
  } catch (error) {
    const message = (error as Error).message;
    out(`\n✖ blue/green rehearsal failed: ${message}`);
    return { ok: false, scenarios: outcomes, setupMs, totalMs: performance.now() - started, ...(timings ? { timings } : {}), error: message };
  } finally {
    await closeLoadBalancer().catch(() => {});
    const problems = await cleanup.run();
    for (const p of problems) out(`cleanup: ${p}`);
  }
}

interface Revisions {
  readonly initial: Revision;
  readonly first: Revision;
  readonly second: Revision;
  readonly broken: Revision;
  readonly faulty: Revision;
}

async function makeRevisions(bundleZip: string, work: string): Promise<Revisions> {
  const entries = readZip(readFileSync(bundleZip), bundleZip);
  const appspec = entries.find((e) => e.name === "appspec.yml");
  if (!appspec) throw new RehearsalError(`${bundleZip} has no appspec.yml: build it with npm run bundle`);
  const appDestination = parseAppSpec(appspec.data.toString("utf8"), `${bundleZip}:appspec.yml`).files.find((f) => f.source === "app")?.destination;
  if (!appDestination) throw new RehearsalError(`${bundleZip}'s appspec.yml installs no app/ folder`);
  const base = /^REVISION_VERSION=(.*)$/m.exec(entries.find((e) => e.name === "config/revision.env")?.data.toString("utf8") ?? "")?.[1] ?? "0.0.0";
  const make = async (n: number, label: string, fail5xxAfter?: number): Promise<Revision> => {
    const id = `${base}+bg.${n}${label ? `.${label}` : ""}`;
    const zip = await writeVariant(bundleZip, join(work, `revision-${id}.zip`), { revisionId: id, appDestination, ...(fail5xxAfter !== undefined ? { fail5xxAfter } : {}) });
    return { id, zip };
  };
  return {
    initial: await make(0, ""),
    first: await make(1, ""),
    second: await make(2, ""),
    broken: await make(3, "broken", 0),
    // Passes ValidateService (a handful of predictions), then fails every prediction under live traffic.
    faulty: await make(5, "faulty", 40),
  };
}

function initialRecord(revision: Revision): DeploymentRecord {
  return {
    deploymentId: newDeploymentId(),
    revision,
    description: "first deployment (before any blue/green release)",
    originalSlot: INITIAL_LIVE_SLOT,
    replacementSlot: INITIAL_LIVE_SLOT,
    status: "Succeeded",
    startedAt: performance.now(),
    steps: [],
    isRollback: false,
  };
}

interface ScenarioContext {
  readonly baselineWallMs: number;
  readonly out: (line: string) => void;
  readonly lb: HaproxyLoadBalancer;
  readonly fleet: LocalFleet;
  readonly group: DeploymentGroup;
  readonly orchestrator: BlueGreenOrchestrator;
  readonly timings: RehearsalTimings;
  readonly config: EnvironmentConfig;
  readonly url: string;
  readonly rate: number;
  readonly revisions: Revisions;
}

type ScenarioRun = (ctx: ScenarioContext) => Promise<Omit<ScenarioOutcome, "id" | "title" | "ms">>;

/** Runs `release` with the load on from 1 s before it to 1 s after it; returns the deployment and what the clients saw. */
async function underLoad(ctx: ScenarioContext, release: () => Promise<DeploymentRecord>) {
  const load = startLoad({ url: ctx.url, ratePerSecond: ctx.rate, connections: 10 });
  const loadStart = performance.now() - load.now();
  try {
    await sleep(1000);
    const deployment = await release();
    await sleep(1000);
    const traffic = await load.stop();
    const at = (t: number) => t - loadStart;
    ctx.out(
      `  traffic: ${traffic.requests} requests in ${(traffic.durationMs / 1000).toFixed(1)} s (${traffic.ratePerSecond.toFixed(0)}/s), failed ${traffic.failed} (non-2xx ${traffic.non2xx}, errors ${traffic.errors}, timeouts ${traffic.timeouts}), p50 ${traffic.p50Ms} ms, p99 ${traffic.p99Ms} ms`,
    );
    ctx.out("  who answered (s since the load started):");
    for (const line of formatTimeline(revisionTimeline(traffic.answers))) ctx.out(`    ${line}`);
    return { deployment, traffic, at };
  } catch (error) {
    await load.stop().catch(() => {});
    throw error;
  }
}

/** When the traffic switch of `d` was complete (BlockTraffic done), in the load's clock. */
function switchDone(d: DeploymentRecord, at: (t: number) => number): number | undefined {
  const block = d.steps.find((s) => s.name === "BlockTraffic");
  return block ? at(d.startedAt + block.startMs + block.ms) : undefined;
}

function answersAfter(traffic: TrafficReport, fromMs: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const a of traffic.answers.filter((x) => x.at > fromMs)) {
    const key = a.status >= 200 && a.status < 300 ? (a.revision ?? "no revision") : `HTTP ${a.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

const show = (m: Map<string, number>) => [...m].map(([k, v]) => `${k} x${v}`).join(", ") || "none";

async function directRevision(ctx: ScenarioContext, slot: Slot): Promise<string> {
  const i = ctx.fleet.ofSlot(slot)[0]!;
  const r = await fetch(`http://${i.address}:${i.port}/version`, { signal: AbortSignal.timeout(3000) });
  const body = (await r.json()) as { revision?: string };
  return `${i.id} at ${i.address}:${i.port} answers /version ${r.status}, revision ${body.revision ?? "(not reported)"}`;
}

/** A release that must move all traffic to `revision` on `expectSlot` without one failed request. */
async function cleanRelease(ctx: ScenarioContext, expectSlot: Slot, release: () => Promise<DeploymentRecord>) {
  const { deployment: d, traffic, at } = await underLoad(ctx, release);
  const problems: string[] = [];
  if (d.status !== "Succeeded") problems.push(`deployment ${d.deploymentId} ${d.status}: ${d.failure}`);
  if (d.replacementSlot !== expectSlot) problems.push(`it installed to ${d.replacementSlot}, expected ${expectSlot}`);
  if (traffic.failed > 0) problems.push(`${traffic.failed} failed requests`);
  const done = switchDone(d, at);
  const after = done !== undefined ? answersAfter(traffic, done) : new Map<string, number>();
  if (after.size !== 1 || !after.has(d.revision.id)) problems.push(`after draining, answers were ${show(after)} (expected only ${d.revision.id})`);
  const live = (await readLiveFleet(ctx.lb, ctx.config.name)).liveSlot;
  if (live !== expectSlot) problems.push(`the load balancer serves ${live ?? "nothing"}`);
  return { d, traffic, problems, after };
}

const SCENARIO_RUNS: Record<ScenarioId, ScenarioRun> = {
  1: async (ctx) => {
    const { d, traffic, problems, after } = await cleanRelease(ctx, "green", () => ctx.orchestrator.deploy(ctx.revisions.first, "first blue/green release"));
    const blue = await directRevision(ctx, "blue").catch((e: Error) => {
      problems.push(`blue does not answer directly: ${e.message}`);
      return "";
    });
    if (blue && !blue.includes(ctx.revisions.initial.id)) problems.push(`blue should still run ${ctx.revisions.initial.id}: ${blue}`);
    if (blue) ctx.out(`  kept alive: ${blue}`);
    return {
      ok: problems.length === 0,
      verdict: problems.join("; ") || `traffic on green (${d.revision.id}), ${traffic.failed} failed of ${traffic.requests}; after draining 100 % ${show(after)}; blue still running and answering`,
      traffic,
    };
  },
  2: async (ctx) => {
    const { d, traffic, problems } = await cleanRelease(ctx, "blue", () => ctx.orchestrator.deploy(ctx.revisions.second, "next release"));
    return { ok: problems.length === 0, verdict: problems.join("; ") || `traffic back on blue with ${d.revision.id}, ${traffic.failed} failed of ${traffic.requests}`, traffic };
  },
  3: async (ctx) => {
    const before = await readLiveFleet(ctx.lb, ctx.config.name);
    const serving = ctx.group.history.filter((x) => x.status === "Succeeded").at(-1)!.revision.id;
    const { deployment: d, traffic } = await underLoad(ctx, () => ctx.orchestrator.deploy(ctx.revisions.broken, "broken revision"));
    const problems: string[] = [];
    const validate = d.steps.find((s) => s.status === "Failed");
    if (d.status !== "Failed") problems.push(`deployment ${d.deploymentId} ${d.status}, expected Failed`);
    if (!validate || !/ValidateService failed/.test(validate.detail)) problems.push(`expected a ValidateService failure, got ${validate ? `${validate.name}: ${validate.detail}` : "none"}`);
    if (d.trafficMovedAt !== undefined) problems.push("traffic moved to the broken revision");
    if (traffic.failed > 0) problems.push(`${traffic.failed} failed requests`);
    const answered = answersAfter(traffic, 0);
    if (answered.size !== 1 || !answered.has(serving)) problems.push(`answers were ${show(answered)}, expected only ${serving}`);
    const after = await readLiveFleet(ctx.lb, ctx.config.name);
    if (after.liveSlot !== before.liveSlot) problems.push(`the live slot changed from ${before.liveSlot} to ${after.liveSlot}`);
    if (validate) ctx.out(`  reason: ${validate.detail}`);
    return {
      ok: problems.length === 0,
      verdict: problems.join("; ") || `deployment failed at ValidateService; traffic stayed on ${before.liveSlot} (${serving}), ${traffic.failed} failed of ${traffic.requests}`,
      traffic,
    };
  },
  4: async (ctx) => {
    const live = (await readLiveFleet(ctx.lb, ctx.config.name)).liveSlot ?? INITIAL_LIVE_SLOT;
    const other: Slot = live === "blue" ? "green" : "blue";
    const { d, traffic, problems } = await cleanRelease(ctx, other, () => ctx.orchestrator.rollback());
    return {
      ok: problems.length === 0,
      verdict: problems.join("; ") || `rollback ${d.deploymentId} (a new deployment) put ${d.revision.id} back on ${other}, ${traffic.failed} failed of ${traffic.requests}`,
      traffic,
    };
  },
  5: async (ctx) => {
    const previous = ctx.group.history.filter((x) => x.status === "Succeeded").at(-1)!.revision.id;
    const live = (await readLiveFleet(ctx.lb, ctx.config.name)).liveSlot;
    const { deployment: d, traffic } = await underLoad(ctx, () => ctx.orchestrator.deploy(ctx.revisions.faulty, "revision that fails under load"));
    const problems: string[] = [];
    if (d.status !== "Stopped") problems.push(`deployment ${d.deploymentId} ${d.status}, expected Stopped on alarm${d.failure ? ` (${d.failure})` : ""}`);
    if (!d.rollback || d.rollback.status !== "Succeeded")
      problems.push(`no successful automatic rollback (${d.rollback ? `${d.rollback.deploymentId} ${d.rollback.status}: ${d.rollback.failure}` : "none"})`);
    const fives = traffic.answers.filter((a) => a.status >= 500);
    const firstMs = fives[0]?.at;
    const lastMs = fives.at(-1)?.at;
    const incidentMs = firstMs !== undefined && lastMs !== undefined ? lastMs - firstMs : undefined;
    const limitMs = 2 * ctx.timings.alarmEvaluationPeriods * ctx.timings.alarmPeriodMs;
    if (incidentMs === undefined) problems.push("the faulty revision never answered 5xx through the load balancer");
    else if (incidentMs > limitMs) problems.push(`traffic came back ${(incidentMs / 1000).toFixed(1)} s after the first 5xx, more than 2 x the evaluation period (${(limitMs / 1000).toFixed(1)} s)`);
    const tail = lastMs !== undefined ? answersAfter(traffic, lastMs) : new Map<string, number>();
    if (tail.size !== 1 || !tail.has(previous)) problems.push(`after the rollback, answers were ${show(tail)} (expected only ${previous})`);
    const back = (await readLiveFleet(ctx.lb, ctx.config.name)).liveSlot;
    if (back !== live) problems.push(`the load balancer serves ${back}, expected the original ${live}`);
    if (d.alarm) ctx.out(`  alarm: ${d.alarm.text}`);
    if (incidentMs !== undefined)
      ctx.out(
        `  incident: ${fives.length} failed requests; first 5xx at ${(firstMs! / 1000).toFixed(2)} s, last at ${(lastMs! / 1000).toFixed(2)} s: traffic back after ${(incidentMs / 1000).toFixed(1)} s (limit ${(limitMs / 1000).toFixed(1)} s)`,
      );
    return {
      ok: problems.length === 0,
      verdict:
        problems.join("; ") ||
        `alarm stopped ${d.deploymentId}; rollback ${d.rollback!.deploymentId} put traffic back on ${live} (${previous}) ${(incidentMs! / 1000).toFixed(1)} s after the first 5xx; ${fives.length} failed requests during the incident`,
      traffic,
      ...(incidentMs !== undefined ? { incidentMs, incidentFailed: traffic.failed } : {}),
    };
  },
};

function printSummary(out: (l: string) => void, config: EnvironmentConfig, t: RehearsalTimings, rate: number, outcomes: readonly ScenarioOutcome[], setupMs: number, totalMs: number): void {
  out(`\nSummary: blue/green rehearsal of ${config.name} (time scale ${t.scale}, ${rate} req/s asked through HAProxy)`);
  out(
    `  ${"#".padEnd(2)} ${"scenario".padEnd(42)} ${"verdict".padEnd(7)} ${"requests".padStart(8)} ${"req/s".padStart(5)} ${"failed".padStart(6)} ${"p50".padStart(6)} ${"p99".padStart(6)} ${"time".padStart(7)}`,
  );
  for (const s of outcomes) {
    const tr = s.traffic;
    out(
      `  ${String(s.id).padEnd(2)} ${s.title.padEnd(42)} ${(s.ok ? "✔ ok" : "✖ FAIL").padEnd(7)} ${String(tr?.requests ?? "-").padStart(8)} ${(tr ? tr.ratePerSecond.toFixed(0) : "-").padStart(5)} ${String(tr?.failed ?? "-").padStart(6)} ${(tr ? `${tr.p50Ms}ms` : "-").padStart(6)} ${(tr ? `${tr.p99Ms}ms` : "-").padStart(6)} ${`${(s.ms / 1000).toFixed(1)} s`.padStart(7)}`,
    );
  }
  out(`  setup (namespaces, HAProxy, two instances, first revision) ${(setupMs / 1000).toFixed(1)} s; whole rehearsal ${(totalMs / 1000).toFixed(1)} s`);
}
