import { describe, expect, it } from "vitest";
import { code, renderPlanComment } from "./plan-comment.js";

// The renderer's behaviour on real plans is tested with the real plans of every stack in
// plan-stacks.spec.ts, which makes them once for the whole suite.
describe("code", () => {
  it("wraps text in a fence longer than any backtick run inside it", () => {
    expect(code("aws_s3_bucket.x")).toBe("`aws_s3_bucket.x`");
    expect(code('module.a["k`v"]')).toBe('``module.a["k`v"]``');
    expect(code("`edge`")).toBe("`` `edge` ``");
    expect(code("two\nlines")).toBe("`two lines`");
  });

  it("keeps a pipe in a stack name from breaking the table", () => {
    const body = renderPlanComment([{ stack: "a|b", error: "boom" }]);
    expect(body).toContain("| a\\|b | ❌ plan failed | | | |");
  });
});
