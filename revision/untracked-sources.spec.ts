import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inspectBundle } from "../release/manifest.js";
import { buildBundle } from "./bundle.js";
import { REVISION_MANIFEST_PATH, RevisionManifestSchema } from "./revision-manifest.js";
import { cleanupTargets, REPO_DIR, tempDir } from "./test-helpers.js";
import { readZip } from "./zip.js";
import { untrackedSources } from "./untracked-sources.js";

afterAll(cleanupTargets);

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=mpg14b", "-c", "user.email=mpg14b@example.invalid", ...args], { cwd, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });

describe("untrackedSources", () => {
  it("names every source git does not track, and only those", () => {
    const repo = tempDir("mpg14b-git");
    git(repo, "init", "-q");
    mkdirSync(join(repo, "hooks"));
    mkdirSync(join(repo, "node_modules/pkg"), { recursive: true });
    writeFileSync(join(repo, ".gitignore"), "ignored.sh\nnode_modules/\n");
    for (const name of ["hooks/tracked.sh", "hooks/[ab].sh", "hooks/with space.sh"]) writeFileSync(join(repo, name), "#!/usr/bin/env bash\n");
    git(repo, "add", ".gitignore", "hooks");
    git(repo, "commit", "-qm", "hooks");
    // Untracked, ignored (still not in the commit), and a file a glob pathspec "[ab].sh" would match.
    for (const name of ["hooks/new.sh", "hooks/ignored.sh", "hooks/a.sh", "node_modules/pkg/index.js"]) writeFileSync(join(repo, name), "x\n");
    const outside = join(tempDir("mpg14b-outside"), "model.onnx");
    writeFileSync(outside, "x\n");

    const files = ["hooks/tracked.sh", "hooks/[ab].sh", "hooks/with space.sh", "hooks/new.sh", "hooks/ignored.sh", "hooks/a.sh", "node_modules/pkg/index.js"].map((name) => join(repo, name));
    expect(untrackedSources(repo, [...files, outside])).toEqual([
      `${outside} is outside the repository`,
      "hooks/a.sh is not tracked by git",
      "hooks/ignored.sh is not tracked by git",
      "hooks/new.sh is not tracked by git",
    ]);
    expect(untrackedSources(repo, files.slice(0, 3))).toEqual([]);
  });
});

describe("a bundle and the commit it names", () => {
  // A clone of this repository's commit: clean by construction, and safe to add files to while
  // other specs build bundles from the working tree.
  function cloneOfHead(): string {
    const clone = join(tempDir("mpg14b-clone"), "repo");
    git(REPO_DIR, "clone", "-q", REPO_DIR, clone);
    symlinkSync(join(REPO_DIR, "node_modules"), join(clone, "node_modules"));
    return clone;
  }
  const manifestOf = (zipPath: string) =>
    RevisionManifestSchema.parse(
      JSON.parse(
        readZip(readFileSync(zipPath))
          .find((e) => e.name === REVISION_MANIFEST_PATH)!
          .data.toString(),
      ),
    );

  it("is clean when built from a clean checkout, and release upload accepts it", async () => {
    const clone = cloneOfHead();
    const result = await buildBundle({ repoDir: clone, outDir: tempDir("mpg14b-out") });
    expect(manifestOf(result.zipPath).git_dirty).toBe(false);
    expect(result.dirtyReasons).toEqual([]);
    expect(inspectBundle(readFileSync(result.zipPath), result.zipPath).gitCommit).toBe(git(clone, "rev-parse", "HEAD").trim());
  }, 120_000);

  it("is dirty when an untracked hook goes into the zip, and release upload refuses it", async () => {
    const clone = cloneOfHead();
    writeFileSync(join(clone, "hooks/zz-extra.sh"), "#!/usr/bin/env bash\necho not in the commit\n");
    const result = await buildBundle({ repoDir: clone, outDir: tempDir("mpg14b-out") });
    expect(readZip(readFileSync(result.zipPath)).map((e) => e.name)).toContain("hooks/zz-extra.sh");
    expect(manifestOf(result.zipPath).git_dirty).toBe(true);
    expect(() => inspectBundle(readFileSync(result.zipPath), result.zipPath)).toThrow(/was built from uncommitted changes: a release must be reproducible from its commit/);
    expect(result.dirtyReasons).toEqual(["hooks/zz-extra.sh is not tracked by git"]);
  }, 120_000);

  it("is dirty when an untracked file shadows a compiled import", async () => {
    // esbuild resolves "./x.js" to x.js before x.ts: a stray .js beside a tracked .ts changes the
    // compiled service without touching any tracked file.
    const clone = cloneOfHead();
    const imported = /from "\.\/([\w-]+)\.js"/.exec(readFileSync(join(clone, "service/src/main.ts"), "utf8"))![1]!;
    writeFileSync(join(clone, `service/src/${imported}.js`), `export * from "./${imported}.ts";\nconsole.error("not in the commit");\n`);
    const result = await buildBundle({ repoDir: clone, outDir: tempDir("mpg14b-out") });
    expect(
      readZip(readFileSync(result.zipPath))
        .find((e) => e.name === "app/server.mjs")!
        .data.toString(),
    ).toContain("not in the commit");
    expect(result.dirtyReasons).toEqual([`service/src/${imported}.js is not tracked by git`]);
  }, 120_000);
});
