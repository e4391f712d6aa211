/**
 * `npm start` through the real agent onto a booted instance: the events with their times from the
 * agent's logs, the prediction made on the instance, the reason of a failed hook, and nothing left
 * behind, also when interrupted with Ctrl-C.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { fleetNodeForImage } from "./image.js";
import { instanceSettings } from "./instance-settings.js";
import { rehearse } from "./rehearsal.js";
import { cleanupTargets, corruptModelDir, REPO_DIR } from "./test-helpers.js";

const settings = instanceSettings(process.env);
afterAll(cleanupTargets);

/** Every systemd-nspawn process on this host that boots `name` (none should outlive a rehearsal). */
function nspawnsOf(name: string): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "latin1").split("\0").includes(`--machine=${name}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const common = (name: string, lines: string[]) => ({
  repoDir: REPO_DIR,
  instance: { name, agent: inject("agent"), cacheDir: settings.cacheDir, node: fleetNodeForImage(settings.cacheDir), imageSettings: settings.image, mode: "container" as const },
  environment: "dev",
  // The model's tests and the plans are other suites' work; terraform under a name that does not
  // exist shows the stage says it is skipped rather than vanishing.
  // The blue/green staging stage has its own rehearsal (bluegreen/, .ci/run blue-green).
  skip: ["model-gate", "staging"] as const,
  terraformCommand: "terraform-not-installed-here",
  keepRunning: false,
  out: (l: string) => lines.push(l),
});

describe("npm start through the real CodeDeploy agent", () => {
  it("builds, boots, deploys with each lifecycle event timed from the agent's logs, predicts on the instance, and stops it", async () => {
    const lines: string[] = [];
    const result = await rehearse(common("mpg10-rh-good", lines));
    const text = lines.join("\n");
    expect(result.ok, text).toBe(true);
    expect(result.instanceKind).toBe("container");
    expect(result.stages.map((s) => `${s.id}:${s.status}`)).toEqual([
      "environments:ok",
      "model-gate:skipped",
      "synth-plan:skipped",
      "bundle:ok",
      "instance:ok",
      "deploy:ok",
      "predict:ok",
      "staging:skipped",
      "stop:ok",
    ]);
    expect(text).toMatch(/✔ Install\s+\d\d:\d\d:\d\d\.\d{3}Z\s+[\d.]+ s/);
    expect(text).toMatch(/✔ ValidateService\s+\d\d:\d\d:\d\d\.\d{3}Z/);
    expect(text).toMatch(/· ApplicationStop\s+.*no scripts/);
    // As a user does it: ssh to the instance's own sshd, sh make_prediction.sh in the application folder.
    expect(text).toMatch(/\$ ssh ubuntu@mpg10-rh-good/);
    expect(text).toMatch(/\$ cd '\/opt\/mpg-model' && sh make_prediction\.sh/);
    expect(text).toMatch(/ssh in, sh make_prediction\.sh on the instance \([\d.]+ s\): the example car \(.+\): [\d.]+ mpg; SSH round trip \(connect, run, answer\) median [\d.]+ s of 5/);
    expect(result.prediction).toMatch(/^\{"predictions":\[[\d.]+\]/);
    expect(nspawnsOf("mpg10-rh-good")).toEqual([]);
  });

  it("fails a revision with a broken model at ValidateService and prints the hook's reason from scripts.log", async () => {
    const lines: string[] = [];
    const result = await rehearse({ ...common("mpg10-rh-bad", lines), modelDir: corruptModelDir() });
    const text = lines.join("\n");
    expect(result.ok).toBe(false);
    expect(result.stages.find((s) => s.id === "deploy")?.status).toBe("failed");
    expect(text).toMatch(/✖ ValidateService .*FAILED/);
    expect(text).toMatch(/│ .*validation failed: the service never became ready/);
    expect(text).toMatch(/deployment d-\w+-local FAILED at ValidateService/);
    expect(result.stages.at(-1)).toMatchObject({ id: "stop", status: "ok" });
    expect(nspawnsOf("mpg10-rh-bad")).toEqual([]);
  });

  it("on Ctrl-C while deploying, stops the instance and removes its scratch folder before exiting", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO_DIR, "revision/rehearsal-cli.ts"), "--skip", "model-gate", "--skip", "synth-plan"], {
      cwd: REPO_DIR,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, INSTANCE_MODE: "container" },
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (output += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (output += c));
    await expect.poll(() => output, { timeout: 120_000, interval: 200 }).toMatch(/codedeploy-local onto (mpg-rehearsal-[0-9a-f]+)/);
    const name = /codedeploy-local onto (mpg-rehearsal-[0-9a-f]+)/.exec(output)![1]!;
    expect(nspawnsOf(name).length).toBe(1);
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(output).toMatch(/SIGINT: removing the instances/);
    expect(nspawnsOf(name)).toEqual([]);
    expect(readdirSync(tmpdir()).filter((d) => d.startsWith(`${name}-instance-`))).toEqual([]);
  });
});
