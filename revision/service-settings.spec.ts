import { describe, expect, it } from "vitest";
import { loadEnvironments, type EnvironmentConfig } from "../environments/index.js";
import { EnvironmentConfigSchema } from "../environments/schema.js";
import { loadConfig } from "../service/src/config.js";
import { KEEP_ALIVE_MARGIN_SECONDS, serviceKeepAliveMs, settingsFor, SettingsError, envFile } from "./service-settings.js";

/** The variables of an EnvironmentFile, as systemd reads them (KEY=value lines, # comments). */
function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.indexOf("=");
    values[line.slice(0, i)] = line.slice(i + 1);
  }
  return values;
}

const environments = Object.values(loadEnvironments()) as EnvironmentConfig[];
const idle = EnvironmentConfigSchema.shape.loadBalancer.shape.idleTimeoutSeconds;

describe("the per-environment service settings", () => {
  it.each(environments.map((e) => [e.name, e] as const))("%s: the service's own config schema accepts them, with the ports and limits of the environment", (_, env) => {
    const settings = parseEnvFile(settingsFor(env));
    const config = loadConfig(settings);
    expect(config).toMatchObject({
      PORT: env.service.port,
      METRICS_PORT: env.service.metricsPort,
      LOG_LEVEL: env.service.logLevel,
      MAX_BATCH_ROWS: env.service.maxBatchRows,
      KEEP_ALIVE_TIMEOUT_MS: (env.loadBalancer.idleTimeoutSeconds + KEEP_ALIVE_MARGIN_SECONDS) * 1000,
    });
    expect(settings.DEPLOYMENT_GROUP).toBe(`${env.project}-${env.name}`);
  });

  it.each([
    ["the shortest", idle.minValue!],
    ["the longest", idle.maxValue!],
  ])("keep the service's keep-alive above %s idle timeout the environment schema allows (%i s), within what the service accepts", (_, seconds) => {
    const env = { ...environments[0]!, loadBalancer: { ...environments[0]!.loadBalancer, idleTimeoutSeconds: seconds } };
    expect(EnvironmentConfigSchema.safeParse(env).success).toBe(true);
    const keepAlive = loadConfig(parseEnvFile(settingsFor(env))).KEEP_ALIVE_TIMEOUT_MS;
    expect(keepAlive).toBe(serviceKeepAliveMs(env));
    expect(keepAlive).toBeGreaterThan(seconds * 1000);
  });

  it("refuses a value that an EnvironmentFile and bash would read differently, naming the setting", () => {
    expect(() => envFile({ LOG_LEVEL: "info debug" })).toThrow(SettingsError);
    expect(() => envFile({ LOG_LEVEL: "info debug" })).toThrow(/LOG_LEVEL="info debug"/);
  });
});
