/**
 * `npm run bench:overload`: do health checks stay fast while /predict is saturated, and is nothing refused below
 * capacity? Loopback only; the server is the bundle as a child process, wrk the load, and /ready is probed every
 * 50 ms on a fresh connection (as the load balancer's health check does).
 *
 * Per round: /ready alone (the baseline of the same run), then 64 connections of 1-row /predict (the service at
 * its capacity: a closed loop of 64 clients is the most it can be asked with that many connections), then 64
 * connections of 1000-row batches (the heaviest legal requests). Printed: medians over rounds of /ready p50/p99,
 * the ratio of /ready p99 under load to /ready p99 alone, throughput, and every non-200 answer by status.
 *
 * Env: BENCH_ROUNDS (3), BENCH_SECONDS (10), BENCH_CONNECTIONS (64), BENCH_BUNDLE (another bundle to compare),
 * BENCH_ENV (JSON of extra server env, e.g. '{"MAX_EVENT_LOOP_DELAY_MS":"0"}' to switch the protection off).
 */
import { median } from "../../scripts/stats.js";
import { EXAMPLE_CAR as CAR } from "../src/testing.js";
import { bundle, cleanup, percentile, probe, startServer, wrk } from "./harness.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const EXTRA_ENV = JSON.parse(process.env.BENCH_ENV ?? "{}") as Record<string, string>;
const ONE = JSON.stringify({ instances: [CAR] });
const BATCH = JSON.stringify({ instances: Array.from({ length: 1000 }, (_, i) => ({ ...CAR, weight: 2000 + i * 3, model_year: 1970 + (i % 13) })) });

interface Phase {
  p50: number;
  p99: number;
  rps: number;
  statuses: Record<string, number>;
  probeFailures: number;
}

async function phase(url: string, body: string | undefined): Promise<Phase> {
  const p = probe(`${url}/ready`);
  const load =
    body === undefined ? await new Promise<undefined>((r) => setTimeout(() => r(undefined), SECONDS * 1000)) : await wrk(`${url}/predict`, { connections: CONNECTIONS, seconds: SECONDS, body });
  const { ms, statuses } = await p.stop();
  return {
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    rps: load?.rps ?? 0,
    statuses: load?.statuses ?? {},
    probeFailures: [...statuses].filter(([s]) => s !== 200).reduce((n, [, c]) => n + c, 0),
  };
}

async function main(): Promise<void> {
  const file = await bundle();
  console.log(`overload benchmark: ${ROUNDS} rounds x ${SECONDS} s, ${CONNECTIONS} connections (wrk), /ready probed every 50 ms on fresh connections; 127.0.0.1 only`);
  const srv = await startServer(file, { env: EXTRA_ENV, stdout: "pipe" });
  const results: Record<string, Phase[]> = { idle: [], single: [], batch: [] };
  try {
    await wrk(`${srv.url}/predict`, { connections: CONNECTIONS, seconds: 3, body: ONE }); // warm-up
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, body] of [
        ["idle", undefined],
        ["single", ONE],
        ["batch", BATCH],
      ] as const) {
        const r = await phase(srv.url, body);
        results[name]!.push(r);
        console.log(
          `  round ${round} ${name.padEnd(6)} /ready p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms (probe failures ${r.probeFailures})` +
            (body ? `  /predict ${r.rps.toFixed(0)} req/s  answers ${JSON.stringify(r.statuses)}` : ""),
        );
      }
    }
  } finally {
    await srv.stop();
  }
  const med = (name: string, f: (p: Phase) => number) => median(results[name]!.map(f));
  const sum503 = (name: string) => results[name]!.reduce((n, r) => n + (r.statuses["503"] ?? 0), 0);
  const idleP99 = med("idle", (r) => r.p99);
  console.log("\nresults (medians of rounds)");
  console.log(`  /ready alone                       p50 ${med("idle", (r) => r.p50).toFixed(1)} ms  p99 ${idleP99.toFixed(1)} ms   baseline`);
  for (const [name, label] of [
    ["single", "64 conns of 1-row /predict"],
    ["batch", "64 conns of 1000-row /predict"],
  ] as const) {
    const p99 = med(name, (r) => r.p99);
    console.log(
      `  /ready under ${label.padEnd(30)} p50 ${med(name, (r) => r.p50).toFixed(1)} ms  p99 ${p99.toFixed(1)} ms  (${(p99 / idleP99).toFixed(1)}x alone; target p99 < 500 ms)` +
        `   /predict ${med(name, (r) => r.rps).toFixed(0)} req/s, 503s ${sum503(name)} over all rounds`,
    );
  }
}

main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
