/**
 * The shape of a policy rule (after cdk-nag): one rule per file, named by its id, checking a
 * synthesized stack's Terraform JSON and returning one finding per offending resource or statement.
 * rules.spec.ts applies every rule in RULES (index.ts) to every stack of the program.
 */
import type { SynthesizedStack } from "../synthesized.js";

export interface Finding {
  readonly rule: string;
  /** `type.logical_id` of the resource (or data source), plus the statement sid where there is one. */
  readonly where: string;
  readonly message: string;
}

export interface StackRule {
  /** Short id, also the file name: no-wildcard-actions. */
  readonly id: string;
  /** What the rule demands and why, one sentence. */
  readonly description: string;
  check(stack: SynthesizedStack): Finding[];
}
