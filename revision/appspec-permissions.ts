/**
 * The AppSpec permission rules checked against the paths a revision installs, with the matching
 * of the CodeDeploy agent 1.8.1 (installer.rb, install_instruction.rb, linux_permission_info.rb):
 *
 * - a rule whose object is an installed FILE applies to that file (pattern must be "**", no except);
 * - a rule whose object is a directory applies to the installed files (type file) and created
 *   directories (type directory) below it; pattern "**" matches every depth, any other pattern
 *   and every except entry only match the object's direct children (`*` is the only wildcard);
 * - a path matched by two rules fails the whole Install step ("the permissions setting for
 *   (PATH) is specified more than once").
 *
 * On top of the agent, the project's own rule: every installed path is matched by exactly one
 * rule, so no file keeps whatever mode the zip happened to carry, and no rule matches nothing.
 * The tests deploy overlapping rules through the real agent to keep this in step with it.
 */
import { posix } from "node:path";
import type { AppSpec, AppSpecPermission } from "./appspec.js";

export interface InstalledPaths {
  readonly files: ReadonlySet<string>;
  readonly directories: ReadonlySet<string>;
}

/** Where the agent copies each bundle entry (`bundleFiles`: zip entry names, files only). */
export function installedPaths(spec: AppSpec, bundleFiles: readonly string[]): InstalledPaths {
  const files = new Set<string>();
  const directories = new Set<string>();
  const addDirsDown = (destination: string, rel: string) => {
    directories.add(destination);
    const parts = rel.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) directories.add(posix.join(destination, ...parts.slice(0, i)));
  };
  for (const mapping of spec.files) {
    const source = posix.normalize(mapping.source).replace(/^\/+|\/+$/g, "");
    const destination = posix.normalize(mapping.destination);
    const whole = source === "" || source === ".";
    const under = bundleFiles.filter((f) => whole || f.startsWith(`${source}/`));
    if (!whole && bundleFiles.includes(source)) {
      files.add(posix.join(destination, posix.basename(source)));
    } else {
      for (const f of under) {
        const rel = whole ? f : f.slice(source.length + 1);
        files.add(posix.join(destination, rel));
        addDirsDown(destination, rel);
      }
    }
  }
  return { files, directories };
}

/** For each installed path, the indexes of the rules that match it (as the agent matches them). */
export function matchingRules(spec: AppSpec, installed: InstalledPaths): Map<string, number[]> {
  const owners = new Map<string, number[]>();
  spec.permissions.forEach((rule, index) => {
    for (const path of rulePaths(rule, installed)) owners.set(path, [...(owners.get(path) ?? []), index]);
  });
  return owners;
}

/** Problems, one line each, naming the rule(s) and the path; empty when every path has exactly one rule. */
export function permissionProblems(spec: AppSpec, installed: InstalledPaths): string[] {
  const problems: string[] = [];
  spec.permissions.forEach((rule, index) => {
    const object = objectOf(rule);
    if (installed.files.has(object) && rule.type.includes("file")) {
      if (rule.pattern !== "**") problems.push(`permissions[${index}]: object ${object} is a file, so pattern must be "**" (the agent refuses pattern "${rule.pattern}" on a file)`);
      if (rule.except.length) problems.push(`permissions[${index}]: object ${object} is a file, so it cannot have except (the agent refuses it)`);
    }
    if (rulePaths(rule, installed).length === 0) problems.push(`permissions[${index}] (object ${object}, pattern "${rule.pattern}") matches nothing this revision installs`);
  });
  const owners = matchingRules(spec, installed);
  for (const [path, rules] of [...owners].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (rules.length > 1) {
      problems.push(
        `${path} is matched by ${rules.map((r) => `permissions[${r}]`).join(" and ")}: the CodeDeploy agent fails the Install step when two rules match one path ("the permissions setting for (${path}) is specified more than once"); narrow a rule's object, pattern or except`,
      );
    }
  }
  const spare = [...installed.files, ...installed.directories].filter((p) => !owners.has(p) && !isDestinationRoot(spec, p)).sort();
  if (spare.length)
    problems.push(`no permissions rule sets the owner and mode of ${spare.slice(0, 5).join(", ")}${spare.length > 5 ? ` and ${spare.length - 5} more` : ""}: they would keep the zip's modes`);
  return problems;
}

function objectOf(rule: AppSpecPermission): string {
  return posix.normalize(rule.object).replace(/(.)\/+$/, "$1");
}

/** The installed paths one rule applies to. */
function rulePaths(rule: AppSpecPermission, installed: InstalledPaths): string[] {
  const object = objectOf(rule);
  if (installed.files.has(object)) return rule.type.includes("file") ? [object] : [];
  return [...(rule.type.includes("file") ? [...installed.files] : []), ...(rule.type.includes("directory") ? [...installed.directories] : [])].filter((path) => matchesRule(rule, object, path));
}

/** A files destination may already exist on the instance (then the agent never "creates" it). */
function isDestinationRoot(spec: AppSpec, path: string): boolean {
  return spec.files.some((f) => posix.normalize(f.destination) === path);
}

function matchesRule(rule: AppSpecPermission, object: string, path: string): boolean {
  const base = object.endsWith("/") ? object : `${object}/`;
  if (!path.startsWith(base)) return false;
  const rel = path.slice(base.length);
  const included = rule.pattern === "**" || simpleGlob(rel, rule.pattern);
  return included && !rule.except.some((e) => simpleGlob(rel, e));
}

/** The agent's glob: `*` is the only wildcard and a name with a slash never matches. */
export function simpleGlob(name: string, pattern: string): boolean {
  if (name.includes("/")) return false;
  return new RegExp(
    `^${pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  ).test(name);
}
