/**
 * A local stand-in for the CodeDeploy agent on one instance, for the rehearsal and the tests.
 * It keeps the agent's state layout under `<rootDir>/opt/codedeploy-agent/deployment-root`
 * and follows its in-place order:
 *
 *   BeforeBlockTraffic, (BlockTraffic), AfterBlockTraffic, ApplicationStop   <- previous successful revision
 *   (DownloadBundle), BeforeInstall, (Install), AfterInstall, ApplicationStart,
 *   ValidateService, BeforeAllowTraffic, (AllowTraffic), AfterAllowTraffic  <- this revision
 *
 * The previous revision's scripts are skipped on the first deployment. Any failure fails the
 * deployment; with autoRollback the last successful revision is redeployed as a NEW deployment
 * (new id), as CodeDeploy's automatic rollback does.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { type AppSpec, type LifecycleEvent, AppSpecError, validateAppSpec } from "./appspec.js";
import { runEventScripts } from "./hook-executor.js";
import { install } from "./install.js";
import { readZip } from "./zip.js";

export type StepName = LifecycleEvent | "BlockTraffic" | "DownloadBundle" | "Install" | "AllowTraffic";
export type StepStatus = "Succeeded" | "Skipped" | "Failed";

export interface StepResult {
  readonly step: StepName;
  readonly status: StepStatus;
  readonly ms: number;
  readonly detail?: string;
}

export interface DeploymentResult {
  readonly deploymentId: string;
  readonly status: "Succeeded" | "Failed";
  readonly steps: StepResult[];
  /** The failed step and the agent-style reason, when status is Failed. */
  readonly failure?: { step: StepName; message: string };
  /** The automatic rollback this failure triggered, if any. */
  readonly rollback?: DeploymentResult;
  readonly isRollback: boolean;
  readonly scriptsLog: string;
}

export interface LocalTarget {
  /** Where the instance's filesystem lives: AppSpec destinations are mapped under it. */
  readonly rootDir: string;
  readonly applicationName: string;
  readonly deploymentGroupName: string;
  /** Extra environment for every hook (e.g. DEPLOY_ROOT and LOCAL_PORT for the hooks' local mode). */
  readonly hookEnv?: Readonly<Record<string, string>>;
  readonly onStep?: (step: StepResult & { phase: "start" | "end" }) => void;
  readonly onOutput?: (line: string) => void;
  /** How many deployment archives to keep per group (the agent keeps 5). */
  readonly maxRevisions?: number;
}

export interface DeployOptions {
  /** Redeploy the last successful revision when this deployment fails. */
  readonly autoRollback?: boolean;
}

const PREVIOUS_REVISION_EVENTS: readonly LifecycleEvent[] = ["BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop"];

export class LocalAgent {
  readonly deploymentRoot: string;
  readonly groupId: string;

  constructor(readonly target: LocalTarget) {
    this.deploymentRoot = join(resolve(target.rootDir), "opt/codedeploy-agent/deployment-root");
    // CodeDeploy gives each group a UUID; a stable one here lets runs share the target's state.
    const h = createHash("sha256").update(`${target.applicationName}/${target.deploymentGroupName}`).digest("hex");
    this.groupId = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  }

  private get instructionsDir(): string {
    return join(this.deploymentRoot, "deployment-instructions");
  }
  private get lastSuccessfulFile(): string {
    return join(this.instructionsDir, `${this.groupId}_last_successful_install`);
  }

  /** The deployment directory of the last successful deployment on this target, if any. */
  lastSuccessfulDeployment(): string | undefined {
    if (!existsSync(this.lastSuccessfulFile)) return undefined;
    const dir = readFileSync(this.lastSuccessfulFile, "utf8").trim();
    return existsSync(join(dir, "deployment-archive")) ? dir : undefined;
  }

  /** Deploys a revision zip. Never throws for a failed deployment: read `status`. */
  async deploy(bundleZip: string, options: DeployOptions = {}): Promise<DeploymentResult> {
    const result = await this.run(bundleZip, false);
    if (result.status === "Failed" && options.autoRollback) {
      const previous = this.lastSuccessfulDeployment();
      if (previous) return { ...result, rollback: await this.run(join(previous, "bundle.zip"), true) };
    }
    return result;
  }

  /**
   * Runs ApplicationStop from the last successful revision, as the agent would at the start of
   * the next deployment: how the rehearsal and the tests stop the local service.
   */
  async stop(): Promise<StepResult> {
    const previous = this.lastSuccessfulDeployment();
    const deploymentId = newDeploymentId();
    const logFile = join(this.deploymentRoot, this.groupId, "stop-scripts.log");
    mkdirSync(dirname(logFile), { recursive: true });
    const started = Date.now();
    if (!previous) return { step: "ApplicationStop", status: "Skipped", ms: 0, detail: "nothing deployed on this target" };
    const archive = join(previous, "deployment-archive");
    const spec = validateAppSpec(readFileSync(join(archive, "appspec.yml"), "utf8"), archive);
    const scripts = spec.hooks.ApplicationStop;
    if (!scripts) return { step: "ApplicationStop", status: "Skipped", ms: 0, detail: "the revision has no ApplicationStop script" };
    await runEventScripts("ApplicationStop", scripts, archive, this.hookContext(deploymentId, logFile));
    return { step: "ApplicationStop", status: "Succeeded", ms: Date.now() - started };
  }

  private hookContext(deploymentId: string, logFile: string) {
    return {
      deploymentId,
      applicationName: this.target.applicationName,
      deploymentGroupName: this.target.deploymentGroupName,
      deploymentGroupId: this.groupId,
      env: this.target.hookEnv ?? {},
      logFile,
      ...(this.target.onOutput ? { onOutput: this.target.onOutput } : {}),
    };
  }

  private async run(bundleZip: string, isRollback: boolean): Promise<DeploymentResult> {
    const deploymentId = newDeploymentId();
    const deploymentDir = join(this.deploymentRoot, this.groupId, deploymentId);
    const archiveDir = join(deploymentDir, "deployment-archive");
    const logFile = join(deploymentDir, "logs/scripts.log");
    mkdirSync(dirname(logFile), { recursive: true });
    mkdirSync(this.instructionsDir, { recursive: true });
    writeFileSync(logFile, "");
    const ctx = this.hookContext(deploymentId, logFile);
    const previous = this.lastSuccessfulDeployment();
    const previousArchive = previous && join(previous, "deployment-archive");
    let previousSpec: AppSpec | undefined;
    let spec: AppSpec | undefined;
    const steps: StepResult[] = [];

    const step = async (name: StepName, action: () => Promise<string | undefined | { skipped: string }>) => {
      this.target.onStep?.({ step: name, status: "Succeeded", ms: 0, phase: "start" });
      const started = Date.now();
      try {
        const outcome = await action();
        const skipped = typeof outcome === "object" ? outcome.skipped : undefined;
        const done: StepResult = {
          step: name,
          status: skipped ? "Skipped" : "Succeeded",
          ms: Date.now() - started,
          ...(skipped ? { detail: skipped } : typeof outcome === "string" ? { detail: outcome } : {}),
        };
        steps.push(done);
        this.target.onStep?.({ ...done, phase: "end" });
      } catch (e) {
        const failed: StepResult = { step: name, status: "Failed", ms: Date.now() - started, detail: (e as Error).message };
        steps.push(failed);
        this.target.onStep?.({ ...failed, phase: "end" });
        throw e;
      }
    };
    const hook = (event: LifecycleEvent) =>
      step(event, async () => {
        const fromPrevious = PREVIOUS_REVISION_EVENTS.includes(event);
        if (fromPrevious && !previousArchive) return { skipped: "first deployment on this target: the agent skips the previous revision's scripts" };
        const source = fromPrevious ? previousSpec : spec;
        const scripts = source?.hooks[event];
        if (!scripts?.length) return { skipped: "no scripts for this event" };
        await runEventScripts(event, scripts, fromPrevious ? previousArchive! : archiveDir, ctx);
        return undefined;
      });

    try {
      if (previousArchive) previousSpec = validateAppSpec(readFileSync(join(previousArchive, "appspec.yml"), "utf8"), previousArchive, "previous revision's appspec.yml");
      await hook("BeforeBlockTraffic");
      await step("BlockTraffic", async () => ({ skipped: "no load balancer on a local target" }));
      await hook("AfterBlockTraffic");
      await hook("ApplicationStop");
      await step("DownloadBundle", async () => {
        copyFileSync(bundleZip, join(deploymentDir, "bundle.zip"));
        const entries = unpack(join(deploymentDir, "bundle.zip"), archiveDir);
        const appspecPath = join(archiveDir, "appspec.yml");
        if (!existsSync(appspecPath)) throw new AppSpecError("the revision has no appspec.yml at its root");
        spec = validateAppSpec(readFileSync(appspecPath, "utf8"), archiveDir);
        return `${entries} files from ${bundleZip}`;
      });
      await hook("BeforeInstall");
      await step("Install", async () => {
        const r = install(spec!, archiveDir, this.target.rootDir, join(this.instructionsDir, `${this.groupId}-cleanup`));
        return [`${r.copied} files, ${r.directories} directories; ${r.removed} files of the previous revision removed`, ...r.notes].join("; ");
      });
      await hook("AfterInstall");
      await hook("ApplicationStart");
      await hook("ValidateService");
      await hook("BeforeAllowTraffic");
      await step("AllowTraffic", async () => ({ skipped: "no load balancer on a local target" }));
      await hook("AfterAllowTraffic");
    } catch (e) {
      const failedStep = steps.at(-1)?.step ?? "ApplicationStop";
      // HookError, InstallError, AppSpecError, ZipFormatError or an I/O error: all fail the deployment.
      if (!(e instanceof Error)) throw e;
      return { deploymentId, status: "Failed", steps, failure: { step: failedStep, message: e.message }, isRollback, scriptsLog: logFile };
    }

    writeFileSync(this.lastSuccessfulFile, deploymentDir);
    this.pruneOldDeployments(deploymentDir);
    return { deploymentId, status: "Succeeded", steps, isRollback, scriptsLog: logFile };
  }

  /** Keeps the newest `maxRevisions` deployment directories of the group, and always the last successful one. */
  private pruneOldDeployments(keep: string): void {
    const groupDir = join(this.deploymentRoot, this.groupId);
    const dirs = readdirSync(groupDir)
      .filter((d) => d.startsWith("d-"))
      .map((d) => join(groupDir, d))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    for (const dir of dirs.slice(this.target.maxRevisions ?? 5)) if (dir !== keep) rmSync(dir, { recursive: true, force: true });
  }
}

/** Unpacks a revision zip, keeping each entry's Unix mode. Returns the number of files. */
export function unpack(zipPath: string, into: string): number {
  const entries = readZip(readFileSync(zipPath), zipPath);
  mkdirSync(into, { recursive: true });
  let files = 0;
  for (const entry of entries) {
    const path = join(into, entry.name);
    if (entry.isDirectory) {
      mkdirSync(path, { recursive: true });
      continue;
    }
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, entry.data);
    if (entry.mode) chmodSync(path, entry.mode);
    files++;
  }
  return files;
}

function newDeploymentId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return `d-${[...randomBytes(9)].map((b) => alphabet[b % alphabet.length]).join("")}`;
}
