/**
 * `npm run build:service` -> dist/service/server.mjs.
 * `--if-stale`: build only when the bundle is missing or older than a source file (used by `npm run serve`).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildService } from "./build.js";

const OUT_DIR = resolve(import.meta.dirname, "..", "dist", "service");

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const ifStale = process.argv.includes("--if-stale");
const bundle = join(OUT_DIR, "server.mjs");
if (ifStale && existsSync(bundle) && statSync(bundle).mtimeMs >= newestSource(join(import.meta.dirname, "src"))) {
  console.log(`${bundle} is up to date`);
} else {
  const t0 = performance.now();
  const { outfile } = await buildService(OUT_DIR);
  console.log(`built ${outfile} (${(statSync(outfile).size / 1024).toFixed(0)} KiB) in ${Math.round(performance.now() - t0)} ms`);
}
