/**
 * The local rehearsal (`npm start`): the whole pipeline on this machine, stage by stage, with
 * timings: validate environments -> gate the model -> synth and plan every stack (when terraform
 * is installed) -> build the bundle -> boot a local instance (instance.ts; booted in the
 * background from the start) -> deploy the bundle onto it through the REAL CodeDeploy agent
 * (each lifecycle event with its time from the agent's logs, the reason from scripts.log when a
 * hook fails) -> ssh to the instance and `sh make_prediction.sh` in its application folder, as a
 * user does (instance-ssh.ts) -> summary -> stop the instance.
 */
import { x } from "tinyexec";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import which from "which";
import { loadEnvironments, loadEnvironment } from "../environments/index.js";
import { resourceNames } from "../environments/names.js";
import { bootInstance, type BootedInstance, type BootInstanceOptions } from "./boot-instance.js";
import { buildBundle, mb, type BundleResult } from "./bundle.js";
import type { Deployment, LifecycleEventResult } from "./instance.js";
import { predictOverSsh } from "./instance-ssh.js";
import { median } from "../scripts/stats.js";
import { STAGES, TITLES, type StageId } from "./stages.js";

export { STAGES, type StageId } from "./stages.js";

export interface RehearsalOptions {
  readonly repoDir: string;
  /** The instance: the agent to run, the image's cache, settings and Node.js, container or fallback. */
  readonly instance: Pick<BootInstanceOptions, "name" | "agent" | "cacheDir" | "node" | "imageSettings" | "mode">;
  /** Environment whose deployment group the local deployment is. */
  readonly environment: string;
  readonly skip: readonly StageId[];
  /** Keep the instance (and the service) running until Ctrl-C instead of stopping it at the end. */
  readonly keepRunning: boolean;
  /** Deploy a revision built with this model directory instead of service/model. */
  readonly modelDir?: string;
  readonly out?: (line: string) => void;
  /** The terraform binary looked up on PATH for the synth-and-plan stage (default "terraform"). */
  readonly terraformCommand?: string;
}

export interface StageOutcome {
  readonly id: StageId;
  readonly status: "ok" | "skipped" | "failed";
  readonly ms: number;
  readonly note: string;
}

export interface RehearsalResult {
  readonly ok: boolean;
  readonly stages: StageOutcome[];
  readonly bundle?: BundleResult;
  readonly deployment?: Deployment;
  readonly prediction?: string;
  /** "container" (systemd path) or "namespace" (the fallback, local path). */
  readonly instanceKind?: "container" | "namespace";
}

class StageFailure extends Error {}

export async function rehearse(options: RehearsalOptions): Promise<RehearsalResult> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const stages: StageOutcome[] = [];
  const started = performance.now();
  const state: { bundle?: BundleResult; deployment?: Deployment; prediction?: string; instanceKind?: "container" | "namespace" } = {};
  // The instance boots in the background from the start (building its image on a fresh machine):
  // the stages before the deployment hide its time.
  let booting: Promise<BootedInstance> | undefined;
  let booted: BootedInstance | undefined;
  const startBoot = () => {
    if (booting || options.skip.includes("instance")) return;
    const i = options.instance;
    booting = bootInstance({
      name: i.name,
      agent: i.agent,
      cacheDir: i.cacheDir,
      node: i.node,
      log: (l) => out(`    ${l}`),
      ...(i.imageSettings ? { imageSettings: i.imageSettings } : {}),
      ...(i.mode ? { mode: i.mode } : {}),
    });
    booting.then(
      (b) => (booted = b),
      () => undefined,
    );
  };
  const names = () => resourceNames(loadEnvironment(options.environment));

  const record = (outcome: StageOutcome) => {
    stages.push(outcome);
    const mark = { ok: "✔", skipped: "·", failed: "✖" }[outcome.status];
    out(`  ${mark} ${TITLES[outcome.id]} (${seconds(outcome.ms)}): ${outcome.note}`);
    if (outcome.status === "failed") throw new StageFailure(outcome.note);
  };
  const header = (id: StageId, suffix = "") => out(`\n▶ [${STAGES.indexOf(id) + 1}/${STAGES.length}] ${TITLES[id]}${suffix}`);

  let planRun: Promise<StageOutcome> | undefined;
  let planLines: string[] = [];
  const startPlan = (o: RehearsalOptions, print: (l: string) => void) => {
    header("synth-plan");
    if (o.skip.includes("synth-plan")) return record({ id: "synth-plan", status: "skipped", ms: 0, note: "skipped: --skip synth-plan" });
    if (which.sync(o.terraformCommand ?? "terraform", { nothrow: true }) === null)
      return record({ id: "synth-plan", status: "skipped", ms: 0, note: "skipped: terraform not installed (install Terraform >= 1.10 to synth and plan every stack here)" });
    const t0 = performance.now();
    // `npm run plan` synthesizes every stack (cdktf.out) first, then init/validate/plan each one.
    planRun = runNpmScript(o.repoDir, "plan", [], (line) => planLines.push(line)).then(
      () => ({ id: "synth-plan" as const, status: "ok" as const, ms: performance.now() - t0, note: "every stack synthesized and planned" }),
      (e: unknown) => ({ id: "synth-plan" as const, status: "failed" as const, ms: performance.now() - t0, note: (e as Error).message }),
    );
    print("    started in the background (npm run plan); its output follows when it finishes");
  };
  const finishPlan = async () => {
    if (!planRun) return;
    const running = planRun;
    planRun = undefined;
    header("synth-plan", " (background)");
    const outcome = await running;
    for (const line of planLines) out(`    │ ${line}`);
    planLines = [];
    record(outcome);
  };

  const stage = async (id: StageId, run: () => Promise<string | { skipped: string }>) => {
    header(id);
    const t0 = performance.now();
    let outcome: StageOutcome;
    if (options.skip.includes(id)) {
      outcome = { id, status: "skipped", ms: 0, note: "skipped: --skip " + id };
    } else {
      try {
        const note = await run();
        outcome = typeof note === "string" ? { id, status: "ok", ms: performance.now() - t0, note } : { id, status: "skipped", ms: performance.now() - t0, note: note.skipped };
      } catch (e) {
        outcome = { id, status: "failed", ms: performance.now() - t0, note: (e as Error).message };
      }
    }
    record(outcome);
  };

  let ok = true;
  try {
    await stage("environments", async () => {
      const envs = Object.values(loadEnvironments());
      return envs.map((e) => `${e.name} -> group ${resourceNames(e).deploymentGroup}, port ${e.service.port}`).join("; ");
    });
    startBoot();
    await stage("model-gate", async () => {
      // The model's own tests first (deterministic training, ONNX parity, the gate rejecting broken models).
      await runNpmScript(options.repoDir, "model:test", [], (line) => out(`    │ ${line}`));
      await runNpmScript(options.repoDir, "model:gate", options.modelDir ? ["--model-dir", options.modelDir] : [], (line) => out(`    │ ${line}`));
      return "the model passed its tests and its quality gate";
    });
    // Synth and plan do not depend on the bundle, and take the longest: they run in the
    // background beside the bundle and the deployment (as they would in parallel CI jobs), and
    // their output is shown when they finish.
    startPlan(options, out);
    await stage("bundle", async () => {
      // A revision with another model goes beside, not over, the repository's dist/revision-<version>.zip.
      const custom = options.modelDir ? { modelDir: options.modelDir, outDir: join(options.repoDir, "dist/custom-model") } : {};
      const b = await buildBundle({ repoDir: options.repoDir, ...custom });
      state.bundle = b;
      out(`    ${b.zipPath}`);
      out(`    sha256 ${b.sha256}`);
      out(
        `    ${Object.entries(b.timingsMs)
          .map(([k, v]) => `${k} ${seconds(v)}`)
          .join(", ")}`,
      );
      return `${b.files} files, ${mb(b.bytes)} (limit 25 MB)`;
    });
    await stage("instance", async () => {
      if (!booting) throw new Error("no instance (the environments stage was skipped or failed)");
      const b = await booting;
      state.instanceKind = b.instance.kind;
      const image = b.image ? `image ${b.image.settings.suite}-${b.image.key} (${b.image.cached ? "cached" : `built in ${seconds(b.image.ms)}`}), ` : "";
      return b.instance.kind === "container"
        ? `${b.instance.name}: ${image}systemd running ${seconds(b.bootMs)} after boot`
        : `${b.instance.name}: FALLBACK (private mount namespace, hooks on their local path), ready in ${seconds(b.bootMs)}`;
    });
    await stage("deploy", async () => {
      if (!state.bundle) throw new Error("no bundle to deploy (the bundle stage was skipped)");
      if (!booted) throw new Error("no instance to deploy to (the instance stage was skipped)");
      const group = names().deploymentGroup;
      out(`    codedeploy-local onto ${booted.instance.name}, application ${names().application}, deployment group ${group}`);
      const d = await booted.instance.deploy(state.bundle.zipPath, { applicationName: names().application, deploymentGroupName: group });
      state.deployment = d;
      for (const e of d.events) printEvent(out, e);
      if (d.status === "Succeeded") return `deployment ${d.deploymentId} succeeded in ${seconds(d.ms)}`;
      throw new Error(
        `deployment ${d.deploymentId ?? "(no id)"} FAILED at ${d.failure?.event}${d.scriptsLog ? ` (the agent's log: ${d.scriptsLog} on the instance)` : ""}:\n      ${d.failure?.reason.split("\n").join("\n      ")}`,
      );
    });
    // The plans finish first: the prediction is the rehearsal's last word, and its round trips
    // are timed without terraform processes competing for the CPU.
    await finishPlan();
    await stage("predict", async () => {
      if (!booted || state.deployment?.status !== "Succeeded") throw new Error("nothing deployed to ask");
      // As a user on an instance: ssh in, go to the application folder, sh make_prediction.sh.
      const { answer, rounds } = await predictOverSsh(booted.instance, loadEnvironment(options.environment).project, out);
      state.prediction = answer;
      const mpg = (JSON.parse(answer) as { predictions: number[] }).predictions[0];
      return `${exampleName(options)}: ${mpg?.toFixed(1)} mpg; SSH round trip (connect, run, answer) median ${seconds(median(rounds), 2)} of ${rounds.length}`;
    });
    // Staging after dev: the blue/green rehearsal (bluegreen/) releases the same revision.
    await stage("staging", async () => {
      const { stagingStage } = await import("../bluegreen/stage.js");
      return stagingStage({ bundleZip: state.bundle?.zipPath, instance: options.instance, out: (l) => out(`    │ ${l}`) });
    });
    await finishPlan();
  } catch (e) {
    if (!(e instanceof StageFailure)) throw e;
    ok = false;
  } finally {
    // A failure before the plan finished: still report it, never leave terraform running unreported.
    await finishPlan().catch(() => {
      ok = false;
    });
    if (options.keepRunning && booted) {
      out(`\n  ${booted.instance.name} keeps running (--keep-running): Ctrl-C stops it and removes everything`);
      printSummary(out, stages, state, performance.now() - started);
      await new Promise<never>(() => {}); // the interrupt handler (cleanup.ts) stops the instance and exits
    }
    await stage("stop", async () => {
      // A boot still under way (a stage failed early) is awaited, then stopped: nothing is left running.
      const b = booted ?? (booting ? await booting.catch(() => undefined) : undefined);
      if (!b) return "no instance was booted";
      await b.instance.stop();
      return `${b.instance.name} and everything it started are gone`;
    }).catch(() => {
      ok = false;
    });
  }

  printSummary(out, stages, state, performance.now() - started);
  return { ok, stages, ...state };
}

/** One lifecycle event as the agent logged it: mark, name, start time (UTC), duration, and why it failed. */
function printEvent(out: (l: string) => void, e: LifecycleEventResult): void {
  const mark = { Succeeded: "✔", Skipped: "·", Failed: "✖" }[e.status];
  const note = e.status === "Skipped" ? "no scripts" : e.status === "Failed" ? "FAILED" : "";
  out(`    ${mark} ${e.name.padEnd(19)} ${e.start.toISOString().slice(11, 23)}Z ${seconds(e.end.getTime() - e.start.getTime()).padStart(7)}  ${note}`);
  if (e.reason) for (const line of e.reason.split("\n")) out(`      │ ${line}`);
}

/** The example car's name, as make_prediction.sh takes it from the model's manifest. */
function exampleName(options: RehearsalOptions): string {
  const manifest = JSON.parse(readFileSync(join(options.modelDir ?? join(options.repoDir, "service/model"), "manifest.json"), "utf8")) as { smoke_test?: { cases?: { name?: string }[] } };
  return `the example car (${manifest.smoke_test?.cases?.[0]?.name ?? "first smoke case"})`;
}

function printSummary(
  out: (l: string) => void,
  stages: readonly StageOutcome[],
  state: { bundle?: BundleResult; deployment?: Deployment; prediction?: string; instanceKind?: string },
  wallMs: number,
): void {
  out("\nSummary");
  const ordered = [...stages].sort((a, b) => STAGES.indexOf(a.id) - STAGES.indexOf(b.id));
  for (const s of ordered) out(`  ${{ ok: "✔", skipped: "·", failed: "✖" }[s.status]} ${TITLES[s.id].padEnd(38)} ${seconds(s.ms).padStart(7)}  ${s.status === "ok" ? "" : s.status}`);
  out(`  ${"total (wall clock)".padEnd(40)} ${seconds(wallMs).padStart(7)}`);
  if (state.bundle) out(`  revision  ${state.bundle.zipPath} (${mb(state.bundle.bytes)}, sha256 ${state.bundle.sha256.slice(0, 16)}…)`);
  if (state.deployment) {
    const d = state.deployment;
    out(`  deploy    ${d.deploymentId} ${d.status} by the CodeDeploy agent on a ${state.instanceKind === "container" ? "booted instance (systemd path)" : "FALLBACK mount namespace (local path)"}`);
  }
  if (state.prediction) out(`  answer    ${state.prediction}`);
}

function seconds(ms: number, digits = 1): string {
  return `${(ms / 1000).toFixed(digits)} s`;
}

async function runNpmScript(repoDir: string, script: string, args: string[], onLine: (l: string) => void): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(repoDir, "package.json"), "utf8")) as { scripts?: Record<string, string> };
  if (!pkg.scripts?.[script]) throw new Error(`package.json has no "${script}" script`);
  await run("npm", ["run", "--silent", script, ...(args.length ? ["--", ...args] : [])], { ...process.env } as Record<string, string>, onLine, repoDir);
}

/** Runs a command, streaming its output lines (stdout and stderr); rejects naming the exit code and the last line. */
async function run(command: string, args: string[], env: Record<string, string>, onLine: (line: string) => void, cwd?: string): Promise<void> {
  const child = x(command, args, { throwOnError: false, nodeOptions: { cwd, env, stdio: ["ignore", "pipe", "pipe"] } });
  let tail = "";
  try {
    for await (const line of child) {
      onLine(line);
      tail = line;
    }
  } catch (e) {
    throw new Error(`cannot run ${command}: ${(e as Error).message}`);
  }
  const { exitCode } = await child;
  if (exitCode !== 0) throw new Error(`${[command, ...args].join(" ")} exited with ${exitCode}${tail ? `: ${tail}` : ""}`);
}
