/**
 * Builds the CodeDeploy revision: dist/revision-<version>.zip with appspec.yml, the hooks, the
 * compiled service and only the runtime files it loads (linux-x64), the model, make_prediction.sh,
 * one settings file per environment and revision.json (git commit, model version, build time,
 * SHA-256 of every file). Reproducible: sorted entries, fixed modes, and every timestamp taken
 * from SOURCE_DATE_EPOCH or the commit, so the same commit gives the same bytes. No network.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, mkdirSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { build } from "esbuild";
import yazl from "yazl";
import { loadEnvironments } from "../environments/index.js";
import { buildService } from "../service/build.js";
import { parseManifest } from "../service/src/manifest.js";
import { AppSpecError, parseAppSpec, type AppSpec } from "./appspec.js";
import { installedPaths, permissionProblems } from "./appspec-permissions.js";
import { REVISION_MANIFEST_PATH, type RevisionManifest } from "./revision-manifest.js";
import { licenseFiles, runtimeFiles } from "./runtime-deps.js";
import { envFile, settingsFor } from "./service-settings.js";
import { untrackedSources } from "./untracked-sources.js";

/** CodeDeploy accepts far bigger bundles; this keeps S3 uploads and instance downloads quick. */
export const MAX_BUNDLE_BYTES = 25 * 1024 * 1024;

export class BundleError extends Error {
  override readonly name = "BundleError";
}

export interface BundleOptions {
  /** The repository root. */
  readonly repoDir: string;
  /** Where the zip goes (default <repoDir>/dist). */
  readonly outDir?: string;
  /** Replaces service/model (tests build a revision with a deliberately broken model). */
  readonly modelDir?: string;
  /** Replaces appspec.yml (tests). */
  readonly appspecPath?: string;
  readonly log?: (line: string) => void;
}

export interface BundleResult {
  readonly zipPath: string;
  readonly version: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly unpackedBytes: number;
  readonly files: number;
  readonly gitCommit: string;
  readonly modelVersion: string;
  /** True when the bundle is not exactly its commit (the manifest's git_dirty); `release upload` refuses it. */
  readonly gitDirty: boolean;
  /** Why it is dirty: each modified tracked file, each source git does not track. */
  readonly dirtyReasons: readonly string[];
  readonly timingsMs: Readonly<Record<string, number>>;
}

interface Entry {
  readonly path: string;
  readonly data: Buffer;
  readonly mode: number;
}

export async function buildBundle(options: BundleOptions): Promise<BundleResult> {
  const repoDir = resolve(options.repoDir);
  const log = options.log ?? (() => {});
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      timings[name] = Math.round(performance.now() - t0);
    }
  };

  // Every file of the repository the zip is made from, so that git can vouch for each one.
  const sources: string[] = [];
  const readSource = (path: string): Buffer => {
    sources.push(resolve(path));
    return readFileSync(path);
  };
  const pkg = JSON.parse(readSource(join(repoDir, "package.json")).toString("utf8")) as { version: string };
  const git = gitInfo(repoDir);
  const buildTime = new Date(git.epochSeconds * 1000);
  const entries: Entry[] = [];
  const add = (path: string, data: Buffer | string, mode = 0o644) => entries.push({ path, data: Buffer.from(data), mode });

  // 1. The AppSpec, checked against the environments: its destinations must be /opt/<project>.
  const appspecText = readSource(options.appspecPath ?? join(repoDir, "appspec.yml")).toString("utf8");
  let spec: AppSpec | undefined;
  const environments = await timed("environments+appspec", () => {
    spec = parseAppSpec(appspecText);
    const envs = Object.values(loadEnvironments());
    const projects = [...new Set(envs.map((e) => e.project))];
    if (projects.length !== 1) throw new BundleError(`environments disagree on the project name (${projects.join(", ")}): one revision installs one application directory`);
    const appDir = `/opt/${projects[0]}`;
    for (const f of spec.files) {
      if (f.destination !== appDir && !f.destination.startsWith(`${appDir}/`)) {
        throw new BundleError(`appspec.yml installs ${f.source} to ${f.destination}, outside the application directory ${appDir} the hooks manage (project "${projects[0]}")`);
      }
    }
    return envs;
  });
  const project = environments[0]!.project;
  // One revision is promoted through every environment, so they share one fleet runtime (index.ts checks it).
  const nodeMajor = environments[0]!.fleet.nodeMajorVersion;
  add("appspec.yml", appspecText);

  // 2. Hooks (bash, executable) and settings: one file per environment, keyed by deployment group.
  const hooksDir = join(repoDir, "hooks");
  for (const name of readdirSync(hooksDir)
    .filter((n) => n.endsWith(".sh"))
    .sort())
    add(`hooks/${name}`, readSource(join(hooksDir, name)), 0o755);
  for (const name of readdirSync(hooksDir)
    .filter((n) => n.endsWith(".in"))
    .sort())
    add(`hooks/${name}`, readSource(join(hooksDir, name)));
  const model = parseManifest(readSource(join(options.modelDir ?? join(repoDir, "service/model"), "manifest.json")).toString("utf8"), "service/model/manifest.json");
  add("config/revision.env", envFile({ APP_NAME: project, REVISION_VERSION: pkg.version, GIT_COMMIT: git.commit, MODEL_VERSION: `${model.name}@${model.version}` }));
  for (const env of environments) add(`config/${env.name}.env`, settingsFor(env));

  // 3. The service and the ValidateService checker, compiled.
  const staging = mkdtempSync(join(tmpdir(), "revision-build-"));
  try {
    const external = await timed("compile", async () => {
      const appOut = join(staging, "app");
      const [service, smokeCheck] = await Promise.all([
        buildService(appOut, { modelDir: join(appOut, "model"), nodeMajor, serviceDir: join(repoDir, "service") }),
        build({
          entryPoints: [join(repoDir, "revision/smoke-check.ts")],
          absWorkingDir: repoDir,
          metafile: true,
          outfile: join(staging, "hooks/smoke-check.mjs"),
          bundle: true,
          platform: "node",
          format: "esm",
          target: `node${nodeMajor}`,
          legalComments: "none",
          logLevel: "warning",
        }),
      ]);
      // The linked source map is left out: the unit does not run node with --enable-source-maps.
      for (const name of readdirSync(appOut)
        .filter((n) => !n.endsWith(".map"))
        .sort())
        add(`app/${name}`, readFileSync(join(appOut, name)));
      add("hooks/smoke-check.mjs", readFileSync(join(staging, "hooks/smoke-check.mjs")));
      sources.push(
        ...service.inputs,
        ...Object.keys(smokeCheck.metafile.inputs)
          .filter((key) => !/^[a-z-]+:/.test(key))
          .map((key) => resolve(repoDir, key)),
      );
      return service.external;
    });

    // 4. Runtime packages: what loading the externals actually touches, linux-x64 binaries only.
    await timed("runtime-deps", () => {
      const nodeModules = join(repoDir, "node_modules");
      const files = runtimeFiles(repoDir, external);
      for (const rel of [...files, ...licenseFiles(nodeModules, files)]) {
        const abs = join(nodeModules, rel);
        add(`app/node_modules/${rel}`, readFileSync(abs), rel.endsWith(".node") || /\.so(\.\d+)*$/.test(rel) ? 0o755 : 0o644);
      }
    });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }

  // 5. The model, make_prediction.sh and the revision manifest.
  const modelDir = options.modelDir ?? join(repoDir, "service/model");
  add("app/model/manifest.json", readSource(join(modelDir, "manifest.json")));
  add(`app/model/${model.model_file}`, readSource(join(modelDir, model.model_file)));
  add("app/bin/make_prediction.sh", readSource(join(repoDir, "service/make_prediction.sh")), 0o755);
  entries.sort((a, b) => (a.path < b.path ? -1 : 1));
  const duplicates = entries.filter((e, i) => entries[i + 1]?.path === e.path);
  if (duplicates.length) throw new BundleError(`two files claim ${duplicates.map((d) => d.path).join(", ")}`);
  // The permission rules against what this revision installs, as the agent matches them: a
  // path matched twice fails the agent's Install step, so it fails here, before any upload.
  const permissionErrors = permissionProblems(spec!, installedPaths(spec!, [...entries.map((e) => e.path), REVISION_MANIFEST_PATH]));
  if (permissionErrors.length) throw new AppSpecError(`appspec.yml permissions do not fit this revision:\n${permissionErrors.map((p) => `✖ ${p}`).join("\n")}`);
  // Outside git there is nothing to vouch with: git_commit "unknown" already tells upload to refuse.
  const dirtyReasons = git.commit === "unknown" ? [] : [...git.changes, ...untrackedSources(repoDir, sources)];
  const manifest: RevisionManifest = {
    application: project,
    version: pkg.version,
    git_commit: git.commit,
    git_dirty: dirtyReasons.length > 0,
    built_at: buildTime.toISOString(),
    model: { name: model.name, version: model.version, sha256: model.model_sha256 },
    platform: "linux-x64",
    files: Object.fromEntries(entries.map((e) => [e.path, createHash("sha256").update(e.data).digest("hex")])),
  };
  add(REVISION_MANIFEST_PATH, JSON.stringify(manifest, null, 2) + "\n");
  entries.sort((a, b) => (a.path < b.path ? -1 : 1));

  // 6. The zip: sorted, fixed timestamps and modes, so the bytes depend only on the inputs.
  const outDir = resolve(options.outDir ?? join(repoDir, "dist"));
  mkdirSync(outDir, { recursive: true });
  const zipPath = join(outDir, `revision-${pkg.version}.zip`);
  await timed("zip", () => writeZip(entries, zipPath, buildTime));
  const bytes = statSync(zipPath).size;
  if (bytes > MAX_BUNDLE_BYTES) {
    throw new BundleError(`${basename(zipPath)} is ${mb(bytes)}, over the ${mb(MAX_BUNDLE_BYTES)} limit`);
  }
  const sha256 = createHash("sha256").update(readFileSync(zipPath)).digest("hex");
  log(`${zipPath}: ${entries.length} files, ${mb(bytes)} (unpacked ${mb(entries.reduce((s, e) => s + e.data.length, 0))})`);
  return {
    zipPath,
    version: pkg.version,
    sha256,
    bytes,
    unpackedBytes: entries.reduce((s, e) => s + e.data.length, 0),
    files: entries.length,
    gitCommit: git.commit,
    modelVersion: model.version,
    gitDirty: dirtyReasons.length > 0,
    dirtyReasons,
    timingsMs: timings,
  };
}

/**
 * yazl rather than fflate (which the trigger's small handler zip uses): yazl deflates with
 * Node's native zlib, fflate in JavaScript. Measured on this bundle's 48 entries (48.3 MB,
 * level 3, median of 3): yazl 749 ms, fflate zipSync 1930 ms (2.6x) for a 3% smaller zip.
 */
function writeZip(entries: readonly Entry[], zipPath: string, mtime: Date): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    // Level 3: the 44 MB onnxruntime library dominates; level 6 saves 0.9 MB for ~1.7x the time.
    zip.addBuffer(e.data, e.path, { mtime, mode: 0o100000 | e.mode, compress: true, compressionLevel: 3 });
  }
  zip.end();
  const partial = `${zipPath}.${process.pid}.partial`;
  return new Promise((resolvePromise, reject) => {
    const out = createWriteStream(partial);
    zip.outputStream.pipe(out).on("error", reject);
    out.on("close", () => {
      renameSync(partial, zipPath);
      resolvePromise();
    });
  });
}

interface GitInfo {
  readonly commit: string;
  /** Tracked files that differ from the commit, as "modified: path". */
  readonly changes: readonly string[];
  readonly epochSeconds: number;
}

/** The commit and its time (or SOURCE_DATE_EPOCH): the only clock a reproducible build may read. */
function gitInfo(repoDir: string): GitInfo {
  const run = (...args: string[]) => execFileSync("git", args, { cwd: repoDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  let commit = "unknown";
  let changes: string[] = [];
  let epochSeconds = 315532800; // 1980-01-01, the earliest zip date, when there is no git
  try {
    commit = run("rev-parse", "HEAD");
    epochSeconds = Number(run("log", "-1", "--format=%ct"));
    changes = run("status", "--porcelain", "--untracked-files=no")
      .split("\n")
      .filter(Boolean)
      .map((line) => `modified: ${line.trim().replace(/^\S+\s+/, "")}`);
  } catch {
    /* not a git checkout (e.g. a source tarball): commit stays "unknown" */
  }
  const sourceDateEpoch = process.env.SOURCE_DATE_EPOCH;
  if (sourceDateEpoch !== undefined) {
    if (!/^\d+$/.test(sourceDateEpoch)) throw new BundleError(`SOURCE_DATE_EPOCH must be whole seconds since 1970, got "${sourceDateEpoch}"`);
    epochSeconds = Number(sourceDateEpoch);
  }
  return { commit, changes, epochSeconds: Math.max(epochSeconds, 315532800) };
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
