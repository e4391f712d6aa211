/**
 * Runs the terraform binary. Every failure says which command, in which directory, and
 * what terraform printed, so a broken plan is readable in CI logs.
 */
import { x, xSync, type Output } from "tinyexec";

export class TerraformMissingError extends Error {
  override readonly name = "TerraformMissingError";
  constructor() {
    super("terraform is not installed or not on PATH: install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install) to validate and plan the stacks");
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

// tinyexec runs the binary with exactly the env given: no inherited variables, no node_modules/.bin on PATH.
const EXACT_ENV = { inheritEnv: false, nodePath: false, throwOnError: false } as const;

/** The installed terraform version, or undefined when there is no terraform on PATH. */
export function terraformVersion(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const result = xSync("terraform", ["version", "-json"], { ...EXACT_ENV, nodeOptions: { env } });
    if (result.exitCode !== 0) return undefined;
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
export async function terraform(args: readonly string[], options: TerraformRunOptions): Promise<string> {
  const env = { ...options.env, TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1" };
  let result: Output;
  try {
    result = await x("terraform", [...args], { ...EXACT_ENV, nodeOptions: { cwd: options.cwd, env, stdio: ["ignore", "pipe", "pipe"] } });
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code === "ENOENT" ? new TerraformMissingError() : error;
  }
  if (result.exitCode === 0) return result.stdout;
  throw new TerraformCommandError(args, options.cwd, result.exitCode ?? null, `${result.stdout}\n${result.stderr}`);
}
