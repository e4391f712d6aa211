/**
 * Boots the best local instance this host allows: a systemd-nspawn container from the cached
 * image (root and systemd-nspawn present), otherwise the mount-namespace fallback, announced
 * loudly because the hooks then take their local path instead of the systemd one.
 */
import type { AgentLocation } from "./agent-source.js";
import { ensureImage, type Image, type ImageSettings } from "./image.js";
import { containerPrerequisites, type Instance, LocalInstance } from "./instance.js";
import type { ImageNode } from "./image.js";
import { NamespaceInstance } from "./namespace-instance.js";

export interface BootInstanceOptions {
  readonly name: string;
  readonly agent: AgentLocation;
  readonly cacheDir: string;
  readonly node: ImageNode;
  readonly imageSettings?: ImageSettings;
  /** "auto" (default): container when possible; "container": fail instead of falling back; "namespace": always the fallback. */
  readonly mode?: "auto" | "container" | "namespace";
  readonly networkNamespace?: string;
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export interface BootedInstance {
  readonly instance: Instance;
  readonly image?: Image;
  readonly bootMs: number;
}

export async function bootInstance(options: BootInstanceOptions): Promise<BootedInstance> {
  const log = options.log ?? (() => {});
  const mode = options.mode ?? "auto";
  const missing = containerPrerequisites();
  if (mode === "namespace" || (mode === "auto" && missing.length)) {
    if (mode === "auto") {
      log(`⚠ NO CONTAINER: missing ${missing.join("; ")}.`);
      log("⚠ FALLING BACK to the agent in a private mount namespace on this host: the hooks take their LOCAL path, not systemd.");
    }
    const t0 = performance.now();
    const instance = await NamespaceInstance.boot({ name: options.name, agent: options.agent, log });
    return { instance, bootMs: performance.now() - t0 };
  }
  const image = await ensureImage({
    cacheDir: options.cacheDir,
    node: options.node,
    log,
    ...(options.imageSettings ? { settings: options.imageSettings } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const t0 = performance.now();
  const instance = await LocalInstance.boot({ name: options.name, image, agent: options.agent, log, ...(options.networkNamespace ? { networkNamespace: options.networkNamespace } : {}) });
  return { instance, image, bootMs: performance.now() - t0 };
}
