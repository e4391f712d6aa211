/**
 * A local instance: the cached machine image (image.ts) booted with systemd-nspawn as a machine
 * with systemd as PID 1, the real CodeDeploy agent bind-mounted read-only at
 * /opt/codedeploy-agent (as on EC2) and run there through `codedeploy-local` with no DEPLOY_ROOT,
 * so the hooks take their systemd path: a system user, the hardened unit, journald.
 *
 * The image is never written: the root is a volatile overlay (writes go to memory and vanish
 * with the instance). By default an instance has its own network namespace with only loopback
 * (`--private-network`): the service's port can never collide with the host's or another
 * instance's, and it is reached from inside (`exec`). Give `networkNamespace` to join a namespace
 * made with `ip netns add` (the blue/green rehearsal gives each instance its own address).
 *
 * Needs root, systemd-nspawn and nsenter. The host needs no systemd (`--register=no
 * --keep-unit`: this machine has none as PID 1 and uses cgroup v1).
 *
 * ```ts
 * const instance = await LocalInstance.boot({ name: "mpg10-blue", image, agent });
 * try {
 *   const d = await instance.deploy("dist/revision-0.1.0.zip", { applicationName: "mpg-model-dev", deploymentGroupName: "mpg-model-dev" });
 *   for (const e of d.events) console.log(e.name, e.status, e.start, e.end, e.reason ?? "");
 *   const { stdout } = await instance.exec(["/opt/mpg-model/app/bin/make_prediction.sh"]);
 * } finally {
 *   await instance.stop();
 * }
 * ```
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentRubyLib, type AgentLocation } from "./agent-source.js";
import { parseAgentRun, type AgentRun } from "./agent-log.js";
import { onInterrupt } from "./cleanup.js";
import { agentEnv, codedeployLocalArgs, deploymentGroupId, type DeployOptions } from "./codedeploy-local.js";
import { onPath, type Image } from "./image.js";

export type { DeployOptions } from "./codedeploy-local.js";
export type { LifecycleEventResult, AgentRun } from "./agent-log.js";

export interface ExecOptions {
  /** Written to the command's stdin (closed afterwards; without it stdin is /dev/null). */
  readonly input?: string | Buffer;
  /** Added to the instance's service environment (PATH, LANG=C.UTF-8, TZ=UTC, HOME=/root). */
  readonly env?: Readonly<Record<string, string>>;
  /** Kills the command (its whole process group) after this long; default 2 minutes. */
  readonly timeoutMs?: number;
}

export interface ExecResult {
  /** The exit code; null when it was killed (then `stderr` says so). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Deployment extends AgentRun {
  /** Where the agent keeps this deployment's scripts.log, inside the instance. */
  readonly scriptsLog: string | undefined;
  /** codedeploy-local's own output (its stderr holds the Ruby error of a failed Install). */
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** What every local instance offers; the container and the mount-namespace fallback both do. */
export interface Instance {
  readonly name: string;
  /** "container": systemd-nspawn, hooks on their systemd path. "namespace": the fallback, hooks on their local path. */
  readonly kind: "container" | "namespace";
  /**
   * The hooks' DEPLOY_ROOT: "" on a container (the real paths: /opt/<app>, /etc/<app>), the
   * scratch root on the namespace fallback. The service's settings are at `${deployRoot}/etc/<app>/service.env`.
   */
  readonly deployRoot: string;
  /** Runs argv on the instance (as root, cwd /), never through a shell. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * Deploys a revision zip with the real agent's codedeploy-local. Never throws for a failed
   * deployment: read `status`, `failure` and each event's `reason`.
   */
  deploy(bundleZip: string, options: DeployOptions): Promise<Deployment>;
  /** Stops everything the instance started and removes its scratch folder. Idempotent. */
  stop(): Promise<void>;
}

export interface BootOptions {
  /** The machine and host name: letters, digits and dashes; tests use a prefix of their own (mpg10-). */
  readonly name: string;
  readonly image: Image;
  readonly agent: AgentLocation;
  /** An `ip netns` name; the instance joins it (--network-namespace-path=/run/netns/NAME). */
  readonly networkNamespace?: string;
  /** Where the instance's scratch folder goes (default the system temp folder). */
  readonly scratchParent?: string;
  /** Bound on reaching `running` (default 60 s). */
  readonly bootTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export class InstanceError extends Error {
  override readonly name = "InstanceError";
}

/** What stops an instance from booting here, as one line each (empty: it can boot). */
export function containerPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root (systemd-nspawn boots machines as root: run with sudo)");
  if (!onPath("systemd-nspawn")) missing.push("systemd-nspawn (apt-get install systemd-container, or npm run setup)");
  if (!onPath("nsenter")) missing.push("nsenter (apt-get install util-linux)");
  return missing;
}

const AGENT_HOME = "/opt/codedeploy-agent";
const DOCOPT_HOME = "/usr/local/lib/docopt.rb";
const AGENT_LOG = "/var/log/aws/codedeploy-agent/codedeploy-local.log";
const DEPLOYMENTS_LOG = `${AGENT_HOME}/deployment-root/deployment-logs/codedeploy-agent-deployments.log`;

export class LocalInstance implements Instance {
  readonly kind = "container" as const;
  readonly deployRoot = "";
  private stopped: Promise<void> | undefined;
  private readonly unregister: () => void;

  private constructor(
    readonly name: string,
    private readonly nspawn: ChildProcess,
    /** The container's PID 1 (systemd), as the host sees it. */
    readonly leaderPid: number,
    private readonly scratch: string,
    private readonly agent: AgentLocation,
  ) {
    this.unregister = onInterrupt(() => this.stop());
  }

  /** Boots an instance and waits until systemd reports `running` (or `degraded`: then the failed units are logged). */
  static async boot(options: BootOptions): Promise<LocalInstance> {
    const log = options.log ?? (() => {});
    const missing = containerPrerequisites();
    if (missing.length) throw new InstanceError(`cannot boot a local instance: missing ${missing.join("; ")}`);
    if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(options.name)) throw new InstanceError(`instance name "${options.name}" must be letters, digits and dashes (at most 63)`);
    if (options.networkNamespace !== undefined && !existsSync(`/run/netns/${options.networkNamespace}`)) {
      throw new InstanceError(`network namespace "${options.networkNamespace}" does not exist (/run/netns/${options.networkNamespace}): create it with ip netns add ${options.networkNamespace}`);
    }
    const scratch = mkdtempSync(join(options.scratchParent ?? tmpdir(), `${options.name}-instance-`));
    const consoleLog = join(scratch, "console.log");
    const out = openSync(consoleLog, "a");
    const { agentDir, docoptDir } = options.agent;
    const args = [
      "--boot",
      "--quiet",
      `--directory=${options.image.rootfs}`,
      `--machine=${options.name}`,
      `--hostname=${options.name}`,
      // No machined on this host (no systemd as PID 1): neither register nor move to a new scope.
      "--register=no",
      "--keep-unit",
      // The image stays read-only; the instance writes to a tmpfs overlay that dies with it.
      "--volatile=overlay",
      options.networkNamespace ? `--network-namespace-path=/run/netns/${options.networkNamespace}` : "--private-network",
      "--console=passive",
      // The agent as AWS installs it (/opt/codedeploy-agent), read-only; its state beside it stays writable.
      ...["bin", "lib", "vendor", "certs"].map((part) => `--bind-ro=${join(agentDir, part)}:${AGENT_HOME}/${part}`),
      `--bind-ro=${docoptDir}:${DOCOPT_HOME}`,
    ];
    // setpriv --pdeathsig: if this process dies without cleaning up, nspawn is told to power the machine off.
    const [command, argv] = onPath("setpriv") ? ["setpriv", ["--pdeathsig", "SIGTERM", "--", "systemd-nspawn", ...args]] : ["systemd-nspawn", args];
    const t0 = performance.now();
    const nspawn = spawn(command as string, argv as string[], { stdio: ["ignore", out, out] });
    closeSync(out);
    let exited: string | undefined;
    nspawn.on("exit", (code, signal) => (exited = `systemd-nspawn exited (${signal ?? code})`));
    const fail = (why: string): never => {
      nspawn.kill("SIGKILL");
      const tail = existsSync(consoleLog) ? readFileSync(consoleLog, "utf8").trim().split("\n").slice(-12).join("\n") : "";
      rmSync(scratch, { recursive: true, force: true });
      throw new InstanceError(`instance ${options.name} did not boot: ${why}${tail ? `\n${tail}` : ""}`);
    };

    const deadline = Date.now() + (options.bootTimeoutMs ?? 60_000);
    let leader: number | undefined;
    while (leader === undefined) {
      if (exited) fail(exited);
      if (Date.now() > deadline) fail("no systemd appeared in the container");
      leader = containerInit(nspawn.pid!);
      if (leader === undefined) await sleep(20);
    }
    const instance = new LocalInstance(options.name, nspawn, leader, scratch, options.agent);
    try {
      const remaining = Math.max(1000, deadline - Date.now());
      let state = "";
      while (!["running", "degraded"].includes(state)) {
        if (exited) throw new InstanceError(exited);
        if (Date.now() > deadline) throw new InstanceError(`still "${state}" after ${options.bootTimeoutMs ?? 60_000} ms`);
        // --wait returns once boot finished; the bus may not answer in the first milliseconds.
        const r = await instance.exec(["systemctl", "is-system-running", "--wait"], { timeoutMs: remaining });
        state = r.stdout.trim() || r.stderr.trim();
        if (!["running", "degraded"].includes(state)) await sleep(50);
      }
      if (state === "degraded") {
        const failed = await instance.exec(["systemctl", "--failed", "--no-legend", "--plain"]);
        log(`instance ${options.name} booted DEGRADED; failed units: ${failed.stdout.trim().replace(/\n/g, "; ")}`);
      }
      log(
        `instance ${options.name} is ${state} (${((performance.now() - t0) / 1000).toFixed(1)} s, systemd as PID 1, ${options.networkNamespace ? `network namespace ${options.networkNamespace}` : "private network"})`,
      );
      return instance;
    } catch (e) {
      await instance.stop();
      throw new InstanceError(`instance ${options.name} did not boot: ${(e as Error).message}`);
    }
  }

  /** The instance's root as the host sees it (for reading the agent's logs). */
  private get root(): string {
    return `/proc/${this.leaderPid}/root`;
  }

  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (this.stopped) return Promise.reject(new InstanceError(`instance ${this.name} is stopped`));
    const env = Object.entries(agentEnv([], options.env))
      .filter(([k]) => k !== "RUBYLIB" || options.env?.RUBYLIB)
      .map(([k, v]) => `${k}=${v}`);
    // nsenter into every namespace of the container's PID 1, then env -i: nothing of the caller's environment leaks in.
    const args = ["--target", String(this.leaderPid), "--all", "--root", "env", "-i", "-C", "/", ...env, ...argv];
    return runProcess("nsenter", args, options);
  }

  async deploy(bundleZip: string, options: DeployOptions): Promise<Deployment> {
    const t0 = performance.now();
    const bundleInside = `/var/tmp/codedeploy-bundles/${randomBytes(6).toString("hex")}.zip`;
    mkdirSync(join(this.root, "/var/tmp/codedeploy-bundles"), { recursive: true });
    copyFileSync(bundleZip, join(this.root, bundleInside));
    const sizes = [AGENT_LOG, DEPLOYMENTS_LOG].map((p) => sizeOf(join(this.root, p)));
    try {
      const args = codedeployLocalArgs(bundleInside, options);
      const rubyLib = agentRubyLib(this.agent.agentDir, this.agent.docoptDir).map((p) => p.replace(this.agent.docoptDir, DOCOPT_HOME).replace(this.agent.agentDir, AGENT_HOME));
      const result = await this.exec(["ruby", `${AGENT_HOME}/bin/codedeploy-local`, ...args], { env: { RUBYLIB: rubyLib.join(":") }, timeoutMs: options.timeoutMs ?? 600_000 });
      const finishedAt = new Date();
      const [localLog, deploymentsLog] = [AGENT_LOG, DEPLOYMENTS_LOG].map((p, i) => readFrom(join(this.root, p), sizes[i]!));
      const id = /(d-[A-Z0-9]{9}-local)/.exec(result.stdout)?.[1];
      const scriptsLog = id ? `${AGENT_HOME}/deployment-root/${deploymentGroupId(options.applicationName, options.deploymentGroupName)}/${id}/logs/scripts.log` : undefined;
      const run = parseAgentRun({
        localLog: localLog!,
        deploymentsLog: deploymentsLog!,
        scriptsLog: scriptsLog ? readFrom(join(this.root, scriptsLog), 0) : "",
        stdout: result.stdout,
        stderr: result.stderr,
        exitCode: result.code,
        finishedAt,
      });
      return { ...run, scriptsLog, stdout: result.stdout, stderr: result.stderr, ms: performance.now() - t0 };
    } finally {
      rmSync(join(this.root, bundleInside), { force: true });
    }
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.unregister();
      if (this.nspawn.exitCode === null && this.nspawn.signalCode === null) {
        const gone = new Promise<void>((r) => this.nspawn.once("exit", () => r()));
        // SIGTERM: nspawn asks systemd to power off (units stop, journald flushes); SIGKILL if it hangs.
        this.nspawn.kill("SIGTERM");
        const timer = setTimeout(() => this.nspawn.kill("SIGKILL"), 15_000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(this.scratch, { recursive: true, force: true });
    })();
    return this.stopped;
  }
}

/**
 * The container's PID 1 as the host sees it: the child of nspawn that is PID 1 of its own PID
 * namespace (nspawn's short-lived helper children are not).
 */
function containerInit(nspawnPid: number): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) !== nspawnPid) continue;
      const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/);
      if (nspid && nspid.length > 1 && nspid.at(-1) === "1") return Number(entry);
    } catch {
      /* the process ended while we looked */
    }
  }
  return undefined;
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function readFrom(path: string, offset: number): string {
  try {
    return readFileSync(path).subarray(offset).toString("utf8");
  } catch {
    return "";
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs a host process to completion: output captured, optional stdin, its process group killed on timeout. */
export function runProcess(command: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    if (options.input !== undefined) child.stdin!.end(options.input);
    const limit = options.timeoutMs ?? 120_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* already gone */
      }
    }, limit);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new InstanceError(`cannot run ${command}: ${e.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? null : code, stdout, stderr: timedOut ? `${stderr}\n(killed after ${limit} ms)` : stderr });
    });
  });
}
