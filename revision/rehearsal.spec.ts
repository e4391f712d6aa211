import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_DIR } from "./test-helpers.js";

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
    expect(skip.stderr).toMatch(/--skip: unknown stage "deploy-to-prod"; stages are environments, model-gate, synth-plan, bundle, instance, deploy, predict/);
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/--env: unknown environment "qa"; expected one of dev, staging, prod/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option '--fast'/);
    expect(positional.code).toBe(2);
    expect(positional.stderr).toMatch(/Unexpected argument 'now'/);
  });
});
