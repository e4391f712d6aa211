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
const whole = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

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
  })
  .refine((c) => c.BODY_LIMIT_BYTES >= 128 * c.MAX_BATCH_ROWS, {
    path: ["BODY_LIMIT_BYTES"],
    message: "must be at least 128 bytes per row of MAX_BATCH_ROWS, or a full batch could never be sent",
  });

export type Config = z.infer<typeof configSchema>;

/** Only these variables are read; the rest of the environment is none of the service's business. */
export const CONFIG_KEYS = ["PORT", "HOST", "MODEL_DIR", "LOG_LEVEL", "MAX_BATCH_ROWS", "BODY_LIMIT_BYTES", "SHUTDOWN_TIMEOUT_MS"] as const;

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
