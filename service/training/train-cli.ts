/** `npm run model:train`: train, export, write service/model/{model.onnx,manifest.json}. */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { buildArtifacts } from "./artifacts.js";
import { DEFAULT_MODEL_DIR } from "./paths.js";
import { train } from "./train.js";

async function main(): Promise<void> {
  const outDir = resolve(process.argv[2] ?? DEFAULT_MODEL_DIR);
  const t0 = performance.now();
  const trained = train();
  const { modelBytes, manifest, manifestText } = await buildArtifacts(trained);
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, manifest.model_file), modelBytes);
  await writeFile(join(outDir, "manifest.json"), manifestText);
  const h = manifest.metrics.holdout;
  console.log(
    `trained ${manifest.name} ${manifest.version} in ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${outDir}\n` +
      `  held-out (${h.rows} cars): RMSE ${h.rmse} MPG, MAE ${h.mae}, R² ${h.r2} (predict-the-mean RMSE ${h.baseline_rmse})\n` +
      `  model.onnx sha256 ${manifest.model_sha256} (${modelBytes.length} bytes)`,
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
