/**
 * HAProxy as the rehearsal's load balancer: its configuration, rendered from the environment's
 * `loadBalancer` settings (scaled, see timings.ts), the process, and a client for its runtime
 * API (the admin socket), through which servers are added, enabled, drained and read.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { onPath } from "../revision/image.js";
import type { RehearsalTimings } from "./timings.js";

export class LoadBalancerError extends Error {
  override readonly name = "LoadBalancerError";
}

export const BACKEND = "fleet";
export const FRONTEND = "public";

export interface HaproxyConfigInput {
  readonly port: number;
  readonly socketPath: string;
  readonly timings: RehearsalTimings;
  /** The CLB's name, for the frontend's comment. */
  readonly name: string;
}

/** The configuration file. Servers are not in it: they come and go through the runtime API. */
export function renderHaproxyConfig({ port, socketPath, timings: t, name }: HaproxyConfigInput): string {
  return `# ${name}: the rehearsal's stand-in for the Classic Load Balancer (time scale ${t.scale})
global
  stats socket ${socketPath} mode 600 level admin
  maxconn 4096
  nbthread 1

defaults
  mode http
  timeout connect 2s
  # The CLB's idle timeout applies to both sides of the connection.
  timeout client ${t.idleTimeoutMs}ms
  timeout server ${t.idleTimeoutMs}ms
  timeout http-keep-alive ${t.idleTimeoutMs}ms
  timeout http-request 10s

frontend ${FRONTEND}
  bind 127.0.0.1:${port}
  default_backend ${BACKEND}

backend ${BACKEND}
  # Dynamic servers (added through the runtime API) need a dynamic algorithm.
  balance roundrobin
  option httpchk GET ${t.healthCheck.path}
  http-check expect status 200
  timeout check ${t.healthCheck.timeoutMs}ms
  # Which server answered: the traffic report reads it beside the revision in the body.
  http-response set-header X-Served-By %s
`;
}

/** The per-server options that carry the health check settings (dynamic servers ignore default-server). */
export function serverCheckOptions(t: RehearsalTimings): string {
  const hc = t.healthCheck;
  return `check inter ${hc.intervalMs} fastinter ${hc.intervalMs} downinter ${hc.intervalMs} rise ${hc.healthyThreshold} fall ${hc.unhealthyThreshold}`;
}

export function haproxyVersion(binary = "haproxy"): string {
  const result = spawnSync(binary, ["-v"], { encoding: "utf8" });
  if (result.error) {
    throw new LoadBalancerError(
      (result.error as NodeJS.ErrnoException).code === "ENOENT"
        ? `haproxy is not installed (no ${binary} on PATH): the blue/green rehearsal's load balancer is HAProxy; install the Debian package haproxy (npm run setup)`
        : `cannot run ${binary}: ${result.error.message}`,
    );
  }
  const version = /HAProxy version (\d+\.\d+)/.exec(result.stdout)?.[1];
  if (!version) throw new LoadBalancerError(`${binary} -v did not print an HAProxy version: ${result.stdout.slice(0, 200)}`);
  const [major, minor] = version.split(".").map(Number) as [number, number];
  // `add server` (dynamic servers) arrived in 2.4.
  if (major < 2 || (major === 2 && minor < 4)) throw new LoadBalancerError(`HAProxy ${version} is too old: the runtime API's "add server" needs 2.4 or later`);
  return version;
}

/** Fails naming the port when something already listens on it. */
export function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new LoadBalancerError(
          error.code === "EADDRINUSE"
            ? `port ${port} on 127.0.0.1 is in use: ${what} cannot listen there; pick another (--lb-port) or stop what holds it`
            : `cannot listen on 127.0.0.1:${port} (${what}): ${error.message}`,
        ),
      ),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

export interface HaproxyOptions {
  readonly workDir: string;
  readonly port: number;
  readonly timings: RehearsalTimings;
  readonly name: string;
  readonly binary?: string;
  /** How long HAProxy may take to accept commands and connections. */
  readonly startTimeoutMs?: number;
}

export class Haproxy {
  private exited = false;
  private stderr = "";

  private constructor(
    private readonly child: ChildProcess,
    readonly socketPath: string,
    readonly port: number,
    readonly configPath: string,
  ) {
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    child.once("exit", () => {
      this.exited = true;
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(options: HaproxyOptions): Promise<Haproxy> {
    const binary = options.binary ?? "haproxy";
    haproxyVersion(binary);
    await assertPortFree(options.port, "the load balancer");
    const socketPath = join(options.workDir, "admin.sock");
    const configPath = join(options.workDir, "haproxy.cfg");
    writeFileSync(configPath, renderHaproxyConfig({ port: options.port, socketPath, timings: options.timings, name: options.name }));
    const check = spawnSync(binary, ["-c", "-q", "-f", configPath], { encoding: "utf8" });
    if (check.status !== 0) throw new LoadBalancerError(`HAProxy rejects the configuration ${configPath}: ${(check.stderr || check.stdout).trim()}`);
    // -db: foreground, no daemon; the rehearsal owns the process and stops it. setpriv
    // --pdeathsig: should this process die without cleaning up, HAProxy goes with it.
    const argv = ["-db", "-f", configPath];
    const child = onPath("setpriv")
      ? spawn("setpriv", ["--pdeathsig", "SIGTERM", "--", binary, ...argv], { stdio: ["ignore", "ignore", "pipe"] })
      : spawn(binary, argv, { stdio: ["ignore", "ignore", "pipe"] });
    const proxy = new Haproxy(child, socketPath, options.port, configPath);
    const deadline = Date.now() + (options.startTimeoutMs ?? 5000);
    for (;;) {
      if (proxy.exited) throw new LoadBalancerError(`HAProxy exited at start: ${proxy.stderr.trim() || "no output"}`);
      const ready = await proxy.command("show info").then(
        (info) => info.includes("Name: HAProxy"),
        () => false,
      );
      if (ready && (await canConnect(options.port))) return proxy;
      if (Date.now() > deadline) {
        await proxy.stop();
        throw new LoadBalancerError(
          `HAProxy did not accept commands on ${socketPath} and connections on 127.0.0.1:${options.port} within ${options.startTimeoutMs ?? 5000} ms: ${proxy.stderr.trim()}`,
        );
      }
      await sleep(50);
    }
  }

  /** One runtime API command; resolves with HAProxy's answer (empty for most successful set commands). */
  command(line: string): Promise<string> {
    if (/[\n;]/.test(line)) return Promise.reject(new LoadBalancerError(`one runtime API command at a time: ${JSON.stringify(line)}`));
    return new Promise((resolve, reject) => {
      const socket = connect(this.socketPath);
      let answer = "";
      socket.setEncoding("utf8");
      socket.setTimeout(5000, () => socket.destroy(new LoadBalancerError(`HAProxy's admin socket did not answer "${line}" within 5 s`)));
      socket.on("data", (chunk: string) => (answer += chunk));
      socket.once("error", reject);
      socket.once("close", (hadError) => {
        if (!hadError) resolve(answer.trim());
      });
      socket.end(`${line}\n`);
    });
  }

  /** A command whose only successful answers are `ok` (e.g. "" or "New server registered."). */
  async expect(line: string, ok: (answer: string) => boolean): Promise<void> {
    const answer = await this.command(line);
    if (!ok(answer)) throw new LoadBalancerError(`HAProxy refused "${line}": ${answer || "(no answer)"}`);
  }

  /** `show servers state BACKEND` as one record per server, keyed by the header's field names. */
  async serversState(backend = BACKEND): Promise<Record<string, string>[]> {
    const lines = (await this.command(`show servers state ${backend}`)).split("\n");
    const header = lines
      .find((l) => l.startsWith("# "))
      ?.slice(2)
      .split(" ");
    if (!header) throw new LoadBalancerError(`unexpected answer to show servers state: ${lines.slice(0, 3).join(" / ")}`);
    return lines.filter((l) => l && !l.startsWith("#") && !/^\d+$/.test(l)).map((l) => Object.fromEntries(l.split(" ").map((v, i) => [header[i] ?? `f${i}`, v])));
  }

  /** `show stat` as one record per proxy/server row, keyed by the CSV header. */
  async stats(): Promise<Record<string, string>[]> {
    const lines = (await this.command("show stat")).split("\n");
    const header = lines[0]?.replace(/^# /, "").split(",");
    if (!header) throw new LoadBalancerError("empty answer to show stat");
    return lines
      .slice(1)
      .filter(Boolean)
      .map((l) => Object.fromEntries(l.split(",").map((v, i) => [header[i] ?? `f${i}`, v])));
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    // SIGUSR1 is HAProxy's soft stop (finish what is in flight); SIGTERM if that takes too long.
    this.child.kill("SIGUSR1");
    const timer = setTimeout(() => this.child.kill("SIGTERM"), 2000);
    await gone;
    clearTimeout(timer);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
