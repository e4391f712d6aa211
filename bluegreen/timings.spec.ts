import { describe, expect, it } from "vitest";
import { loadEnvironment } from "../environments/index.js";
import { describeTimings, scaleTimings } from "./timings.js";

describe("scaleTimings", () => {
  it("scales the waits of staging's load balancer and alarms, not their thresholds, and floors the check timeout", () => {
    const staging = loadEnvironment("staging");
    const t = scaleTimings(staging, 0.05);
    expect(t.healthCheck).toEqual({ path: "/ready", intervalMs: 500, timeoutMs: 1000, healthyThreshold: 2, unhealthyThreshold: 2 });
    expect(t.drainingMs).toBe(3000);
    expect(t.alarmPeriodMs).toBe(3000);
    expect(t.idleTimeoutMs).toBe(60_000);
    expect([t.alarmEvaluationPeriods, t.http5xxPerPeriod, t.unhealthyHosts]).toEqual([2, 5, 1]);
    expect(describeTimings(t, staging).join("\n")).toMatch(/time scale 0\.05 \(1\/20\)[\s\S]*timeout 1\.0 s \(5 s; floor 1\.0 s\)[\s\S]*connection draining 3\.0 s \(60 s\)/);
  });

  it("follows prod's own settings (longer draining, 3 healthy checks)", () => {
    const t = scaleTimings(loadEnvironment("prod"), 0.1);
    expect(t.drainingMs).toBe(12_000);
    expect(t.healthCheck.healthyThreshold).toBe(3);
  });

  it("refuses a scale outside (0, 1]", () => {
    expect(() => scaleTimings(loadEnvironment("staging"), 0)).toThrow(/time scale 0 must be in \(0, 1\]/);
    expect(() => scaleTimings(loadEnvironment("staging"), 2)).toThrow(RangeError);
  });
});
