import { describe, expect, it } from "vitest";
import { changesFromPlanStream, changesFromShowJson, summarizeChanges } from "./plan-summary.js";

const event = (addr: string, type: string, action: string) => JSON.stringify({ type: "planned_change", change: { resource: { addr, resource_type: type }, action } });

describe("plan summary", () => {
  it("counts changes per action and type and calls out replaced or destroyed stateful resources", () => {
    const summary = summarizeChanges([
      { address: "aws_s3_bucket.revisions", type: "aws_s3_bucket", action: "replace" },
      { address: "aws_instance.blue_0", type: "aws_instance", action: "delete" },
      { address: "aws_iam_role.ci", type: "aws_iam_role", action: "delete" },
      { address: "aws_iam_role.x", type: "aws_iam_role", action: "create" },
      { address: "aws_elb.lb", type: "aws_elb", action: "update" },
    ]);
    expect(summary.counts).toEqual({ create: 1, update: 1, replace: 1, delete: 2 });
    expect(summary.byType).toEqual({ aws_s3_bucket: { replace: 1 }, aws_instance: { delete: 1 }, aws_iam_role: { delete: 1, create: 1 }, aws_elb: { update: 1 } });
    expect(summary.dangerous).toEqual([
      { address: "aws_s3_bucket.revisions", action: "replace" },
      { address: "aws_instance.blue_0", action: "delete" },
    ]);
  });

  it("reads show -json: delete-then-create is a replacement, reads and no-ops are not changes", () => {
    const changes = changesFromShowJson({
      format_version: "1.2",
      resource_changes: [
        { address: "aws_instance.a", type: "aws_instance", mode: "managed", change: { actions: ["delete", "create"] } },
        { address: "aws_vpc.v", type: "aws_vpc", mode: "managed", change: { actions: ["no-op"] } },
        { address: "data.aws_iam_policy_document.d", type: "aws_iam_policy_document", mode: "data", change: { actions: ["read"] } },
        { address: "aws_elb.lb", type: "aws_elb", mode: "managed", change: { actions: ["update"] } },
      ],
    });
    expect(changes).toEqual([
      { address: "aws_instance.a", type: "aws_instance", action: "replace" },
      { address: "aws_elb.lb", type: "aws_elb", action: "update" },
    ]);
  });

  it("rejects input that is not show -json output, saying so", () => {
    expect(() => changesFromShowJson({ resource_changes: [] })).toThrow(/not the output of terraform show -json[\s\S]*format_version/);
  });

  it("reads the plan -json stream, ignoring data sources and other events", () => {
    const stream = [
      JSON.stringify({ type: "version", terraform: "1.11.4" }),
      event("aws_vpc.v", "aws_vpc", "create"),
      event("data.aws_iam_policy_document.d", "aws_iam_policy_document", "read"),
      event("aws_elb.lb", "aws_elb", "update"),
      event("aws_eip.e", "aws_eip", "replace"),
      JSON.stringify({ type: "change_summary", changes: { add: 1 } }),
      "",
    ].join("\n");
    expect(changesFromPlanStream(stream)).toEqual([
      { address: "aws_vpc.v", type: "aws_vpc", action: "create" },
      { address: "aws_elb.lb", type: "aws_elb", action: "update" },
      { address: "aws_eip.e", type: "aws_eip", action: "replace" },
    ]);
  });

  it("fails on a malformed planned_change event rather than under-reporting", () => {
    expect(() => changesFromPlanStream(JSON.stringify({ type: "planned_change", change: {} }))).toThrow(/unreadable planned_change event/);
  });
});
