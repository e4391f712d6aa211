/**
 * `npm run bench:flood`: the long-URL flood of issue 14 (wrk, 64 connections, GET of a 15,000-character path, each
 * a 404 that used to be logged twice in full into an unbounded buffer) against the bundle run with
 * --max-old-space-size=256, twice: with stdout read (as by journald) and with stdout never read (a stalled log
 * reader, the worst case for the log buffer). Printed per run: alive or not, /ready during and after, peak RSS
 * against the idle RSS of the same process (the baseline), requests served, log lines dropped by reason.
 * Target: alive, /ready 200, RSS < 300 MB. Loopback only.
 *
 * Env: BENCH_SECONDS (30), BENCH_BUNDLE (another bundle, e.g. an older commit's, to compare).
 */
import { median } from "../../scripts/stats.js";
import { bundle, cleanup, get, percentile, probe, startServer, wrk } from "./harness.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const PATH = `/${"a".repeat(15_000)}`;

async function run(file: string, stdout: "pipe" | "stall") {
  const srv = await startServer(file, { nodeArgs: ["--max-old-space-size=256"], stdout, env: { LOG_LEVEL: "info" } });
  const idle = srv.rssMb();
  let peak = idle;
  const rss: number[] = [];
  const sampler = setInterval(() => {
    const v = srv.rssMb();
    if (Number.isFinite(v)) {
      rss.push(v);
      peak = Math.max(peak, v);
    }
  }, 500);
  const ready = probe(`${srv.url}/ready`, 200, 5000);
  const load = await wrk(`${srv.url}${PATH}`, { connections: 64, seconds: SECONDS });
  clearInterval(sampler);
  const during = await ready.stop();
  const alive = srv.child.exitCode === null && srv.child.signalCode === null;
  const after = alive ? await get(`${srv.url}/ready`).catch(() => ({ status: 0, ms: 0, body: "" })) : { status: 0, ms: 0, body: "" };
  const metrics = alive
    ? await get(`${srv.metricsUrl}/metrics`)
        .then((r) => r.body)
        .catch(() => "")
    : "";
  const dropped = (reason: string) => Number(new RegExp(`log_lines_dropped_total\\{reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  const exit = alive ? undefined : await srv.exit;
  await srv.stop();
  return {
    stdout,
    alive,
    exit,
    readyAfter: after.status,
    readyDuring: { p50: percentile(during.ms, 50), p99: percentile(during.ms, 99), failures: [...during.statuses].filter(([s]) => s !== 200).reduce((n, [, c]) => n + c, 0) },
    idle,
    peak,
    medianRss: rss.length ? median(rss) : Number.NaN,
    rps: load.rps,
    requests: load.requests,
    droppedBuffer: dropped("buffer_full"),
    droppedSampled: dropped("sampled"),
  };
}

async function main(): Promise<void> {
  const file = await bundle();
  console.log(`flood benchmark: wrk -c64 -d${SECONDS}s GET /${"a".repeat(3)}…(15,000 characters), server with --max-old-space-size=256; 127.0.0.1 only`);
  for (const stdout of ["pipe", "stall"] as const) {
    const r = await run(file, stdout);
    console.log(
      `  stdout ${stdout === "pipe" ? "read   " : "stalled"}: ${r.alive ? "alive" : `DIED (${JSON.stringify(r.exit)})`}, /ready after ${r.readyAfter}, ` +
        `/ready during p50 ${r.readyDuring.p50.toFixed(1)} ms p99 ${r.readyDuring.p99.toFixed(1)} ms (failures ${r.readyDuring.failures}); ` +
        `RSS idle ${r.idle.toFixed(0)} MB, median ${r.medianRss.toFixed(0)} MB, peak ${r.peak.toFixed(0)} MB (${(r.peak / r.idle).toFixed(2)}x idle; target < 300 MB); ` +
        `${r.requests} requests (${r.rps.toFixed(0)}/s); log lines dropped: ${r.droppedSampled} sampled, ${r.droppedBuffer} buffer full`,
    );
  }
}

main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
