import { beforeAll, describe, expect, it } from "vitest";
import { DECLARED_ENVIRONMENTS, loadEnvironments, parseEnvironments, type EnvironmentName } from "../environments/index.js";
import { synthesizeStack, synthesizeStacks, type Block, type SynthesizedStack } from "./synthesized.js";

const environments = loadEnvironments();
let stacks: Record<EnvironmentName, SynthesizedStack>;

beforeAll(() => {
  stacks = synthesizeStacks(environments);
});

describe.each(["dev", "staging", "prod"] as const)("the %s stack", (name) => {
  const config = environments[name];

  it("matches its snapshot", () => {
    expect(stacks[name].json).toMatchSnapshot();
  });

  it("pins the provider to the environment's account and region, with real credential checks", () => {
    const [provider] = stacks[name].json.provider.aws as Block[];
    expect(provider).toMatchObject({ region: config.region, allowed_account_ids: [config.accountId] });
    expect(Object.keys(provider!).filter((key) => key.startsWith("skip_") || key.endsWith("_key"))).toEqual([]);
    expect(provider!.default_tags[0].tags).toMatchObject({ Environment: name, ManagedBy: "cdktf" });
  });

  it("puts instances in private subnets with IMDSv2, encrypted disks, the instance profile and slot tags", () => {
    const instances = Object.values(stacks[name].resources("aws_instance"));
    const slots = config.deployment.strategy === "blue-green" ? ["blue", "green"] : ["blue"];
    expect(instances).toHaveLength(slots.length * config.fleet.instancesPerSlot);
    for (const slot of slots) expect(instances.filter((i) => i.tags.DeploymentSlot === slot)).toHaveLength(config.fleet.instancesPerSlot);
    for (const instance of instances) {
      expect(instance.metadata_options).toMatchObject({ http_tokens: "required", http_put_response_hop_limit: 1 });
      expect(instance.root_block_device).toMatchObject({ encrypted: true, volume_type: "gp3" });
      expect(instance.associate_public_ip_address).toBe(false);
      expect(instance.iam_instance_profile).toMatch(/^\$\{aws_iam_instance_profile\./);
      expect(instance.subnet_id).toMatch(/^\$\{aws_subnet\.network_private-/);
      expect(instance.tags.Environment).toBe(name);
      expect(instance.user_data).toContain(`aws-codedeploy-${config.region}`);
      expect(instance.user_data).toContain(`latest-v${config.fleet.nodeMajorVersion}.x`);
      expect(instance.user_data).toContain("install auto -v releases/codedeploy-agent_1.8.1-26_all.deb");
    }
    const zones = new Set(instances.map((i) => i.subnet_id));
    expect(zones.size).toBe(Math.min(config.fleet.instancesPerSlot, config.network.subnets.length));
  });

  it("fronts the service with a Classic Load Balancer that checks readiness and drains connections", () => {
    const elb = stacks[name].resource("aws_elb", "load-balancer");
    expect(elb.listener).toEqual([{ lb_port: 80, lb_protocol: "HTTP", instance_port: config.service.port, instance_protocol: "HTTP" }]);
    expect(elb.health_check).toMatchObject({
      target: `HTTP:${config.service.port}${config.service.healthCheckPath}`,
      interval: config.loadBalancer.healthCheck.intervalSeconds,
      timeout: config.loadBalancer.healthCheck.timeoutSeconds,
    });
    expect(elb).toMatchObject({ cross_zone_load_balancing: true, connection_draining: true, connection_draining_timeout: config.loadBalancer.connectionDrainingSeconds });
    expect(elb.access_logs).toMatchObject({ enabled: true });
    expect(elb.subnets.every((s: string) => s.startsWith("${aws_subnet.network_public-"))).toBe(true);
    // CodeDeploy moves registrations; the next plan must not move them back.
    expect(elb.lifecycle.ignore_changes).toEqual(["instances"]);
    expect(elb.instances.every((ref: string) => ref.startsWith("${aws_instance.fleet_blue-"))).toBe(true);
  });

  it("never forwards SSH through the load balancer", () => {
    const elb = stacks[name].resource("aws_elb", "load-balancer");
    expect((elb.listener as Block[]).map((l) => l.instance_port)).not.toContain(22);
  });

  it("opens only the listener to clients, the service port to the load balancer, the metrics port to the VPC, and SSH to the Instance Connect Endpoint", () => {
    const ingress = Object.entries(stacks[name].resources("aws_vpc_security_group_ingress_rule"));
    for (const [, rule] of ingress) expect(rule.description).toBeTruthy();
    const toLoadBalancer = ingress.filter(([id]) => id.includes("load-balancer-listener")).map(([, r]) => r);
    expect(toLoadBalancer.map((r) => [r.from_port, r.cidr_ipv4 ?? r.cidr_ipv6])).toEqual(config.access.loadBalancerCidrs.map((cidr) => [80, cidr]));
    const service = ingress.filter(([, r]) => r.from_port === config.service.port).map(([, r]) => r);
    expect(service).toHaveLength(1);
    expect(service[0]!.referenced_security_group_id).toMatch(/^\$\{aws_security_group\.security-groups_load-balancer/);
    const metrics = ingress.filter(([, r]) => r.from_port === config.service.metricsPort).map(([, r]) => r);
    expect(metrics.map((r) => [r.to_port, r.cidr_ipv4])).toEqual([[config.service.metricsPort, config.network.vpcCidr]]);
    expect(ingress.map(([, r]) => r.from_port).filter((p) => ![80, 22, config.service.port, config.service.metricsPort].includes(p))).toEqual([]);
  });

  it("admits SSH to the instances only from the Instance Connect Endpoint's group, which reaches nothing but port 22 of the instances", () => {
    const stack = stacks[name];
    const rulesFor = (type: string) => Object.values(stack.resources(type)).filter((r) => r.from_port <= 22 && r.to_port >= 22);
    const sshIn = rulesFor("aws_vpc_security_group_ingress_rule");
    expect(sshIn).toEqual([
      expect.objectContaining({
        security_group_id: expect.stringMatching(/^\$\{aws_security_group\.security-groups_instances/),
        referenced_security_group_id: expect.stringMatching(/^\$\{aws_security_group\.instance-connect_security-group/),
        from_port: 22,
        to_port: 22,
      }),
    ]);
    for (const rule of sshIn) expect(rule.cidr_ipv4 ?? rule.cidr_ipv6).toBeUndefined();
    const group = stack.resource("aws_security_group", "instance-connect");
    expect(group.ingress).toBeUndefined();
    const fromEndpoint = Object.values(stack.resources("aws_vpc_security_group_egress_rule")).filter((r) => String(r.security_group_id).includes("instance-connect"));
    expect(fromEndpoint).toEqual([
      expect.objectContaining({ ip_protocol: "tcp", from_port: 22, to_port: 22, referenced_security_group_id: expect.stringMatching(/^\$\{aws_security_group\.security-groups_instances/) }),
    ]);
    const endpoint = stack.resource("aws_ec2_instance_connect_endpoint", "instance-connect");
    expect(endpoint.subnet_id).toMatch(/^\$\{aws_subnet\.network_private-/);
    expect(endpoint.security_group_ids).toEqual([expect.stringMatching(/^\$\{aws_security_group\.instance-connect_security-group/)]);
    // With the client's address preserved, the instances would see laptops that no rule admits.
    expect(endpoint.preserve_client_ip).toBe(false);
  });

  it("gives operators a managed policy: tunnels to port 22 through this endpoint, one-time keys for ubuntu on this environment's instances only", () => {
    const stack = stacks[name];
    const policy = stack.resource("aws_iam_policy", "instance-connect");
    expect(policy.name).toBe(`mpg-model-${name}-ssh-operators`);
    const statements = stack.policyDocument(policy.policy).statement as Block[];
    const bySid = Object.fromEntries(statements.map((s) => [s.sid, s]));
    expect(bySid.TunnelToSshOnly).toMatchObject({
      actions: ["ec2-instance-connect:OpenTunnel"],
      resources: [expect.stringMatching(/^\$\{aws_ec2_instance_connect_endpoint\.instance-connect_endpoint_[A-Z0-9]+\.arn\}$/)],
    });
    expect(bySid.TunnelToSshOnly.condition).toEqual(
      expect.arrayContaining([
        { test: "NumericEquals", variable: "ec2-instance-connect:remotePort", values: ["22"] },
        { test: "IpAddress", variable: "ec2-instance-connect:privateIpAddress", values: config.network.subnets.map((s) => s.privateCidr) },
      ]),
    );
    expect(bySid.OneTimeKeysToThisEnvironment).toMatchObject({
      actions: ["ec2-instance-connect:SendSSHPublicKey"],
      resources: [`arn:aws:ec2:${config.region}:${config.accountId}:instance/*`],
      condition: [
        { test: "StringEquals", variable: "aws:ResourceTag/Environment", values: [name] },
        { test: "StringEquals", variable: "ec2:osuser", values: ["ubuntu"] },
      ],
    });
    // Nothing else may push keys or open tunnels, and the read-only part is Describe calls only.
    const others = statements.filter((s) => !["TunnelToSshOnly", "OneTimeKeysToThisEnvironment"].includes(s.sid));
    expect(others.flatMap((s) => s.actions as string[]).every((a) => /^(ec2|elasticloadbalancing):Describe[A-Za-z]+$/.test(a))).toBe(true);
    expect(stack.json.output.ssh_operators_policy_arn.value).toMatch(/^\$\{aws_iam_policy\.instance-connect_operator-policy_[A-Z0-9]+\.arn\}$/);
  });

  it("keeps revisions in a versioned, encrypted, private, TLS-only bucket that expires old versions", () => {
    const stack = stacks[name];
    const bucket = stack.resource("aws_s3_bucket", "revisions");
    expect(bucket.bucket).toBe(`mpg-model-${name}-revisions-${config.accountId}-${config.region}`);
    expect(stack.resource("aws_s3_bucket_versioning", "revisions").versioning_configuration.status).toBe("Enabled");
    expect(stack.resource("aws_s3_bucket_server_side_encryption_configuration", "revisions").rule[0].apply_server_side_encryption_by_default.sse_algorithm).toBe("AES256");
    expect(stack.resource("aws_s3_bucket_public_access_block", "revisions")).toMatchObject({
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(stack.resource("aws_s3_bucket_ownership_controls", "revisions").rule.object_ownership).toBe("BucketOwnerEnforced");
    expect(stack.resource("aws_s3_bucket_lifecycle_configuration", "revisions").rule[0].noncurrent_version_expiration[0].noncurrent_days).toBe(config.revisions.noncurrentVersionDays);
    const policy = stack.policyDocument(stack.resource("aws_s3_bucket_policy", "revisions").policy);
    expect(policy.statement[0]).toMatchObject({ effect: "Deny", condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }] });
  });

  it("lets instances read only this environment's revisions and the CodeDeploy agent bucket", () => {
    const stack = stacks[name];
    const policy = stack.policyDocument(stack.resource("aws_iam_role_policy", "instance-role").policy);
    expect(policy.statement).toEqual([
      expect.objectContaining({ actions: ["s3:GetObject", "s3:GetObjectVersion"], resources: [expect.stringMatching(new RegExp(`/releases/${name}/\\*$`))] }),
      expect.objectContaining({
        actions: ["s3:GetObject", "s3:ListBucket"],
        resources: [`arn:aws:s3:::aws-codedeploy-${config.region}`, `arn:aws:s3:::aws-codedeploy-${config.region}/*`],
      }),
    ]);
  });

  it("gives CodeDeploy the AWS managed service-role policy and nothing else", () => {
    const attachments = Object.values(stacks[name].resources("aws_iam_role_policy_attachment")).filter((a) => String(a.role).includes("codedeploy"));
    expect(attachments.map((a) => a.policy_arn)).toEqual(["arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole"]);
    const trust = stacks[name].policyDocument(stacks[name].resource("aws_iam_role", "codedeploy_service-role").assume_role_policy);
    expect(trust.statement[0].principals).toEqual([{ type: "Service", identifiers: ["codedeploy.amazonaws.com"] }]);
  });

  it("rolls a release back on failure and on any of its alarms", () => {
    const group = stacks[name].resource("aws_codedeploy_deployment_group", "codedeploy");
    expect(group.auto_rollback_configuration).toEqual({ enabled: true, events: ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"] });
    const alarms = Object.values(stacks[name].resources("aws_cloudwatch_metric_alarm"));
    expect(alarms.map((a) => a.metric_name).sort()).toEqual(["HTTPCode_Backend_5XX", "HTTPCode_ELB_5XX", "UnHealthyHostCount"]);
    expect(group.alarm_configuration.alarms).toHaveLength(alarms.length);
    expect(group.alarm_configuration.enabled).toBe(true);
    expect(group.load_balancer_info).toEqual({ elb_info: [{ name: expect.stringMatching(/^\$\{aws_elb\./) }] });
    expect(group.load_balancer_info.target_group_info).toBeUndefined();
  });

  it("routes private subnets through the S3 gateway endpoint and logs every flow", () => {
    const stack = stacks[name];
    expect(Object.values(stack.resources("aws_subnet"))).toHaveLength(2 * config.network.subnets.length);
    const natCount = { none: 0, single: 1, "per-az": config.network.subnets.length }[config.network.natGateways];
    expect(Object.values(stack.resources("aws_nat_gateway"))).toHaveLength(natCount);
    const endpoint = stack.resource("aws_vpc_endpoint", "s3-endpoint");
    expect(endpoint).toMatchObject({ service_name: `com.amazonaws.${config.region}.s3`, vpc_endpoint_type: "Gateway" });
    expect(endpoint.route_table_ids).toHaveLength(config.network.subnets.length);
    expect(stack.resource("aws_flow_log", "network")).toMatchObject({ traffic_type: "ALL", log_destination_type: "cloud-watch-logs" });
    expect(stack.resource("aws_default_security_group", "network")).toMatchObject({ ingress: [], egress: [] });
  });

  it("starts a deployment when a revision lands under the environment's prefix of its own bucket", () => {
    const stack = stacks[name];
    const notification = stack.resource("aws_s3_bucket_notification", "deployment-trigger");
    expect(notification.bucket).toMatch(/^\$\{aws_s3_bucket\.revisions_bucket/);
    expect(notification.lambda_function).toEqual([expect.objectContaining({ events: ["s3:ObjectCreated:*"], filter_prefix: `releases/${name}/`, filter_suffix: ".zip" })]);
    const lambda = stack.resource("aws_lambda_function", "deployment-trigger");
    expect(lambda.environment.variables).toMatchObject({ DEPLOYMENT_GROUP_NAME: `mpg-model-${name}`, DEPLOYMENT_STRATEGY: config.deployment.strategy, RELEASE_PREFIX: `releases/${name}/` });
  });

  it("outputs what the release tools and clients need", () => {
    expect(Object.keys(stacks[name].json.output).sort()).toEqual(
      expect.arrayContaining([
        "codedeploy_application",
        "codedeploy_deployment_group",
        "instance_connect_endpoint_id",
        "load_balancer_dns_name",
        "release_prefix",
        "revision_bucket",
        "ssh_operators_policy_arn",
      ]),
    );
  });
});

describe("deployment styles", () => {
  it("deploys dev in place behind the load balancer", () => {
    const group = stacks.dev.resource("aws_codedeploy_deployment_group", "codedeploy");
    expect(group.deployment_style).toEqual({ deployment_type: "IN_PLACE", deployment_option: "WITH_TRAFFIC_CONTROL" });
    expect(group.ec2_tag_set).toEqual([{ ec2_tag_filter: [{ key: "Environment", type: "KEY_AND_VALUE", value: "dev" }] }]);
    expect(group.blue_green_deployment_config).toBeUndefined();
  });

  it.each(["staging", "prod"] as const)("switches %s blue/green onto the existing replacement slot and keeps the old fleet", (name) => {
    const group = stacks[name].resource("aws_codedeploy_deployment_group", "codedeploy");
    expect(group.deployment_style).toEqual({ deployment_type: "BLUE_GREEN", deployment_option: "WITH_TRAFFIC_CONTROL" });
    expect(group.blue_green_deployment_config).toEqual({
      deployment_ready_option: { action_on_timeout: "CONTINUE_DEPLOYMENT" },
      green_fleet_provisioning_option: { action: "DISCOVER_EXISTING" },
      terminate_blue_instances_on_deployment_success: { action: "KEEP_ALIVE" },
    });
    // The original fleet: this environment's blue slot (tag sets are ANDed).
    expect(group.ec2_tag_set).toEqual([
      { ec2_tag_filter: [{ key: "Environment", type: "KEY_AND_VALUE", value: name }] },
      { ec2_tag_filter: [{ key: "DeploymentSlot", type: "KEY_AND_VALUE", value: "blue" }] },
    ]);
    expect(group.lifecycle.ignore_changes).toEqual(["ec2_tag_set"]);
  });

  it("waits for a manual go-ahead when traffic reroute is manual", () => {
    const prod = structuredClone(DECLARED_ENVIRONMENTS.prod);
    prod.deployment = { strategy: "blue-green", deploymentConfig: "CodeDeployDefault.OneAtATime", trafficReroute: "manual", manualApprovalMinutes: 45 };
    const stack = synthesizeStack(parseEnvironments({ ...DECLARED_ENVIRONMENTS, prod }), "prod");
    const group = stack.resource("aws_codedeploy_deployment_group", "codedeploy");
    expect(group.blue_green_deployment_config.deployment_ready_option).toEqual({ action_on_timeout: "STOP_DEPLOYMENT", wait_time_in_minutes: 45 });
    expect(group.deployment_config_name).toBe("CodeDeployDefault.OneAtATime");
  });
});

describe("configuration variants", () => {
  it("adds an HTTPS listener and opens 443 when a certificate is configured", () => {
    const prod = structuredClone(DECLARED_ENVIRONMENTS.prod);
    const certificateArn = "arn:aws:acm:eu-west-1:333333333333:certificate/0f2b7c1e-5d1a-4c3e-9f5b-2a7d8e6c4b10";
    prod.loadBalancer.certificateArn = certificateArn;
    const stack = synthesizeStack(parseEnvironments({ ...DECLARED_ENVIRONMENTS, prod }), "prod");
    expect(stack.resource("aws_elb", "load-balancer").listener).toContainEqual({
      lb_port: 443,
      lb_protocol: "HTTPS",
      instance_port: 8080,
      instance_protocol: "HTTP",
      ssl_certificate_id: certificateArn,
    });
    const ports = Object.values(stack.resources("aws_vpc_security_group_ingress_rule")).map((r) => r.from_port);
    expect(ports).toContain(443);
  });

  it("uses an S3 backend with a native lock file when configured", () => {
    const staging = structuredClone(DECLARED_ENVIRONMENTS.staging);
    staging.backend = { type: "s3", bucket: "mpg-model-terraform-state", key: "stacks/staging.tfstate", region: "eu-west-1" };
    const stack = synthesizeStack(parseEnvironments({ ...DECLARED_ENVIRONMENTS, staging }), "staging");
    expect(stack.json.terraform.backend).toEqual({
      s3: { bucket: "mpg-model-terraform-state", key: "stacks/staging.tfstate", region: "eu-west-1", encrypt: true, use_lockfile: true },
    });
  });

  it("reaches CodeDeploy through interface endpoints when there is no NAT", () => {
    const dev = structuredClone(DECLARED_ENVIRONMENTS.dev);
    dev.network.natGateways = "none";
    dev.fleet.amiHasRuntime = true;
    const stack = synthesizeStack(parseEnvironments({ ...DECLARED_ENVIRONMENTS, dev }), "dev");
    expect(Object.values(stack.resources("aws_nat_gateway"))).toHaveLength(0);
    const services = Object.values(stack.resources("aws_vpc_endpoint")).map((e) => e.service_name);
    expect(services.sort()).toEqual(["com.amazonaws.eu-west-1.codedeploy", "com.amazonaws.eu-west-1.codedeploy-commands-secure", "com.amazonaws.eu-west-1.s3"]);
    expect(stack.resource("aws_instance", "blue-0").user_data).not.toContain("apt-get");
  });
});
