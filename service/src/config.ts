/**
 * Service configuration: read once from the environment in main.ts, validated
 * with one zod schema, passed down as a typed object. Nothing else reads env.
 */
import { fileURLToPath } from "node:url";
import { z } from "zod";

/** Set by build.ts (esbuild define) to the model dir relative to the bundle; unset when run from source. */
declare const __SERVICE_MODEL_DIR_RELATIVE__: string | undefined;
const relativeModelDir = typeof __SERVICE_MODEL_DIR_RELATIVE__ === "string" ? __SERVICE_MODEL_DIR_RELATIVE__ : "../model";
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL(relativeModelDir.endsWith("/") ? relativeModelDir : `${relativeModelDir}/`, import.meta.url));

/** A whole number written in decimal digits; unlike z.coerce, "" and "8e3" and " 1" are errors. */
const whole = (min: number, max: number) => z.string().regex(/^\d+$/, "must be a whole number").transform(Number).pipe(z.number().int().min(min).max(max));

export const configSchema = z
  .object({
    PORT: whole(0, 65535).default(8080),
    /**
     * 0.0.0.0 by default: on the instance the load balancer reaches the
     * service on the private IP, so a loopback default would fail every health
     * check; the security group is the boundary. Set HOST=127.0.0.1 on a laptop.
     */
    HOST: z
      .string()
      .regex(/^[A-Za-z0-9.:-]+$/, "must be an IP address or host name")
      .default("0.0.0.0"),
    MODEL_DIR: z.string().min(1).default(DEFAULT_MODEL_DIR),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    MAX_BATCH_ROWS: whole(1, 100_000).default(1000),
    BODY_LIMIT_BYTES: whole(1024, 64 * 1024 * 1024).default(1024 * 1024),
    /** Bound on graceful shutdown; past it the process exits 1. */
    SHUTDOWN_TIMEOUT_MS: whole(100, 120_000).default(10_000),
    /**
     * Port of the separate /metrics listener (same HOST). Not the service port, so the load balancer, which forwards
     * only to the service port, never exposes it; the security group admits it from inside the VPC only.
     * 9464 is the port registered for Prometheus exporters of this kind (OpenTelemetry's default).
     */
    METRICS_PORT: whole(0, 65535).default(9464),
    /**
     * The CodeDeploy revision this process belongs to, set by the deployment (optional): echoed in every /predict
     * answer and in /version, so a client can tell which revision answered during a blue/green switch.
     */
    REVISION_ID: z
      .string()
      .regex(/^[A-Za-z0-9._:@+/-]{1,128}$/, "must be 1-128 letters, digits or . _ : @ + / -")
      .optional(),
    /**
     * How long an idle keep-alive connection stays open. It must exceed the load balancer's idle timeout, so that the
     * balancer closes idle connections first: a service that closes first races the balancer's next request on that
     * connection, which the client sees as a 502/504. The revision's per-environment settings derive it from
     * loadBalancer.idleTimeoutSeconds (up to 4000 s on a Classic Load Balancer); the default suits the CLB default (60 s).
     */
    KEEP_ALIVE_TIMEOUT_MS: whole(1_000, 4_100_000).default(65_000),
    /** Overload protection: /predict answers 503 + Retry-After while the event-loop delay is over this (0 = off). */
    MAX_EVENT_LOOP_DELAY_MS: whole(0, 60_000).default(1000),
    /** Overload protection: /predict answers 503 + Retry-After while this many prediction requests are in flight (0 = off). */
    MAX_IN_FLIGHT_REQUESTS: whole(0, 1_000_000).default(1024),
  })
  .refine((c) => c.BODY_LIMIT_BYTES >= 128 * c.MAX_BATCH_ROWS, {
    path: ["BODY_LIMIT_BYTES"],
    message: "must be at least 128 bytes per row of MAX_BATCH_ROWS, or a full batch could never be sent",
  })
  .refine((c) => c.METRICS_PORT === 0 || c.METRICS_PORT !== c.PORT, {
    path: ["METRICS_PORT"],
    message: "must differ from PORT: /metrics has its own listener so that the load balancer cannot reach it",
  });

export type Config = z.infer<typeof configSchema>;

/** Only these variables are read; the rest of the environment is none of the service's business. */
export const CONFIG_KEYS = [
  "PORT",
  "HOST",
  "MODEL_DIR",
  "LOG_LEVEL",
  "MAX_BATCH_ROWS",
  "BODY_LIMIT_BYTES",
  "SHUTDOWN_TIMEOUT_MS",
  "METRICS_PORT",
  "KEEP_ALIVE_TIMEOUT_MS",
  "REVISION_ID",
  "MAX_EVENT_LOOP_DELAY_MS",
  "MAX_IN_FLIGHT_REQUESTS",
] as const;

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const picked: Record<string, string> = {};
  for (const k of CONFIG_KEYS) {
    const v = env[k];
    if (v !== undefined) picked[k] = v;
  }
  const parsed = configSchema.safeParse(picked);
  if (!parsed.success) throw new ConfigError(`invalid configuration in environment variables:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
