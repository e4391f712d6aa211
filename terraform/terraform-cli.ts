/**
 * Runs the terraform binary. Every failure says which command, in which directory, and
 * what terraform printed, so a broken plan is readable in CI logs.
 */
import { spawn, spawnSync } from "node:child_process";

export class TerraformMissingError extends Error {
  override readonly name = "TerraformMissingError";
  constructor() {
    super(
      "terraform is not installed or not on PATH: install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install) to validate and plan the stacks",
    );
  }
}

export class TerraformCommandError extends Error {
  override readonly name = "TerraformCommandError";
  constructor(
    readonly args: readonly string[],
    readonly cwd: string,
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(`terraform ${args.join(" ")} failed in ${cwd} (exit ${exitCode}):\n${output.trim()}`);
  }
}

/** The installed terraform version, or undefined when there is no terraform on PATH. */
export function terraformVersion(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const result = spawnSync("terraform", ["version", "-json"], { env, encoding: "utf8" });
  if (result.error || result.status !== 0) return undefined;
  try {
    return (JSON.parse(result.stdout) as { terraform_version: string }).terraform_version;
  } catch {
    return undefined;
  }
}

export interface TerraformRunOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

/** Runs `terraform <args>` and resolves with stdout; rejects with the combined output on failure. */
export function terraform(args: readonly string[], options: TerraformRunOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("terraform", [...args], {
      cwd: options.cwd,
      env: { ...options.env, TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error: NodeJS.ErrnoException) => reject(error.code === "ENOENT" ? new TerraformMissingError() : error));
    child.on("close", (code) => {
      const out = Buffer.concat(stdout).toString("utf8");
      if (code === 0) resolve(out);
      else reject(new TerraformCommandError(args, options.cwd, code, `${out}\n${Buffer.concat(stderr).toString("utf8")}`));
    });
  });
}
