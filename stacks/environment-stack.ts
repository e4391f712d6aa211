import { AwsProvider } from "@cdktf/provider-aws/lib/provider/index.js";
import type { Construct } from "constructs";
import { RELEASE_PATH, type EnvironmentConfig } from "../environments/index.js";
import type { HandlerArtifact } from "../release/handler-artifact.js";
import { INITIAL_LIVE_SLOT, resourceNames, SLOTS, type Slot } from "../environments/names.js";
import { CircleciDeployRoles } from "./constructs/circleci-deploy-roles.js";
import { CodeDeployDeployment } from "./constructs/codedeploy-deployment.js";
import { DeploymentTrigger } from "./constructs/deployment-trigger.js";
import { Fleet } from "./constructs/fleet.js";
import { InstanceConnectEndpoint } from "./constructs/instance-connect-endpoint.js";
import { InstanceRole } from "./constructs/instance-role.js";
import { LoadBalancer } from "./constructs/load-balancer.js";
import { Network } from "./constructs/network.js";
import { PrivateBucket } from "./constructs/private-bucket.js";
import { ReleaseAlarms } from "./constructs/release-alarms.js";
import { SecurityGroups } from "./constructs/security-groups.js";
import { renderUserData } from "./constructs/user-data.js";
import { LocalBackend, S3Backend, TerraformOutput, TerraformStack } from "./platform.js";

/**
 * Everything one environment runs on, in that environment's account and region: network,
 * fleet, load balancer, revision bucket, CodeDeploy and the alarms that roll releases back.
 * The stack only composes constructs; each construct models its resources.
 */
export class EnvironmentStack extends TerraformStack {
  public readonly network: Network;
  public readonly revisions: PrivateBucket;
  public readonly fleet: Fleet;
  public readonly loadBalancer: LoadBalancer;
  public readonly deployment: CodeDeployDeployment;
  public readonly trigger: DeploymentTrigger;
  public readonly circleci: CircleciDeployRoles;
  public readonly instanceConnect: InstanceConnectEndpoint;

  /** `triggerCode` is the deployment trigger's package, built once by the app for every stack. */
  constructor(scope: Construct, config: EnvironmentConfig, triggerCode: HandlerArtifact) {
    super(scope, config.name);
    const names = resourceNames(config);

    new AwsProvider(this, "aws", {
      region: config.region,
      allowedAccountIds: [config.accountId],
      defaultTags: [{ tags: { ...config.tags, ManagedBy: "cdktf", Stack: config.name } }],
    });
    this.configureBackend(config);

    this.network = new Network(this, "network", { name: names.prefix, accountId: config.accountId, region: config.region, network: config.network });

    this.revisions = new PrivateBucket(this, "revisions", {
      bucketName: names.revisionBucket,
      versioned: true,
      expireAfterDays: config.revisions.noncurrentVersionDays,
    });

    const securityGroups = new SecurityGroups(this, "security-groups", {
      name: names.prefix,
      vpcId: this.network.vpc.id,
      listenerPorts: config.loadBalancer.certificateArn ? [80, 443] : [80],
      servicePort: config.service.port,
      metricsPort: config.service.metricsPort,
      metricsCidrs: [config.network.vpcCidr],
      loadBalancerCidrs: config.access.loadBalancerCidrs,
    });

    // SSH without a bastion or an open port: the endpoint's group is the only way in on port 22.
    this.instanceConnect = new InstanceConnectEndpoint(this, "instance-connect", {
      name: names.instanceConnectEndpoint,
      policyName: names.sshOperatorsPolicy,
      environment: config.name,
      accountId: config.accountId,
      region: config.region,
      vpcId: this.network.vpc.id,
      privateSubnets: this.network.privateSubnets,
      privateCidrs: config.network.subnets.map((subnet) => subnet.privateCidr),
      instancesSecurityGroup: securityGroups.instances,
    });

    const instanceRole = new InstanceRole(this, "instance-role", {
      roleName: names.instanceRole,
      accountId: config.accountId,
      region: config.region,
      revisionBucketArn: this.revisions.bucket.arn,
      releasePrefix: names.releasePrefix,
    });

    const slots: readonly Slot[] = config.deployment.strategy === "blue-green" ? SLOTS : [INITIAL_LIVE_SLOT];
    this.fleet = new Fleet(this, "fleet", {
      name: names.prefix,
      environment: config.name,
      slots,
      instancesPerSlot: config.fleet.instancesPerSlot,
      instanceType: config.fleet.instanceType,
      amiId: config.fleet.amiId,
      rootVolumeGiB: config.fleet.rootVolumeGiB,
      keyPairName: config.fleet.keyPairName,
      subnets: this.network.privateSubnets,
      securityGroupIds: [securityGroups.instances.id],
      instanceProfileName: instanceRole.profile.name,
      userData: renderUserData({ region: config.region, nodeMajorVersion: config.fleet.nodeMajorVersion, amiHasRuntime: config.fleet.amiHasRuntime }),
    });

    this.loadBalancer = new LoadBalancer(this, "load-balancer", {
      name: names.loadBalancer,
      accessLogBucketName: names.accessLogBucket,
      subnetIds: this.network.publicSubnets.map((subnet) => subnet.id),
      securityGroupId: securityGroups.loadBalancer.id,
      servicePort: config.service.port,
      healthCheckPath: config.service.healthCheckPath,
      settings: config.loadBalancer,
      initialInstanceIds: this.fleet.instances[INITIAL_LIVE_SLOT].map((instance) => instance.id),
      accessLogRetentionDays: config.logRetentionDays,
    });

    const alarms = new ReleaseAlarms(this, "release-alarms", {
      name: names.prefix,
      loadBalancerName: this.loadBalancer.elb.name,
      thresholds: config.alarms,
    });

    this.deployment = new CodeDeployDeployment(this, "codedeploy", {
      environment: config.name,
      accountId: config.accountId,
      region: config.region,
      applicationName: names.application,
      deploymentGroupName: names.deploymentGroup,
      serviceRoleName: names.codeDeployRole,
      loadBalancerName: this.loadBalancer.elb.name,
      deployment: config.deployment,
      rollbackAlarmNames: alarms.alarms.map((alarm) => alarm.alarmName),
    });

    // A new revision under this environment's prefix starts its deployment.
    this.trigger = new DeploymentTrigger(this, "deployment-trigger", {
      config,
      code: triggerCode,
      revisionBucketId: this.revisions.bucket.id,
      revisionBucketArn: this.revisions.bucket.arn,
    });

    // What CircleCI may do here, through OIDC: plan on any branch; upload or promote from main.
    this.circleci = new CircleciDeployRoles(this, "circleci", {
      config,
      releasePath: RELEASE_PATH,
      revisionBucketArn: this.revisions.bucket.arn,
    });

    new TerraformOutput(this, "load_balancer_dns_name", { value: this.loadBalancer.elb.dnsName, description: "Where clients send prediction requests" });
    new TerraformOutput(this, "codedeploy_application", { value: this.deployment.application.name });
    new TerraformOutput(this, "codedeploy_deployment_group", { value: this.deployment.group.deploymentGroupName });
    new TerraformOutput(this, "revision_bucket", { value: this.revisions.bucket.bucket, description: `Upload revisions under ${names.releasePrefix}` });
    new TerraformOutput(this, "release_prefix", { value: names.releasePrefix });
    new TerraformOutput(this, "instance_connect_endpoint_id", { value: this.instanceConnect.endpoint.id, description: "npm run release -- ssh tunnels through it" });
    new TerraformOutput(this, "ssh_operators_policy_arn", {
      value: this.instanceConnect.operatorPolicy.arn,
      description: "Attach to the role or group of whoever may SSH to this environment's instances",
    });
    new TerraformOutput(this, "circleci_plan_role_arn", { value: this.circleci.planRole.arn });
    const releaseRoles = {
      circleci_upload_role_arn: this.circleci.uploadRole,
      circleci_promote_role_arn: this.circleci.promoteRole,
      circleci_promotion_source_role_arn: this.circleci.promotionSourceRole,
    };
    for (const [output, role] of Object.entries(releaseRoles)) if (role) new TerraformOutput(this, output, { value: role.arn });
  }

  private configureBackend(config: EnvironmentConfig): void {
    if (config.backend.type === "local") {
      new LocalBackend(this, { path: `terraform.${config.name}.tfstate` });
      return;
    }
    new S3Backend(this, { bucket: config.backend.bucket, key: config.backend.key, region: config.backend.region, encrypt: true });
    // Terraform >= 1.10 locks with a .tflock object beside the state: no DynamoDB table needed.
    this.addOverride("terraform.backend.s3.use_lockfile", true);
  }
}
