import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { rehearse, stopTarget } from "./rehearsal.js";
import { cleanupTargets, corruptModelDir, REPO_DIR, tempDir } from "./test-helpers.js";

const targets: string[] = [];
afterAll(async () => {
  for (const t of targets) await stopTarget(t, "dev").catch(() => undefined);
  await cleanupTargets();
});

function cli(...args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO_DIR, "revision/rehearsal-cli.ts"), ...args], { cwd: REPO_DIR, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("npm start (the local rehearsal)", () => {
  it("rejects bad arguments with a message naming the argument, and exits 2", async () => {
    const [skip, env, unknown, positional] = await Promise.all([cli("--skip", "deploy-to-prod"), cli("--env", "qa"), cli("--fast"), cli("now")]);
    expect(skip.code).toBe(2);
    expect(skip.stderr).toMatch(/--skip: unknown stage "deploy-to-prod"; stages are environments, model-gate, synth-plan, bundle, deploy, predict/);
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/--env: unknown environment "qa"; expected one of dev, staging, prod/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option '--fast'/);
    expect(positional.code).toBe(2);
    expect(positional.stderr).toMatch(/Unexpected argument 'now'/);
  });

  it("builds, deploys and predicts; then a revision with a broken model fails, rolls back, and says the previous revision is serving", async () => {
    const targetDir = tempDir("rehearsal-target");
    targets.push(targetDir);
    const lines: string[] = [];
    // The model gate and the plans are other stages' own tests; terraform is looked up under a
    // name that does not exist, to show the stage says it is skipped rather than vanishing.
    const common = { repoDir: REPO_DIR, targetDir, environment: "dev", skip: ["model-gate"] as const, terraformCommand: "terraform-not-installed-here", out: (l: string) => lines.push(l) };

    const good = await rehearse({ ...common, keepRunning: false });
    const text = lines.join("\n");
    expect(good.ok, text).toBe(true);
    expect(text).toMatch(/synth and plan every stack \(0\.0 s\): skipped: terraform not installed/);
    expect(text).toMatch(/ssh in, sh make_prediction\.sh \([\d.]+ s\): the example car \(chevrolet chevelle malibu\): [\d.]+ mpg; SSH round trip \(connect, run, answer\) median [\d.]+ s of 5/);
    expect(text).toMatch(/\$ cd '[^']+\/opt\/mpg-model' && sh make_prediction\.sh/);
    expect(good.prediction).toMatch(/^\{"predictions":\[[\d.]+\]/);
    expect(good.stages.map((s) => `${s.id}:${s.status}`)).toEqual([
      "environments:ok", "model-gate:skipped", "synth-plan:skipped", "bundle:ok", "deploy:ok", "predict:ok", "stop:ok",
    ]);
    await expect(fetch(`http://127.0.0.1:${good.port}/health`)).rejects.toThrow();

    lines.length = 0;
    const bad = await rehearse({ ...common, keepRunning: true, modelDir: corruptModelDir() });
    const badText = lines.join("\n");
    expect(bad.ok).toBe(false);
    expect(badText).toMatch(/deployment d-\w+ FAILED at ValidateService: .*; rolled back: deployment d-\w+ redeployed the previous revision, which is serving on 127\.0\.0\.1:\d+/);
    const ready = await fetch(`http://127.0.0.1:${bad.port}/ready`);
    expect(ready.status).toBe(200);
  });
});
