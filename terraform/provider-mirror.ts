/**
 * Where terraform gets the AWS provider. A machine with a filesystem mirror (an air-gapped CI
 * runner, or this project's development machines) uses it; anything else downloads from the
 * registry as usual. The mirror is a setting (TF_PROVIDER_MIRROR) that is used when given.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

export const AWS_PROVIDER_SOURCE = "registry.terraform.io/hashicorp/aws";
export const AWS_PROVIDER_VERSION = "5.100.0";

/**
 * Directories that commonly hold a provider mirror, tried in order when TF_PROVIDER_MIRROR is
 * unset: terraform's own implicit local mirror directories, then /opt/tf-plugins (where the
 * offline development machines keep theirs).
 */
export const CANDIDATE_MIRRORS = [join(process.env.HOME ?? "/root", ".terraform.d", "plugins"), "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins", "/opt/tf-plugins"] as const;

function holdsAwsProvider(mirror: string): boolean {
  return existsSync(join(mirror, AWS_PROVIDER_SOURCE, AWS_PROVIDER_VERSION));
}

/**
 * The mirror to use: TF_PROVIDER_MIRROR when set (and it must hold the provider, or this throws
 * rather than silently downloading), else the first candidate that holds the pinned provider.
 */
export function resolveProviderMirror(env: NodeJS.ProcessEnv, candidates: readonly string[] = CANDIDATE_MIRRORS): string | undefined {
  const configured = env.TF_PROVIDER_MIRROR;
  if (configured) {
    if (!holdsAwsProvider(configured)) {
      throw new Error(`TF_PROVIDER_MIRROR=${configured} does not contain ${AWS_PROVIDER_SOURCE}/${AWS_PROVIDER_VERSION}`);
    }
    return configured;
  }
  return candidates.find(holdsAwsProvider);
}

/** A terraform CLI config that installs the AWS provider from the mirror and nothing from the network. */
export function mirrorCliConfig(mirror: string): string {
  return `provider_installation {
  filesystem_mirror {
    path    = ${JSON.stringify(mirror)}
    include = [${JSON.stringify(AWS_PROVIDER_SOURCE)}]
  }
  direct {
    exclude = [${JSON.stringify(AWS_PROVIDER_SOURCE)}]
  }
}
`;
}

/**
 * The environment terraform runs with: with a mirror, a generated CLI config (our own file,
 * so a stale TF_CLI_CONFIG_FILE on the machine cannot interfere); without one, the caller's.
 */
export async function terraformEnvironment(workRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<{ env: NodeJS.ProcessEnv; mirror?: string }> {
  const mirror = resolveProviderMirror(env);
  if (!mirror) return { env };
  const cliConfig = join(workRoot, "terraform-cli.tfrc");
  await writeFile(cliConfig, mirrorCliConfig(mirror));
  return { env: { ...env, TF_CLI_CONFIG_FILE: cliConfig }, mirror };
}
