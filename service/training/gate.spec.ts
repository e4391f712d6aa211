import { execFile } from "node:child_process";
import { readFile, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scratchDir } from "../../scripts/scratch-dir.js";
import { type Manifest, sha256 } from "../src/manifest.js";
import { Model } from "../src/model.js";
import { INPUT_COLUMNS } from "./data.js";
import { type GateResult, gate, holdoutRows } from "./gate.js";
import { treeEnsembleToOnnx } from "./onnx-export.js";
import { DEFAULT_MODEL_DIR } from "./paths.js";

const run = promisify(execFile);
let committed: Manifest;
let committedBytes: Buffer;
const opened: Model[] = [];

beforeAll(async () => {
  committedBytes = await readFile(join(DEFAULT_MODEL_DIR, "model.onnx"));
  committed = JSON.parse(await readFile(join(DEFAULT_MODEL_DIR, "manifest.json"), "utf8")) as Manifest;
});
afterAll(async () => {
  await Promise.all(opened.map((m) => m.close()));
});

async function load(manifest: Manifest, bytes: Uint8Array): Promise<Model> {
  const m = await Model.fromBytes({ ...manifest, model_sha256: sha256(bytes) }, bytes);
  opened.push(m);
  return m;
}
const failed = (r: GateResult) => r.checks.filter((c) => !c.pass).map((c) => c.name);

/** The seed project's bug: one number for every car. */
function constantModel(): Uint8Array {
  const { trainMean } = holdoutRows();
  return treeEnsembleToOnnx([{ leaf: true, value: trainMean }], { nFeatures: INPUT_COLUMNS.length, aggregate: "AVERAGE" });
}

describe("quality gate", () => {
  it("passes the committed model, against itself as the committed baseline", async () => {
    const r = await gate(await load(committed, committedBytes), committed);
    expect(failed(r)).toEqual([]);
    expect(r.pass).toBe(true);
    expect(r.metrics.rmse).toBeLessThanOrEqual(3.5);
  });

  it("rejects a model that predicts the same number for every car", async () => {
    const r = await gate(await load(committed, constantModel()), committed);
    expect(r.pass).toBe(false);
    expect(failed(r)).toEqual(expect.arrayContaining(["rmse", "r2", "beats-mean-baseline", "different-inputs-differ", "heavier-cars-use-more-fuel", "no-regression"]));
  });

  it("rejects the right model fed its columns in the wrong order (weight and horsepower swapped)", async () => {
    const cols = [...committed.input.columns];
    [cols[2], cols[3]] = [cols[3]!, cols[2]!];
    const r = await gate(await load({ ...committed, input: { ...committed.input, columns: cols } }, committedBytes), committed);
    expect(r.pass).toBe(false);
    expect(failed(r)).toContain("rmse");
  });

  it("rejects a model that gets better mileage for heavier cars", async () => {
    // One tree: light cars 15 MPG, heavy cars 30 MPG - spread, but backwards.
    const bytes = treeEnsembleToOnnx([{ leaf: false, feature: 3, threshold: 3000, left: { leaf: true, value: 15 }, right: { leaf: true, value: 30 } }], {
      nFeatures: INPUT_COLUMNS.length,
      aggregate: "AVERAGE",
    });
    const r = await gate(await load(committed, bytes), null);
    expect(failed(r)).toContain("heavier-cars-use-more-fuel");
    expect(r.pass).toBe(false);
  });

  it("rejects a regression beyond tolerance against the committed model's metrics", async () => {
    const better: Manifest = { ...committed, metrics: { holdout: { ...committed.metrics.holdout, rmse: committed.metrics.holdout.rmse - 0.5, r2: 0.95 } } };
    const r = await gate(await load(committed, committedBytes), better);
    expect(failed(r)).toEqual(["no-regression"]);
  });

  it("rejects a manifest whose metrics or smoke-test expectations do not match the model", async () => {
    const lying: Manifest = {
      ...committed,
      metrics: { holdout: { ...committed.metrics.holdout, rmse: 1.0 } },
      smoke_test: { ...committed.smoke_test, cases: committed.smoke_test.cases.map((c) => ({ ...c, expected: c.expected + 1 })) },
    };
    const r = await gate(await load(lying, committedBytes), committed);
    expect(failed(r)).toEqual(["manifest-metrics-match", "smoke-test-cases"]);
  });

  it("npm run model:gate exits 0 for the committed model and 1 for a broken one, saying why", async () => {
    const dir = scratchDir("gate-");
    const bytes = constantModel();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "model.onnx"), bytes);
    await writeFile(join(dir, "manifest.json"), JSON.stringify({ ...committed, model_sha256: sha256(bytes) }));
    const cli = join(import.meta.dirname, "gate-cli.ts");
    const baseline = join(DEFAULT_MODEL_DIR, "manifest.json");
    const tsx = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "tsx");
    const ok = await run(tsx, [cli, "--baseline", baseline]);
    expect(ok.stdout).toMatch(/gate: PASS/);
    const bad = await run(tsx, [cli, "--model-dir", dir, "--baseline", baseline]).then(
      () => ({ code: 0, stdout: "" }),
      (e: { code: number; stdout: string }) => e,
    );
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL different-inputs-differ/);
    expect(bad.stdout).toMatch(/gate: FAIL/);
  }, 60_000);
});
