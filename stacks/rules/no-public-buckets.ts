import type { Block, SynthesizedStack } from "../synthesized.js";
import type { Finding, StackRule } from "./rule.js";

const BLOCKS = ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"] as const;
const PUBLIC_ACLS = new Set(["public-read", "public-read-write", "authenticated-read"]);

/**
 * Every bucket has a public access block with all four settings on (so neither an ACL nor a
 * policy can make it public later), and no bucket ACL grants public access.
 */
export const noPublicBuckets: StackRule = {
  id: "no-public-buckets",
  description: "every S3 bucket blocks public ACLs and policies (all four public access block settings) and has no public ACL",
  check(stack: SynthesizedStack): Finding[] {
    const findings: Finding[] = [];
    const blocks = Object.values(stack.resources("aws_s3_bucket_public_access_block"));
    for (const id of Object.keys(stack.resources("aws_s3_bucket"))) {
      const reference = new RegExp(`^\\$\\{aws_s3_bucket\\.${id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(id|bucket)\\}$`);
      const block = blocks.find((b: Block) => reference.test(String(b.bucket)));
      const off = block ? BLOCKS.filter((setting) => block[setting] !== true) : [...BLOCKS];
      if (off.length) findings.push({ rule: this.id, where: `aws_s3_bucket.${id}`, message: block ? `public access block leaves ${off.join(", ")} off` : "has no public access block" });
    }
    for (const [id, acl] of Object.entries(stack.resources("aws_s3_bucket_acl"))) {
      if (PUBLIC_ACLS.has(String(acl.acl))) findings.push({ rule: this.id, where: `aws_s3_bucket_acl.${id}`, message: `grants the public ACL ${String(acl.acl)}` });
    }
    return findings;
  },
};
