/**
 * CodeDeploy's service side of an EC2 blue/green deployment, ours (the real agent on each
 * instance runs the hooks; this decides what runs where and moves the traffic):
 *
 *   1. replacement slot = the one not registered with the load balancer (release/slots.ts,
 *      the trigger's rule, through the LoadBalancer interface); the group's original fleet
 *      (its EC2 tag set, locally `group.originalSlot`) is realigned to the live slot first;
 *   2. replacement: the agent runs ApplicationStop .. ValidateService and BeforeAllowTraffic;
 *   3. AllowTraffic: register the replacement, wait until the load balancer reports it InService;
 *   4. replacement: AfterAllowTraffic;
 *   5. original: BeforeBlockTraffic, BlockTraffic (deregister with draining), AfterBlockTraffic;
 *      the original keeps running (KEEP_ALIVE);
 *   6. the group's original fleet now names the new live slot, for the next release.
 *
 * From AllowTraffic on, the rollback alarms are watched; the deployment does not end before
 * they have been evaluated over their full window after the switch. An alarm stops it
 * (DEPLOYMENT_STOP_ON_ALARM) and a NEW deployment rolls back: the roles swap, traffic returns
 * to the original instances (BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic there;
 * BeforeBlockTraffic, BlockTraffic, AfterBlockTraffic on the replacement). A failure before
 * the switch leaves traffic where it was.
 *
 * codedeploy-local runs a fixed list of events in one go and always adds DownloadBundle and
 * Install; the service pauses the agent between events instead. So each side of the traffic
 * switch is its own agent run (the later runs install the same revision again, removing and
 * copying the same files, which a running service does not notice), and an event whose
 * revision has no scripts for it is recorded Skipped without an agent run, as the agent would.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Slot } from "../environments/names.js";
import { ReleaseError } from "../release/aws.js";
import type { LoadBalancer } from "../release/load-balancer.js";
import { chooseReplacementSlot } from "../release/slots.js";
import type { AgentRun } from "../revision/agent-log.js";
import { parseAppSpec, type LifecycleEvent } from "../revision/appspec.js";
import { AGENT_EVENTS } from "../revision/codedeploy-local.js";
import { readZip } from "../revision/zip.js";
import { AlarmWatcher, describeAlarms, type AlarmState, type CounterSample } from "./alarms.js";
import type { FleetInstance, LocalFleet, Revision } from "./fleet.js";
import { sleep } from "./haproxy.js";
import type { RehearsalTimings } from "./timings.js";

export interface DeploymentGroup {
  readonly applicationName: string;
  readonly deploymentGroupName: string;
  readonly environment: string;
  /** The slot the group's tag set names as the original fleet (DISCOVER_EXISTING). */
  originalSlot: Slot;
  readonly history: DeploymentRecord[];
}

export type StepStatus = "Succeeded" | "Failed" | "Skipped";

export interface Step {
  readonly name: string;
  readonly where: string;
  readonly status: StepStatus;
  /** ms since the deployment started. */
  readonly startMs: number;
  readonly ms: number;
  readonly detail: string;
}

export interface DeploymentRecord {
  readonly deploymentId: string;
  readonly revision: Revision;
  readonly description: string;
  readonly originalSlot: Slot;
  readonly replacementSlot: Slot;
  status: "Succeeded" | "Failed" | "Stopped";
  /** performance.now() when it was created; steps' startMs count from here. */
  readonly startedAt: number;
  readonly steps: Step[];
  failure?: string;
  /** performance.now() when the replacement took traffic, and when the deployment ended. */
  trafficMovedAt?: number;
  endedAt?: number;
  alarm?: { states: AlarmState[]; at: number; text: string };
  /** The automatic rollback this deployment's failure or alarm started. */
  rollback?: DeploymentRecord;
  readonly isRollback: boolean;
}

export interface OrchestratorOptions {
  readonly lb: LoadBalancer;
  readonly fleet: LocalFleet;
  readonly group: DeploymentGroup;
  readonly timings: RehearsalTimings;
  /** HAProxy's counters for the alarms; without it, no alarm is watched. */
  readonly counters?: () => Promise<CounterSample>;
  /** Alarm names' prefix (the stack's `${prefix}-backend-5xx`...). */
  readonly alarmPrefix: string;
  readonly log?: (line: string) => void;
}

/**
 * The replacement's first agent run, in the agent's order. DownloadBundle and Install are named
 * in place: codedeploy-local puts the ones a list leaves out at its FRONT, so Install would run
 * before BeforeInstall (which empties the application folders).
 */
const REPLACEMENT_EVENTS: readonly string[] = AGENT_EVENTS.slice(AGENT_EVENTS.indexOf("ApplicationStop"), AGENT_EVENTS.indexOf("BeforeAllowTraffic") + 1);

export function newDeploymentId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return `d-${[...randomBytes(9)].map((b) => alphabet[b % alphabet.length]).join("")}`;
}

class AlarmStop extends Error {}

export class BlueGreenOrchestrator {
  private readonly hooksCache = new Map<string, Set<string>>();
  /** One agent command at a time per instance, as on a real instance. */
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(private readonly o: OrchestratorOptions) {}

  private log(line: string): void {
    this.o.log?.(line);
  }

  /** A release: CreateDeployment with the replacement fleet as target. */
  async deploy(revision: Revision, description: string): Promise<DeploymentRecord> {
    const { lb, group, fleet } = this.o;
    const { liveSlot, replacementSlot } = await chooseReplacementSlot(lb, group.environment, group.originalSlot);
    if (liveSlot && group.originalSlot !== liveSlot) {
      this.log(`  group ${group.deploymentGroupName} named ${group.originalSlot} as its original fleet; the load balancer serves ${liveSlot}: realigned`);
      group.originalSlot = liveSlot;
    }
    const replacement = fleet.ofSlot(replacementSlot);
    if (replacement.length === 0) throw new ReleaseError(`no running instances tagged DeploymentSlot=${replacementSlot}: the replacement fleet does not exist or is stopped`);
    const registered = (await lb.registeredInstances()).map((r) => fleet.describe(r.instanceId)).filter((i): i is FleetInstance => i !== undefined);
    return this.run({ revision, description, originalSlot: liveSlot ?? group.originalSlot, replacementSlot, replacement, original: registered, isRollback: false });
  }

  /**
   * `release rollback`: a new deployment of the last successful revision before the current
   * one, to the slot that is not live (so traffic returns to what answered before).
   */
  async rollback(): Promise<DeploymentRecord> {
    const succeeded = this.o.group.history.filter((d) => d.status === "Succeeded");
    const current = succeeded.at(-1);
    const previous = current && [...succeeded].reverse().find((d) => d.revision.id !== current.revision.id);
    if (!current || !previous) throw new ReleaseError(`${this.o.group.deploymentGroupName} has ${current ? "only one" : "no"} successfully deployed revision: there is nothing to roll back to`);
    this.log(`  rolling back from ${current.revision.id} (${current.deploymentId}) to ${previous.revision.id} (deployed by ${previous.deploymentId})`);
    return this.deploy(previous.revision, `rollback to ${previous.revision.id} from ${current.deploymentId}`);
  }

  private async run(d: {
    revision: Revision;
    description: string;
    originalSlot: Slot;
    replacementSlot: Slot;
    replacement: FleetInstance[];
    original: FleetInstance[];
    isRollback: boolean;
    /** A rollback after the switch: the replacement already has the revision; only traffic moves. */
    rerouteOnly?: boolean;
  }): Promise<DeploymentRecord> {
    const t0 = performance.now();
    const record: DeploymentRecord = {
      deploymentId: newDeploymentId(),
      revision: d.revision,
      description: d.description,
      originalSlot: d.originalSlot,
      replacementSlot: d.replacementSlot,
      status: "Succeeded",
      startedAt: t0,
      steps: [],
      isRollback: d.isRollback,
    };
    this.o.group.history.push(record);
    this.log(
      `  deployment ${record.deploymentId}: ${d.description}; revision ${d.revision.id}; original ${d.originalSlot} (${names(d.original) || "nothing registered"}), replacement ${d.replacementSlot} (${names(d.replacement)})`,
    );

    let alarmWatcher: AlarmWatcher | undefined;
    let alarmFired: ((states: AlarmState[]) => void) | undefined;
    const alarmed = new Promise<AlarmState[]>((resolve) => (alarmFired = resolve));
    const step = async (name: string, where: string, action: () => Promise<{ status: StepStatus; detail: string }>) => {
      const started = performance.now();
      const work = action();
      // After the switch, an alarm ends the step's wait (the step itself finishes in the background).
      const outcome = await (alarmWatcher ? Promise.race([work, alarmed.then((s) => Promise.reject(new AlarmStop(describeAlarms(s, this.o.timings, this.o.alarmPrefix))))]) : work).catch(
        (e: unknown) => {
          if (e instanceof AlarmStop) throw e;
          return { status: "Failed" as const, detail: (e as Error).message };
        },
      );
      const s: Step = { name, where, status: outcome.status, startMs: started - t0, ms: performance.now() - started, detail: outcome.detail };
      record.steps.push(s);
      this.log(`    ${{ Succeeded: "✔", Failed: "✖", Skipped: "·" }[s.status]} ${`${name} ${where}`.padEnd(44)} ${(s.ms / 1000).toFixed(1).padStart(5)} s  ${s.detail}`);
      if (s.status === "Failed") throw new ReleaseError(`${name} on ${where}: ${s.detail}`);
    };

    try {
      if (!d.rerouteOnly) {
        await this.parallel(d.replacement, (i) =>
          step(`${REPLACEMENT_EVENTS[0]}..${REPLACEMENT_EVENTS.at(-1)}`, i.id, async () => {
            const run = await this.agent(i, d.revision, REPLACEMENT_EVENTS);
            // The agent installed it, even if a later hook failed: that revision's stop scripts run next time.
            if (run.events.some((e) => e.name === "Install" && e.status === "Succeeded")) i.installed = d.revision;
            if (run.status === "Failed") return { status: "Failed", detail: `${run.failure?.event ?? "?"} failed: ${failureReason(run.failure?.reason)} (agent ${run.deploymentId ?? "?"})` };
            return { status: "Succeeded", detail: `agent ${run.deploymentId}: ${eventTimes(run)}` };
          }),
        );
      } else {
        await this.parallel(d.replacement, (i) => step("BeforeAllowTraffic", i.id, () => this.hookOnly(i, "BeforeAllowTraffic")));
      }
      await step("AllowTraffic", names(d.replacement), async () => {
        const started = performance.now();
        try {
          await this.o.lb.register(d.replacement.map((i) => i.id));
        } catch (error) {
          // Never leave a half-registered replacement behind: the original keeps serving.
          await this.o.lb.deregister(d.replacement.map((i) => i.id)).catch(() => {});
          throw error;
        }
        record.trafficMovedAt = performance.now();
        return { status: "Succeeded", detail: `registered; InService after ${((performance.now() - started) / 1000).toFixed(1)} s` };
      });
      // A rollback is not itself rolled back by the alarms (CodeDeploy's rollback deployments are not).
      if (this.o.counters && !d.isRollback) {
        alarmWatcher = await AlarmWatcher.start({
          timings: this.o.timings,
          read: this.o.counters,
          onAlarm: (states) => alarmFired?.(states),
        });
      }
      await this.parallel(d.replacement, (i) => step("AfterAllowTraffic", i.id, () => this.hookOnly(i, "AfterAllowTraffic")));
      await this.parallel(d.original, (i) => step("BeforeBlockTraffic", i.id, () => this.hookOnly(i, "BeforeBlockTraffic")));
      if (d.original.length) {
        await step("BlockTraffic", names(d.original), async () => {
          await this.o.lb.deregister(d.original.map((i) => i.id));
          return { status: "Succeeded", detail: `deregistered with draining (up to ${(this.o.timings.drainingMs / 1000).toFixed(1)} s); kept running (KEEP_ALIVE)` };
        });
      }
      await this.parallel(d.original, (i) => step("AfterBlockTraffic", i.id, () => this.hookOnly(i, "AfterBlockTraffic")));
      if (alarmWatcher) {
        const t = this.o.timings;
        const windowMs = (t.alarmEvaluationPeriods + 1) * t.alarmPeriodMs;
        await step("alarms", `${this.o.alarmPrefix}-*`, async () => {
          const left = record.trafficMovedAt! + windowMs - performance.now();
          if (left > 0) await sleep(left);
          return { status: "Succeeded", detail: `no alarm within ${(windowMs / 1000).toFixed(1)} s of the switch (${t.alarmEvaluationPeriods} periods + 1)` };
        });
      }
      this.o.group.originalSlot = d.replacementSlot;
      record.status = "Succeeded";
      this.log(`  ${record.deploymentId} Succeeded: ${d.replacementSlot} is live; ${d.originalSlot} keeps running, deregistered; the group's original fleet is now ${d.replacementSlot}`);
    } catch (error) {
      if (error instanceof AlarmStop) {
        record.status = "Stopped";
        record.failure = `stopped on alarm: ${error.message}`;
        record.alarm = { states: [], at: performance.now(), text: error.message };
        this.log(`  ${record.deploymentId} STOPPED ON ALARM: ${error.message}`);
      } else {
        record.status = "Failed";
        record.failure = (error as Error).message;
        this.log(`  ${record.deploymentId} FAILED: ${record.failure}`);
      }
      alarmWatcher?.stop();
      // Rollback (DEPLOYMENT_FAILURE / DEPLOYMENT_STOP_ON_ALARM): only needed when traffic moved.
      if (record.trafficMovedAt !== undefined && d.original.length > 0 && !d.isRollback) {
        const original = d.original[0]!.installed ?? d.revision;
        this.log(`  automatic rollback: traffic returns to ${names(d.original)} (revision ${original.id})`);
        record.rollback = await this.run({
          revision: original,
          description: `automatic rollback of ${record.deploymentId} (${record.status === "Stopped" ? "DEPLOYMENT_STOP_ON_ALARM" : "DEPLOYMENT_FAILURE"})`,
          originalSlot: d.replacementSlot,
          replacementSlot: d.originalSlot,
          replacement: d.original,
          original: d.replacement,
          isRollback: true,
          rerouteOnly: true,
        });
      } else if (record.trafficMovedAt === undefined) {
        this.log(`  traffic never left ${d.originalSlot}: nothing to roll back`);
      }
    } finally {
      alarmWatcher?.stop();
      record.endedAt = performance.now();
    }
    return record;
  }

  private async parallel(instances: readonly FleetInstance[], each: (i: FleetInstance) => Promise<void>): Promise<void> {
    const results = await Promise.allSettled(instances.map(each));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** One agent command on one instance, after any command still running there. */
  private agent(i: FleetInstance, revision: Revision, events: readonly string[]) {
    const previous = this.busy.get(i.id) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(() => i.host.deploy(revision.zip, { applicationName: this.o.group.applicationName, deploymentGroupName: this.o.group.deploymentGroupName, events }));
    this.busy.set(i.id, run);
    return run;
  }

  /** A traffic hook of the revision installed on `i`: the agent runs it, unless that revision has no script for it. */
  private async hookOnly(i: FleetInstance, event: LifecycleEvent): Promise<{ status: StepStatus; detail: string }> {
    const revision = i.installed;
    if (!revision) return { status: "Skipped", detail: "nothing installed on this instance yet" };
    if (!this.hooksOf(revision).has(event)) return { status: "Skipped", detail: `revision ${revision.id} has no ${event} scripts (the agent would skip it)` };
    const run = await this.agent(i, revision, [event]);
    const result = run.events.find((e) => e.name === event);
    if (run.status === "Failed") return { status: "Failed", detail: `${run.failure?.event ?? event} failed: ${failureReason(run.failure?.reason)} (agent ${run.deploymentId ?? "?"})` };
    return { status: result?.status === "Skipped" ? "Skipped" : "Succeeded", detail: `agent ${run.deploymentId}: ${eventTimes(run)}` };
  }

  private hooksOf(revision: Revision): Set<string> {
    let hooks = this.hooksCache.get(revision.zip);
    if (!hooks) {
      const appspec = readZip(readFileSync(revision.zip), revision.zip).find((e) => e.name === "appspec.yml");
      if (!appspec) throw new ReleaseError(`${revision.zip} has no appspec.yml`);
      hooks = new Set(Object.keys(parseAppSpec(appspec.data.toString("utf8"), `${revision.zip}:appspec.yml`).hooks));
      this.hooksCache.set(revision.zip, hooks);
    }
    return hooks;
  }
}

/** "DownloadBundle 0.4 s, Install 1.1 s, AfterAllowTraffic 0.2 s": where an agent run's time went. */
function eventTimes(run: AgentRun): string {
  return run.events.map((e) => `${e.name} ${e.status === "Succeeded" ? `${((e.end.getTime() - e.start.getTime()) / 1000).toFixed(1)} s` : e.status.toLowerCase()}`).join(", ");
}

/** The line of a hook failure that says why (our hooks write "ERROR: ..."), else the agent's first line. */
export function failureReason(reason: string | undefined): string {
  if (!reason) return "see the agent's logs";
  const lines = reason
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return (
    lines
      .filter((l) => /ERROR:/.test(l))
      .at(-1)
      ?.replace(/^\[stderr\]/, "") ??
    lines[0] ??
    reason
  );
}

const names = (instances: readonly { id: string }[]) => instances.map((i) => i.id).join(", ");
