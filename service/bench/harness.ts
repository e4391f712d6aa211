/**
 * Shared by the hostile-traffic benchmarks (overload, flood, shutdown): a bundled server as a child process on
 * 127.0.0.1, wrk as the load generator (a separate C process, so the load does not share the event loop of the
 * probes that time /ready), and a prober that opens a fresh connection per request, as a load balancer's health
 * check does. Everything started here is stopped by `cleanup()`, also on Ctrl-C.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import getPort from "get-port";
import { buildService } from "../build.js";

export const ROOT = join(import.meta.dirname, "..", "..");
export const MODEL_DIR = join(ROOT, "service", "model");

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

export async function cleanup(): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await Promise.all([...dirs].map((d) => rm(d, { recursive: true, force: true })));
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

/** A scratch folder removed by cleanup(). */
export async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mpg14-bench-"));
  dirs.add(dir);
  return dir;
}

/** The service bundle of the working tree, or BENCH_BUNDLE (e.g. a bundle of an older commit, to compare). */
export async function bundle(): Promise<string> {
  if (process.env.BENCH_BUNDLE) return process.env.BENCH_BUNDLE;
  const work = await scratch();
  await symlink(join(ROOT, "node_modules"), join(work, "node_modules"), "dir");
  return (await buildService(join(work, "dist"), { modelDir: MODEL_DIR })).outfile;
}

export function freePort(): Promise<number> {
  return getPort({ host: "127.0.0.1" });
}

export interface Spawned {
  child: ChildProcess;
  url: string;
  port: number;
  metricsUrl: string;
  /** Resident set size (MB) from /proc, NaN once gone. */
  rssMb(): number;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

/** Starts the bundle with `nodeArgs` and `env`; resolves once /ready answers 200. stdout: "pipe" (read), "ignore" or "stall" (a pipe nobody reads). */
export async function startServer(file: string, opts: { env?: Record<string, string>; nodeArgs?: string[]; stdout?: "ignore" | "pipe" | "stall" } = {}): Promise<Spawned> {
  const port = await freePort();
  const metricsPort = await freePort();
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), file], {
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: String(port), METRICS_PORT: String(metricsPort), MODEL_DIR, LOG_LEVEL: "warn", ...opts.env },
    stdio: ["ignore", opts.stdout === "ignore" ? "ignore" : "pipe", "inherit"],
  });
  children.add(child);
  if (opts.stdout === "pipe") child.stdout!.resume();
  // "stall": the pipe is never read, as when the log reader (journald, a terminal) stops keeping up.
  const exit = once(child, "exit").then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const url = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before it was ready`);
    const r = await get(`${url}/ready`, 1000).catch(() => undefined);
    if (r?.status === 200) break;
    if (performance.now() - t0 > 30_000) throw new Error("server not ready after 30 s");
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    url,
    port,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    exit,
    rssMb: () => rssMb(child.pid),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exit;
      }
    },
  };
}

export function rssMb(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** GET on a fresh connection (no keep-alive); resolves with status and milliseconds to the full answer. */
export function get(url: string, timeoutMs = 10_000): Promise<{ status: number; ms: number; body: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** Probes `url` every `everyMs` on a fresh connection until stopped; latencies in ms (a failure counts as its timeout). */
export function probe(url: string, everyMs = 50, timeoutMs = 5000) {
  const ms: number[] = [];
  const statuses = new Map<number, number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const r = await get(url, timeoutMs).catch(() => ({ status: 0, ms: timeoutMs, body: "" }));
      ms.push(r.ms);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      const wait = everyMs - (performance.now() - t0);
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { ms, statuses };
    },
  };
}

export const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

export interface WrkResult {
  requests: number;
  rps: number;
  non2xx: number;
  socketErrors: string;
  statuses: Record<string, number>;
  output: string;
}

/**
 * wrk against `url`; `body` makes it a JSON POST. A Lua script counts answers by status; `rate` is not
 * supported by wrk (closed loop: each connection sends its next request when the last one is answered).
 */
export async function wrk(url: string, opts: { connections: number; seconds: number; body?: string; threads?: number }): Promise<WrkResult> {
  const dir = await scratch();
  const script = join(dir, "count.lua");
  await writeFile(
    script,
    `${opts.body !== undefined ? `wrk.method = "POST"\nwrk.body = ${JSON.stringify(opts.body)}\nwrk.headers["Content-Type"] = "application/json"\n` : ""}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do all[k] = (all[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(all) do table.insert(parts, '"' .. k .. '":' .. v) end
  io.write("STATUSES {" .. table.concat(parts, ",") .. "}\\n")
end
`,
  );
  const child = spawn("wrk", [`-t${opts.threads ?? 2}`, `-c${opts.connections}`, `-d${opts.seconds}s`, "--timeout", "10s", "-s", script, url], { stdio: ["ignore", "pipe", "inherit"] });
  children.add(child);
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  await once(child, "exit");
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? Number.NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? Number.NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socketErrors = /Socket errors: (.*)/.exec(output)?.[1] ?? "none";
  const statuses = JSON.parse(/STATUSES (\{.*\})/.exec(output)?.[1] ?? "{}") as Record<string, number>;
  return { requests, rps, non2xx, socketErrors, statuses, output };
}
