/**
 * The rehearsal's instances: revision/instance.ts's LocalInstance (the cached image booted with
 * systemd-nspawn, the real CodeDeploy agent inside), one per slot, each joining the network
 * namespace made for its slot. The image and the agent are located once for both.
 */
import { locateAgent } from "../revision/agent-source.js";
import { ensureImage } from "../revision/image.js";
import { nodeDist } from "../revision/instance-node.js";
import { containerPrerequisites, LocalInstance } from "../revision/instance.js";
import type { BootHost } from "./rehearsal.js";
import { RehearsalError } from "./rehearsal.js";

export interface InstanceSettings {
  readonly repoDir: string;
  /** `${XDG_CACHE_HOME:-$HOME/.cache}/mpg-model`, read by the CLI. */
  readonly cacheDir: string;
  /** CODEDEPLOY_AGENT_DIR, when set (read by the CLI). */
  readonly agentDir?: string | undefined;
  readonly bootTimeoutMs?: number;
}

/** Checks what booting needs before anything is created, then boots on demand. */
export function localInstances(settings: InstanceSettings): BootHost {
  const missing = containerPrerequisites();
  if (missing.length) throw new RehearsalError(`cannot boot the rehearsal's instances: missing ${missing.join("; ")}`);
  let ready: Promise<[Awaited<ReturnType<typeof ensureImage>>, Awaited<ReturnType<typeof locateAgent>>]> | undefined;
  return async ({ name, networkNamespace, log }) => {
    ready ??= Promise.all([
      ensureImage({ cacheDir: settings.cacheDir, node: nodeDist(settings.cacheDir), log }),
      locateAgent({ repoDir: settings.repoDir, cacheDir: settings.cacheDir, ...(settings.agentDir ? { configuredDir: settings.agentDir } : {}) }),
    ]);
    const [image, agent] = await ready;
    return LocalInstance.boot({ name, image, agent, networkNamespace, log, ...(settings.bootTimeoutMs ? { bootTimeoutMs: settings.bootTimeoutMs } : {}) });
  };
}
