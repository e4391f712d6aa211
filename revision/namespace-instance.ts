/**
 * The fallback where a container cannot boot (not root, no systemd-nspawn): the real agent runs
 * on this host in a private mount namespace (`unshare --mount`, or `--user --map-root-user`
 * without root) in which a scratch folder is bind-mounted on /opt, so the agent's absolute
 * destinations (/opt/mpg-model) and its state land in the scratch folder and never on the host.
 * The hooks take their LOCAL path (DEPLOY_ROOT = the scratch root: a process with a pid file
 * instead of a unit, no system user, loopback on a free port). This is weaker than an instance:
 * no systemd, no unit, no user; callers must say so loudly (`kind === "namespace"`).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import getPort from "get-port";
import { agentRubyLib, type AgentLocation } from "./agent-source.js";
import { parseAgentRun } from "./agent-log.js";
import { onInterrupt } from "./cleanup.js";
import { agentEnv, codedeployLocalArgs, deploymentGroupId, type DeployOptions } from "./codedeploy-local.js";
import { onPath } from "./image.js";
import { runProcess, type Deployment, type ExecOptions, type ExecResult, type Instance, InstanceError } from "./instance.js";

export interface NamespaceBootOptions {
  readonly name: string;
  readonly agent: AgentLocation;
  readonly scratchParent?: string;
  readonly log?: (line: string) => void;
}

/** One line each: what the fallback needs and this host lacks. */
export function namespacePrerequisites(): string[] {
  const missing: string[] = [];
  if (!onPath("unshare")) missing.push("unshare (apt-get install util-linux)");
  if (!onPath("ruby")) missing.push("ruby and the agent's gems (npm run setup)");
  if (!onPath("unzip")) missing.push("unzip (apt-get install unzip)");
  return missing;
}

export class NamespaceInstance implements Instance {
  readonly kind = "namespace" as const;
  private stopped: Promise<void> | undefined;
  private readonly unregister: () => void;

  private constructor(
    readonly name: string,
    /** The hooks' DEPLOY_ROOT: /opt, /etc/<app>, /var/lib/<app> of this "instance" live under it. */
    readonly deployRoot: string,
    private readonly scratch: string,
    readonly port: number,
    private readonly agent: AgentLocation,
  ) {
    this.unregister = onInterrupt(() => this.stop());
  }

  static async boot(options: NamespaceBootOptions): Promise<NamespaceInstance> {
    const missing = namespacePrerequisites();
    if (missing.length) throw new InstanceError(`cannot run the agent in a private mount namespace: missing ${missing.join("; ")}`);
    const scratch = mkdtempSync(join(options.scratchParent ?? tmpdir(), `${options.name}-ns-`));
    const root = join(scratch, "root");
    for (const dir of ["root/opt", "agent/log", "agent/root", "agent/pid"]) mkdirSync(join(scratch, dir), { recursive: true });
    writeFileSync(
      join(scratch, "agent/codedeployagent.yml"),
      [
        "---",
        ":log_aws_wire: false",
        `:log_dir: '${scratch}/agent/log/'`,
        `:pid_dir: '${scratch}/agent/pid/'`,
        ":program_name: codedeploy-agent",
        `:root_dir: '${root}/opt/codedeploy-agent/deployment-root'`,
        ":verbose: true",
        ":wait_between_runs: 1",
        ":proxy_uri:",
        ":max_revisions: 5",
        ":disable_imds_v1: false",
        "",
      ].join("\n"),
    );
    if (process.getuid?.() !== 0) {
      // Without root the namespace is a user namespace, where su cannot set groups: the agent's
      // `su root -c SCRIPT` (runas: root) would fail. We already are that user there, so this su
      // runs the script directly, as su would; any other su goes to the real one.
      mkdirSync(join(scratch, "bin"));
      writeFileSync(
        join(scratch, "bin/su"),
        '#!/bin/sh\n# su in the fallback\'s user namespace (see namespace-instance.ts)\nif [ "$1" = root ] && [ "$2" = -c ] && [ "$(id -u)" = 0 ]; then shift 2; exec /bin/sh -c "$*"; fi\nexec /bin/su "$@"\n',
        { mode: 0o755 },
      );
    }
    const port = await getPort({ host: "127.0.0.1" });
    options.log?.(
      `instance ${options.name}: FALLBACK, no container: the agent runs on this host in a private mount namespace (${scratch}/root/opt on /opt); the hooks take their LOCAL path (no systemd, no unit, no system user), service on 127.0.0.1:${port}`,
    );
    return new NamespaceInstance(options.name, root, scratch, port, options.agent);
  }

  /** unshare's flags: a plain mount namespace as root, a user namespace mapping us to root otherwise. */
  private unshare(argv: readonly string[]): string[] {
    const asRoot = process.getuid?.() === 0;
    return [
      ...(asRoot ? [] : ["--user", "--map-root-user"]),
      "--mount",
      "--propagation",
      "private",
      "--",
      "bash",
      "-c",
      'mount --bind "$1" /opt && shift && exec "$@"',
      "_",
      join(this.deployRoot, "opt"),
      ...argv,
    ];
  }

  private env(extra: Readonly<Record<string, string>> = {}): string[] {
    const base = agentEnv([]);
    const shim = join(this.scratch, "bin");
    const path = existsSync(shim) ? `${shim}:${base.PATH}` : base.PATH;
    return Object.entries({ ...base, PATH: path, DEPLOY_ROOT: this.deployRoot, LOCAL_PORT: String(this.port), ...extra })
      .filter(([k]) => k !== "RUBYLIB" || extra.RUBYLIB)
      .map(([k, v]) => `${k}=${v}`);
  }

  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (this.stopped) return Promise.reject(new InstanceError(`instance ${this.name} is stopped`));
    return runProcess("env", ["-i", "-C", "/", ...this.env(options.env), "unshare", ...this.unshare(argv)], options);
  }

  async deploy(bundleZip: string, options: DeployOptions): Promise<Deployment> {
    const t0 = performance.now();
    const logs = [join(this.scratch, "agent/log/codedeploy-local.log"), join(this.deployRoot, "opt/codedeploy-agent/deployment-root/deployment-logs/codedeploy-agent-deployments.log")];
    const sizes = logs.map(sizeOf);
    const args = codedeployLocalArgs(bundleZip, options, join(this.scratch, "agent/codedeployagent.yml"));
    const rubyLib = agentRubyLib(this.agent.agentDir, this.agent.docoptDir).join(":");
    const result = await this.exec(["ruby", join(this.agent.agentDir, "bin/codedeploy-local"), ...args], { env: { RUBYLIB: rubyLib }, timeoutMs: options.timeoutMs ?? 600_000 });
    const [localLog, deploymentsLog] = logs.map((p, i) => readFrom(p, sizes[i]!));
    const id = /(d-[A-Z0-9]{9}-local)/.exec(result.stdout)?.[1];
    const scriptsLog = id ? join(this.deployRoot, "opt/codedeploy-agent/deployment-root", deploymentGroupId(options.applicationName, options.deploymentGroupName), id, "logs/scripts.log") : undefined;
    const run = parseAgentRun({
      localLog: localLog!,
      deploymentsLog: deploymentsLog!,
      scriptsLog: scriptsLog ? readFrom(scriptsLog, 0) : "",
      stdout: result.stdout,
      stderr: result.stderr,
      exitCode: result.code,
      finishedAt: new Date(),
    });
    return { ...run, scriptsLog, stdout: result.stdout, stderr: result.stderr, ms: performance.now() - t0 };
  }

  /** Every process the agent, its hooks and the service started carries DEPLOY_ROOT=<our root>: all are ended. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.unregister();
      const ours = () => processesWithEnv(`DEPLOY_ROOT=${this.deployRoot}`);
      for (const pid of ours()) signal(pid, "SIGTERM");
      for (let i = 0; i < 50 && ours().length; i++) await new Promise((r) => setTimeout(r, 100));
      for (const pid of ours()) signal(pid, "SIGKILL");
      rmSync(this.scratch, { recursive: true, force: true });
    })();
    return this.stopped;
  }
}

function processesWithEnv(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(marker)) found.push(Number(entry));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return found;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

function sizeOf(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

function readFrom(path: string, offset: number): string {
  return existsSync(path) ? readFileSync(path).subarray(offset).toString("utf8") : "";
}
