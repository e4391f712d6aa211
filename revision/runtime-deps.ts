/**
 * The production files the compiled service needs at run time, found by loading each external
 * package for real in a child process and reading Node's module cache: exactly the JavaScript
 * that runs, plus the package.json files that steer resolution, plus the native binaries for
 * linux-x64 (the instances' platform) in place of whatever platform the build runs on. Install-
 * time helpers (onnxruntime-node's downloader), source maps, typings and the other platforms'
 * binaries are never loaded, so they never ship.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, join, relative, sep } from "node:path";

export const TARGET_PLATFORM = "linux";
export const TARGET_ARCH = "x64";

export class RuntimeDepsError extends Error {
  override readonly name = "RuntimeDepsError";
}

/** Bare package names a bundled ES module still imports or requires (its externals). */
export function externalPackages(bundledCode: string): string[] {
  const names = new Set<string>();
  const patterns = [/\bfrom\s*["']([^"']+)["']/g, /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g, /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g, /^\s*import\s*["']([^"']+)["']/gm];
  for (const pattern of patterns) {
    for (const match of bundledCode.matchAll(pattern)) {
      const specifier = match[1]!;
      if (specifier.startsWith(".") || specifier.startsWith("/") || isBuiltin(specifier) || specifier.includes(":")) continue;
      const parts = specifier.split("/");
      names.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
    }
  }
  return [...names].sort();
}

/**
 * Files (paths relative to `nodeModulesDir`) that loading `packages` touches, with native
 * binaries swapped for the linux-x64 build. Runs Node once, from `projectDir`.
 */
export function runtimeFiles(projectDir: string, packages: readonly string[]): string[] {
  if (packages.length === 0) return [];
  // Node's module cache holds real paths: resolve a symlinked node_modules the same way.
  const nodeModulesDir = realpathSync(join(projectDir, "node_modules"));
  const script = `
    const { createRequire } = require("node:module");
    const req = createRequire(${JSON.stringify(join(projectDir, "package.json"))});
    for (const name of ${JSON.stringify(packages)}) req(name);
    process.stdout.write(JSON.stringify(Object.keys(require.cache)));
  `;
  let loaded: string[];
  try {
    loaded = JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: projectDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })) as string[];
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? (e as Error).message;
    throw new RuntimeDepsError(`cannot load the service's runtime packages (${packages.join(", ")}) to find their files:\n${stderr.trim().split("\n").slice(0, 8).join("\n")}`);
  }

  const files = new Set<string>();
  for (const file of loaded) {
    if (!file.startsWith(nodeModulesDir + sep)) continue;
    const rel = relative(nodeModulesDir, file);
    const native = rel.match(/^(.*\/bin\/napi-v\d+)\/[^/]+\/[^/]+\/[^/]+\.node$/);
    if (native) {
      // The .node file is loaded; the shared libraries beside it are loaded by the dynamic linker.
      const dir = `${native[1]}/${TARGET_PLATFORM}/${TARGET_ARCH}`;
      const abs = join(nodeModulesDir, dir);
      if (!existsSync(abs)) throw new RuntimeDepsError(`${rel} has no ${TARGET_PLATFORM}-${TARGET_ARCH} build at ${dir}`);
      for (const entry of readdirSync(abs)) if (statSync(join(abs, entry)).isFile()) files.add(`${dir}/${entry}`);
    } else {
      files.add(rel);
    }
    // Every package.json between the file and node_modules: "main", "exports" and "type" live there.
    for (let dir = dirname(file); dir.startsWith(nodeModulesDir + sep); dir = dirname(dir)) {
      if (existsSync(join(dir, "package.json"))) files.add(relative(nodeModulesDir, join(dir, "package.json")));
    }
  }
  for (const name of packages) {
    if (![...files].some((f) => f.startsWith(`${name}/`))) throw new RuntimeDepsError(`package ${name} loaded no file from ${nodeModulesDir}`);
  }
  return [...files].sort();
}

/** Licence files of the packages that ship, so the revision carries their notices. */
export function licenseFiles(nodeModulesDir: string, files: readonly string[]): string[] {
  const packageDirs = new Set(
    files
      .filter((f) => f.endsWith("/package.json"))
      .map((f) => dirname(f))
      .filter((d) => !d.includes("/dist") && !d.includes("/lib/")),
  );
  const out: string[] = [];
  for (const dir of packageDirs) {
    const abs = join(nodeModulesDir, dir);
    if (!existsSync(abs)) continue;
    for (const entry of readdirSync(abs)) if (/^(licen[cs]e|notice)/i.test(entry) && statSync(join(abs, entry)).isFile()) out.push(`${dir}/${entry}`);
  }
  return out.sort();
}

/** The version field of a package.json, for messages. */
export function packageVersion(packageJson: string): string {
  return (JSON.parse(readFileSync(packageJson, "utf8")) as { version?: string }).version ?? "unknown";
}
