/** Every policy rule the synthesized stacks must pass (rules.spec.ts applies them to every stack). */
import { encryptedVolumes } from "./encrypted-volumes.js";
import { imdsv2Required } from "./imdsv2-required.js";
import { noPublicBuckets } from "./no-public-buckets.js";
import { noSshFromWorld } from "./no-ssh-from-world.js";
import { noWildcardActions } from "./no-wildcard-actions.js";
import type { Finding, StackRule } from "./rule.js";
import type { SynthesizedStack } from "../synthesized.js";

export type { Finding, StackRule } from "./rule.js";

export const RULES: readonly StackRule[] = [noWildcardActions, noSshFromWorld, imdsv2Required, encryptedVolumes, noPublicBuckets];

/** The findings of every rule on one stack. */
export function checkStack(stack: SynthesizedStack, rules: readonly StackRule[] = RULES): Finding[] {
  return rules.flatMap((rule) => rule.check(stack));
}
