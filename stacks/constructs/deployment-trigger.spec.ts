import { join, resolve } from "node:path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider/index.js";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket/index.js";
import { beforeAll, describe, expect, it } from "vitest";
import { loadEnvironment } from "../../environments/index.js";
import { HANDLER_ENV_VARS } from "../../release/handler.js";
import { TerraformStack, Testing } from "../platform.js";
import { testingApp } from "../synthesized.js";
import { buildHandlerArtifact } from "../../release/handler-artifact.js";
import { DeploymentTrigger } from "./deployment-trigger.js";

const REPO = resolve(import.meta.dirname, "../..");
const BUILD = join(REPO, ".tmp/deployment-trigger-spec");

interface Synth {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  data: Record<string, Record<string, { statement: { sid: string; actions: string[]; resources: string[]; condition?: unknown[]; principals?: unknown[] }[] }>>;
}

function stackFor(envName: string, options: { reservedConcurrency?: number } = {}) {
  const app = testingApp();
  const stack = new TerraformStack(app, `trigger-${envName}`);
  const config = loadEnvironment(envName);
  new AwsProvider(stack, "aws", { region: config.region });
  const bucket = new S3Bucket(stack, "revisions", { bucket: `mpg-model-${envName}-revisions-${config.accountId}-${config.region}` });
  const trigger = new DeploymentTrigger(stack, "trigger", {
    config,
    revisionBucketId: bucket.id,
    revisionBucketArn: bucket.arn,
    code: buildHandlerArtifact({ projectRoot: REPO, directory: BUILD }),
    ...options,
  });
  return { stack, trigger, config };
}

function synth(envName: string, options: { reservedConcurrency?: number } = {}): Synth {
  return JSON.parse(Testing.synth(stackFor(envName, options).stack)) as Synth;
}

const only = <T>(record: Record<string, T> | undefined): T => {
  const values = Object.values(record ?? {});
  expect(values).toHaveLength(1);
  return values[0]!;
};

describe("DeploymentTrigger", () => {
  let staging: Synth;
  let dev: Synth;
  beforeAll(() => {
    staging = synth("staging");
    dev = synth("dev");
  });

  it("runs the bundled handler on nodejs22.x with reserved concurrency 1 and the handler's configuration", () => {
    const fn = only(staging.resource.aws_lambda_function);
    expect(fn).toMatchObject({
      function_name: "mpg-model-staging-deploy-trigger",
      runtime: "nodejs22.x",
      handler: "index.handler",
      reserved_concurrent_executions: 1,
      environment: {
        variables: {
          ENVIRONMENT_NAME: "staging",
          DEPLOY_REGION: "eu-west-1",
          APPLICATION_NAME: "mpg-model-staging",
          DEPLOYMENT_GROUP_NAME: "mpg-model-staging",
          LOAD_BALANCER_NAME: "mpg-model-staging",
          DEPLOYMENT_STRATEGY: "blue-green",
          RELEASE_PREFIX: "releases/staging/",
          REVISION_BUCKET: "${aws_s3_bucket.revisions.id}",
        },
      },
    });
    expect(fn.filename).toMatch(/^assets\/.+\.zip$/);
    expect(only(dev.resource.aws_lambda_function)).toMatchObject({ environment: { variables: { DEPLOYMENT_STRATEGY: "in-place", RELEASE_PREFIX: "releases/dev/" } } });
  });

  it("sets exactly the environment variables the handler reads", () => {
    const variables = (only(staging.resource.aws_lambda_function).environment as { variables: Record<string, string> }).variables;
    expect(Object.keys(variables).sort()).toEqual([...HANDLER_ENV_VARS].sort());
  });

  it("lets the reserved concurrency be changed for accounts that cannot reserve any", () => {
    expect(only(synth("dev", { reservedConcurrency: 2 }).resource.aws_lambda_function).reserved_concurrent_executions).toBe(2);
  });

  it("keeps logs in its own log group with the environment's retention", () => {
    expect(only(staging.resource.aws_cloudwatch_log_group)).toMatchObject({ name: "/aws/lambda/mpg-model-staging-deploy-trigger", retention_in_days: 30 });
    expect(only(dev.resource.aws_cloudwatch_log_group)).toMatchObject({ retention_in_days: 14 });
  });

  it("is invoked by object-created events for .zip keys under the environment's release prefix only", () => {
    const notification = only(staging.resource.aws_s3_bucket_notification);
    expect(notification).toMatchObject({
      bucket: "${aws_s3_bucket.revisions.id}",
      lambda_function: [
        {
          events: ["s3:ObjectCreated:*"],
          filter_prefix: "releases/staging/",
          filter_suffix: ".zip",
          lambda_function_arn: expect.stringMatching(/^\$\{aws_lambda_function\.trigger_function_\w+\.arn\}$/),
        },
      ],
    });
    expect(notification.depends_on).toEqual([expect.stringMatching(/^aws_lambda_permission\.trigger_s3-invoke_\w+$/)]);
    expect(only(staging.resource.aws_lambda_permission)).toMatchObject({
      action: "lambda:InvokeFunction",
      principal: "s3.amazonaws.com",
      source_arn: "${aws_s3_bucket.revisions.arn}",
      source_account: "111111111111",
    });
  });

  it("sends events that still fail after two retries to an encrypted SQS queue", () => {
    expect(only(staging.resource.aws_sqs_queue)).toMatchObject({ name: "mpg-model-staging-deploy-trigger-failures", sqs_managed_sse_enabled: true, message_retention_seconds: 1209600 });
    expect(only(staging.resource.aws_lambda_function_event_invoke_config)).toMatchObject({
      maximum_retry_attempts: 2,
      destination_config: { on_failure: { destination: expect.stringMatching(/^\$\{aws_sqs_queue\.trigger_failures_\w+\.arn\}$/) } },
    });
  });

  describe("role", () => {
    const statements = (s: Synth) => Object.entries(s.data.aws_iam_policy_document ?? {}).find(([name]) => name.includes("permissions"))![1].statement;

    it("is assumed by Lambda from its own account only", () => {
      const trust = Object.entries(staging.data.aws_iam_policy_document ?? {}).find(([name]) => name.includes("trust"))![1].statement[0]!;
      expect(trust).toMatchObject({
        actions: ["sts:AssumeRole"],
        principals: [{ type: "Service", identifiers: ["lambda.amazonaws.com"] }],
        condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: ["111111111111"] }],
      });
    });

    // Wildcards in general: stacks/rules/no-wildcard-actions.ts, applied to every stack.
    it("uses resource * only to find the live slot, with the two Describe calls that have no resource-level permissions", () => {
      for (const s of [staging, dev]) {
        expect(
          statements(s)
            .filter((statement) => statement.resources.includes("*"))
            .map((statement) => [statement.sid, [...statement.actions].sort()]),
        ).toEqual([["ReadWhichSlotIsLive", ["ec2:DescribeInstances", "elasticloadbalancing:DescribeLoadBalancers"]]]);
      }
    });

    it("may create deployments only in its own deployment group, built from account, region and names", () => {
      const bySid = Object.fromEntries(statements(staging).map((st) => [st.sid, st]));
      expect(bySid.DeployToOwnGroup).toMatchObject({ resources: ["arn:aws:codedeploy:eu-west-1:111111111111:deploymentgroup:mpg-model-staging/mpg-model-staging"] });
      expect(bySid.DeployToOwnGroup!.actions).toContain("codedeploy:CreateDeployment");
      expect(bySid.CreateDeploymentPrerequisites!.resources).toEqual(["arn:aws:codedeploy:eu-west-1:111111111111:application:mpg-model-staging"]);
      expect(bySid.ReadDeploymentConfig!.resources).toEqual(["arn:aws:codedeploy:eu-west-1:111111111111:deploymentconfig:CodeDeployDefault.HalfAtATime"]);
      expect(bySid.OwnLogGroupOnly!.resources).toEqual([expect.stringMatching(/^\$\{aws_cloudwatch_log_group\.trigger_logs_\w+\.arn\}:\*$/)]);
      expect(bySid.SendFailedEvents!.resources).toEqual([expect.stringMatching(/^\$\{aws_sqs_queue\.trigger_failures_\w+\.arn\}$/)]);
      const prodStatements = statements(synth("prod"));
      expect(prodStatements.find((st) => st.sid === "DeployToOwnGroup")!.resources).toEqual(["arn:aws:codedeploy:eu-west-1:333333333333:deploymentgroup:mpg-model-prod/mpg-model-prod"]);
    });
  });

  it("packages the artifact it is given, under that artifact's hash, and writes nothing itself", () => {
    const code = buildHandlerArtifact({ projectRoot: REPO, directory: BUILD });
    expect(String(only(staging.resource.aws_lambda_function).filename)).toContain(code.sha256);
    // A file that is not the handler is packaged all the same: the construct neither builds nor checks code.
    const app = testingApp();
    const stack = new TerraformStack(app, "trigger-any-code");
    const config = loadEnvironment("dev");
    new AwsProvider(stack, "aws", { region: config.region });
    const bucket = new S3Bucket(stack, "revisions", { bucket: "b" });
    new DeploymentTrigger(stack, "trigger", { config, revisionBucketId: bucket.id, revisionBucketArn: bucket.arn, code: { zipPath: join(REPO, "package.json"), sha256: "0123abcd" } });
    const fn = only((JSON.parse(Testing.synth(stack)) as Synth).resource.aws_lambda_function);
    expect(String(fn.filename)).toMatch(/0123abcd\/package\.json$/);
  });
});
