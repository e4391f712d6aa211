/**
 * The environment's load-balancer and alarm times, scaled down for a rehearsal on one machine.
 * A staging release waits 2 x 10 s for the health check, 60 s of draining and 2 min of alarm
 * evaluation; at the default scale (1/12.5) the same sequence takes seconds, in the same
 * proportions. Times that bound a request instead of delaying the release (the idle timeout)
 * are not scaled, and the health-check timeout has a floor: a shared 2-core machine must not
 * turn a slow answer into an unhealthy host.
 */
import type { EnvironmentConfig } from "../environments/index.js";

/**
 * 1/12.5: staging's 2 x 60 s alarm evaluation becomes 9.6 s. The fixed cost of the agent runs a
 * rollback needs (codedeploy-local reinstalls the revision for every run: about 3.5 s each, two
 * of them) must fit in the target of 2 x the evaluation period; at 1/20 it barely does.
 */
export const DEFAULT_TIME_SCALE = 0.08;
/** Below this a check timeout measures the machine's load, not the service. */
export const CHECK_TIMEOUT_FLOOR_MS = 1000;

export interface RehearsalTimings {
  readonly scale: number;
  readonly healthCheck: {
    readonly path: string;
    readonly intervalMs: number;
    readonly timeoutMs: number;
    readonly healthyThreshold: number;
    readonly unhealthyThreshold: number;
  };
  readonly idleTimeoutMs: number;
  readonly drainingMs: number;
  /** CloudWatch's 60 s alarm period, scaled. */
  readonly alarmPeriodMs: number;
  readonly alarmEvaluationPeriods: number;
  readonly http5xxPerPeriod: number;
  readonly unhealthyHosts: number;
}

export function scaleTimings(config: Pick<EnvironmentConfig, "loadBalancer" | "alarms" | "service">, scale: number = DEFAULT_TIME_SCALE): RehearsalTimings {
  if (!(scale > 0 && scale <= 1)) throw new RangeError(`time scale ${scale} must be in (0, 1]`);
  const hc = config.loadBalancer.healthCheck;
  const ms = (seconds: number) => Math.max(1, Math.round(seconds * 1000 * scale));
  return {
    scale,
    healthCheck: {
      path: config.service.healthCheckPath,
      intervalMs: ms(hc.intervalSeconds),
      timeoutMs: Math.max(ms(hc.timeoutSeconds), Math.min(CHECK_TIMEOUT_FLOOR_MS, hc.timeoutSeconds * 1000)),
      healthyThreshold: hc.healthyThreshold,
      unhealthyThreshold: hc.unhealthyThreshold,
    },
    idleTimeoutMs: config.loadBalancer.idleTimeoutSeconds * 1000,
    drainingMs: ms(config.loadBalancer.connectionDrainingSeconds),
    alarmPeriodMs: ms(60),
    alarmEvaluationPeriods: config.alarms.evaluationMinutes,
    http5xxPerPeriod: config.alarms.http5xxPerMinute,
    unhealthyHosts: config.alarms.unhealthyHosts,
  };
}

/** What the rehearsal prints, so that nobody mistakes a scaled figure for the real one. */
export function describeTimings(t: RehearsalTimings, config: Pick<EnvironmentConfig, "loadBalancer" | "alarms">): string[] {
  const s = (ms: number) => `${(ms / 1000).toFixed(ms < 1000 ? 2 : 1)} s`;
  const hc = config.loadBalancer.healthCheck;
  const scaledTimeout = Math.round(hc.timeoutSeconds * 1000 * t.scale);
  return [
    `time scale ${t.scale} (1/${Number((1 / t.scale).toFixed(1))}): every wait below is the environment's, scaled`,
    `health check GET ${t.healthCheck.path} every ${s(t.healthCheck.intervalMs)} (${hc.intervalSeconds} s), timeout ${s(t.healthCheck.timeoutMs)} (${hc.timeoutSeconds} s${t.healthCheck.timeoutMs > scaledTimeout ? `; floor ${s(CHECK_TIMEOUT_FLOOR_MS)}` : ""}), healthy after ${t.healthCheck.healthyThreshold}, unhealthy after ${t.healthCheck.unhealthyThreshold}`,
    `connection draining ${s(t.drainingMs)} (${config.loadBalancer.connectionDrainingSeconds} s); idle timeout ${s(t.idleTimeoutMs)} (not scaled: it bounds a request, it never delays a release)`,
    `alarms: >= ${t.http5xxPerPeriod} backend 5xx or >= ${t.unhealthyHosts} unhealthy hosts per ${s(t.alarmPeriodMs)} period (60 s), ${t.alarmEvaluationPeriods} of ${t.alarmEvaluationPeriods} periods`,
  ];
}
