/**
 * The one schema every environment config must satisfy. The TypeScript type is inferred
 * from it, so the shape is written once; cross-field rules live here too, so a bad config
 * fails before any construct is created.
 */
import { z } from "zod";
import { contains, isNetworkAddress, overlaps } from "./cidr.js";

/**
 * What an environment is for, which decides the rules it must keep. Ordered: along the promotion
 * path (environments/declared.ts) a tier never comes before a lower one.
 *   development: a sandbox; may deploy in place on one instance in one zone.
 *   pre-production, production: blue/green, at least 2 instances per slot in at least 2 zones.
 *   production: the pipeline also waits for a person's approval before releasing to it.
 */
export const TIERS = ["development", "pre-production", "production"] as const;
export const Tier = z.enum(TIERS);
export type Tier = z.infer<typeof Tier>;

/**
 * Environment names go into resource names (the load balancer's allows 32 characters), CircleCI
 * job names and context variables (DEV_LOAD_BALANCER_DNS): short, lowercase, no separators.
 * Which names exist is decided by the list in declared.ts, not here.
 */
const EnvironmentNameText = z.string().regex(/^[a-z][a-z0-9]{1,9}$/, "must be 2-10 lowercase letters or digits, starting with a letter");

/** Retention values CloudWatch Logs accepts; anything else fails at apply time. */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;
const LogRetentionDays = z
  .number()
  .int()
  .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
    message: `must be one of CloudWatch's retention values: ${LOG_RETENTION_DAYS.join(", ")}`,
  });

const Ipv4Network = z.cidrv4().refine(isNetworkAddress, { message: "host bits are set: use the network address (e.g. 10.0.0.0/16)" });
const IngressCidr = z.union([Ipv4Network, z.cidrv6()], { error: "must be an IPv4 or IPv6 CIDR block" });

const Region = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, "must be an AWS region code such as eu-west-1");
const AvailabilityZone = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d[a-z]$/, "must be an availability zone name such as eu-west-1a");

const Port = z.number().int().min(1024, "must be an unprivileged port (1024-65535)").max(65535);

const HealthCheck = z
  .strictObject({
    intervalSeconds: z.number().int().min(5).max(300),
    timeoutSeconds: z.number().int().min(2).max(60),
    healthyThreshold: z.number().int().min(2).max(10),
    unhealthyThreshold: z.number().int().min(2).max(10),
  })
  .refine((hc) => hc.timeoutSeconds < hc.intervalSeconds, {
    message: "timeoutSeconds must be less than intervalSeconds",
    path: ["timeoutSeconds"],
  });

const InPlaceDeployment = z.strictObject({
  strategy: z.literal("in-place"),
  /** How many instances CodeDeploy takes out of service at once. */
  deploymentConfig: z.enum(["CodeDeployDefault.AllAtOnce", "CodeDeployDefault.HalfAtATime", "CodeDeployDefault.OneAtATime"]),
});

const BlueGreenDeployment = z.strictObject({
  strategy: z.literal("blue-green"),
  deploymentConfig: z.enum(["CodeDeployDefault.AllAtOnce", "CodeDeployDefault.HalfAtATime", "CodeDeployDefault.OneAtATime"]),
  /**
   * automatic: traffic moves as soon as the replacement fleet passes its hooks.
   * manual: CodeDeploy waits up to manualApprovalMinutes for ContinueDeployment.
   */
  trafficReroute: z.enum(["automatic", "manual"]),
  manualApprovalMinutes: z.number().int().min(1).max(2880),
});

const Backend = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("local") }),
  z.strictObject({
    type: z.literal("s3"),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name"),
    key: z
      .string()
      .min(1)
      .regex(/\.tfstate$/, "should end in .tfstate"),
    region: Region,
  }),
]);

export const EnvironmentConfigSchema = z
  .strictObject({
    name: EnvironmentNameText,
    tier: Tier,
    /** Prefix of every resource name; short because the load balancer name allows 32 characters. */
    project: z.string().regex(/^[a-z][a-z0-9-]{1,14}[a-z0-9]$/, "must be 3-16 lowercase letters, digits or hyphens"),
    /** The provider refuses to run against any other account: a prod plan cannot land in dev by mistake. */
    accountId: z.string().regex(/^\d{12}$/, "must be a 12-digit AWS account id"),
    region: Region,
    network: z.strictObject({
      vpcCidr: Ipv4Network.refine((c) => Number(c.split("/")[1]) >= 16 && Number(c.split("/")[1]) <= 28, {
        message: "a VPC CIDR must be between /16 and /28",
      }),
      /** One public/private pair per availability zone: the subnets' zones are the environment's zones. */
      subnets: z
        .array(
          z.strictObject({
            availabilityZone: AvailabilityZone,
            publicCidr: Ipv4Network,
            privateCidr: Ipv4Network,
          }),
        )
        .min(1)
        .max(6),
      /** none: only for AMIs that already carry Node.js and the CodeDeploy agent (see fleet.amiHasRuntime). */
      natGateways: z.enum(["none", "single", "per-az"]),
      flowLogRetentionDays: LogRetentionDays,
    }),
    fleet: z.strictObject({
      instanceType: z.string().regex(/^[a-z][a-z0-9-]*\d[a-z0-9-]*\.(nano|micro|small|medium|large|metal|\d*xlarge|metal-\d+xl)$/, "must be an EC2 instance type such as t3.small"),
      amiId: z.string().regex(/^ami-([0-9a-f]{8}|[0-9a-f]{17})$/, "must be an AMI id: ami- followed by 8 or 17 hex digits"),
      /** True when the AMI already has Node.js and the CodeDeploy agent: user data then only checks them. */
      amiHasRuntime: z.boolean(),
      /** Node.js major version the service is built for; user data installs it. Even (LTS) majors only; synthesis also checks its end of support (runtime-support.ts). */
      nodeMajorVersion: z
        .number()
        .int()
        .min(20)
        .max(30)
        .refine((major) => major % 2 === 0, { message: "must be an even (LTS) Node.js major: odd majors are supported for 6 months only" }),
      instancesPerSlot: z.number().int().min(1).max(20),
      rootVolumeGiB: z.number().int().min(8).max(200),
      /** Optional EC2 key pair for SSH; without one, SSH needs EC2 Instance Connect or SSM. */
      keyPairName: z.string().min(1).optional(),
    }),
    deployment: z.discriminatedUnion("strategy", [InPlaceDeployment, BlueGreenDeployment]),
    access: z.strictObject({
      /** Who may reach the load balancer's listeners. */
      loadBalancerCidrs: z.array(IngressCidr).min(1),
      /**
       * Retired: SSH reaches the instances only through the environment's EC2 Instance Connect
       * Endpoint, whose security group is the only one the instances admit on port 22. Who may
       * SSH is decided by IAM (the stack's ssh_operators_policy_arn output), not by networks.
       */
      sshCidrs: z
        .undefined({
          error:
            "access.sshCidrs is retired: SSH goes through the environment's EC2 Instance Connect Endpoint and is granted by IAM (attach the stack output ssh_operators_policy_arn to the operators' role); delete this key (README, \"SSH to an instance\")",
        })
        .optional(),
    }),
    service: z.strictObject({
      port: Port,
      /**
       * The service's /metrics listener (METRICS_PORT): never behind the load balancer; the instances' security
       * group admits it from inside the VPC only (a Prometheus in the VPC scrapes each instance's private IP).
       */
      metricsPort: Port,
      healthCheckPath: z.string().regex(/^\/[A-Za-z0-9/_.-]*$/, "must be an absolute URL path such as /ready"),
      logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]),
      maxBatchRows: z.number().int().min(1).max(100_000),
    }),
    loadBalancer: z.strictObject({
      /** ACM certificate for an HTTPS listener; omitted means HTTP only. */
      certificateArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/, "must be an ACM certificate ARN")
        .optional(),
      healthCheck: HealthCheck,
      idleTimeoutSeconds: z.number().int().min(1).max(4000),
      connectionDrainingSeconds: z.number().int().min(1).max(3600),
      accessLogIntervalMinutes: z.union([z.literal(5), z.literal(60)]),
    }),
    alarms: z.strictObject({
      /** Backend 5xx responses per minute that count as a failed release. */
      http5xxPerMinute: z.number().int().min(1),
      /** Unhealthy instances behind the load balancer that count as a failed release. */
      unhealthyHosts: z.number().int().min(1),
      evaluationMinutes: z.number().int().min(1).max(60),
    }),
    revisions: z.strictObject({
      /** Superseded revision versions are kept this long for rollback, then expire. */
      noncurrentVersionDays: z.number().int().min(1).max(3650),
    }),
    ci: z.strictObject({
      /** CircleCI organization id (UUID): the OIDC issuer is oidc.circleci.com/org/<id>, the audience is the id. */
      circleciOrganizationId: z.uuid("must be the CircleCI organization id (a UUID, Organization Settings > Overview)"),
      /** CircleCI project id (UUID): deploy roles trust tokens of this project only. */
      circleciProjectId: z.uuid("must be the CircleCI project id (a UUID, Project Settings > Overview)"),
      /**
       * The repository CircleCI builds, as its OIDC tokens name it (e.g. github.com/acme/mpg-model):
       * release roles trust only main-branch tokens of this repository.
       */
      vcsOrigin: z.string().regex(/^[a-z0-9.-]+\.[a-z]+\/[\w.-]+\/[\w.-]+$/, "must be the repository as host/owner/name, e.g. github.com/acme/mpg-model"),
      /** One environment per AWS account creates the account's CircleCI OIDC provider; the others reference it. */
      createOidcProvider: z.boolean(),
    }),
    logRetentionDays: LogRetentionDays,
    tags: z.record(z.string().regex(/^[\w .:/=+@-]{1,128}$/), z.string().max(256)),
    backend: Backend,
  })
  .superRefine((config, ctx) => {
    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path, message });

    const subnetAzs = config.network.subnets.map((s) => s.availabilityZone);
    subnetAzs.forEach((az, i) => {
      if (!az.startsWith(config.region) || az.length !== config.region.length + 1) {
        issue(["network", "subnets", i, "availabilityZone"], `${az} is not in region ${config.region}`);
      } else if (subnetAzs.indexOf(az) !== i) {
        issue(["network", "subnets", i, "availabilityZone"], `${az} has a subnet pair already: one public/private pair per availability zone`);
      }
    });

    const blocks = config.network.subnets.flatMap((s, i) => [
      { cidr: s.publicCidr, path: ["network", "subnets", i, "publicCidr"] },
      { cidr: s.privateCidr, path: ["network", "subnets", i, "privateCidr"] },
    ]);
    blocks.forEach((block, i) => {
      if (!isValidCidrSyntax(block.cidr) || !isValidCidrSyntax(config.network.vpcCidr)) return;
      if (!contains(config.network.vpcCidr, block.cidr)) issue(block.path, `${block.cidr} is outside the VPC ${config.network.vpcCidr}`);
      blocks.slice(i + 1).forEach((other) => {
        if (isValidCidrSyntax(other.cidr) && overlaps(block.cidr, other.cidr)) issue(other.path, `${other.cidr} overlaps ${block.cidr}`);
      });
    });

    if (config.service.metricsPort === config.service.port) {
      issue(["service", "metricsPort"], `must differ from service.port (${config.service.port}): /metrics must not be reachable through the load balancer`);
    }

    if (config.network.natGateways === "none" && !config.fleet.amiHasRuntime) {
      issue(
        ["network", "natGateways"],
        'instances in private subnets without NAT cannot download Node.js or the CodeDeploy agent: use "single" or "per-az", or an AMI that has them (fleet.amiHasRuntime: true)',
      );
    }

    if (config.tier !== "development") {
      if (config.deployment.strategy !== "blue-green") {
        issue(["deployment", "strategy"], `${config.name} must deploy blue-green so that a bad release never takes the whole fleet down`);
      }
      if (config.fleet.instancesPerSlot < 2) {
        issue(["fleet", "instancesPerSlot"], `${config.name} needs at least 2 instances per slot`);
      }
      if (new Set(subnetAzs).size < 2) {
        issue(["network", "subnets"], `${config.name} needs at least 2 availability zones (a subnet pair in each)`);
      }
    }

    if (config.backend.type === "s3" && !config.backend.key.includes(config.name)) {
      issue(["backend", "key"], `state key ${config.backend.key} does not name the environment ${config.name}: two environments could share one state`);
    }
  });

/**
 * One rule for every CIDR list that must not be "the internet" (defined in cidr.ts by what the
 * list covers, not how it is spelled). The error points at the entry when one entry alone is
 * too wide, at the list when only their union is.
 */
function isValidCidrSyntax(cidr: string): boolean {
  return z.cidrv4().safeParse(cidr).success;
}

export type EnvironmentConfig = z.infer<typeof EnvironmentConfigSchema>;
/** What an environment file declares: checked by TypeScript at edit time, by zod at synth time. */
export type EnvironmentConfigInput = z.input<typeof EnvironmentConfigSchema>;
