import { describe, expect, it } from "vitest";
import { DECLARED_ENVIRONMENTS, EnvironmentConfigError, loadEnvironment, loadEnvironments, parseEnvironment, parseEnvironments } from "./index.js";
import { resourceNames } from "./names.js";
import type { EnvironmentConfigInput } from "./schema.js";

/** A deep copy of a declared environment with one change applied. */
function variant(name: "dev" | "staging" | "prod", change: (config: EnvironmentConfigInput & Record<string, unknown>) => void): EnvironmentConfigInput {
  const copy = structuredClone(DECLARED_ENVIRONMENTS[name]) as EnvironmentConfigInput & Record<string, unknown>;
  change(copy);
  return copy;
}

function errorOf(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(EnvironmentConfigError);
    return (error as Error).message;
  }
  throw new Error("expected the config to be rejected");
}

describe("environment configs", () => {
  it("accepts the three declared environments", () => {
    const environments = loadEnvironments();
    expect(Object.keys(environments).sort()).toEqual(["dev", "prod", "staging"]);
    expect(environments.prod.deployment.strategy).toBe("blue-green");
    expect(environments.dev.deployment.strategy).toBe("in-place");
  });

  it("rejects an unknown environment name, listing the known ones", () => {
    expect(errorOf(() => loadEnvironment("production"))).toBe('unknown environment "production": expected one of dev, staging, prod');
    expect(errorOf(() => parseEnvironment("qa", DECLARED_ENVIRONMENTS.dev))).toContain('unknown environment "qa"');
  });

  it("rejects a config declared under another environment's name", () => {
    expect(errorOf(() => parseEnvironment("staging", DECLARED_ENVIRONMENTS.dev))).toMatch(/environment "staging" is invalid:[\s\S]*declares name "dev"/);
  });

  it("rejects unknown keys, naming the environment and the path", () => {
    const message = errorOf(() =>
      parseEnvironment(
        "dev",
        variant("dev", (c) => ((c.fleet as Record<string, unknown>).instanceCount = 3)),
      ),
    );
    expect(message).toContain('environment "dev" is invalid');
    expect(message).toMatch(/Unrecognized key: "instanceCount"[\s\S]*at fleet/);
  });

  const invalid: Array<[string, "dev" | "staging" | "prod", (c: EnvironmentConfigInput) => void, RegExp]> = [
    ["a malformed VPC CIDR", "dev", (c) => (c.network.vpcCidr = "10.10.0.0/33"), /at network\.vpcCidr/],
    ["a CIDR with host bits set", "dev", (c) => (c.network.vpcCidr = "10.10.0.5/16"), /host bits are set[\s\S]*at network\.vpcCidr/],
    ["a VPC larger than /16", "dev", (c) => (c.network.vpcCidr = "10.0.0.0/8"), /between \/16 and \/28[\s\S]*at network\.vpcCidr/],
    ["a client CIDR that is not a CIDR", "dev", (c) => (c.access.loadBalancerCidrs = ["10.0.0.0"]), /IPv4 or IPv6 CIDR[\s\S]*at access\.loadBalancerCidrs\[0\]/],
    [
      "a subnet outside its VPC",
      "dev",
      (c) => (c.network.subnets[0]!.privateCidr = "10.99.10.0/24"),
      /10\.99\.10\.0\/24 is outside the VPC 10\.10\.0\.0\/16[\s\S]*at network\.subnets\[0\]\.privateCidr/,
    ],
    ["overlapping subnets", "dev", (c) => (c.network.subnets[1]!.publicCidr = "10.10.0.128/25"), /10\.10\.0\.128\/25 overlaps 10\.10\.0\.0\/24[\s\S]*at network\.subnets\[1\]\.publicCidr/],
    ["two subnet pairs in one zone", "dev", (c) => (c.network.subnets[1]!.availabilityZone = "eu-west-1a"), /eu-west-1a has a subnet pair already[\s\S]*at network\.subnets\[1\]\.availabilityZone/],
    [
      "an availability zone of another region",
      "dev",
      (c) => (c.network.subnets[1]!.availabilityZone = "eu-central-1b"),
      /eu-central-1b is not in region eu-west-1[\s\S]*at network\.subnets\[1\]\.availabilityZone/,
    ],
    // The zones are the subnets' zones: a separate list could only disagree with them.
    ["a separate availabilityZones list", "dev", (c) => Object.assign(c, { availabilityZones: ["eu-west-1a", "eu-west-1b"] }), /Unrecognized key: "availabilityZones"/],
    ["a malformed region", "dev", (c) => (c.region = "Ireland"), /AWS region code[\s\S]*at region/],
    [
      "staging deploying in place",
      "staging",
      (c) => (c.deployment = { strategy: "in-place", deploymentConfig: "CodeDeployDefault.AllAtOnce" }),
      /staging must deploy blue-green[\s\S]*at deployment\.strategy/,
    ],
    ["prod with one instance per slot", "prod", (c) => (c.fleet.instancesPerSlot = 1), /prod needs at least 2 instances per slot[\s\S]*at fleet\.instancesPerSlot/],
    ["prod in a single zone", "prod", (c) => (c.network.subnets = c.network.subnets.slice(0, 1)), /prod needs at least 2 availability zones[\s\S]*at network\.subnets/],
    // SSH is granted by IAM through the Instance Connect Endpoint: an old config's network list must not silently vanish.
    [
      "a retired SSH network list, even a private one",
      "dev",
      (c) => Object.assign(c.access, { sshCidrs: ["10.0.0.0/8"] }),
      /access\.sshCidrs is retired: SSH goes through the environment's EC2 Instance Connect Endpoint[\s\S]*ssh_operators_policy_arn[\s\S]*at access\.sshCidrs/,
    ],
    ["SSH from the internet", "prod", (c) => Object.assign(c.access, { sshCidrs: ["0.0.0.0/0"] }), /access\.sshCidrs is retired[\s\S]*at access\.sshCidrs/],
    ["a malformed instance type", "dev", (c) => (c.fleet.instanceType = "t3-small"), /EC2 instance type[\s\S]*at fleet\.instanceType/],
    ["a malformed AMI id", "dev", (c) => (c.fleet.amiId = "ami-12345"), /AMI id[\s\S]*at fleet\.amiId/],
    ["no NAT with an AMI that lacks the runtime", "dev", (c) => (c.network.natGateways = "none"), /without NAT cannot download Node\.js[\s\S]*at network\.natGateways/],
    ["a health check timeout not under its interval", "dev", (c) => (c.loadBalancer.healthCheck.timeoutSeconds = 10), /less than intervalSeconds[\s\S]*at loadBalancer\.healthCheck\.timeoutSeconds/],
    ["a log retention CloudWatch does not offer", "dev", (c) => (c.logRetentionDays = 10), /CloudWatch's retention values[\s\S]*at logRetentionDays/],
    ["a privileged service port", "dev", (c) => (c.service.port = 80), /unprivileged port[\s\S]*at service\.port/],
    ["a metrics port equal to the service port", "prod", (c) => (c.service.metricsPort = c.service.port), /must differ from service.port[\s\S]*at service\.metricsPort/],
    [
      "an S3 state key that does not name the environment",
      "prod",
      (c) => (c.backend = { type: "s3", bucket: "tf-state-bucket", key: "shared.tfstate", region: "eu-west-1" }),
      /does not name the environment prod[\s\S]*at backend\.key/,
    ],
    ["a malformed account id", "dev", (c) => (c.accountId = "1234"), /12-digit AWS account id[\s\S]*at accountId/],
    ["a CircleCI project id that is not a UUID", "dev", (c) => (c.ci.circleciProjectId = "my-project"), /CircleCI project id[\s\S]*at ci\.circleciProjectId/],
  ];

  it.each(invalid)("rejects %s with the environment, the path and the reason", (_what, name, change, expected) => {
    const message = errorOf(() => parseEnvironment(name, variant(name, change)));
    expect(message).toContain(`environment "${name}" is invalid`);
    expect(message).toMatch(expected);
  });

  it("rejects VPC ranges that overlap across environments", () => {
    const inputs = { ...DECLARED_ENVIRONMENTS, staging: variant("staging", (c) => (c.network.vpcCidr = "10.10.0.0/16")) };
    inputs.staging.network.subnets = DECLARED_ENVIRONMENTS.dev.network.subnets;
    expect(errorOf(() => parseEnvironments(inputs))).toMatch(/environment "staging" is invalid:[\s\S]*VPC 10\.10\.0\.0\/16 overlaps dev's VPC/);
  });

  it("requires exactly one CircleCI OIDC provider per AWS account", () => {
    const twoCreators = { ...DECLARED_ENVIRONMENTS, staging: variant("staging", (c) => (c.ci.createOidcProvider = true)) };
    expect(errorOf(() => parseEnvironments(twoCreators))).toMatch(/account 111111111111[\s\S]*found dev, staging/);
    const none = { ...DECLARED_ENVIRONMENTS, prod: variant("prod", (c) => (c.ci.createOidcProvider = false)) };
    expect(errorOf(() => parseEnvironments(none))).toMatch(/account 333333333333[\s\S]*found none/);
  });

  it("requires one fleet Node.js major across environments, because one revision is promoted through all", () => {
    const mixed = { ...DECLARED_ENVIRONMENTS, prod: variant("prod", (c) => (c.fleet.nodeMajorVersion = 22)) };
    expect(errorOf(() => parseEnvironments(mixed))).toMatch(/same fleet\.nodeMajorVersion[\s\S]*dev: 24, staging: 24, prod: 22[\s\S]*→ at fleet\.nodeMajorVersion/);
  });

  it("rejects an odd (short-lived) fleet Node.js major", () => {
    expect(
      errorOf(() =>
        parseEnvironment(
          "dev",
          variant("dev", (c) => (c.fleet.nodeMajorVersion = 25)),
        ),
      ),
    ).toMatch(/even \(LTS\) Node\.js major[\s\S]*→ at fleet\.nodeMajorVersion/);
  });

  it("applies the rules by tier, not by name", () => {
    const inPlace = { strategy: "in-place", deploymentConfig: "CodeDeployDefault.AllAtOnce" } as const;
    // A development-tier staging may deploy in place on one instance; a pre-production dev may not.
    expect(
      parseEnvironment(
        "staging",
        variant("staging", (c) => Object.assign(c, { tier: "development", deployment: inPlace })),
      ).deployment.strategy,
    ).toBe("in-place");
    expect(
      errorOf(() =>
        parseEnvironment(
          "dev",
          variant("dev", (c) => (c.tier = "pre-production")),
        ),
      ),
    ).toMatch(/dev must deploy blue-green[\s\S]*at deployment\.strategy[\s\S]*dev needs at least 2 instances per slot/);
    expect(
      errorOf(() =>
        parseEnvironment(
          "dev",
          variant("dev", (c) => Object.assign(c, { tier: "staging" })),
        ),
      ),
    ).toMatch(/"development"[\s\S]*"pre-production"[\s\S]*"production"[\s\S]*at tier/);
  });

  it("rejects a tier lower than the one before it on the promotion path", () => {
    const inputs = { ...DECLARED_ENVIRONMENTS, prod: variant("prod", (c) => (c.tier = "development")) };
    expect(errorOf(() => parseEnvironments(inputs))).toBe(
      'environment "prod" is invalid:\n✖ tier development comes after staging\'s tier pre-production on the promotion path (dev -> staging -> prod); tiers never go down along it (environments/declared.ts)\n  → at tier',
    );
  });

  it("lists the environments in promotion order, whatever order they are given in", () => {
    const { prod, staging, dev } = DECLARED_ENVIRONMENTS;
    expect(Object.keys(parseEnvironments({ prod, dev, staging }))).toEqual(["dev", "staging", "prod"]);
    expect(Object.values(loadEnvironments()).map((c) => [c.name, c.tier])).toEqual([
      ["dev", "development"],
      ["staging", "pre-production"],
      ["prod", "production"],
    ]);
  });

  it("rejects a name that cannot be part of resource names and CI variables", () => {
    expect(
      errorOf(() =>
        parseEnvironment(
          "dev",
          variant("dev", (c) => (c.name = "Dev_1" as "dev")),
        ),
      ),
    ).toMatch(/2-10 lowercase letters or digits[\s\S]*at name/);
  });

  it("requires every environment to be declared", () => {
    const { prod: _prod, ...withoutProd } = DECLARED_ENVIRONMENTS;
    expect(errorOf(() => parseEnvironments(withoutProd))).toBe('environment "prod" is not declared');
  });

  it("derives resource names that fit AWS limits", () => {
    for (const config of Object.values(loadEnvironments())) {
      const names = resourceNames(config);
      expect(names.loadBalancer.length).toBeLessThanOrEqual(32);
      expect(names.revisionBucket.length).toBeLessThanOrEqual(63);
      expect(names.revisionBucket).toMatch(/^[a-z0-9][a-z0-9-]+[a-z0-9]$/);
      expect(names.releasePrefix).toBe(`releases/${config.name}/`);
    }
  });
});
