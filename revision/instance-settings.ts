/**
 * The local instance's settings, typed once. The CLIs and the test setup call
 * `instanceSettings(process.env)` at their top level; nothing below them reads the environment.
 *
 * - CODEDEPLOY_AGENT_DIR: an aws-codedeploy-agent 1.8.1 checkout (default ../shared/vendor, then the pinned download)
 * - XDG_CACHE_HOME / HOME: the cache is ${XDG_CACHE_HOME:-$HOME/.cache}/mpg-model (images, Node, agent)
 * - INSTANCE_IMAGE: debian-bookworm (default; what our machines reach) or ubuntu-noble (needs Ubuntu's archive)
 * - INSTANCE_SUITE, INSTANCE_MIRROR, INSTANCE_COMPONENTS (comma-separated), INSTANCE_KEYRING,
 *   INSTANCE_DEBOOTSTRAP_SCRIPT: override single fields of that image
 * - INSTANCE_MODE: auto (default: a container when root and systemd-nspawn are there, else the
 *   namespace fallback), container (never fall back), namespace (always the fallback)
 */
import { join } from "node:path";
import { z } from "zod";
import { DEBIAN_BOOKWORM, ImageSettingsSchema, UBUNTU_NOBLE, type ImageSettings } from "./image.js";

export interface InstanceSettings {
  readonly cacheDir: string;
  readonly agentDir: string | undefined;
  readonly image: ImageSettings;
  readonly mode: "auto" | "container" | "namespace";
}

const Env = z.object({
  CODEDEPLOY_AGENT_DIR: z.string().min(1).optional(),
  XDG_CACHE_HOME: z.string().min(1).optional(),
  HOME: z.string().min(1, "HOME is not set: set XDG_CACHE_HOME or HOME for the instance cache").optional(),
  INSTANCE_IMAGE: z.enum(["debian-bookworm", "ubuntu-noble"], { error: "must be debian-bookworm or ubuntu-noble" }).default("debian-bookworm"),
  INSTANCE_SUITE: z.string().min(1).optional(),
  INSTANCE_MIRROR: z.string().min(1).optional(),
  INSTANCE_COMPONENTS: z.string().min(1).optional(),
  INSTANCE_KEYRING: z.string().min(1).optional(),
  INSTANCE_DEBOOTSTRAP_SCRIPT: z.string().min(1).optional(),
  INSTANCE_MODE: z.enum(["auto", "container", "namespace"], { error: "must be auto, container or namespace" }).default("auto"),
});

export class InstanceSettingsError extends Error {
  override readonly name = "InstanceSettingsError";
}

export function instanceSettings(env: Readonly<Record<string, string | undefined>>): InstanceSettings {
  const parsed = Env.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")));
  if (!parsed.success) throw new InstanceSettingsError(`instance settings: ${z.prettifyError(parsed.error)}`);
  const e = parsed.data;
  const cacheRoot = e.XDG_CACHE_HOME ?? (e.HOME ? join(e.HOME, ".cache") : undefined);
  if (!cacheRoot) throw new InstanceSettingsError("instance settings: neither XDG_CACHE_HOME nor HOME is set: the instance image needs a cache folder");
  const preset = e.INSTANCE_IMAGE === "ubuntu-noble" ? UBUNTU_NOBLE : DEBIAN_BOOKWORM;
  const image = ImageSettingsSchema.safeParse({
    ...preset,
    ...(e.INSTANCE_SUITE ? { suite: e.INSTANCE_SUITE } : {}),
    ...(e.INSTANCE_MIRROR ? { mirror: e.INSTANCE_MIRROR } : {}),
    ...(e.INSTANCE_COMPONENTS ? { components: e.INSTANCE_COMPONENTS.split(",").map((c) => c.trim()) } : {}),
    ...(e.INSTANCE_KEYRING ? { keyring: e.INSTANCE_KEYRING } : {}),
    ...(e.INSTANCE_DEBOOTSTRAP_SCRIPT ? { script: e.INSTANCE_DEBOOTSTRAP_SCRIPT } : {}),
  });
  if (!image.success) throw new InstanceSettingsError(`instance image settings (INSTANCE_*): ${z.prettifyError(image.error)}`);
  return { cacheDir: join(cacheRoot, "mpg-model"), agentDir: e.CODEDEPLOY_AGENT_DIR, image: image.data, mode: e.INSTANCE_MODE };
}
