import type { Block, SynthesizedStack } from "../synthesized.js";
import type { Finding, StackRule } from "./rule.js";

const asList = (value: unknown): Block[] => (Array.isArray(value) ? (value as Block[]) : value ? [value as Block] : []);

/**
 * Every EBS volume is encrypted: instances' root and extra block devices, standalone volumes and
 * launch templates' block device mappings. Unset counts as unencrypted (the account default can change).
 */
export const encryptedVolumes: StackRule = {
  id: "encrypted-volumes",
  description: "every EBS volume (root, extra, standalone, launch template) is encrypted",
  check(stack: SynthesizedStack): Finding[] {
    const findings: Finding[] = [];
    const require = (where: string, what: string, encrypted: unknown) => {
      if (encrypted !== true) findings.push({ rule: this.id, where, message: `${what} is not encrypted (encrypted: ${JSON.stringify(encrypted ?? "unset")})` });
    };
    for (const [id, instance] of Object.entries(stack.resources("aws_instance"))) {
      const where = `aws_instance.${id}`;
      const roots = asList(instance.root_block_device);
      if (roots.length === 0) require(where, "the root volume", undefined);
      for (const root of roots) require(where, "the root volume", root.encrypted);
      for (const device of asList(instance.ebs_block_device)) require(where, `volume ${String(device.device_name)}`, device.encrypted);
    }
    for (const [id, volume] of Object.entries(stack.resources("aws_ebs_volume"))) require(`aws_ebs_volume.${id}`, "the volume", volume.encrypted);
    for (const [id, template] of Object.entries(stack.resources("aws_launch_template"))) {
      for (const mapping of asList(template.block_device_mappings)) {
        for (const ebs of asList(mapping.ebs)) require(`aws_launch_template.${id}`, `volume ${String(mapping.device_name)}`, ebs.encrypted);
      }
    }
    return findings;
  },
};
