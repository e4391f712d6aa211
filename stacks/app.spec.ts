import { describe, expect, it } from "vitest";
import { DECLARED_ENVIRONMENTS, ENVIRONMENT_NAMES, loadEnvironments, parseEnvironments } from "../environments/index.js";
import { RuntimeSupportError } from "../environments/runtime-support.js";
import { buildApp } from "./app.js";
import { SYNTH_TEST_DATE } from "./synthesized.js";

const projectRoot = new URL("..", import.meta.url).pathname;

describe("the CDKTF program's runtime guard", () => {
  it("builds every stack on today's runtimes with no warning", () => {
    const { stacks, warnings } = buildApp(loadEnvironments(), { projectRoot, outdir: "/nonexistent-never-synthesized", today: SYNTH_TEST_DATE });
    // One stack per environment of the list, in promotion order.
    expect(Object.keys(stacks)).toEqual([...ENVIRONMENT_NAMES]);
    expect(warnings).toEqual([]);
  });

  it("refuses to synthesize a fleet on Node.js 20", () => {
    const onNode20 = Object.fromEntries(Object.entries(DECLARED_ENVIRONMENTS).map(([name, config]) => [name, { ...config, fleet: { ...config.fleet, nodeMajorVersion: 20 } }]));
    expect(() => buildApp(parseEnvironments(onNode20), { projectRoot, today: SYNTH_TEST_DATE })).toThrow(
      /✖ environment "dev" fleet\.nodeMajorVersion: Node\.js 20 reached its end of support on 2026-04-30/,
    );
  });

  it("warns 90 days before the trigger's runtime retires, then refuses it", () => {
    const { warnings } = buildApp(loadEnvironments(), { projectRoot, outdir: "/nonexistent-never-synthesized", today: new Date("2027-03-01T00:00:00Z") });
    expect(warnings).toEqual(expect.arrayContaining([expect.stringContaining("deployment trigger: Lambda runtime nodejs22.x reaches its end of support on 2027-04-30")]));
    expect(() => buildApp(loadEnvironments(), { projectRoot, today: new Date("2027-05-01T00:00:00Z") })).toThrow(RuntimeSupportError);
  });
});
