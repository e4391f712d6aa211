/**
 * `npm run bench:bundle [-- --runs N]`: builds the revision N times (default 5) into throwaway
 * directories, prints each build's time and SHA-256, the median, and whether every build gave
 * the same bytes. Fails if the median is over the 15 s target or the builds differ.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildBundle, mb } from "./bundle.js";
import { median } from "../scripts/stats.js";

const TARGET_MS = 15_000;

async function main(): Promise<number> {
  let runs: number;
  try {
    const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } }, strict: true, allowPositionals: false });
    if (!/^\d+$/.test(values.runs) || Number(values.runs) < 1 || Number(values.runs) > 50) throw new Error(`--runs must be a whole number from 1 to 50, got "${values.runs}"`);
    runs = Number(values.runs);
  } catch (e) {
    console.error(`npm run bench:bundle: ${(e as Error).message}\nusage: npm run bench:bundle [-- --runs N]`);
    return 2;
  }
  const repoDir = resolve(import.meta.dirname, "..");
  const times: number[] = [];
  const hashes = new Set<string>();
  for (let i = 1; i <= runs; i++) {
    const out = mkdtempSync(join(tmpdir(), "bench-bundle-"));
    try {
      const t0 = performance.now();
      const r = await buildBundle({ repoDir, outDir: out });
      const ms = performance.now() - t0;
      times.push(ms);
      hashes.add(r.sha256);
      console.log(
        `run ${i}: ${(ms / 1000).toFixed(2)} s  ${mb(r.bytes)}  sha256 ${r.sha256}  (${Object.entries(r.timingsMs)
          .map(([k, v]) => `${k} ${v} ms`)
          .join(", ")})`,
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  const sorted = [...times].sort((a, b) => a - b);
  const middle = median(times);
  console.log(`median ${(middle / 1000).toFixed(2)} s over ${runs} runs (min ${(sorted[0]! / 1000).toFixed(2)} s, max ${(sorted.at(-1)! / 1000).toFixed(2)} s); target < ${TARGET_MS / 1000} s`);
  console.log(hashes.size === 1 ? "reproducible: every build has the same SHA-256" : `NOT reproducible: ${hashes.size} different SHA-256 values`);
  return middle < TARGET_MS && hashes.size === 1 ? 0 : 1;
}

main().then((code) => process.exit(code));
