/**
 * What a plan does: counts per action and resource type, and the stateful resources it would
 * replace or destroy, which a reviewer must never miss. Reads either `terraform show -json`
 * of a saved plan or the machine-readable stream of `terraform plan -json` (which costs no
 * second provider start, so the test suite and the rehearsal use it).
 */
import { z } from "zod";

/** Resource types whose replacement loses data or interrupts traffic. */
export const STATEFUL_TYPES: ReadonlySet<string> = new Set([
  "aws_s3_bucket",
  "aws_instance",
  "aws_elb",
  "aws_vpc",
  "aws_subnet",
  "aws_nat_gateway",
  "aws_eip",
  "aws_cloudwatch_log_group",
  "aws_codedeploy_deployment_group",
  "aws_codedeploy_app",
  "aws_iam_openid_connect_provider",
  "aws_kms_key",
  "aws_sqs_queue",
]);

export type PlanAction = "create" | "update" | "replace" | "delete";

export interface ResourceChange {
  readonly address: string;
  readonly type: string;
  readonly action: PlanAction;
}

export interface PlanSummary {
  readonly counts: Record<PlanAction, number>;
  /** Resource type -> action -> count, managed resources only. */
  readonly byType: Record<string, Partial<Record<PlanAction, number>>>;
  /** Stateful resources the plan replaces or deletes. */
  readonly dangerous: ReadonlyArray<{ address: string; action: "replace" | "delete" }>;
}

export function summarizeChanges(changes: readonly ResourceChange[]): PlanSummary {
  const counts: Record<PlanAction, number> = { create: 0, update: 0, replace: 0, delete: 0 };
  const byType: Record<string, Partial<Record<PlanAction, number>>> = {};
  const dangerous: Array<{ address: string; action: "replace" | "delete" }> = [];
  for (const { address, type, action } of changes) {
    counts[action] += 1;
    const perType = (byType[type] ??= {});
    perType[action] = (perType[action] ?? 0) + 1;
    if ((action === "replace" || action === "delete") && STATEFUL_TYPES.has(type)) dangerous.push({ address, action });
  }
  return { counts, byType, dangerous };
}

const ShowJson = z.object({
  format_version: z.string(),
  resource_changes: z.array(z.object({ address: z.string(), type: z.string(), mode: z.string(), change: z.object({ actions: z.array(z.string()) }) })).optional(),
});

function actionOf(actions: readonly string[]): PlanAction | undefined {
  if (actions.includes("create") && actions.includes("delete")) return "replace";
  if (actions.includes("create")) return "create";
  if (actions.includes("delete")) return "delete";
  if (actions.includes("update")) return "update";
  return undefined; // no-op, read
}

/** Changes in `terraform show -json <planfile>` output. */
export function changesFromShowJson(showJson: unknown): ResourceChange[] {
  const parsed = ShowJson.safeParse(showJson);
  if (!parsed.success) throw new Error(`not the output of terraform show -json: ${z.prettifyError(parsed.error)}`);
  return (parsed.data.resource_changes ?? []).flatMap((rc) => {
    const action = rc.mode === "managed" ? actionOf(rc.change.actions) : undefined;
    return action ? [{ address: rc.address, type: rc.type, action }] : [];
  });
}

const PlannedChange = z.object({
  type: z.literal("planned_change"),
  change: z.object({
    resource: z.object({ addr: z.string(), resource_type: z.string() }),
    action: z.string(),
  }),
});

/** Changes in the line-per-event stream of `terraform plan -json`. */
export function changesFromPlanStream(stream: string): ResourceChange[] {
  const changes: ResourceChange[] = [];
  for (const line of stream.split("\n")) {
    if (!line.includes('"planned_change"')) continue;
    const event = PlannedChange.safeParse(JSON.parse(line));
    if (!event.success) throw new Error(`unreadable planned_change event from terraform plan -json: ${line.slice(0, 200)}`);
    const { resource, action } = event.data.change;
    if (resource.addr.startsWith("data.")) continue;
    if (action === "create" || action === "update" || action === "replace" || action === "delete") {
      changes.push({ address: resource.addr, type: resource.resource_type, action });
    }
  }
  return changes;
}
