/**
 * The local rehearsal (`npm start`): the whole pipeline on this machine, stage by stage, with
 * timings: validate environments -> gate the model -> synth and plan every stack (when terraform
 * is installed) -> build the bundle -> deploy it to a local target with the lifecycle runner ->
 * ssh to it and run make_prediction.sh in its application folder -> summary -> stop the local service.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import { loadEnvironments, loadEnvironment } from "../environments/index.js";
import { resourceNames } from "../environments/names.js";
import { buildBundle, mb, type BundleResult } from "./bundle.js";
import { LocalAgent, type DeploymentResult } from "./runner.js";
import { median } from "../scripts/stats.js";
import { SshHop } from "./ssh-hop.js";
import { STAGES, TITLES, type StageId } from "./stages.js";

export { STAGES, type StageId } from "./stages.js";

export interface RehearsalOptions {
  readonly repoDir: string;
  /** The local instance's filesystem root. Outside the repository, so that the deployed service
   *  cannot resolve a missing package from the repository's node_modules by walking up. */
  readonly targetDir: string;
  /** Environment whose deployment group the local deployment pretends to be. */
  readonly environment: string;
  readonly skip: readonly StageId[];
  /** Leave the service running at the end (the stop stage is then skipped). */
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
  readonly deployment?: DeploymentResult;
  readonly prediction?: string;
  readonly port?: number;
}

class StageFailure extends Error {}

export async function rehearse(options: RehearsalOptions): Promise<RehearsalResult> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const stages: StageOutcome[] = [];
  const started = performance.now();
  const state: { bundle?: BundleResult; deployment?: DeploymentResult; prediction?: string; port?: number } = {};
  const port = await freeLoopbackPort();
  // The target needs a valid environment: made on first use, after stage 1 has checked them all.
  let target: { project: string; group: string; agent: LocalAgent } | undefined;
  const localTarget = () => {
    if (target) return target;
    const config = loadEnvironment(options.environment);
    const names = resourceNames(config);
    const agent = new LocalAgent({
      rootDir: options.targetDir,
      applicationName: names.application,
      deploymentGroupName: names.deploymentGroup,
      hookEnv: { DEPLOY_ROOT: options.targetDir, LOCAL_PORT: String(port) },
      onStep: (s) => {
        if (s.phase === "end") out(`    ${s.status === "Succeeded" ? "✔" : s.status === "Skipped" ? "·" : "✖"} ${s.step.padEnd(19)} ${seconds(s.ms).padStart(6)}  ${s.status === "Succeeded" ? (s.detail ?? "") : `${s.status.toLowerCase()}: ${s.detail ?? ""}`}`);
      },
      onOutput: (line) => {
        if (!line.startsWith("Script - ")) out(`      │ ${line.replace(/^\[(stdout|stderr)\]/, "")}`);
      },
    });
    target = { project: config.project, group: names.deploymentGroup, agent };
    return target;
  };

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
    if (!onPath(o.terraformCommand ?? "terraform")) return record({ id: "synth-plan", status: "skipped", ms: 0, note: "skipped: terraform not installed (install Terraform >= 1.10 to synth and plan every stack here)" });
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

  const stage = async (id: StageId, run: () => Promise<string>) => {
    header(id);
    const t0 = performance.now();
    let outcome: StageOutcome;
    if (options.skip.includes(id)) {
      outcome = { id, status: "skipped", ms: 0, note: "skipped: --skip " + id };
    } else {
      try {
        const note = await run();
        outcome = { id, status: "ok", ms: performance.now() - t0, note };
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
      out(`    ${Object.entries(b.timingsMs).map(([k, v]) => `${k} ${seconds(v)}`).join(", ")}`);
      return `${b.files} files, ${mb(b.bytes)} (limit 25 MB)`;
    });
    await stage("deploy", async () => {
      if (!state.bundle) throw new Error("no bundle to deploy (the bundle stage was skipped)");
      const { agent, group } = localTarget();
      out(`    target ${options.targetDir}, deployment group ${group}, port ${port}`);
      const d = await agent.deploy(state.bundle.zipPath, { autoRollback: true });
      state.deployment = d;
      if (d.status === "Succeeded") {
        state.port = port;
        return `deployment ${d.deploymentId} succeeded`;
      }
      const rollback = d.rollback;
      const where = `${d.failure?.step}: ${d.failure?.message} (log: ${d.scriptsLog})`;
      if (rollback?.status === "Succeeded") {
        state.port = port;
        throw new Error(`deployment ${d.deploymentId} FAILED at ${where}; rolled back: deployment ${rollback.deploymentId} redeployed the previous revision, which is serving on 127.0.0.1:${port}`);
      }
      if (rollback) throw new Error(`deployment ${d.deploymentId} FAILED at ${where}; the rollback ${rollback.deploymentId} failed too at ${rollback.failure?.step}: ${rollback.failure?.message}`);
      throw new Error(`deployment ${d.deploymentId} FAILED at ${where}; no previous revision on this target to roll back to`);
    });
    // The plans finish first: the prediction is the rehearsal's last word, and its round trips
    // are timed without four terraform processes competing for the CPU.
    await finishPlan();
    await stage("predict", async () => {
      // As a user on an instance: ssh in, go to the application folder, sh make_prediction.sh.
      const { answer, rounds } = await predictOverSsh(join(options.targetDir, "opt", localTarget().project), out);
      state.prediction = answer;
      const mpg = (JSON.parse(answer) as { predictions: number[] }).predictions[0];
      return `${exampleName(options)}: ${mpg?.toFixed(1)} mpg; SSH round trip (connect, run, answer) median ${seconds(median(rounds), 2)} of ${rounds.length}`;
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
    if (options.keepRunning && state.port) {
      out(`\n  the service keeps running on http://127.0.0.1:${state.port} (--keep-running); stop it with npm start -- --stop`);
    } else {
      await stage("stop", async () => {
        if (!target) return "nothing deployed in this run";
        const s = await target.agent.stop();
        return s.status === "Skipped" ? `nothing to stop (${s.detail})` : "stopped by the deployed revision's ApplicationStop hook";
      }).catch(() => {
        ok = false;
      });
    }
  }

  printSummary(out, stages, state, options, performance.now() - started);
  return { ok, stages, ...state };
}

/** Runs ApplicationStop of whatever the target last deployed (for `npm start -- --stop`). */
export async function stopTarget(targetDir: string, environment: string): Promise<string> {
  const names = resourceNames(loadEnvironment(environment));
  const agent = new LocalAgent({ rootDir: targetDir, applicationName: names.application, deploymentGroupName: names.deploymentGroup, hookEnv: { DEPLOY_ROOT: targetDir } });
  const s = await agent.stop();
  return s.status === "Skipped" ? `nothing to stop: ${s.detail}` : "ran the last deployed revision's ApplicationStop: the local service is not running";
}

function printSummary(out: (l: string) => void, stages: readonly StageOutcome[], state: { bundle?: BundleResult; deployment?: DeploymentResult; prediction?: string }, options: RehearsalOptions, wallMs: number): void {
  out("\nSummary");
  const ordered = [...stages].sort((a, b) => STAGES.indexOf(a.id) - STAGES.indexOf(b.id));
  for (const s of ordered) out(`  ${{ ok: "✔", skipped: "·", failed: "✖" }[s.status]} ${TITLES[s.id].padEnd(38)} ${seconds(s.ms).padStart(7)}  ${s.status === "ok" ? "" : s.status}`);
  out(`  ${"total (wall clock)".padEnd(40)} ${seconds(wallMs).padStart(7)}`);
  if (state.bundle) out(`  revision  ${state.bundle.zipPath} (${mb(state.bundle.bytes)}, sha256 ${state.bundle.sha256.slice(0, 16)}…)`);
  if (state.deployment) {
    const d = state.deployment;
    out(`  deploy    ${d.deploymentId} ${d.status}${d.rollback ? `; rollback ${d.rollback.deploymentId} ${d.rollback.status}` : ""} on ${options.targetDir}`);
  }
  if (state.prediction) out(`  answer    ${state.prediction}`);
}

function seconds(ms: number, digits = 1): string {
  return `${(ms / 1000).toFixed(digits)} s`;
}

const SSH_ROUND_TRIPS = 5;

/**
 * The prediction as a user makes it on an instance: a real SSH connection to a real sshd (the
 * SSH hop), `cd` to the application folder, `sh make_prediction.sh`. Runs it several times to
 * report the median round trip, and refuses a run whose answer differs from the first.
 */
export async function predictOverSsh(appDir: string, out: (line: string) => void, rounds = SSH_ROUND_TRIPS): Promise<{ answer: string; rounds: number[] }> {
  const hop = await SshHop.start();
  try {
    const command = `cd '${appDir.replaceAll("'", `'\\''`)}' && sh make_prediction.sh`;
    out(`    $ ssh -p ${hop.port} ${hop.user}@127.0.0.1    (Debian's sshd on 127.0.0.1, key-only, keys made for this run)`);
    out(`    $ ${command}`);
    const times: number[] = [];
    let answer = "";
    for (let i = 0; i < rounds; i++) {
      const r = await hop.run(command);
      if (r.code !== 0) throw new Error(`ssh ... sh make_prediction.sh exited with ${r.code}: ${(r.stderr || r.stdout).trim()}`);
      const text = r.stdout.trim();
      if (i === 0) {
        answer = text;
        out(`    ${answer}`);
      } else if (text !== answer) {
        throw new Error(`round trip ${i + 1} answered ${text}, the first ${answer}`);
      }
      times.push(r.ms);
    }
    out(`    round trips: ${times.map((t) => `${Math.round(t)} ms`).join(", ")}`);
    return { answer, rounds: times };
  } finally {
    await hop.stop();
  }
}

/** The example car's name, as make_prediction.sh takes it from the model's manifest. */
function exampleName(options: RehearsalOptions): string {
  const manifest = JSON.parse(readFileSync(join(options.modelDir ?? join(options.repoDir, "service/model"), "manifest.json"), "utf8")) as { smoke_test?: { cases?: { name?: string }[] } };
  return `the example car (${manifest.smoke_test?.cases?.[0]?.name ?? "first smoke case"})`;
}

async function runNpmScript(repoDir: string, script: string, args: string[], onLine: (l: string) => void): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(repoDir, "package.json"), "utf8")) as { scripts?: Record<string, string> };
  if (!pkg.scripts?.[script]) throw new Error(`package.json has no "${script}" script`);
  await run("npm", ["run", "--silent", script, ...(args.length ? ["--", ...args] : [])], { ...process.env } as Record<string, string>, onLine, repoDir);
}

/** Runs a command, streaming its output lines; resolves with stdout, rejects naming the exit code. */
function run(command: string, args: string[], env: Record<string, string>, onLine: (line: string) => void, cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let tail = "";
    for (const stream of [child.stdout, child.stderr]) {
      let partial = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        if (stream === child.stdout) stdout += chunk;
        partial += chunk;
        const lines = partial.split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) {
          onLine(line);
          tail = line;
        }
      });
      stream.on("end", () => {
        if (partial) {
          onLine(partial);
          tail = partial;
        }
      });
    }
    child.on("error", (e) => reject(new Error(`cannot run ${command}: ${e.message}`)));
    child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${[command, ...args].join(" ")} exited with ${code}${tail ? `: ${tail}` : ""}`))));
  });
}

function onPath(binary: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => dir && existsSync(join(dir, binary)));
}

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
