import { beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENT_NAMES, loadEnvironments } from "../../environments/index.js";
import { synthesizeStacks, wrap, type Block, type SynthesizedStack } from "../synthesized.js";
import { encryptedVolumes } from "./encrypted-volumes.js";
import { imdsv2Required } from "./imdsv2-required.js";
import { checkStack, RULES, type StackRule } from "./index.js";
import { noPublicBuckets } from "./no-public-buckets.js";
import { noSshFromWorld } from "./no-ssh-from-world.js";
import { noWildcardActions } from "./no-wildcard-actions.js";

let stacks: Record<string, SynthesizedStack>;
beforeAll(() => {
  stacks = synthesizeStacks(loadEnvironments());
});

describe.each(ENVIRONMENT_NAMES)("the %s stack", (name) => {
  it("passes every policy rule", () => {
    expect(checkStack(stacks[name]!)).toEqual([]);
  });
});

/** A stack holding only the given resources and data sources. */
const stackOf = (resource: Block, data: Block = {}): SynthesizedStack => wrap({ resource, data });
const policy = (...statement: Block[]): SynthesizedStack => stackOf({}, { aws_iam_policy_document: { permissions: { statement } } });
const messages = (rule: StackRule, stack: SynthesizedStack): string[] => rule.check(stack).map((f) => `${f.where}: ${f.message}`);

describe("policy rules, each with a compliant and a non-compliant fixture", () => {
  it("has one file per rule, each with a distinct id", () => {
    expect(RULES.map((rule) => rule.id)).toEqual(["no-wildcard-actions", "no-ssh-from-world", "imdsv2-required", "encrypted-volumes", "no-public-buckets"]);
  });

  it("no-wildcard-actions: named actions, accepted Describe* families and resource * for actions without resource-level permissions pass", () => {
    expect(
      messages(
        noWildcardActions,
        policy(
          { sid: "Named", effect: "Allow", actions: ["s3:GetObject"], resources: ["arn:aws:s3:::b/*"] },
          { sid: "Family", effect: "Allow", actions: ["ec2:Describe*", "elasticloadbalancing:Describe*"], resources: ["*"] },
          { sid: "NoResourceLevel", effect: "Allow", actions: ["ec2:DescribeInstances", "cloudwatch:DescribeAlarms"], resources: ["*"] },
          // A wide Deny only takes away (the buckets' TLS-only policy).
          { sid: "TlsOnly", effect: "Deny", actions: ["s3:*"], resources: ["*"] },
        ),
      ),
    ).toEqual([]);
  });

  it("no-wildcard-actions: `*`, `service:*`, other patterns, NotAction and scoped actions on resource * fail", () => {
    expect(
      messages(
        noWildcardActions,
        policy(
          { sid: "All", effect: "Allow", actions: ["*"], resources: ["arn:aws:s3:::b"] },
          { sid: "Service", effect: "Allow", actions: ["s3:*"], resources: ["arn:aws:s3:::b"] },
          { sid: "Pattern", effect: "Allow", actions: ["s3:Get*"], resources: ["arn:aws:s3:::b"] },
          { sid: "Scoped", effect: "Allow", actions: ["ec2:DescribeInstances", "s3:GetObject"], resources: ["*"] },
          { sid: "Not", effect: "Allow", not_actions: ["iam:*"], resources: ["arn:aws:s3:::b"] },
        ),
      ),
    ).toEqual([
      "data.aws_iam_policy_document.permissions/All: grants every action (*)",
      "data.aws_iam_policy_document.permissions/Service: grants every action of s3 (s3:*)",
      "data.aws_iam_policy_document.permissions/Pattern: grants the action pattern s3:Get*, which is not an accepted family (ec2:Describe*, elasticloadbalancing:Describe*)",
      "data.aws_iam_policy_document.permissions/Scoped: grants s3:GetObject on resource *, but these support resource-level permissions: name the resources",
      "data.aws_iam_policy_document.permissions/Not: NotAction in an Allow statement grants every action but the listed ones",
    ]);
  });

  it("no-ssh-from-world: SSH from a security group or a private range, and the world on other ports, pass", () => {
    const stack = stackOf({
      aws_vpc_security_group_ingress_rule: {
        ssh: { security_group_id: "${aws_security_group.instances.id}", ip_protocol: "tcp", from_port: 22, to_port: 22, referenced_security_group_id: "${aws_security_group.eic.id}" },
        private: { security_group_id: "${aws_security_group.instances.id}", ip_protocol: "tcp", from_port: 22, to_port: 22, cidr_ipv4: "10.0.0.0/8" },
        http: { security_group_id: "${aws_security_group.lb.id}", ip_protocol: "tcp", from_port: 80, to_port: 80, cidr_ipv4: "0.0.0.0/0" },
      },
    });
    expect(messages(noSshFromWorld, stack)).toEqual([]);
  });

  it("no-ssh-from-world: 0.0.0.0/0, ::/0, the world split in halves, a port range or all protocols fail", () => {
    const stack = stackOf({
      aws_vpc_security_group_ingress_rule: {
        half1: { security_group_id: "${aws_security_group.a.id}", ip_protocol: "tcp", from_port: 22, to_port: 22, cidr_ipv4: "0.0.0.0/1" },
        half2: { security_group_id: "${aws_security_group.a.id}", ip_protocol: "tcp", from_port: 22, to_port: 22, cidr_ipv4: "128.0.0.0/1" },
        range: { security_group_id: "${aws_security_group.b.id}", ip_protocol: "tcp", from_port: 0, to_port: 1024, cidr_ipv6: "::/0" },
      },
      aws_security_group: { c: { ingress: [{ protocol: "-1", from_port: 0, to_port: 0, cidr_blocks: ["0.0.0.0/0"] }] } },
    });
    expect(messages(noSshFromWorld, stack)).toEqual([
      expect.stringMatching(
        /^aws_vpc_security_group_ingress_rule\.half1, aws_vpc_security_group_ingress_rule\.half2: security group \$\{aws_security_group\.a\.id\} admits SSH from the internet: 0\.0\.0\.0\/1, 128\.0\.0\.0\/1 admit/,
      ),
      expect.stringMatching(/^aws_vpc_security_group_ingress_rule\.range: security group \$\{aws_security_group\.b\.id\} admits SSH from the internet: ::\/0 admits/),
      expect.stringMatching(/^aws_security_group\.c: security group \$\{aws_security_group\.c\.id\} admits SSH from the internet: 0\.0\.0\.0\/0 admits/),
    ]);
  });

  it("imdsv2-required: required tokens pass; optional or unset tokens fail", () => {
    expect(
      messages(imdsv2Required, stackOf({ aws_instance: { a: { metadata_options: { http_tokens: "required" } } }, aws_launch_template: { t: { metadata_options: [{ http_tokens: "required" }] } } })),
    ).toEqual([]);
    expect(messages(imdsv2Required, stackOf({ aws_instance: { a: { metadata_options: { http_tokens: "optional" } }, b: {} } }))).toEqual([
      'aws_instance.a: metadata_options.http_tokens is "optional", must be "required"',
      'aws_instance.b: metadata_options.http_tokens is "unset (IMDSv1 allowed)", must be "required"',
    ]);
  });

  it("encrypted-volumes: encrypted root, extra and standalone volumes pass; unencrypted or unset fail", () => {
    const good = stackOf({
      aws_instance: { a: { root_block_device: { encrypted: true }, ebs_block_device: [{ device_name: "/dev/sdf", encrypted: true }] } },
      aws_ebs_volume: { v: { encrypted: true } },
      aws_launch_template: { t: { block_device_mappings: [{ device_name: "/dev/sda1", ebs: { encrypted: true } }] } },
    });
    expect(messages(encryptedVolumes, good)).toEqual([]);
    const bad = stackOf({
      aws_instance: { a: { root_block_device: { encrypted: false }, ebs_block_device: [{ device_name: "/dev/sdf" }] }, b: {} },
      aws_ebs_volume: { v: {} },
      aws_launch_template: { t: { block_device_mappings: [{ device_name: "/dev/sda1", ebs: { encrypted: false } }] } },
    });
    expect(messages(encryptedVolumes, bad)).toEqual([
      "aws_instance.a: the root volume is not encrypted (encrypted: false)",
      'aws_instance.a: volume /dev/sdf is not encrypted (encrypted: "unset")',
      'aws_instance.b: the root volume is not encrypted (encrypted: "unset")',
      'aws_ebs_volume.v: the volume is not encrypted (encrypted: "unset")',
      "aws_launch_template.t: volume /dev/sda1 is not encrypted (encrypted: false)",
    ]);
  });

  it("no-public-buckets: a bucket with all four public access blocks passes; a missing or partial block or a public ACL fails", () => {
    const block = (bucket: string, off: string[] = []) =>
      Object.fromEntries([
        ["bucket", `\${aws_s3_bucket.${bucket}.id}`],
        ...["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"].map((k) => [k, !off.includes(k)]),
      ]);
    expect(messages(noPublicBuckets, stackOf({ aws_s3_bucket: { a: {} }, aws_s3_bucket_public_access_block: { a: block("a") } }))).toEqual([]);
    const bad = stackOf({
      aws_s3_bucket: { a: {}, b: {} },
      aws_s3_bucket_public_access_block: { a: block("a", ["restrict_public_buckets"]) },
      aws_s3_bucket_acl: { b: { bucket: "${aws_s3_bucket.b.id}", acl: "public-read" } },
    });
    expect(messages(noPublicBuckets, bad)).toEqual([
      "aws_s3_bucket.a: public access block leaves restrict_public_buckets off",
      "aws_s3_bucket.b: has no public access block",
      "aws_s3_bucket_acl.b: grants the public ACL public-read",
    ]);
  });
});
