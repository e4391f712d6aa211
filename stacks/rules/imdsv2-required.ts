import type { Block, SynthesizedStack } from "../synthesized.js";
import type { Finding, StackRule } from "./rule.js";

/**
 * Every instance and launch template requires IMDSv2 session tokens (http_tokens = "required"): a
 * server-side request forgery in the service cannot read the instance role's credentials with a plain GET.
 */
export const imdsv2Required: StackRule = {
  id: "imdsv2-required",
  description: "instances and launch templates require IMDSv2 (metadata_options.http_tokens = required)",
  check(stack: SynthesizedStack): Finding[] {
    const findings: Finding[] = [];
    for (const type of ["aws_instance", "aws_launch_template"]) {
      for (const [id, resource] of Object.entries(stack.resources(type))) {
        const options = (Array.isArray(resource.metadata_options) ? resource.metadata_options[0] : resource.metadata_options) as Block | undefined;
        if (options?.http_tokens !== "required") {
          findings.push({ rule: this.id, where: `${type}.${id}`, message: `metadata_options.http_tokens is ${JSON.stringify(options?.http_tokens ?? "unset (IMDSv1 allowed)")}, must be "required"` });
        }
      }
    }
    return findings;
  },
};
