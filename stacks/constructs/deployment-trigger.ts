import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group/index.js";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role/index.js";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy/index.js";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function/index.js";
import { LambdaFunctionEventInvokeConfig } from "@cdktf/provider-aws/lib/lambda-function-event-invoke-config/index.js";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission/index.js";
import { S3BucketNotification } from "@cdktf/provider-aws/lib/s3-bucket-notification/index.js";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue/index.js";
import { Construct } from "constructs";
import type { EnvironmentConfig } from "../../environments/index.js";
import { TRIGGER_RUNTIME } from "../../environments/runtime-support.js";
import { resourceNames } from "../../environments/names.js";
import { AssetType, TerraformAsset } from "../platform.js";
import { partitionOf } from "./aws-partition.js";
import { policyDocument, serviceTrustPolicy } from "./policy-document.js";

export interface DeploymentTriggerProps {
  /**
   * The environment's validated config. Names (function, application, group, load balancer,
   * release prefix) come from resourceNames(config); account and region build every ARN, so
   * nothing is looked up from AWS at synth time; strategy and log retention come from it too.
   */
  readonly config: Pick<EnvironmentConfig, "name" | "project" | "accountId" | "region" | "logRetentionDays"> & {
    readonly deployment: Pick<EnvironmentConfig["deployment"], "strategy" | "deploymentConfig">;
  };
  /** Name (aws_s3_bucket.id) of the environment's versioned revision bucket; the notification is attached to it. */
  readonly revisionBucketId: string;
  /** ARN of the same bucket: the invoke permission is limited to it (source_arn). */
  readonly revisionBucketArn: string;
  /**
   * Reserved concurrency. 1 (the default) serialises the handler's list-then-create, so two
   * deliveries of the same object cannot both start a deployment. Accounts must keep 10
   * unreserved executions; a fresh account with a quota of 10 cannot reserve any.
   */
  readonly reservedConcurrency?: number;
  /**
   * The handler's deployment package (release/handler-artifact.ts), built once by the app for every
   * stack: its path, and its sha256 as the asset hash. The construct only refers to it.
   */
  readonly code: { readonly zipPath: string; readonly sha256: string };
}

/**
 * The continuous-deployment trigger of one environment: a new .zip under the environment's
 * release prefix in its revision bucket invokes a Lambda function that starts a CodeDeploy
 * deployment of exactly that object version (release/handler.ts). Failed events (after
 * Lambda's async retries) go to an encrypted SQS queue with the original event, so no
 * release is ever dropped silently.
 *
 * The bucket notification owns the bucket's whole notification configuration (S3 allows one):
 * nothing else may attach notifications to the revision bucket.
 */
export class DeploymentTrigger extends Construct {
  public readonly function: LambdaFunction;
  public readonly role: IamRole;
  public readonly logGroup: CloudwatchLogGroup;
  public readonly failureQueue: SqsQueue;
  public readonly invokeConfig: LambdaFunctionEventInvokeConfig;
  public readonly permission: LambdaPermission;
  public readonly notification: S3BucketNotification;

  constructor(scope: Construct, id: string, props: DeploymentTriggerProps) {
    super(scope, id);
    const { config } = props;
    const names = resourceNames(config);
    const partition = partitionOf(config.region);
    const arn = (service: string, resource: string): string => `arn:${partition}:${service}:${config.region}:${config.accountId}:${resource}`;

    this.logGroup = new CloudwatchLogGroup(this, "logs", {
      name: `/aws/lambda/${names.triggerFunction}`,
      retentionInDays: config.logRetentionDays,
    });

    this.failureQueue = new SqsQueue(this, "failures", {
      name: `${names.triggerFunction}-failures`,
      sqsManagedSseEnabled: true,
      // The longest SQS allows: failed releases wait two weeks for someone to redrive them.
      messageRetentionSeconds: 1_209_600,
    });

    this.role = new IamRole(this, "role", {
      name: names.triggerFunction,
      description: `Starts CodeDeploy deployments of new ${config.name} revisions`,
      assumeRolePolicy: serviceTrustPolicy(this, "trust", "lambda.amazonaws.com", config.accountId).json,
    });

    const groupArn = arn("codedeploy", `deploymentgroup:${names.application}/${names.deploymentGroup}`);
    new IamRolePolicy(this, "policy", {
      role: this.role.id,
      name: "deployment-trigger",
      policy: policyDocument(this, "permissions", [
        {
          sid: "OwnLogGroupOnly",
          effect: "Allow",
          actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
          resources: [`${this.logGroup.arn}:*`],
        },
        {
          sid: "DeployToOwnGroup",
          effect: "Allow",
          actions: [
            "codedeploy:CreateDeployment",
            "codedeploy:GetDeploymentGroup",
            // Points a blue/green group's original fleet at the slot the load balancer serves.
            "codedeploy:UpdateDeploymentGroup",
            "codedeploy:ListDeployments",
            "codedeploy:GetDeployment",
            "codedeploy:BatchGetDeployments",
          ],
          resources: [groupArn],
        },
        {
          // CreateDeployment also checks these on the application and the deployment config.
          sid: "CreateDeploymentPrerequisites",
          effect: "Allow",
          actions: ["codedeploy:GetApplication", "codedeploy:GetApplicationRevision", "codedeploy:RegisterApplicationRevision"],
          resources: [arn("codedeploy", `application:${names.application}`)],
        },
        {
          sid: "ReadDeploymentConfig",
          effect: "Allow",
          actions: ["codedeploy:GetDeploymentConfig"],
          resources: [arn("codedeploy", `deploymentconfig:${config.deployment.deploymentConfig}`)],
        },
        {
          // ec2:DescribeInstances and the Classic Load Balancer's Describe* actions support no
          // resource-level permissions: "*" is the only resource IAM accepts for them.
          sid: "ReadWhichSlotIsLive",
          effect: "Allow",
          actions: ["ec2:DescribeInstances", "elasticloadbalancing:DescribeLoadBalancers"],
          resources: ["*"],
        },
        {
          sid: "SendFailedEvents",
          effect: "Allow",
          actions: ["sqs:SendMessage"],
          resources: [this.failureQueue.arn],
        },
      ]).json,
    });

    const asset = new TerraformAsset(this, "code", { path: props.code.zipPath, type: AssetType.FILE, assetHash: props.code.sha256 });

    this.function = new LambdaFunction(this, "function", {
      functionName: names.triggerFunction,
      description: `Deploys new revisions under s3://${names.revisionBucket}/${names.releasePrefix} to ${names.deploymentGroup}`,
      role: this.role.arn,
      runtime: TRIGGER_RUNTIME,
      architectures: ["arm64"],
      handler: "index.handler",
      filename: asset.path,
      memorySize: 256,
      // Slot lookup + a few CodeDeploy calls, with throttling backoff: well under a minute.
      timeout: 60,
      reservedConcurrentExecutions: props.reservedConcurrency ?? 1,
      environment: {
        variables: {
          ENVIRONMENT_NAME: config.name,
          DEPLOY_REGION: config.region,
          APPLICATION_NAME: names.application,
          DEPLOYMENT_GROUP_NAME: names.deploymentGroup,
          LOAD_BALANCER_NAME: names.loadBalancer,
          DEPLOYMENT_STRATEGY: config.deployment.strategy,
          RELEASE_PREFIX: names.releasePrefix,
          REVISION_BUCKET: props.revisionBucketId,
        },
      },
      // The log group must exist (with its retention) before the function can create it itself.
      dependsOn: [this.logGroup],
    });

    this.invokeConfig = new LambdaFunctionEventInvokeConfig(this, "async", {
      functionName: this.function.functionName,
      // Lambda's maximum: two retries (about 1 and 2 minutes later), then the failure queue.
      maximumRetryAttempts: 2,
      maximumEventAgeInSeconds: 21_600,
      destinationConfig: { onFailure: { destination: this.failureQueue.arn } },
    });

    this.permission = new LambdaPermission(this, "s3-invoke", {
      statementId: "AllowRevisionBucket",
      action: "lambda:InvokeFunction",
      functionName: this.function.functionName,
      principal: "s3.amazonaws.com",
      sourceArn: props.revisionBucketArn,
      sourceAccount: config.accountId,
    });

    this.notification = new S3BucketNotification(this, "notification", {
      bucket: props.revisionBucketId,
      lambdaFunction: [
        {
          id: "release-revision",
          lambdaFunctionArn: this.function.arn,
          events: ["s3:ObjectCreated:*"],
          filterPrefix: names.releasePrefix,
          filterSuffix: ".zip",
        },
      ],
      // S3 tests the destination when the notification is saved: the permission must exist first.
      dependsOn: [this.permission],
    });
  }
}
