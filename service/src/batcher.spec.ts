import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Batcher } from "./batcher.js";
import { Model } from "./model.js";
import { EXAMPLE_CAR, MODEL_DIR } from "./testing.js";

let model: Model;
beforeAll(async () => {
  model = await Model.load(MODEL_DIR);
});
afterAll(async () => {
  await model.close();
});

const cars = [EXAMPLE_CAR, { ...EXAMPLE_CAR, weight: 2200, cylinders: 4 }, { ...EXAMPLE_CAR, origin: "Japan", model_year: 1980 }];

describe("dynamic batching", () => {
  it("serves requests queued in the same turn with one onnxruntime call and the same numbers as one-by-one", async () => {
    const alone = [];
    for (const c of cars) alone.push((await model.predict([c]))[0]);
    const spy = vi.spyOn(model, "predictEncoded");
    const batcher = new Batcher(model);
    const results = await Promise.all([batcher.predict(model.encode([cars[0]!]), 1), batcher.predict(model.encode([cars[1]!, cars[2]!]), 2)]);
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

  it("lets requests read in the next event-loop turn join the batch, and waits at most maxTurns turns", async () => {
    const spy = vi.spyOn(model, "predictEncoded");
    const batcher = new Batcher(model, 4096, 3);
    const nextTurn = () => new Promise<void>((r) => setImmediate(r));
    const first = batcher.predict(model.encode([cars[0]!]), 1);
    await nextTurn();
    const second = batcher.predict(model.encode([cars[1]!]), 1); // one turn later: same call
    await Promise.all([first, second]);
    expect(spy.mock.calls.map((c) => c[1])).toEqual([2]);
    spy.mockClear();
    // A request every turn: the batch still goes out after maxTurns turns, not never.
    const pending: Promise<Float32Array>[] = [];
    for (let i = 0; i < 8; i++) {
      pending.push(batcher.predict(model.encode([cars[i % 3]!]), 1));
      await nextTurn();
    }
    const out = await Promise.all(pending);
    expect(spy.mock.calls.length).toBeGreaterThan(1);
    expect(spy.mock.calls.every((c) => (c[1] as number) <= 4)).toBe(true);
    expect(out.map((o) => o[0])).toEqual(Array.from({ length: 8 }, (_, i) => (i % 3 === 0 ? out[0]![0] : i % 3 === 1 ? out[1]![0] : out[2]![0])));
    spy.mockRestore();
  });

  it("answers a lone request without waiting for company", async () => {
    const batcher = new Batcher(model);
    const t0 = performance.now();
    const [mpg] = await batcher.predict(model.encode([EXAMPLE_CAR]), 1);
    expect(mpg).toBe((await model.predict([EXAMPLE_CAR]))[0]);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("rejects every caller of a batch that fails", async () => {
    const batcher = new Batcher(model);
    const bad = new Float32Array(5); // not a multiple of the 9 input columns: onnxruntime refuses it
    const outcomes = await Promise.allSettled([batcher.predict(bad, 1), batcher.predict(bad, 1)]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
  });
});
