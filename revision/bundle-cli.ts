/**
 * `npm run bundle` -> dist/revision-<version>.zip. Prints the path, size, SHA-256 and the time
 * of each stage. Options: --out DIR.
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { buildBundle, mb } from "./bundle.js";

async function main(): Promise<void> {
  let values: { out?: string };
  try {
    ({ values } = parseArgs({ options: { out: { type: "string" } }, strict: true, allowPositionals: false }));
  } catch (e) {
    console.error(`npm run bundle: ${(e as Error).message}\nusage: npm run bundle [-- --out DIR]`);
    process.exit(2);
  }
  const t0 = performance.now();
  const r = await buildBundle({ repoDir: resolve(import.meta.dirname, ".."), ...(values.out ? { outDir: values.out } : {}) });
  const total = Math.round(performance.now() - t0);
  console.log(`revision ${r.version} (commit ${r.gitCommit.slice(0, 12)}, model ${r.modelVersion})`);
  console.log(`  ${r.zipPath}`);
  console.log(`  ${r.files} files, ${mb(r.bytes)} zipped (${mb(r.unpackedBytes)} unpacked), limit 25 MB`);
  console.log(`  sha256 ${r.sha256}`);
  if (r.gitDirty) {
    console.log(`  dirty: not exactly commit ${r.gitCommit.slice(0, 12)}, so \`release upload\` will refuse it:`);
    for (const reason of r.dirtyReasons.slice(0, 20)) console.log(`    ${reason}`);
    if (r.dirtyReasons.length > 20) console.log(`    and ${r.dirtyReasons.length - 20} more`);
  }
  console.log(
    `  ${Object.entries(r.timingsMs)
      .map(([k, v]) => `${k} ${v} ms`)
      .join(", ")}; total ${total} ms`,
  );
}

main().catch((e: unknown) => {
  console.error(`npm run bundle failed: ${(e as Error).message}`);
  process.exit(1);
});
