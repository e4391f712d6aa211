// Runs the CDKTF program (main.ts) for `cdktf synth|deploy`. esbuild compiles our TypeScript
// into one module beside main.ts (dependencies stay external) and Node imports it. This is
// about twice as fast as a loader-hook runner such as tsx, whose hooks also intercept every
// node_modules import of cdktf and the provider. No type-checking here: that is `npm run typecheck`.
import { build } from "esbuild";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const entry = join(root, process.argv[2] ?? "main.ts");
// Beside the entry, so that import.meta.url and relative paths mean what they meant in source.
const bundle = join(dirname(entry), `.${process.pid}.app.mjs`);

await build({
  entryPoints: [entry],
  outfile: bundle,
  bundle: true,
  packages: "external",
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "inline",
  logLevel: "warning",
});
try {
  await import(pathToFileURL(bundle).href);
} finally {
  await rm(bundle, { force: true });
}
