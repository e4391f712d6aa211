import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseManifest } from "../service/src/manifest.js";
import { checkPredictions } from "./smoke-check.js";
import { REPO_DIR } from "./test-helpers.js";

const manifest = parseManifest(readFileSync(join(REPO_DIR, "service/model/manifest.json"), "utf8"), "manifest.json");
const golden = manifest.smoke_test.cases.map((c) => c.expected);
const model = { name: manifest.name, version: manifest.version };

describe("ValidateService's prediction check", () => {
  it("passes golden predictions within the manifest's tolerance", () => {
    const nudged = golden.map((g) => g + manifest.smoke_test.tolerance / 2);
    expect(checkPredictions(manifest, { predictions: nudged, model }, JSON.stringify({ predictions: [nudged[0]], model }))).toEqual([]);
  });

  it("fails a prediction outside the tolerance, naming the car", () => {
    const off = [golden[0]! + 1, ...golden.slice(1)];
    expect(checkPredictions(manifest, { predictions: off, model })).toEqual([expect.stringContaining(`${manifest.smoke_test.cases[0]!.name}: predicted`)]);
  });

  it("fails a model that gives every car the same prediction (the seed project's bug)", () => {
    const constant = golden.map(() => golden[0]!);
    expect(checkPredictions(manifest, { predictions: constant, model }).join("\n")).toMatch(/all got the prediction .*not looking at its input/);
  });

  it("fails when the service reports another model version than the revision ships", () => {
    expect(checkPredictions(manifest, { predictions: golden, model: { ...model, version: "0.0.1" } })).toEqual([expect.stringMatching(/reports model .*@0\.0\.1/)]);
  });

  it("fails malformed answers and a make_prediction.sh answer with no golden value", () => {
    expect(checkPredictions(manifest, { predictions: [1] })[0]).toMatch(/expected \{"predictions": \[\d+ finite numbers\]/);
    expect(checkPredictions(manifest, { error: "boom" })[0]).toMatch(/expected/);
    expect(checkPredictions(manifest, { predictions: golden, model }, '{"predictions":[3.5]}')[0]).toMatch(/make_prediction\.sh answered/);
  });
});
