/**
 * `npm run model:gate [-- --model-dir DIR] [--baseline MANIFEST]`
 * Exit 0 when the model in DIR (default service/model) passes every check,
 * 1 otherwise. The no-regression baseline is the manifest committed at HEAD
 * (`git show HEAD:service/model/manifest.json`), or --baseline FILE.
 */
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type Manifest, parseManifest } from "../src/manifest.js";
import { Model } from "../src/model.js";
import { gate } from "./gate.js";
import { DEFAULT_MODEL_DIR } from "./paths.js";

function committedManifest(): { manifest: Manifest | null; from: string } {
  try {
    const text = execFileSync("git", ["show", "HEAD:service/model/manifest.json"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    return { manifest: parseManifest(text, "HEAD:service/model/manifest.json"), from: "HEAD:service/model/manifest.json" };
  } catch {
    return { manifest: null, from: "none (no committed model at HEAD)" };
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { "model-dir": { type: "string" }, baseline: { type: "string" } } });
  const dir = values["model-dir"] ?? DEFAULT_MODEL_DIR;
  const base = values.baseline ? { manifest: parseManifest(await readFile(values.baseline, "utf8"), values.baseline), from: values.baseline } : committedManifest();
  const model = await Model.load(dir);
  try {
    const result = await gate(model, base.manifest);
    console.log(`quality gate for ${model.manifest.name} ${model.manifest.version} (${dir}); baseline: ${base.from}`);
    for (const c of result.checks) console.log(`  ${c.pass ? "PASS" : "FAIL"} ${c.name}: ${c.detail}`);
    console.log(result.pass ? "gate: PASS" : "gate: FAIL");
    return result.pass ? 0 : 1;
  } finally {
    await model.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`gate: FAIL - ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
