import { describe, expect, it } from "vitest";
import { assertRuntimesSupported, checkRuntimeSupport, LAMBDA_RUNTIME_SUPPORT, NODE_MAJOR_SUPPORT, RuntimeSupportError, WARNING_DAYS, type ShippedRuntime } from "./runtime-support.js";

const fleet = (major: number): ShippedRuntime => ({ usedBy: 'environment "prod" fleet.nodeMajorVersion', runtime: { kind: "node-major", major } });
const trigger = (id: "nodejs20.x" | "nodejs22.x" | "nodejs24.x"): ShippedRuntime => ({ usedBy: 'environment "prod" deployment trigger', runtime: { kind: "lambda", id } });
const day = (iso: string) => new Date(`${iso}T12:00:00Z`);

describe("runtime support guard", () => {
  it("refuses a Lambda runtime past its end of support, naming the runtime, the date, the replacement and the source", () => {
    const { errors, warnings } = checkRuntimeSupport([trigger("nodejs20.x")], day("2026-12-01"));
    expect(warnings).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('environment "prod" deployment trigger: Lambda runtime nodejs20.x reached its end of support on 2026-04-30');
    expect(errors[0]).toContain("move to nodejs22.x");
    expect(errors[0]).toContain("docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html");
  });

  it("refuses a fleet Node.js major past its end of life", () => {
    const { errors } = checkRuntimeSupport([fleet(20)], day("2026-12-01"));
    expect(errors).toEqual([expect.stringMatching(/fleet\.nodeMajorVersion: Node\.js 20 reached its end of support on 2026-04-30 \(source: the Node\.js release schedule .*\); move to Node\.js 24/)]);
  });

  it("accepts what ships today (Node.js 24 fleet, nodejs22.x trigger) without warnings", () => {
    expect(checkRuntimeSupport([fleet(24), trigger("nodejs22.x")], day("2026-12-01"))).toEqual({ errors: [], warnings: [] });
  });

  it(`warns within ${WARNING_DAYS} days of the end of support, and not a day before`, () => {
    // nodejs22.x is supported through 2027-04-30.
    expect(checkRuntimeSupport([trigger("nodejs22.x")], day("2027-01-29")).warnings).toEqual([]);
    const { errors, warnings } = checkRuntimeSupport([trigger("nodejs22.x")], day("2027-01-31"));
    expect(errors).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/Lambda runtime nodejs22\.x reaches its end of support on 2027-04-30, in 90 day\(s\) .*move to nodejs24\.x/)]);
  });

  it("treats the end-of-support day itself as supported and the next day as not", () => {
    expect(checkRuntimeSupport([fleet(24)], new Date("2028-04-30T23:59:00Z")).errors).toEqual([]);
    expect(checkRuntimeSupport([fleet(24)], new Date("2028-05-01T00:00:01Z")).errors).toHaveLength(1);
  });

  it("refuses a runtime with no known date instead of guessing", () => {
    expect(checkRuntimeSupport([fleet(28)], day("2026-12-01")).errors).toEqual([expect.stringContaining("Node.js 28 has no known end-of-support date: add it to environments/runtime-support.ts")]);
  });

  it("throws one RuntimeSupportError listing every refused runtime, and returns warnings otherwise", () => {
    expect(() => assertRuntimesSupported([fleet(20), trigger("nodejs20.x")], day("2026-12-01"))).toThrow(RuntimeSupportError);
    try {
      assertRuntimesSupported([fleet(20), trigger("nodejs20.x")], day("2026-12-01"));
    } catch (error) {
      expect((error as Error).message.split("\n")).toEqual([
        "unsupported runtime(s), as of 2026-12-01:",
        expect.stringContaining('✖ environment "prod" fleet.nodeMajorVersion: Node.js 20'),
        expect.stringContaining('✖ environment "prod" deployment trigger: Lambda runtime nodejs20.x'),
      ]);
    }
    expect(assertRuntimesSupported([fleet(24)], day("2028-03-01"))).toHaveLength(1);
  });

  it("keeps every date in the table a real ISO day with a source", () => {
    for (const window of [...Object.values(NODE_MAJOR_SUPPORT), ...Object.values(LAMBDA_RUNTIME_SUPPORT)]) {
      expect(new Date(`${window.endOfSupport}T00:00:00Z`).toISOString().slice(0, 10)).toBe(window.endOfSupport);
      expect(window.source).toMatch(/https:\/\//);
    }
  });
});
