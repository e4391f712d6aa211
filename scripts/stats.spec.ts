import { describe, expect, it } from "vitest";
import { median } from "./stats.js";

describe("median", () => {
  it("takes the middle value of an odd count and the mean of the middle two of an even count, whatever the order", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("refuses no values instead of answering NaN", () => {
    expect(() => median([])).toThrow("median of no values");
  });
});
