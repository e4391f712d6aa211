/**
 * The deployment trigger's Lambda package, built once per synthesis by the app (stacks/app.ts) and
 * handed to every stack's DeploymentTrigger as a file and its hash: constructs build nothing and
 * write nothing.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildSync } from "esbuild";
import { zipSync } from "fflate";
import { TRIGGER_RUNTIME } from "../environments/runtime-support.js";

/** The handler is compiled for exactly the Node.js its Lambda runtime runs. */
const TRIGGER_ESBUILD_TARGET = TRIGGER_RUNTIME.replace(/^nodejs(\d+)\.x$/, "node$1");

/** Every entry of the deployment package gets this time: the same code always zips to the same bytes. */
const ZIP_ENTRY_TIME = new Date("2020-01-01T00:00:00Z");

export interface HandlerArtifact {
  /** The Lambda deployment package: index.js alone, deterministic bytes. */
  readonly zipPath: string;
  /** sha256 of the package (hex): the asset's hash, so that cdktf need not read the file again. */
  readonly sha256: string;
  /** Holds index.js (and a package.json saying CommonJS), loadable as it is. */
  readonly directory: string;
}

export interface HandlerArtifactOptions {
  /** The repository root: the handler is release/handler.ts under it, and esbuild resolves from it. */
  readonly projectRoot: string;
  /** Where index.js and handler.zip are written; default <projectRoot>/.tmp/deployment-trigger. */
  readonly directory?: string;
}

/** Write-then-rename: parallel synths (test workers) never see half a file. */
function writeAtomically(path: string, data: Uint8Array): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, data);
  renameSync(temporary, path);
}

/** Writes `data` unless the file already holds exactly it, so unchanged output keeps its mtime. */
function writeIfChanged(path: string, data: Uint8Array): void {
  let current: Buffer | undefined;
  try {
    current = readFileSync(path);
  } catch {
    current = undefined;
  }
  if (!current?.equals(data)) writeAtomically(path, data);
}

const built = new Map<string, HandlerArtifact>();
/**
 * Bundles release/handler.ts into index.js and zips it, once per process and directory (all stacks
 * and every app a test process builds share it). The AWS SDK stays external (the nodejs22.x runtime
 * ships SDK v3), which keeps the bundle small and the build fast. Output is byte-stable for the
 * same sources (no timestamps, paths relative to the repo) and only rewritten when it changes, so
 * the asset hash and the plan stay stable. Zipped in-process rather than with cdktf's ARCHIVE
 * assets, which spawn a process per stack and cost about a third of a second each.
 */
export function buildHandlerArtifact(options: HandlerArtifactOptions): HandlerArtifact {
  const directory = options.directory ?? join(options.projectRoot, ".tmp/deployment-trigger");
  const cached = built.get(directory);
  if (cached) return cached;
  const entry = join(options.projectRoot, "release/handler.ts");
  const result = buildSync({
    entryPoints: [entry],
    absWorkingDir: options.projectRoot,
    bundle: true,
    platform: "node",
    target: TRIGGER_ESBUILD_TARGET,
    // CommonJS: require() finds the runtime's SDK through NODE_PATH; no package.json needed in the zip.
    format: "cjs",
    external: ["@aws-sdk/*"],
    minify: false,
    legalComments: "none",
    sourcemap: false,
    write: false,
    logLevel: "silent",
  });
  const code = result.outputFiles[0]?.contents;
  if (!code) throw new Error(`esbuild produced no output for ${entry}`);
  mkdirSync(directory, { recursive: true });
  writeIfChanged(join(directory, "index.js"), code);
  // Says "CommonJS" wherever the directory sits (the repo's own package.json says "module").
  const manifest = join(directory, "package.json");
  if (!existsSync(manifest)) writeAtomically(manifest, Buffer.from('{ "type": "commonjs" }\n'));
  const zip = zipSync({ "index.js": [code, { level: 9, mtime: ZIP_ENTRY_TIME }] });
  const zipPath = join(directory, "handler.zip");
  writeIfChanged(zipPath, zip);
  const artifact = { zipPath, sha256: createHash("sha256").update(zip).digest("hex"), directory };
  built.set(directory, artifact);
  return artifact;
}
