import { describe, expect, it } from "vitest";
import { alarmsInAlarm, AlarmWatcher, type CounterSample } from "./alarms.js";
import { scaleTimings } from "./timings.js";
import { loadEnvironment } from "../environments/index.js";

const staging = loadEnvironment("staging");
const t = scaleTimings(staging, 0.05);

describe("alarmsInAlarm (the stack's alarm settings, from HAProxy's counters)", () => {
  it("goes to ALARM only when every one of the last evaluation periods reaches the threshold", () => {
    const quiet = { backend5xx: 0, elb5xx: 0, unhealthyHosts: 0 };
    expect(alarmsInAlarm([quiet, { ...quiet, backend5xx: 5 }], t)).toEqual([]);
    expect(
      alarmsInAlarm(
        [
          { ...quiet, backend5xx: 5 },
          { ...quiet, backend5xx: 9 },
        ],
        t,
      ),
    ).toEqual([{ name: "backend-5xx", values: [5, 9], threshold: staging.alarms.http5xxPerMinute }]);
    expect(
      alarmsInAlarm(
        [
          { ...quiet, backend5xx: 4 },
          { ...quiet, backend5xx: 50 },
        ],
        t,
      ),
    ).toEqual([]);
  });

  it("has no opinion before it has as many periods as it evaluates (missing data is not breaching)", () => {
    expect(alarmsInAlarm([{ backend5xx: 100, elb5xx: 100, unhealthyHosts: 2 }], t)).toEqual([]);
  });

  it("raises the load balancer's own 5xx and unhealthy hosts separately", () => {
    const bad = { backend5xx: 0, elb5xx: 7, unhealthyHosts: 1 };
    expect(alarmsInAlarm([bad, bad], t).map((a) => a.name)).toEqual(["elb-5xx", "unhealthy-hosts"]);
  });
});

describe("AlarmWatcher", () => {
  it("turns counter readings into datapoints per clock-aligned period and fires once, after two breaching periods", async () => {
    const fast = { ...t, alarmPeriodMs: 120 };
    let servers5xx = 0;
    const read = async (): Promise<CounterSample> => {
      servers5xx += 3; // 3 per reading, 6 readings per period: 18 per period
      return { servers5xx, frontend5xx: servers5xx, unhealthyHosts: 0 };
    };
    const fired: string[][] = [];
    const started = performance.now();
    const watcher = await AlarmWatcher.start({ timings: fast, read, onAlarm: (alarms) => fired.push(alarms.map((a) => a.name)) });
    await new Promise((r) => setTimeout(r, 600));
    watcher.stop();
    expect(fired).toEqual([["backend-5xx"]]);
    // The first period is the part of a clock period after the start; the full ones hold ~18.
    const full = watcher.periods.slice(1);
    expect(full.length).toBeGreaterThanOrEqual(2);
    expect(full.every((p) => p.backend5xx >= 5 && p.elb5xx === 0)).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(120);
  });
});
