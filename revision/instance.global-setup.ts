/**
 * Global setup of the instance specs: the settings (read here, at the top), the agent, the
 * machine image (built once when the cache has none: minutes on a fresh machine) and one real
 * revision, shared by every instance spec through vitest's provide/inject.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { locateAgent, type AgentLocation } from "./agent-source.js";
import { buildBundle } from "./bundle.js";
import { ensureImage, type Image } from "./image.js";
import { containerPrerequisites } from "./instance.js";
import { fleetNodeForImage } from "./image.js";
import { instanceSettings } from "./instance-settings.js";

declare module "vitest" {
  export interface ProvidedContext {
    instanceImage: Image;
    agent: AgentLocation;
    /** A revision built by npm run bundle's code from this checkout. */
    bundleZip: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const repoDir = join(import.meta.dirname, "..");
  const settings = instanceSettings(process.env);
  const missing = containerPrerequisites();
  if (missing.length) throw new Error(`the instance tests boot systemd-nspawn containers and cannot here: missing ${missing.join("; ")}`);
  const agent = await locateAgent({ repoDir, cacheDir: settings.cacheDir, ...(settings.agentDir ? { configuredDir: settings.agentDir } : {}) });
  const image = await ensureImage({ cacheDir: settings.cacheDir, settings: settings.image, node: fleetNodeForImage(settings.cacheDir), log: (l) => console.log(`[instance setup] ${l}`) });
  const out = mkdtempSync(join(tmpdir(), "mpg10-instance-bundle-"));
  const bundle = await buildBundle({ repoDir, outDir: out });
  project.provide("instanceImage", image);
  project.provide("agent", agent);
  project.provide("bundleZip", bundle.zipPath);
  return () => rmSync(out, { recursive: true, force: true });
}
