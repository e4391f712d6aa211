import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseManifest } from "./manifest.js";
import { EXAMPLE_CAR, MODEL_DIR } from "./testing.js";
import { compilePredictCheck, predictBodySchema } from "./validation.js";

const manifest = parseManifest(readFileSync(join(MODEL_DIR, "manifest.json"), "utf8"), MODEL_DIR);
const MAX = 1000;
const check = compilePredictCheck(manifest, MAX);
const schema = predictBodySchema(manifest, MAX);

/** The fast check may only accept what zod accepts, with the same values; what it declines, zod decides. */
function agrees(body: unknown): void {
  const fast = check(body);
  const slow = schema.safeParse(body);
  if (fast !== undefined) {
    expect(slow.success, JSON.stringify(body)).toBe(true);
    expect(fast).toEqual(slow.data!.instances);
  }
}

const car = (patch: Record<string, unknown> = {}) => ({ ...EXAMPLE_CAR, ...patch });

describe("compilePredictCheck (the /predict fast path)", () => {
  it("accepts the well-formed bodies zod accepts, returning the same instances", () => {
    const bodies = [
      { instances: [car()] },
      { instances: [car(), car({ origin: "Japan", cylinders: 4, weight: 2130.5, model_year: 1982 })] },
      { instances: [car({ origin: "Europe", displacement: 60, horsepower: 250, acceleration: 26, weight: 6000, cylinders: 12 })] },
      { instances: Array.from({ length: MAX }, (_, i) => car({ weight: 2000 + i })) },
      JSON.parse(`{"instances":[{"origin":"USA","model_year":1970,"acceleration":12,"weight":3504,"horsepower":130,"displacement":307,"cylinders":8}]}`),
    ];
    for (const b of bodies) {
      expect(check(b), JSON.stringify(b).slice(0, 80)).toBeDefined();
      agrees(b);
    }
  });

  it("declines every invalid body (zod then words the refusal)", () => {
    const bad: unknown[] = [
      null,
      "hello",
      [car()],
      {},
      { instances: car() },
      { instances: [] },
      { instances: Array.from({ length: MAX + 1 }, () => car()) },
      { instances: [car()], debug: true },
      { debug: true, instances: [car()] },
      { instances: [car({ colour: "red" })] },
      { instances: [{ ...car(), weight: undefined }] },
      { instances: [car({ weight: "3504" })] },
      { instances: [car({ horsepower: null })] },
      { instances: [car({ cylinders: true })] },
      { instances: [car({ displacement: [307] })] },
      { instances: [car({ cylinders: 8.5 })] },
      { instances: [car({ model_year: 70 })] },
      { instances: [car({ model_year: 2024 })] },
      { instances: [car({ weight: 35040 })] },
      { instances: [car({ weight: Infinity })] },
      { instances: [car({ weight: NaN })] },
      { instances: [car({ cylinders: 2 ** 60 })] },
      { instances: [car({ origin: "usa" })] },
      { instances: [car({ origin: 1 })] },
      { instances: [5] },
      { instances: [null] },
      { instances: [[]] },
      { instances: [car(), car({ acceleration: 99 })] },
      JSON.parse(`{"instances":[${JSON.stringify(EXAMPLE_CAR)}],"__proto__":{"admin":true}}`),
      JSON.parse(`{"instances":[${JSON.stringify(EXAMPLE_CAR).slice(0, -1)},"constructor":{"prototype":{"admin":true}}}]}`),
      JSON.parse(`{"instances":[${JSON.stringify(EXAMPLE_CAR).slice(0, -1)},"__proto__":{"weight":1}}]}`),
      Object.assign(Object.create({ inherited: 1 }) as object, { instances: [car()] }),
      { instances: [Object.assign(Object.create({ colour: "red" }) as object, car())] },
    ];
    for (const b of bad) {
      expect(check(b), String(JSON.stringify(b)).slice(0, 100)).toBeUndefined();
      agrees(b);
    }
  });

  it("never accepts what zod refuses, over 5000 random mutations of a valid body", () => {
    let seed = 11;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const values: unknown[] = [null, true, "", "USA", "Europe", "Japan", "x", 0, -0, 1, 2.5, 3, 12, 13, 40, 1970, 1982, 1983, 6000, 6000.5, 1e308, -1, NaN, Infinity, [], {}, [1]];
    const keys = [...Object.keys(EXAMPLE_CAR), "colour", "instances", "__proto__"];
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      const rows = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
        const x: Record<string, unknown> = { ...EXAMPLE_CAR };
        const n = Math.floor(rand() * 3);
        for (let k = 0; k < n; k++) {
          const key = keys[Math.floor(rand() * keys.length)]!;
          if (rand() < 0.2) delete x[key];
          else x[key] = values[Math.floor(rand() * values.length)];
        }
        return x;
      });
      const body: Record<string, unknown> = { instances: rows };
      if (rand() < 0.05) body.extra = 1;
      // Through JSON, as requests arrive (NaN/Infinity become null, "__proto__" an own key).
      const parsed: unknown = JSON.parse(JSON.stringify(body).replaceAll('"extra"', '"__proto__"'));
      if (check(parsed) !== undefined) accepted++;
      agrees(parsed);
    }
    expect(accepted).toBeGreaterThan(100); // the mutations do leave some bodies valid
  });
});
