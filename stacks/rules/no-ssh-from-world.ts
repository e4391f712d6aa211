import { describeExposure, internetExposure } from "../../environments/cidr.js";
import type { Block, SynthesizedStack } from "../synthesized.js";
import type { Finding, StackRule } from "./rule.js";

const SSH = 22;

function coversSsh(rule: Block): boolean {
  const protocol = String(rule.ip_protocol ?? rule.protocol ?? "");
  if (protocol === "-1" || protocol === "all") return true;
  if (protocol !== "tcp" && protocol !== "6") return false;
  return Number(rule.from_port) <= SSH && SSH <= Number(rule.to_port);
}

/**
 * Port 22 is never open to "the internet", as environments/cidr.ts defines it (more public
 * addresses than its limit, whatever the spelling: 0.0.0.0/0, two /1s, ::/0). Checked on the union
 * of every rule of a security group that admits SSH, so that splitting the world into pieces does
 * not pass. Standalone ingress rules, inline ingress blocks and aws_security_group_rule all count.
 */
export const noSshFromWorld: StackRule = {
  id: "no-ssh-from-world",
  description: "no security group admits SSH (port 22) from the internet",
  check(stack: SynthesizedStack): Finding[] {
    const byGroup = new Map<string, { cidrs: string[]; where: string[] }>();
    const admit = (group: string, where: string, cidrs: unknown[]) => {
      const entry = byGroup.get(group) ?? { cidrs: [], where: [] };
      entry.cidrs.push(...cidrs.filter((cidr): cidr is string => typeof cidr === "string" && cidr.length > 0));
      entry.where.push(where);
      byGroup.set(group, entry);
    };
    for (const [id, rule] of Object.entries(stack.resources("aws_vpc_security_group_ingress_rule"))) {
      if (coversSsh(rule)) admit(String(rule.security_group_id), `aws_vpc_security_group_ingress_rule.${id}`, [rule.cidr_ipv4, rule.cidr_ipv6]);
    }
    for (const [id, rule] of Object.entries(stack.resources("aws_security_group_rule"))) {
      if (rule.type === "ingress" && coversSsh(rule)) admit(String(rule.security_group_id), `aws_security_group_rule.${id}`, [...(rule.cidr_blocks ?? []), ...(rule.ipv6_cidr_blocks ?? [])]);
    }
    for (const [id, group] of Object.entries(stack.resources("aws_security_group"))) {
      for (const rule of (group.ingress as Block[] | undefined) ?? []) {
        if (coversSsh(rule)) admit(`\${aws_security_group.${id}.id}`, `aws_security_group.${id}`, [...(rule.cidr_blocks ?? []), ...(rule.ipv6_cidr_blocks ?? [])]);
      }
    }
    const findings: Finding[] = [];
    for (const [group, { cidrs, where }] of byGroup) {
      const exposure = internetExposure(cidrs);
      if (exposure) findings.push({ rule: this.id, where: where.join(", "), message: `security group ${group} admits SSH from the internet: ${describeExposure(exposure)}` });
    }
    return findings;
  },
};
