import { describe, expect, it } from "vitest";
import { parseScenarios } from "./scenarios.js";

describe("parseScenarios", () => {
  it("sorts and de-duplicates a subset", () => {
    expect(parseScenarios("4,1,1,3")).toEqual([1, 3, 4]);
    expect(parseScenarios("5")).toEqual([5]);
  });
  it("names unknown scenarios", () => {
    expect(() => parseScenarios("1,6,x")).toThrow('unknown scenario "6", "x"; scenarios are 1, 2, 3, 4, 5');
  });
  it("refuses scenarios whose premise is missing", () => {
    expect(() => parseScenarios("2")).toThrow(/2 is the release after 1/);
    expect(() => parseScenarios("3,4")).toThrow(/4 rolls back the latest release: add 1 or 2/);
  });
});
