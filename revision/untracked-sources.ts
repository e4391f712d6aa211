/**
 * Which of the files a bundle was built from are not in the commit it names. `git status
 * --untracked-files=no` sees edits to tracked files only: an untracked hooks/*.sh, or a file a
 * compiled import resolves to, would go into the zip while the manifest says git_dirty: false.
 */
import { execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";
import { isAbsolute, relative, sep } from "node:path";

/**
 * The files among `files` (absolute paths) that git does not track in `repoDir`, as one reason
 * each: "hooks/x.sh is not tracked by git", "/tmp/model.onnx is outside the repository".
 * Installed packages (any path through node_modules) are left out: package-lock.json pins them.
 */
export function untrackedSources(repoDir: string, files: readonly string[]): string[] {
  const root = realpathSync(repoDir);
  const reasons: string[] = [];
  const inside = new Set<string>();
  for (const file of new Set(files)) {
    const rel = relative(root, realpathSync(file));
    if (rel.split(sep).includes("node_modules")) continue;
    if (rel.startsWith("..") || isAbsolute(rel)) reasons.push(`${file} is outside the repository`);
    else inside.add(rel.split(sep).join("/"));
  }
  if (inside.size === 0) return reasons;
  // -z: names exactly as stored (no quoting); --literal-pathspecs: a name is never a glob.
  const tracked = new Set(
    execFileSync("git", ["--literal-pathspecs", "ls-files", "-z", "--", ...inside], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 * 1024 * 1024 })
      .split("\0")
      .filter(Boolean),
  );
  for (const rel of [...inside].sort()) if (!tracked.has(rel)) reasons.push(`${rel} is not tracked by git`);
  return reasons;
}
