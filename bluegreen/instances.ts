/**
 * The rehearsal's instances: revision/boot-instance.ts's container (the cached image booted with
 * systemd-nspawn, the real CodeDeploy agent inside, hooks on their systemd path), one per slot,
 * each joining the network namespace made for its slot. Never the mount-namespace fallback: it
 * has no network of its own, and the point here is two hosts with their own addresses.
 */
import type { AgentLocation } from "../revision/agent-source.js";
import { bootInstance } from "../revision/boot-instance.js";
import type { ImageNode, ImageSettings } from "../revision/image.js";
import { containerPrerequisites } from "../revision/instance.js";
import { haproxyVersion } from "./haproxy.js";
import type { BootHost } from "./rehearsal.js";

export interface InstanceOptions {
  readonly agent: AgentLocation;
  readonly cacheDir: string;
  readonly node: ImageNode;
  readonly imageSettings?: ImageSettings | undefined;
}

/** What this host lacks for the blue/green rehearsal, one line each (empty: it can run). */
export function blueGreenPrerequisites(): string[] {
  const missing = containerPrerequisites();
  try {
    haproxyVersion();
  } catch (error) {
    missing.push((error as Error).message);
  }
  return missing;
}

export function containerInstances(o: InstanceOptions): BootHost {
  return async ({ name, networkNamespace, log }) => {
    const { instance } = await bootInstance({
      name,
      agent: o.agent,
      cacheDir: o.cacheDir,
      node: o.node,
      mode: "container",
      networkNamespace,
      log,
      ...(o.imageSettings ? { imageSettings: o.imageSettings } : {}),
    });
    return instance;
  };
}
