import type { Block, SynthesizedStack } from "../synthesized.js";
import type { Finding, StackRule } from "./rule.js";

/**
 * Action families (`Describe*`) an Allow statement may grant: read-only metadata of services whose
 * Describe calls have no resource-level permissions (the plan role refreshes with them).
 */
export const ACCEPTED_ACTION_FAMILIES: readonly string[] = ["ec2:Describe*", "elasticloadbalancing:Describe*"];

/**
 * Actions IAM accepts only on resource `*`, because they support no resource-level permissions
 * (Service Authorization Reference): the only actions an Allow statement may grant on `*`.
 */
export const ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS: readonly string[] = [
  ...ACCEPTED_ACTION_FAMILIES,
  "ec2:DescribeInstances",
  "ec2:DescribeInstanceConnectEndpoints",
  "elasticloadbalancing:DescribeLoadBalancers",
  "elasticloadbalancing:DescribeInstanceHealth",
  "cloudwatch:DescribeAlarms",
];

/** `*` or `service:*`: every action, or every action of a service. */
const EVERY_ACTION = /^\*$|^[a-z0-9-]+:\*$/;

/**
 * The one meaning of "no wildcard actions", for every Allow statement of every IAM policy document:
 *   - never `*` or `service:*`;
 *   - any other pattern (`ec2:Describe*`) only if it is one of ACCEPTED_ACTION_FAMILIES;
 *   - resource `*` only for actions in ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS.
 * Deny statements are exempt: a wide Deny (`s3:*` without TLS) only takes away.
 */
export const noWildcardActions: StackRule = {
  id: "no-wildcard-actions",
  description: "Allow statements grant named actions (or an accepted Describe* family) on named resources; `*` resources only for actions without resource-level permissions",
  check(stack: SynthesizedStack): Finding[] {
    const findings: Finding[] = [];
    for (const [id, document] of Object.entries(stack.dataSources("aws_iam_policy_document"))) {
      for (const statement of (document.statement as Block[] | undefined) ?? []) {
        if ((statement.effect ?? "Allow") !== "Allow") continue;
        const where = `data.aws_iam_policy_document.${id}${statement.sid ? `/${statement.sid}` : ""}`;
        const actions = (statement.actions as string[] | undefined) ?? [];
        const add = (message: string) => findings.push({ rule: this.id, where, message });
        if (statement.not_actions) add("NotAction in an Allow statement grants every action but the listed ones");
        for (const action of actions) {
          if (EVERY_ACTION.test(action)) add(`grants every action${action === "*" ? "" : ` of ${action.split(":")[0]}`} (${action})`);
          else if (action.includes("*") && !ACCEPTED_ACTION_FAMILIES.includes(action))
            add(`grants the action pattern ${action}, which is not an accepted family (${ACCEPTED_ACTION_FAMILIES.join(", ")})`);
        }
        if (((statement.resources as string[] | undefined) ?? []).includes("*")) {
          const scoped = actions.filter((action) => !ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS.includes(action));
          if (scoped.length) add(`grants ${scoped.join(", ")} on resource *, but these support resource-level permissions: name the resources`);
        }
      }
    }
    return findings;
  },
};
