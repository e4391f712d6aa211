/**
 * The release's rollback alarms (stacks/constructs/release-alarms.ts), computed from HAProxy's
 * counters instead of CloudWatch's ELB metrics:
 *
 *   backend-5xx      HTTPCode_Backend_5XX, Sum      = the servers' hrsp_5xx
 *   elb-5xx          HTTPCode_ELB_5XX, Sum          = the frontend's hrsp_5xx minus the servers'
 *                                                     (503s HAProxy made itself: no server up)
 *   unhealthy-hosts  UnHealthyHostCount, Maximum    = registered servers that fail their check
 *
 * each per (scaled) 60 s period, ALARM when the last `evaluationPeriods` periods all reach the
 * threshold (datapointsToAlarm = evaluationPeriods, GreaterThanOrEqualToThreshold), missing data
 * not breaching: exactly the alarms' settings.
 */
import type { RehearsalTimings } from "./timings.js";

export type AlarmName = "backend-5xx" | "elb-5xx" | "unhealthy-hosts";

export interface Datapoint {
  readonly backend5xx: number;
  readonly elb5xx: number;
  readonly unhealthyHosts: number;
}

export interface AlarmState {
  readonly name: AlarmName;
  readonly values: readonly number[];
  readonly threshold: number;
}

/** The alarms in ALARM after these periods (oldest first), with the values that tripped them. */
export function alarmsInAlarm(periods: readonly Datapoint[], t: Pick<RehearsalTimings, "alarmEvaluationPeriods" | "http5xxPerPeriod" | "unhealthyHosts">): AlarmState[] {
  const n = t.alarmEvaluationPeriods;
  if (periods.length < n) return [];
  const last = periods.slice(-n);
  const checks: [AlarmName, (d: Datapoint) => number, number][] = [
    ["backend-5xx", (d) => d.backend5xx, t.http5xxPerPeriod],
    ["elb-5xx", (d) => d.elb5xx, t.http5xxPerPeriod],
    ["unhealthy-hosts", (d) => d.unhealthyHosts, t.unhealthyHosts],
  ];
  return checks.flatMap(([name, value, threshold]) => {
    const values = last.map(value);
    return values.every((v) => v >= threshold) ? [{ name, values, threshold }] : [];
  });
}

/** One reading of HAProxy's counters. */
export interface CounterSample {
  /** Sum of hrsp_5xx over the backend's servers. */
  readonly servers5xx: number;
  /** hrsp_5xx of the frontend (everything the client saw). */
  readonly frontend5xx: number;
  readonly unhealthyHosts: number;
}

export interface AlarmWatcherOptions {
  readonly timings: RehearsalTimings;
  readonly read: () => Promise<CounterSample>;
  /** Called once, when an alarm goes to ALARM. */
  readonly onAlarm: (alarms: AlarmState[], periods: readonly Datapoint[]) => void;
  /** Samples per period (for the Maximum of unhealthy hosts). */
  readonly samplesPerPeriod?: number;
}

/** Samples the counters, closes a datapoint at the end of every period, and evaluates. */
export class AlarmWatcher {
  readonly periods: Datapoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private fired = false;

  private constructor(private readonly o: AlarmWatcherOptions) {}

  static async start(options: AlarmWatcherOptions): Promise<AlarmWatcher> {
    const watcher = new AlarmWatcher(options);
    await watcher.loop(await options.read());
    return watcher;
  }

  private async loop(first: CounterSample): Promise<void> {
    const { alarmPeriodMs } = this.o.timings;
    const every = alarmPeriodMs / (this.o.samplesPerPeriod ?? 6);
    // Periods are slices of the wall clock (multiples of the period since the epoch), as
    // CloudWatch's datapoints are clock minutes; a slow read never stretches one. The first
    // datapoint covers only the part of its period after the watch started.
    const nextBoundary = () => (Math.floor(Date.now() / alarmPeriodMs) + 1) * alarmPeriodMs;
    let boundary = nextBoundary();
    let periodStart = first;
    let maxUnhealthy = first.unhealthyHosts;
    const tick = async () => {
      if (this.stopped) return;
      const s = await this.o.read().catch(() => undefined);
      if (s) {
        maxUnhealthy = Math.max(maxUnhealthy, s.unhealthyHosts);
        if (Date.now() >= boundary) {
          boundary = nextBoundary();
          const servers = s.servers5xx - periodStart.servers5xx;
          const frontend = s.frontend5xx - periodStart.frontend5xx;
          this.periods.push({ backend5xx: servers, elb5xx: Math.max(0, frontend - servers), unhealthyHosts: maxUnhealthy });
          periodStart = s;
          maxUnhealthy = s.unhealthyHosts;
          const alarms = alarmsInAlarm(this.periods, this.o.timings);
          if (alarms.length && !this.fired) {
            this.fired = true;
            this.o.onAlarm(alarms, this.periods);
          }
        }
      }
      if (this.stopped) return;
      const untilBoundary = boundary - Date.now();
      this.timer = setTimeout(() => void tick(), Math.max(5, Math.min(every, untilBoundary)));
    };
    this.timer = setTimeout(() => void tick(), every);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

export function describeAlarms(alarms: readonly AlarmState[], t: RehearsalTimings, prefix: string): string {
  return alarms
    .map((a) => `${prefix}-${a.name} in ALARM: ${a.values.join(", ")} in the last ${a.values.length} periods of ${(t.alarmPeriodMs / 1000).toFixed(1)} s (threshold ${a.threshold})`)
    .join("; ");
}
