/**
 * Runs one lifecycle event's scripts the way the CodeDeploy agent does: each script in its own
 * process group with LIFECYCLE_EVENT, DEPLOYMENT_ID, APPLICATION_NAME, DEPLOYMENT_GROUP_NAME and
 * DEPLOYMENT_GROUP_ID set, stdin closed, stdout/stderr captured to the deployment's scripts.log,
 * the whole group killed on timeout, and any non-zero exit a failure. A script is finished when it
 * has exited AND closed stdout/stderr: a background process that keeps them open is what hangs
 * the real agent, so here it fails the event at the timeout with a message that says so.
 */
import { spawn } from "node:child_process";
import { accessSync, appendFileSync, chmodSync, constants, existsSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import type { AppSpecScript, LifecycleEvent } from "./appspec.js";

export interface HookContext {
  readonly deploymentId: string;
  readonly applicationName: string;
  readonly deploymentGroupName: string;
  readonly deploymentGroupId: string;
  /** Extra environment for the scripts (e.g. DEPLOY_ROOT for a local target). */
  readonly env: Readonly<Record<string, string>>;
  /** The deployment's scripts.log. */
  readonly logFile: string;
  readonly onOutput?: (line: string) => void;
  /** After SIGTERM to the group on timeout, SIGKILL follows after this long. */
  readonly killGraceMs?: number;
}

export type ScriptFailure = "missing" | "not-executable" | "timed-out" | "failed";

export class HookError extends Error {
  override readonly name = "HookError";
  constructor(
    readonly event: LifecycleEvent,
    readonly location: string,
    readonly reason: ScriptFailure,
    message: string,
  ) {
    super(message);
  }
}

/** Runs every script of `event` from `archiveDir`, in order, stopping at the first failure. */
export async function runEventScripts(event: LifecycleEvent, scripts: readonly AppSpecScript[], archiveDir: string, ctx: HookContext): Promise<void> {
  appendFileSync(ctx.logFile, `${stamp()} LifecycleEvent - ${event}\n`);
  for (const script of scripts) await runScript(event, script, archiveDir, ctx);
}

async function runScript(event: LifecycleEvent, script: AppSpecScript, archiveDir: string, ctx: HookContext): Promise<void> {
  const path = join(archiveDir, script.location);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new HookError(event, script.location, "missing", `Script does not exist at specified location: ${script.location}`);
  }
  if (!isExecutable(path)) {
    // The agent makes a non-executable script executable, and fails only if it cannot.
    try {
      chmodSync(path, statSync(path).mode | 0o111);
    } catch {
      throw new HookError(event, script.location, "not-executable", `Unable to set script at specified location: ${script.location} as executable`);
    }
  }

  const { command, args, note } = commandFor(path, script.runas);
  const log = (line: string) => {
    appendFileSync(ctx.logFile, `${stamp()} ${line}\n`);
    ctx.onOutput?.(line);
  };
  log(`Script - ${script.location}${note ? ` (${note})` : ""}`);

  const child = spawn(command, args, {
    cwd: "/",
    detached: true, // its own process group, like the agent's popen3(pgroup: true)
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: process.env.HOME ?? "/root",
      LANG: "C.UTF-8",
      ...ctx.env,
      LIFECYCLE_EVENT: event,
      DEPLOYMENT_ID: ctx.deploymentId,
      APPLICATION_NAME: ctx.applicationName,
      DEPLOYMENT_GROUP_NAME: ctx.deploymentGroupName,
      DEPLOYMENT_GROUP_ID: ctx.deploymentGroupId,
    },
  });

  const streamsClosed = Promise.all(
    (["stdout", "stderr"] as const).map(
      (name) =>
        new Promise<void>((resolve) => {
          let buffered = "";
          child[name].setEncoding("utf8");
          child[name].on("data", (chunk: string) => {
            buffered += chunk;
            const lines = buffered.split("\n");
            buffered = lines.pop() ?? "";
            for (const line of lines) log(`[${name}]${line}`);
          });
          child[name].on("close", () => {
            if (buffered) log(`[${name}]${buffered}`);
            resolve();
          });
        }),
    ),
  );
  let exitCode: number | null | undefined;
  let exitSignal: NodeJS.Signals | null = null;
  const exited = new Promise<void>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      resolve();
    });
  });

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), script.timeout * 1000);
  });
  const outcome = await Promise.race([Promise.all([exited, streamsClosed]).then(() => "done" as const), timedOut]);
  clearTimeout(timer);

  if (outcome === "timeout") {
    killGroup(child.pid, ctx.killGraceMs ?? 5000);
    const why =
      exitCode === undefined
        ? `failed to complete in ${script.timeout} seconds`
        : `exited (code ${exitCode}) but left stdout/stderr open for ${script.timeout} seconds: a background process inherited them (the CodeDeploy agent would wait for it forever)`;
    log(`Script at specified location: ${script.location} ${why}; killed its process group`);
    throw new HookError(event, script.location, "timed-out", `Script at specified location: ${script.location} ${why}`);
  }
  if (exitCode !== 0) {
    const status = exitCode === null ? `was killed by ${exitSignal}` : `failed with exit code ${exitCode}`;
    const runas = script.runas ? ` run as user ${script.runas}` : "";
    throw new HookError(event, script.location, "failed", `Script at specified location: ${script.location}${runas} ${status}`);
  }
}

/** The agent runs `sudo su <runas> -c script`; here root uses runuser, anyone else runs the script as themself and says so. */
function commandFor(path: string, runas: string | undefined): { command: string; args: string[]; note?: string } {
  const me = userInfo().username;
  if (!runas || runas === me) return { command: path, args: [] };
  if (process.getuid?.() === 0) return { command: "runuser", args: ["-u", runas, "--", path] };
  return { command: path, args: [], note: `runas ${runas} ignored: local target, running as ${me}` };
}

function killGroup(pid: number | undefined, graceMs: number): void {
  if (pid === undefined) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      /* the group is already gone */
    }
  };
  signal("SIGTERM");
  setTimeout(() => signal("SIGKILL"), graceMs).unref();
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function stamp(): string {
  return new Date().toISOString().replace("T", " ").slice(0, 19);
}
