import { CodedeployApp } from "@cdktf/provider-aws/lib/codedeploy-app/index.js";
import { CodedeployDeploymentGroup, type CodedeployDeploymentGroupConfig } from "@cdktf/provider-aws/lib/codedeploy-deployment-group/index.js";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role/index.js";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js";
import { Construct } from "constructs";
import type { EnvironmentConfig } from "../../environments/index.js";
import { ENVIRONMENT_TAG_KEY, INITIAL_LIVE_SLOT, SLOT_TAG_KEY } from "../../environments/names.js";
import { partitionOf } from "./aws-partition.js";
import { serviceTrustPolicy } from "./policy-document.js";

export interface CodeDeployDeploymentProps {
  readonly environment: string;
  readonly accountId: string;
  readonly region: string;
  readonly applicationName: string;
  readonly deploymentGroupName: string;
  readonly serviceRoleName: string;
  readonly loadBalancerName: string;
  readonly deployment: EnvironmentConfig["deployment"];
  /** CloudWatch alarms that stop and roll back a release (at most 10). */
  readonly rollbackAlarmNames: readonly string[];
}

/**
 * The CodeDeploy application and deployment group of an environment. In-place groups deploy
 * to every instance of the environment behind the load balancer. Blue/green groups use the
 * instances we provision (DISCOVER_EXISTING): the group's tags name the original fleet, each
 * deployment names the replacement slot, and the old fleet is kept alive for rollback.
 */
export class CodeDeployDeployment extends Construct {
  public readonly application: CodedeployApp;
  public readonly group: CodedeployDeploymentGroup;
  public readonly serviceRole: IamRole;

  constructor(scope: Construct, id: string, props: CodeDeployDeploymentProps) {
    super(scope, id);
    if (props.rollbackAlarmNames.length > 10) throw new Error(`CodeDeploy accepts at most 10 rollback alarms, got ${props.rollbackAlarmNames.length}`);

    this.application = new CodedeployApp(this, "application", { name: props.applicationName, computePlatform: "Server" });
    this.serviceRole = new IamRole(this, "service-role", {
      name: props.serviceRoleName,
      description: "CodeDeploy service role: manages instances and load balancer registrations during releases",
      assumeRolePolicy: serviceTrustPolicy(this, "trust", "codedeploy.amazonaws.com", props.accountId).json,
    });
    const managedPolicy = new IamRolePolicyAttachment(this, "managed-policy", {
      role: this.serviceRole.name,
      policyArn: `arn:${partitionOf(props.region)}:iam::aws:policy/service-role/AWSCodeDeployRole`,
    });

    const { deployment } = props;
    const environmentFilter = { ec2TagFilter: [{ key: ENVIRONMENT_TAG_KEY, type: "KEY_AND_VALUE", value: props.environment }] };
    const common: CodedeployDeploymentGroupConfig = {
      appName: this.application.name,
      deploymentGroupName: props.deploymentGroupName,
      serviceRoleArn: this.serviceRole.arn,
      deploymentConfigName: deployment.deploymentConfig,
      loadBalancerInfo: { elbInfo: [{ name: props.loadBalancerName }] },
      autoRollbackConfiguration: { enabled: true, events: ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"] },
      alarmConfiguration: { enabled: true, alarms: [...props.rollbackAlarmNames], ignorePollAlarmFailure: false },
      outdatedInstancesStrategy: "UPDATE",
      dependsOn: [managedPolicy],
    };

    if (deployment.strategy === "in-place") {
      this.group = new CodedeployDeploymentGroup(this, "group", {
        ...common,
        deploymentStyle: { deploymentType: "IN_PLACE", deploymentOption: "WITH_TRAFFIC_CONTROL" },
        ec2TagSet: [environmentFilter],
      });
      return;
    }

    const manual = deployment.trafficReroute === "manual";
    this.group = new CodedeployDeploymentGroup(this, "group", {
      ...common,
      deploymentStyle: { deploymentType: "BLUE_GREEN", deploymentOption: "WITH_TRAFFIC_CONTROL" },
      // Two tag sets are ANDed: this environment's instances of the slot that is live at creation.
      ec2TagSet: [environmentFilter, { ec2TagFilter: [{ key: SLOT_TAG_KEY, type: "KEY_AND_VALUE", value: INITIAL_LIVE_SLOT }] }],
      blueGreenDeploymentConfig: {
        deploymentReadyOption: manual ? { actionOnTimeout: "STOP_DEPLOYMENT", waitTimeInMinutes: deployment.manualApprovalMinutes } : { actionOnTimeout: "CONTINUE_DEPLOYMENT" },
        greenFleetProvisioningOption: { action: "DISCOVER_EXISTING" },
        // Terraform owns the instances: terminating them would fight the next plan. Keep them for rollback.
        terminateBlueInstancesOnDeploymentSuccess: { action: "KEEP_ALIVE" },
      },
      // CodeDeploy points the group at the new live slot after each release: a plan must not undo that.
      lifecycle: { ignoreChanges: ["ec2_tag_set"] },
    });
  }
}
