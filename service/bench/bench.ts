/**
 * `npm run bench:service`: throughput, latency, batch time and cold start of
 * the bundled service, against a bare node:http server answering a fixed JSON
 * body, measured in the same run on the same machine. Loopback only.
 *
 * Options (env): BENCH_ROUNDS (default 5), BENCH_SECONDS (default 5),
 * BENCH_CONNECTIONS (default 10), BENCH_SKIP_REFERENCE=1 to skip the
 * node:http+model reference server, BENCH_BUNDLE=path/server.mjs to measure
 * another bundle than the working tree's.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import autocannon from "autocannon";
import { median } from "../../scripts/stats.js";
import { EXAMPLE_CAR as CAR } from "../src/testing.js";
import { bundle as serviceBundle, cleanup, freePort, percentile, ROOT } from "./harness.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

const SINGLE = JSON.stringify({ instances: [CAR] });
const BATCH = JSON.stringify({ instances: Array.from({ length: 1000 }, (_, i) => ({ ...CAR, weight: 2000 + i * 3, model_year: 1970 + (i % 13) })) });

const BASELINE_SRC = `
const body = JSON.stringify({ predictions: [17.048465728759766], model: { name: "auto-mpg", version: "1.0.0" } });
require("node:http").createServer((req, res) => {
  req.resume();
  req.on("end", () => { res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }); res.end(body); });
}).listen(Number(process.argv[1]), "127.0.0.1");`;

async function waitFor(url: string, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before ${url} answered`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`port ${port} never opened`);
}

interface Server {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function start(kind: "baseline" | "service" | "reference", bundle: string): Promise<Server> {
  const port = await freePort();
  const env = { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn" };
  const args = kind === "baseline" ? ["-e", BASELINE_SRC, String(port)] : kind === "service" ? [bundle] : ["--import", "tsx", join(import.meta.dirname, "node-http-predict.ts"), String(port)];
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "inherit"], cwd: ROOT });
  const url = `http://127.0.0.1:${port}`;
  if (kind === "service") await waitFor(`${url}/ready`, child, 30_000);
  else await waitForPort(port, child);
  return {
    url,
    child,
    stop: async () => {
      child.kill("SIGTERM");
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    },
  };
}

/** CPU time (user + system, ms) a child has used so far, from /proc (Linux); NaN elsewhere. */
function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

async function load(server: Server, duration = SECONDS) {
  const url = server.url;
  const cpu0 = cpuMs(server.child.pid);
  const r = await autocannon({
    url: `${url}/predict`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: SINGLE,
    connections: CONNECTIONS,
    duration,
  });
  if (r.errors > 0 || r.non2xx > 0 || r.timeouts > 0) throw new Error(`load run had ${r.errors} errors, ${r.non2xx} non-2xx, ${r.timeouts} timeouts`);
  const cpuUsPerRequest = ((cpuMs(server.child.pid) - cpu0) * 1000) / r.requests.total;
  return { rps: r.requests.average, p99: r.latency.p99, p50: r.latency.p50, cpu: cpuUsPerRequest };
}

async function main(): Promise<void> {
  // BENCH_BUNDLE: a bundle built elsewhere (e.g. from an older commit, to compare before/after in one session).
  const bundle = await serviceBundle();
  console.log(`benchmark: ${ROUNDS} rounds x ${SECONDS} s, ${CONNECTIONS} connections, autocannon in-process, servers as child processes, 127.0.0.1 only`);

  const kinds: ("baseline" | "service" | "reference")[] = process.env.BENCH_SKIP_REFERENCE ? ["baseline", "service"] : ["baseline", "service", "reference"];
  const servers = Object.fromEntries(await Promise.all(kinds.map(async (k) => [k, await start(k, bundle)] as const))) as Record<string, Server>;
  const results: Record<string, { rps: number; p99: number; p50: number; cpu: number }[]> = {};
  const batchMs: number[] = [];
  try {
    for (const k of kinds) await load(servers[k]!, 3); // warm-up (JIT, connection pools)
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate the order (baseline first, then last) so that a drift in other load on the machine during a
      // round does not always favour the same server.
      for (const k of round % 2 === 1 ? kinds : [...kinds].reverse()) {
        const r = await load(servers[k]!);
        (results[k] ??= []).push(r);
        console.log(`  round ${round} ${k.padEnd(9)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  server CPU ${r.cpu.toFixed(0)} µs/req`);
      }
    }

    // 1000-row batch, sequential requests on one keep-alive connection, client-side round trip.
    for (let i = 0; i < 230; i++) {
      const t0 = performance.now();
      const res = await fetch(`${servers.service!.url}/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: BATCH });
      const json = (await res.json()) as { predictions: number[] };
      const ms = performance.now() - t0;
      if (res.status !== 200 || json.predictions.length !== 1000) throw new Error(`batch request failed: ${res.status}`);
      if (i >= 30) batchMs.push(ms); // first 30 are warm-up
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }

  // Cold start: spawn the bundle until /ready answers 200.
  const coldMs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const port = await freePort();
    const t0 = performance.now();
    const child = spawn(process.execPath, [bundle], {
      env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn" },
      stdio: "ignore",
    });
    await waitFor(`http://127.0.0.1:${port}/ready`, child);
    coldMs.push(performance.now() - t0);
    child.kill("SIGTERM");
    await once(child, "exit");
  }

  const base = median(results.baseline!.map((r) => r.rps));
  const svc = median(results.service!.map((r) => r.rps));
  const svcP99 = median(results.service!.map((r) => r.p99));
  const ratios = results.service!.map((r, i) => r.rps / results.baseline![i]!.rps);
  const batch = batchMs;
  const lines: [string, string, string][] = [
    ["bare node:http fixed JSON (baseline)", `${base.toFixed(0)} req/s`, "median of rounds"],
    ["service POST /predict, 1 row", `${svc.toFixed(0)} req/s`, "median of rounds"],
    ["service p99 latency at that load", `${svcP99.toFixed(1)} ms`, "target < 5 ms"],
    // Each round runs baseline and service back to back, so a round's ratio compares like with like;
    // the ratio of the two medians mixes rounds taken under different load from other processes.
    ["ratio service / baseline (median of per-round ratios)", `${(median(ratios) * 100).toFixed(1)} %`, `target >= 60 %; ratio of medians ${((svc / base) * 100).toFixed(1)} %`],
    ["1000-row batch round trip", `${median(batch).toFixed(2)} ms median`, `p90 ${percentile(batch, 90).toFixed(2)} ms; target < 10 ms`],
    ["cold start to /ready", `${median(coldMs).toFixed(0)} ms median`, `min ${Math.min(...coldMs).toFixed(0)} / max ${Math.max(...coldMs).toFixed(0)} ms of ${coldMs.length}; target < 1500 ms`],
  ];
  const cpu = (k: string) => median(results[k]!.map((r) => r.cpu)).toFixed(0);
  lines.push(["server CPU per request (baseline / service)", `${cpu("baseline")} / ${cpu("service")} µs`, "median of rounds; robust to other load on the machine"]);
  if (results.reference) {
    const ref = median(results.reference.map((r) => r.rps));
    const refRatios = results.reference.map((r, i) => r.rps / results.baseline![i]!.rps);
    lines.push([
      "reference: node:http + same model, no validation",
      `${ref.toFixed(0)} req/s`,
      `${(median(refRatios) * 100).toFixed(1)} % of baseline per round; p99 ${median(results.reference.map((r) => r.p99)).toFixed(1)} ms; CPU ${cpu("reference")} µs/req`,
    ]);
  }
  console.log("\nresults");
  for (const [name, value, note] of lines) console.log(`  ${name.padEnd(50)} ${value.padStart(18)}   ${note}`);
}

main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(cleanup);
