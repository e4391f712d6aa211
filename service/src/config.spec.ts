import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_MODEL_DIR, loadConfig } from "./config.js";

describe("service configuration from the environment", () => {
  it("has defaults for everything, and the default model dir is the committed model", () => {
    const c = loadConfig({});
    expect(c).toEqual({
      PORT: 8080,
      HOST: "0.0.0.0",
      MODEL_DIR: DEFAULT_MODEL_DIR,
      LOG_LEVEL: "info",
      MAX_BATCH_ROWS: 1000,
      BODY_LIMIT_BYTES: 1048576,
      SHUTDOWN_TIMEOUT_MS: 10000,
      METRICS_PORT: 9464,
      KEEP_ALIVE_TIMEOUT_MS: 65000,
      MAX_EVENT_LOOP_DELAY_MS: 1000,
      MAX_IN_FLIGHT_REQUESTS: 1024,
    });
    expect(c.REVISION_ID).toBeUndefined();
    expect(existsSync(join(DEFAULT_MODEL_DIR, "manifest.json"))).toBe(true);
  });

  it("reads and converts the variables it knows and ignores the rest of the environment", () => {
    const c = loadConfig({ PORT: "0", HOST: "127.0.0.1", MAX_BATCH_ROWS: "10", BODY_LIMIT_BYTES: "4096", LOG_LEVEL: "warn", HOME: "/root" });
    expect(c).toMatchObject({ PORT: 0, HOST: "127.0.0.1", MAX_BATCH_ROWS: 10, BODY_LIMIT_BYTES: 4096, LOG_LEVEL: "warn" });
    expect(loadConfig({ REVISION_ID: "d-ABC123XYZ", METRICS_PORT: "9100" })).toMatchObject({ REVISION_ID: "d-ABC123XYZ", METRICS_PORT: 9100 });
    // The longest Classic Load Balancer idle timeout (4000 s) plus a margin is accepted.
    expect(loadConfig({ KEEP_ALIVE_TIMEOUT_MS: "4005000" })).toMatchObject({ KEEP_ALIVE_TIMEOUT_MS: 4_005_000 });
  });

  it.each([
    [{ PORT: "" }, "PORT"],
    [{ PORT: "8e3" }, "PORT"],
    [{ PORT: " 80" }, "PORT"],
    [{ PORT: "-1" }, "PORT"],
    [{ MAX_BATCH_ROWS: "1.5" }, "MAX_BATCH_ROWS"],
    [{ BODY_LIMIT_BYTES: "10" }, "BODY_LIMIT_BYTES"],
    [{ LOG_LEVEL: "INFO" }, "LOG_LEVEL"],
    [{ MODEL_DIR: "" }, "MODEL_DIR"],
    [{ SHUTDOWN_TIMEOUT_MS: "0" }, "SHUTDOWN_TIMEOUT_MS"],
    [{ METRICS_PORT: "8080" }, "METRICS_PORT"],
    [{ PORT: "9000", METRICS_PORT: "9000" }, "METRICS_PORT"],
    [{ REVISION_ID: "" }, "REVISION_ID"],
    [{ REVISION_ID: 'r1"; drop' }, "REVISION_ID"],
    [{ MAX_EVENT_LOOP_DELAY_MS: "-1" }, "MAX_EVENT_LOOP_DELAY_MS"],
    [{ KEEP_ALIVE_TIMEOUT_MS: "500" }, "KEEP_ALIVE_TIMEOUT_MS"],
    [{ KEEP_ALIVE_TIMEOUT_MS: "65s" }, "KEEP_ALIVE_TIMEOUT_MS"],
  ])("refuses %o, naming %s", (env, key) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`at ${key}`));
  });
});
