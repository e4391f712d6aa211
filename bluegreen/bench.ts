/**
 * `npm run bench:blue-green [-- --runs N --env staging|prod]`: the whole five-scenario blue/green
 * rehearsal N times (default 3) in this process, warm (image cached, one bundle built first),
 * printing the medians the issue targets: failed requests per scenario at the asked rate,
 * scenario 5's time from the first 5xx to traffic back, and the whole rehearsal's time. Each run
 * starts with a baseline (the same load, no release) so the release's p99 is shown as a ratio to it.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { locateAgent } from "../revision/agent-source.js";
import { buildBundle } from "../revision/bundle.js";
import { fleetNodeForImage } from "../revision/image.js";
import { instanceSettings } from "../revision/instance-settings.js";
import { median } from "../scripts/stats.js";
import { blueGreenPrerequisites, containerInstances } from "./instances.js";
import { DEFAULT_RATE, rehearseBlueGreen, type BlueGreenResult } from "./rehearsal.js";
import { SCENARIOS } from "./scenarios.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, env: { type: "string", default: "staging" } } });
const runs = Number(values.runs);
if (!(Number.isInteger(runs) && runs >= 1 && runs <= 20)) throw new Error(`--runs ${values.runs}: expected 1-20`);
const settings = instanceSettings(process.env);
const missing = blueGreenPrerequisites();
if (missing.length) {
  console.error(`bench:blue-green cannot run here: missing ${missing.join("; ")}`);
  process.exit(1);
}
const repoDir = resolve(import.meta.dirname, "..");
const agent = await locateAgent({ repoDir, cacheDir: settings.cacheDir, ...(settings.agentDir ? { configuredDir: settings.agentDir } : {}) });
const bundle = await buildBundle({ repoDir });
const bootHost = containerInstances({ agent, cacheDir: settings.cacheDir, node: fleetNodeForImage(settings.cacheDir), imageSettings: settings.image });
console.log(`benchmark: ${runs} x the ${SCENARIOS.length}-scenario blue/green rehearsal of ${values.env}, ${DEFAULT_RATE} req/s asked, bundle ${bundle.zipPath}`);

const results: BlueGreenResult[] = [];
for (let i = 1; i <= runs; i++) {
  const lines: string[] = [];
  const r = await rehearseBlueGreen({ environment: values.env, bundleZip: bundle.zipPath, bootHost, scenarios: SCENARIOS, baselineMs: 10_000, out: (l) => lines.push(l) });
  results.push(r);
  const five = r.scenarios.find((s) => s.id === 5);
  console.log(
    `run ${i}: ${
      r.ok
        ? "ok"
        : `FAILED (${
            r.error ??
            r.scenarios
              .filter((s) => !s.ok)
              .map((s) => `${s.id}: ${s.verdict}`)
              .join("; ")
          })`
    }; ` +
      `failed ${r.scenarios.map((s) => `${s.id}:${s.traffic?.failed ?? "-"}`).join(" ")}; rate ${r.scenarios.map((s) => s.traffic?.ratePerSecond.toFixed(0) ?? "-").join("/")} req/s; ` +
      `5xx->back ${five?.incidentMs !== undefined ? `${(five.incidentMs / 1000).toFixed(1)} s` : "-"}; total ${((r.totalMs - (r.baselineWallMs ?? 0)) / 1000).toFixed(1)} s without the baseline (setup ${(r.setupMs / 1000).toFixed(1)} s)`,
  );
  if (!r.ok) for (const l of lines.slice(-40)) console.log(`  | ${l}`);
}

const med = (f: (r: BlueGreenResult) => number | undefined) => {
  const v = results.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return v.length ? median(v) : NaN;
};
const t = results[0]?.timings;
console.log(`\nmedians of ${runs} runs (${values.env}, time scale ${t?.scale})`);
for (const id of SCENARIOS) {
  console.log(
    `  scenario ${id}: failed requests ${med((r) => r.scenarios.find((s) => s.id === id)?.traffic?.failed)} at ${med((r) => r.scenarios.find((s) => s.id === id)?.traffic?.ratePerSecond).toFixed(0)} req/s (target ${id === 5 ? "reported" : "0 at >= 200 req/s"})`,
  );
}
const limit = t ? (2 * t.alarmEvaluationPeriods * t.alarmPeriodMs) / 1000 : NaN;
console.log(
  `  scenario 5: first 5xx -> traffic back ${(med((r) => r.scenarios.find((s) => s.id === 5)?.incidentMs) / 1000).toFixed(1)} s (target <= ${limit.toFixed(1)} s = 2 x the scaled evaluation period)`,
);
console.log(
  `  whole rehearsal ${(med((r) => r.totalMs - (r.baselineWallMs ?? 0)) / 1000).toFixed(1)} s without the baseline (target < 180 s warm), of which setup ${(med((r) => r.setupMs) / 1000).toFixed(1)} s`,
);
const p99Release = med((r) => median(r.scenarios.filter((s) => s.id !== 5 && s.traffic).map((s) => s.traffic!.p99Ms)));
const p99Baseline = med((r) => r.baseline?.p99Ms);
console.log(`  p99 latency during releases 1-4 ${p99Release} ms vs ${p99Baseline} ms with no release: ratio ${(p99Release / p99Baseline).toFixed(2)}`);
console.log(`  baseline failed requests ${med((r) => r.baseline?.failed)}`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
