import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { terraform, TerraformCommandError, TerraformMissingError, terraformVersion } from "./terraform-runner.js";

const installed = terraformVersion() ?? "(terraform is not installed: npm run setup)";

describe("running terraform", () => {
  it("reports no version, and a missing-terraform error naming the fix, when terraform is not on PATH", async () => {
    expect(terraformVersion({ PATH: "/mpg15-nowhere" })).toBeUndefined();
    await expect(terraform(["version"], { cwd: tmpdir(), env: { PATH: "/mpg15-nowhere" } })).rejects.toThrow(TerraformMissingError);
  });

  it("resolves with stdout, and on failure names the command, the folder, the exit code and what terraform printed", async () => {
    expect(await terraform(["version"], { cwd: tmpdir(), env: process.env })).toContain(`Terraform v${installed}`);
    const error = await terraform(["plan", "-no-such-flag"], { cwd: tmpdir(), env: process.env }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TerraformCommandError);
    expect((error as TerraformCommandError).exitCode).toBe(1);
    expect((error as Error).message).toMatch(new RegExp(`^terraform plan -no-such-flag failed in ${tmpdir()} \\(exit 1\\):\\n`));
  });
});
