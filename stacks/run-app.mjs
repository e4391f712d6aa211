// Runs the CDKTF program (main.ts) for `cdktf synth|deploy`. esbuild compiles our TypeScript
// into one module beside main.ts (dependencies stay external) and Node imports it. This is
// about twice as fast as a loader-hook runner such as tsx, whose hooks also intercept every
// node_modules import of cdktf and the provider. No type-checking here: that is `npm run typecheck`.
import { build } from "esbuild";
import { rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const entry = resolve(root, process.argv[2] ?? "main.ts");
// Beside the entry, so that import.meta.url and relative paths mean what they meant in source.
const bundle = join(dirname(entry), `.${process.pid}.app.mjs`);

/**
 * One line per esbuild message, "environments/staging.ts:17:5: Expected "}" but found ...":
 * the column counted from 1, as tsc and editors count it (esbuild's own is 0-based).
 */
const oneLine = ({ location, text }) => (location ? `${location.file}:${location.line}:${location.column + 1}: ${text}` : text);

let result;
try {
  // Silent: esbuild's own report of a syntax error is a framed excerpt followed by a Node stack.
  result = await build({
    entryPoints: [entry],
    outfile: bundle,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    logLevel: "silent",
  });
} catch (error) {
  if (!Array.isArray(error?.errors)) throw error;
  for (const message of error.errors) console.error(`cannot compile the CDKTF program: ${oneLine(message)}`);
  process.exitCode = 1;
}
if (result) {
  for (const message of result.warnings) console.error(`warning: ${oneLine(message)}`);
  try {
    await import(pathToFileURL(bundle).href);
  } finally {
    await rm(bundle, { force: true });
  }
}
