import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Batcher } from "./batcher.js";
import { Model } from "./model.js";
import { CHEVELLE, MODEL_DIR } from "./testing.js";

let model: Model;
beforeAll(async () => {
  model = await Model.load(MODEL_DIR);
});
afterAll(async () => {
  await model.close();
});

const cars = [CHEVELLE, { ...CHEVELLE, weight: 2200, cylinders: 4 }, { ...CHEVELLE, origin: "Japan", model_year: 1980 }];

describe("dynamic batching", () => {
  it("serves requests queued in the same turn with one onnxruntime call and the same numbers as one-by-one", async () => {
    const alone = [];
    for (const c of cars) alone.push((await model.predict([c]))[0]);
    const spy = vi.spyOn(model, "predictEncoded");
    const batcher = new Batcher(model);
    const results = await Promise.all([
      batcher.predict(model.encode([cars[0]!]), 1),
      batcher.predict(model.encode([cars[1]!, cars[2]!]), 2),
    ]);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0]![1]).toBe(3);
    expect([...results[0]!, ...results[1]!]).toEqual(alone);
    spy.mockRestore();
  });

  it("flushes early once maxRows rows are queued", async () => {
    const spy = vi.spyOn(model, "predictEncoded");
    const batcher = new Batcher(model, 2);
    await Promise.all(cars.map((c) => batcher.predict(model.encode([c]), 1)));
    expect(spy.mock.calls.map((c) => c[1])).toEqual([2, 1]);
    spy.mockRestore();
  });

  it("rejects every caller of a batch that fails", async () => {
    const batcher = new Batcher(model);
    const bad = new Float32Array(5); // not a multiple of the 9 input columns: onnxruntime refuses it
    const outcomes = await Promise.allSettled([batcher.predict(bad, 1), batcher.predict(bad, 1)]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
  });
});
