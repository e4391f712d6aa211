/**
 * The agent's Install step for a local target: remove what the previous deployment of this
 * group installed (its cleanup list), plan every copy from the files section honouring
 * file_exists_behavior BEFORE copying anything, copy, record the new cleanup list, then apply
 * the permissions section to the objects this deployment installed. Instance paths (the
 * AppSpec's absolute destinations) are mapped under `rootDir`.
 */
import { chmodSync, chownSync, constants, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { basename, join, posix } from "node:path";
import { execFileSync } from "node:child_process";
import type { AppSpec, AppSpecPermission } from "./appspec.js";

export class InstallError extends Error {
  override readonly name = "InstallError";
}

type Instruction = { kind: "mkdir"; path: string } | { kind: "copy"; from: string; path: string };

export interface InstallResult {
  readonly copied: number;
  readonly directories: number;
  readonly removed: number;
  readonly notes: string[];
}

export function install(spec: AppSpec, archiveDir: string, rootDir: string, cleanupFile: string): InstallResult {
  const onHost = (instancePath: string) => join(rootDir, instancePath);
  const removed = removePreviousInstall(cleanupFile, onHost);

  const plan: Instruction[] = [];
  const planned = new Set<string>();
  const mkdir = (path: string) => {
    if (!planned.has(path)) {
      planned.add(path);
      plan.push({ kind: "mkdir", path });
    }
  };
  const copy = (from: string, path: string) => {
    if (planned.has(path)) {
      throw new InstallError(`The deployment failed because the application specification file specifies two source files for the same destination (${path})`);
    }
    if (existsSync(onHost(path))) {
      switch (spec.file_exists_behavior) {
        case "DISALLOW":
          throw new InstallError(`The deployment failed because a specified file already exists at this location: ${path}`);
        case "RETAIN":
          return;
        case "OVERWRITE":
          break;
      }
    }
    planned.add(path);
    plan.push({ kind: "copy", from, path });
  };
  const missingAncestors = (path: string) => {
    const missing: string[] = [];
    for (let dir = posix.dirname(path); dir !== "/" && dir !== "." && !existsSync(onHost(dir)); dir = posix.dirname(dir)) missing.unshift(dir);
    missing.forEach(mkdir);
  };
  const copyDirectory = (from: string, to: string) => {
    if (!existsSync(onHost(to)) || !statSync(onHost(to)).isDirectory()) mkdir(to);
    for (const entry of readdirSync(from).sort()) {
      const source = join(from, entry);
      const lst = lstatSync(source);
      if (lst.isDirectory()) copyDirectory(source, posix.join(to, entry));
      else copy(source, posix.join(to, entry));
    }
  };

  for (const file of spec.files) {
    const source = join(archiveDir, file.source);
    const destination = posix.normalize(file.destination);
    if (statSync(source).isDirectory()) {
      missingAncestors(destination);
      copyDirectory(source, destination);
    } else {
      const target = posix.join(destination, basename(source));
      missingAncestors(target);
      copy(source, target);
    }
  }

  // The cleanup list is written before copying, as the agent does: a half-finished Install is
  // still removed by the next deployment.
  writeFileSync(cleanupFile, plan.map((i) => `${i.kind === "mkdir" ? "mkdir" : "file"}\t${i.path}`).join("\n") + "\n");
  for (const i of plan) {
    if (i.kind === "mkdir") mkdirSync(onHost(i.path), { recursive: true });
    else {
      copyFileSync(i.from, onHost(i.path), constants.COPYFILE_FICLONE);
      chmodSync(onHost(i.path), statSync(i.from).mode & 0o7777);
    }
  }

  const notes = applyPermissions(spec.permissions, plan, onHost);
  return { copied: plan.filter((i) => i.kind === "copy").length, directories: plan.filter((i) => i.kind === "mkdir").length, removed, notes };
}

/** Deletes the files the previous deployment installed, then its directories when empty. */
function removePreviousInstall(cleanupFile: string, onHost: (p: string) => string): number {
  if (!existsSync(cleanupFile)) return 0;
  const entries = readFileSync(cleanupFile, "utf8").split("\n").filter(Boolean).map((line) => line.split("\t") as [string, string]);
  let removed = 0;
  for (const [kind, path] of entries) {
    if (kind === "file" && existsSync(onHost(path))) {
      unlinkSync(onHost(path));
      removed++;
    }
  }
  for (const [kind, path] of entries.reverse()) {
    if (kind === "mkdir" && existsSync(onHost(path)) && readdirSync(onHost(path)).length === 0) rmdirSync(onHost(path));
  }
  unlinkSync(cleanupFile);
  return removed;
}

function applyPermissions(permissions: readonly AppSpecPermission[], plan: readonly Instruction[], onHost: (p: string) => string): string[] {
  const notes: string[] = [];
  const installed = new Map(plan.map((i) => [i.path, i.kind === "mkdir" ? ("directory" as const) : ("file" as const)]));
  const asRoot = process.getuid?.() === 0;
  const me = userInfo().username;

  permissions.forEach((permission, index) => {
    const object = posix.normalize(permission.object);
    let targets: string[];
    if (installed.get(object) === "file") {
      if (permission.pattern !== "**" || permission.except.length) {
        throw new InstallError(`permissions[${index}]: object ${object} is a file, so pattern must be "**" and except empty`);
      }
      targets = permission.type.includes("file") ? [object] : [];
    } else {
      const base = object.endsWith("/") ? object : `${object}/`;
      targets = [...installed.entries()]
        .filter(([path, type]) => path.startsWith(base) && permission.type.includes(type))
        .filter(([path]) => {
          const relative = path.slice(base.length);
          const matches = permission.pattern === "**" || simpleGlob(relative, permission.pattern);
          return matches && !permission.except.some((e) => simpleGlob(relative, e));
        })
        .map(([path]) => path);
    }
    for (const path of targets) {
      if (permission.mode) chmodSync(onHost(path), parseInt(permission.mode, 8));
      if (permission.owner || permission.group) {
        const wanted = [permission.owner, permission.group].filter(Boolean);
        if (asRoot) {
          chownSync(onHost(path), uid(permission.owner), gid(permission.group));
        } else if (!wanted.every((name) => name === me)) {
          const note = `permissions[${index}]: owner/group ${wanted.join(":")} not applied (not root on this local target)`;
          if (!notes.includes(note)) notes.push(note);
        }
      }
    }
  });
  return notes;
}

/** The agent's glob: `*` only, one path level (a name with a slash never matches). */
export function simpleGlob(name: string, pattern: string): boolean {
  if (name.includes("/")) return false;
  const regex = new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return regex.test(name);
}

const idCache = new Map<string, number>();
function cached(key: string, lookup: () => number): number {
  if (!idCache.has(key)) idCache.set(key, lookup());
  return idCache.get(key)!;
}

function uid(owner: string | undefined): number {
  return owner === undefined ? -1 : cached(`u:${owner}`, () => lookupUid(owner));
}

function gid(group: string | undefined): number {
  return group === undefined ? -1 : cached(`g:${group}`, () => lookupGid(group));
}

function lookupUid(owner: string): number {
  try {
    return Number(execFileSync("id", ["-u", owner], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
  } catch {
    throw new InstallError(`permissions: user "${owner}" does not exist on this host`);
  }
}

function lookupGid(group: string): number {
  try {
    const entry = execFileSync("getent", ["group", group], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return Number(entry.split(":")[2]);
  } catch {
    throw new InstallError(`permissions: group "${group}" does not exist on this host`);
  }
}
