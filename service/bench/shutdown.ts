/**
 * `npm run bench:shutdown`: what a SIGTERM costs the clients. Per round, 64 keep-alive clients (raw HTTP/1.1,
 * each sending its next request as soon as the last is answered, reconnecting after `Connection: close`) load
 * the server; SIGTERM after 0.3-0.8 s; the clients count every request they had fully written that got no answer
 * (lost), answers with `Connection: close`, refused connections; the server's exit code and time from SIGTERM to
 * exit are recorded. Half the rounds send GET /health (answered within one event-loop turn: connections are
 * often idle between requests, the case http.Server.close() resets), half POST /predict.
 * Then the time to exit with one idle keep-alive connection and one half-sent request open.
 * Baseline in the same run: a bare node:http server that shuts down as Node's documentation shows
 * (server.close(), which also closes idle connections), under the same load.
 *
 * Env: BENCH_ROUNDS (10), BENCH_BUNDLE (another bundle to compare). Loopback only.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import { median } from "../../scripts/stats.js";
import { EXAMPLE_CAR, keepAliveLoad, type KeepAliveLoadResult } from "../src/testing.js";
import { bundle, cleanup, freePort, startServer } from "./harness.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const BODY = JSON.stringify({ instances: [EXAMPLE_CAR] });
const REQUESTS = {
  health: "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
  predict: `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`,
};
const BARE = `
const server = require("node:http").createServer((req, res) => {
  req.resume();
  req.on("end", () => { res.writeHead(200, { "content-type": "application/json", "content-length": 15 }); res.end('{"status":"ok"}'); });
}).listen(Number(process.argv[1]), "127.0.0.1", () => console.log("ready"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));`;

interface Round extends KeepAliveLoadResult {
  code: number | null;
  exitMs: number;
}

async function startBare() {
  const port = await freePort();
  const child = spawn(process.execPath, ["-e", BARE, String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  await once(child.stdout, "data");
  return { child, port, exit: once(child, "exit").then(([code]) => ({ code: code as number | null })) };
}

async function round(kind: "service" | "bare", file: string, request: string): Promise<Round> {
  const srv = kind === "service" ? await startServer(file, { env: { SHUTDOWN_TIMEOUT_MS: "10000" }, stdout: "pipe" }) : await startBare();
  const load = keepAliveLoad(srv.port, 64, request);
  await new Promise((r) => setTimeout(r, 300 + Math.random() * 500));
  const t0 = performance.now();
  srv.child.kill("SIGTERM");
  const { code } = await srv.exit;
  const exitMs = performance.now() - t0;
  return { ...(await load.stop()), code, exitMs };
}

/** One idle keep-alive connection and one request with half its body sent; time from SIGTERM to exit. */
async function idleAndHalfSent(file: string): Promise<{ code: number | null; exitMs: number }> {
  const srv = await startServer(file, { env: { SHUTDOWN_TIMEOUT_MS: "10000" }, stdout: "pipe" });
  const idle = connect(srv.port, "127.0.0.1");
  const half = connect(srv.port, "127.0.0.1");
  await Promise.all([once(idle, "connect"), once(half, "connect")]);
  for (const s of [idle, half]) s.on("error", () => {});
  idle.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  await once(idle, "data");
  half.write(`POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY.slice(0, 20)}`);
  await new Promise((r) => setTimeout(r, 100));
  const t0 = performance.now();
  srv.child.kill("SIGTERM");
  const { code } = await srv.exit;
  idle.destroy();
  half.destroy();
  return { code, exitMs: performance.now() - t0 };
}

async function main(): Promise<void> {
  const file = await bundle();
  console.log(`shutdown benchmark: ${ROUNDS} SIGTERMs per server under 64 keep-alive clients; 127.0.0.1 only`);
  const results: Record<string, Round[]> = { service: [], bare: [] };
  for (let i = 0; i < ROUNDS; i++) {
    const kind = i % 2 === 0 ? "health" : "predict";
    for (const server of ["service", "bare"] as const) {
      const r = await round(server, file, REQUESTS[server === "bare" ? "health" : kind]);
      results[server]!.push(r);
      console.log(
        `  round ${i + 1} ${server.padEnd(7)} ${server === "bare" ? "health " : kind.padEnd(7)} answered ${r.answered}, lost ${r.lost} (on never-accepted connections ${r.lostOnNewConnection}), ` +
          `Connection: close ${r.closing}, refused ${r.refused}, exit ${r.code} after ${r.exitMs.toFixed(0)} ms`,
      );
    }
  }
  const idle: { code: number | null; exitMs: number }[] = [];
  for (let i = 0; i < 5; i++) idle.push(await idleAndHalfSent(file));
  const sum = (k: string, f: (r: Round) => number) => results[k]!.reduce((n, r) => n + f(r), 0);
  console.log("\nresults");
  for (const k of ["service", "bare"]) {
    console.log(
      `  ${k === "service" ? "service" : "baseline: node:http + server.close()"}: lost ${sum(k, (r) => r.lost)} fully-sent requests over ${ROUNDS} SIGTERMs ` +
        `(${sum(k, (r) => r.answered)} answered); exit codes ${JSON.stringify([...new Set(results[k]!.map((r) => r.code))])}; ` +
        `median SIGTERM-to-exit ${median(results[k]!.map((r) => r.exitMs)).toFixed(0)} ms`,
    );
  }
  console.log(
    `  service with an idle and a half-sent connection open: median SIGTERM-to-exit ${median(idle.map((r) => r.exitMs)).toFixed(0)} ms ` +
      `(max ${Math.max(...idle.map((r) => r.exitMs)).toFixed(0)}; target < 1000 ms), exit codes ${JSON.stringify([...new Set(idle.map((r) => r.code))])}`,
  );
}

main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
