/**
 * A scratch copy of a synthesized stack that terraform can init, validate and plan with no
 * AWS credentials and no remote state. The synthesized stack itself is never touched: its
 * provider block stays production-grade (real credential checks, allowed account ids), and
 * the offline settings exist only in the copy, as a Terraform override file.
 */
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";

export const OFFLINE_OVERRIDE_FILE = "offline_override.tf.json";

interface SynthesizedStack {
  provider?: { aws?: Array<Record<string, unknown>> };
  terraform?: { backend?: Record<string, unknown> };
}

/**
 * Override for every aws provider block: placeholder keys, no STS/IMDS calls, no account check
 * (there is no account to check against). The backend becomes local so plan needs no S3 state.
 */
export function offlineOverride(stack: SynthesizedStack, stateFile: string): object {
  const providers = (stack.provider?.aws ?? []).map((block) => ({
    ...(block.alias ? { alias: block.alias } : {}),
    access_key: "offline-plan",
    secret_key: "offline-plan",
    skip_credentials_validation: true,
    skip_requesting_account_id: true,
    skip_metadata_api_check: "true",
    allowed_account_ids: null,
  }));
  return {
    terraform: { backend: { local: { path: stateFile } } },
    ...(providers.length ? { provider: { aws: providers } } : {}),
  };
}

/** Copies `stackDir` to `workDir` (replacing what was there, but keeping .terraform for speed) and adds the override. */
export async function prepareOfflineWorkspace(stackDir: string, workDir: string): Promise<string> {
  const synthesized = JSON.parse(await readFile(join(stackDir, "cdk.tf.json"), "utf8")) as SynthesizedStack;
  await mkdir(workDir, { recursive: true });
  await rm(join(workDir, "cdk.tf.json"), { force: true });
  await rm(join(workDir, "assets"), { recursive: true, force: true });
  await cp(stackDir, workDir, { recursive: true, filter: (source) => basename(source) !== ".terraform" });
  await writeFile(join(workDir, OFFLINE_OVERRIDE_FILE), JSON.stringify(offlineOverride(synthesized, "offline.tfstate"), null, 2));
  return workDir;
}
