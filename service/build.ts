/**
 * Bundles the service into one ESM file with esbuild. onnxruntime-node stays
 * external (native binaries; it must be installed beside the bundle, in a
 * node_modules the bundle's directory can resolve); everything else is inlined.
 */
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const SERVICE_DIR = dirname(fileURLToPath(import.meta.url));
export const SERVICE_ENTRY = join(SERVICE_DIR, "src", "main.ts");
export const SERVICE_MODEL_DIR = join(SERVICE_DIR, "model");

export interface BuildServiceOptions {
  /**
   * Where the bundled server looks for the model when MODEL_DIR is unset.
   * Default: this repo's service/model, as a path relative to outDir. A
   * revision that ships the model beside the bundle passes e.g. `join(outDir, "model")`.
   */
  modelDir?: string;
  minify?: boolean;
  /**
   * The Node.js major the bundle will run on (esbuild's target). Default: the Node.js running
   * this build, for local use; a revision passes the fleet's `fleet.nodeMajorVersion`.
   */
  nodeMajor?: number;
  /**
   * The service/ directory to compile: default the one beside this file. The revision builder
   * passes its repository's, so that a bundle is built from the tree it describes.
   */
  serviceDir?: string;
}

export interface BuildServiceResult {
  /** Absolute path of the bundle (outDir/server.mjs). */
  outfile: string;
  /** Packages the bundle imports at run time and that must be installed beside it. */
  external: string[];
  /** Every file esbuild read, as absolute paths (installed packages included). */
  inputs: string[];
}

export const EXTERNAL = ["onnxruntime-node"];

export async function buildService(outDir: string, opts: BuildServiceOptions = {}): Promise<BuildServiceResult> {
  const out = resolve(outDir);
  await mkdir(out, { recursive: true });
  const outfile = join(out, "server.mjs");
  const modelRel =
    relative(out, resolve(opts.modelDir ?? SERVICE_MODEL_DIR))
      .split("\\")
      .join("/") || ".";
  const serviceDir = resolve(opts.serviceDir ?? SERVICE_DIR);
  const pkg = JSON.parse(readFileSync(join(serviceDir, "..", "package.json"), "utf8")) as { version: string };
  const result = await build({
    entryPoints: [join(serviceDir, "src", "main.ts")],
    // The repository root, as when run from it: comments in the output name service/src/... paths.
    absWorkingDir: dirname(serviceDir),
    metafile: true,
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${opts.nodeMajor ?? Number(process.versions.node.split(".")[0])}`,
    external: EXTERNAL,
    minify: opts.minify ?? false,
    // "external": server.mjs.map is written beside the bundle for whoever debugs it, but the bundle names no source
    // map (a revision ships server.mjs alone, and a sourceMappingURL to a file that is not there misleads tools).
    sourcemap: "external",
    legalComments: "none",
    logLevel: "warning",
    define: {
      __SERVICE_MODEL_DIR_RELATIVE__: JSON.stringify(modelRel),
      __SERVICE_VERSION__: JSON.stringify(pkg.version),
    },
    // Bundled CommonJS dependencies (pino, prom-client) call require() for Node built-ins.
    banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
  });
  // Keys outside the file namespace ("ns:path") name no file on disk.
  const inputs = Object.keys(result.metafile.inputs)
    .filter((key) => !/^[a-z-]+:/.test(key))
    .map((key) => resolve(dirname(serviceDir), key));
  return { outfile, external: EXTERNAL, inputs };
}
