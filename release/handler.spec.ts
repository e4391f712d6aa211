import { BatchGetDeploymentsCommand, CreateDeploymentCommand, GetDeploymentGroupCommand, ListDeploymentsCommand, UpdateDeploymentGroupCommand, type DeploymentInfo } from "@aws-sdk/client-codedeploy";
import { DescribeLoadBalancersCommand } from "@aws-sdk/client-elastic-load-balancing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ReleaseError, RetryableError } from "./aws.js";
import { configFromEnv, createHandler, type HandlerConfig, type Log } from "./handler.js";
import { awsError, clients, deployment, fakeFleet, mockAws, type AwsMocks, type FakeInstance } from "./testing.js";

const BUCKET = "mpg-model-staging-revisions-111111111111-eu-west-1";
const staging: HandlerConfig = {
  environment: "staging",
  region: "eu-west-1",
  application: "mpg-model-staging",
  deploymentGroup: "mpg-model-staging",
  loadBalancer: "mpg-model-staging",
  strategy: "blue-green",
  releasePrefix: "releases/staging/",
  bucket: BUCKET,
};
const dev: HandlerConfig = {
  ...staging,
  environment: "dev",
  application: "mpg-model-dev",
  deploymentGroup: "mpg-model-dev",
  loadBalancer: "mpg-model-dev",
  strategy: "in-place",
  releasePrefix: "releases/dev/",
  bucket: "dev-bucket",
};

const FLEET: FakeInstance[] = [
  { id: "i-blue1", environment: "staging", slot: "blue" },
  { id: "i-blue2", environment: "staging", slot: "blue" },
  { id: "i-green1", environment: "staging", slot: "green" },
  { id: "i-green2", environment: "staging", slot: "green" },
  { id: "i-prod1", environment: "prod", slot: "green" },
];

function s3Event(key: string, overrides: { versionId?: string | undefined; eventName?: string; bucket?: string; eTag?: string } = {}) {
  return {
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: "eu-west-1",
        eventName: overrides.eventName ?? "ObjectCreated:Put",
        s3: {
          s3SchemaVersion: "1.0",
          bucket: { name: overrides.bucket ?? BUCKET, arn: `arn:aws:s3:::${overrides.bucket ?? BUCKET}` },
          object: {
            key,
            size: 1024,
            eTag: overrides.eTag ?? "0123abcd",
            ...("versionId" in overrides ? (overrides.versionId ? { versionId: overrides.versionId } : {}) : { versionId: "v2" }),
            sequencer: "0A1B",
          },
        },
      },
    ],
  };
}

function group(type: "BLUE_GREEN" | "IN_PLACE", slot: string | undefined = "blue") {
  return {
    deploymentGroupInfo: {
      deploymentGroupName: "g",
      deploymentStyle: { deploymentType: type, deploymentOption: type === "BLUE_GREEN" ? ("WITH_TRAFFIC_CONTROL" as const) : ("WITHOUT_TRAFFIC_CONTROL" as const) },
      ec2TagSet: {
        ec2TagSetList: [[{ Key: "Environment", Value: "staging", Type: "KEY_AND_VALUE" as const }], ...(slot ? [[{ Key: "DeploymentSlot", Value: slot, Type: "KEY_AND_VALUE" as const }]] : [])],
      },
    },
  };
}

function history(mocks: AwsMocks, deployments: DeploymentInfo[]): void {
  mocks.codedeploy.on(ListDeploymentsCommand).resolves({ deployments: deployments.map((d) => d.deploymentId!) });
  mocks.codedeploy.on(BatchGetDeploymentsCommand).callsFake((input: { deploymentIds: string[] }) => ({
    deploymentsInfo: deployments.filter((d) => input.deploymentIds.includes(d.deploymentId!)),
  }));
}

function capture(): { log: Log; lines: { level: string; message: string; fields: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  return { lines, log: (level, message, fields = {}) => lines.push({ level, message, fields }) };
}

const created = (mocks: AwsMocks) => mocks.codedeploy.commandCalls(CreateDeploymentCommand).map((c) => c.args[0].input);

describe("S3 trigger handler", () => {
  let mocks: AwsMocks;
  beforeEach(() => {
    mocks = mockAws();
    mocks.codedeploy.on(CreateDeploymentCommand).resolves({ deploymentId: "d-NEW" });
    mocks.codedeploy.on(GetDeploymentGroupCommand).resolves(group("BLUE_GREEN"));
    history(mocks, []);
  });
  afterEach(() => Object.values(mocks).forEach((m) => m.restore()));

  it("deploys exactly the object version from the event, with bucket, key, zip bundle type, ETag and version id", async () => {
    fakeFleet(mocks, "mpg-model-staging", FLEET, ["i-blue1", "i-blue2"]);
    const { log, lines } = capture();
    const results = await createHandler(staging, clients(), log)(s3Event("releases/staging/revision-1.2.0.zip", { eTag: '"abc123"' }));
    expect(results).toEqual([{ outcome: "created", key: "releases/staging/revision-1.2.0.zip", deploymentId: "d-NEW" }]);
    expect(created(mocks)[0]).toMatchObject({
      applicationName: "mpg-model-staging",
      deploymentGroupName: "mpg-model-staging",
      revision: { revisionType: "S3", s3Location: { bucket: BUCKET, key: "releases/staging/revision-1.2.0.zip", bundleType: "zip", eTag: "abc123", version: "v2" } },
    });
    expect(lines.at(-1)).toMatchObject({ level: "info", message: "created", fields: { deploymentId: "d-NEW", liveSlot: "blue", replacementSlot: "green" } });
  });

  it("targets green when blue is live: the replacement is Environment AND DeploymentSlot=green", async () => {
    fakeFleet(mocks, "mpg-model-staging", FLEET, ["i-blue1", "i-blue2"]);
    await createHandler(staging, clients(), () => {})(s3Event("releases/staging/r.zip"));
    expect(created(mocks)[0]?.targetInstances).toEqual({
      ec2TagSet: {
        ec2TagSetList: [[{ Key: "Environment", Value: "staging", Type: "KEY_AND_VALUE" }], [{ Key: "DeploymentSlot", Value: "green", Type: "KEY_AND_VALUE" }]],
      },
    });
  });

  it("targets blue when green is live (the other direction)", async () => {
    mocks.codedeploy.on(GetDeploymentGroupCommand).resolves(group("BLUE_GREEN", "green"));
    fakeFleet(mocks, "mpg-model-staging", FLEET, ["i-green1", "i-green2"]);
    await createHandler(staging, clients(), () => {})(s3Event("releases/staging/r.zip"));
    expect(created(mocks)[0]?.targetInstances?.ec2TagSet?.ec2TagSetList?.[1]).toEqual([{ Key: "DeploymentSlot", Value: "blue", Type: "KEY_AND_VALUE" }]);
  });

  it("with an empty load balancer (first release) replaces the slot the group names as original: targets green", async () => {
    fakeFleet(mocks, "mpg-model-staging", FLEET, []);
    const results = await createHandler(staging, clients(), () => {})(s3Event("releases/staging/r.zip"));
    expect(results[0]?.outcome).toBe("created");
    expect(created(mocks)[0]?.targetInstances?.ec2TagSet?.ec2TagSetList?.[1]?.[0]?.Value).toBe("green");
  });

  it("refuses a load balancer that serves both slots, naming the instances, and creates nothing", async () => {
    fakeFleet(mocks, "mpg-model-staging", FLEET, ["i-blue1", "i-green1"]);
    const { log, lines } = capture();
    const run = createHandler(staging, clients(), log)(s3Event("releases/staging/r.zip"));
    await expect(run).rejects.toThrow(/serves both slots \(blue: i-blue1; green: i-green1\)/);
    await expect(run).rejects.toBeInstanceOf(ReleaseError);
    expect(created(mocks)).toHaveLength(0);
    expect(lines.at(-1)).toMatchObject({ level: "error", message: "failed", fields: { key: "releases/staging/r.zip", versionId: "v2" } });
  });

  it("refuses an instance of another environment behind the load balancer", async () => {
    fakeFleet(mocks, "mpg-model-staging", FLEET, ["i-prod1"]);
    await expect(createHandler(staging, clients(), () => {})(s3Event("releases/staging/r.zip"))).rejects.toThrow(/not tagged Environment=staging: i-prod1 \(prod\)/);
    expect(created(mocks)).toHaveLength(0);
  });

  it("points the group's original fleet at the live slot before deploying to the other one", async () => {
    mocks.codedeploy.on(GetDeploymentGroupCommand).resolves(group("BLUE_GREEN", "blue"));
    mocks.codedeploy.on(UpdateDeploymentGroupCommand).resolves({});
    fakeFleet(mocks, "mpg-model-staging", FLEET, ["i-green1", "i-green2"]);
    const { log, lines } = capture();
    await createHandler(staging, clients(), log)(s3Event("releases/staging/r.zip"));
    const updates = mocks.codedeploy.commandCalls(UpdateDeploymentGroupCommand).map((c) => c.args[0].input);
    expect(updates).toEqual([
      {
        applicationName: "mpg-model-staging",
        currentDeploymentGroupName: "mpg-model-staging",
        ec2TagSet: { ec2TagSetList: [[{ Key: "Environment", Value: "staging", Type: "KEY_AND_VALUE" }], [{ Key: "DeploymentSlot", Value: "green", Type: "KEY_AND_VALUE" }]] },
      },
    ]);
    expect(created(mocks)[0]!.targetInstances!.ec2TagSet!.ec2TagSetList![1]).toEqual([{ Key: "DeploymentSlot", Value: "blue", Type: "KEY_AND_VALUE" }]);
    expect(lines.at(-1)).toMatchObject({ message: "created", fields: { liveSlot: "green", replacementSlot: "blue", realignedFrom: "blue" } });
  });

  it("leaves the group alone when it already names the live slot", async () => {
    mocks.codedeploy.on(GetDeploymentGroupCommand).resolves(group("BLUE_GREEN", "blue"));
    fakeFleet(mocks, "mpg-model-staging", FLEET, ["i-blue1", "i-blue2"]);
    await createHandler(staging, clients(), () => {})(s3Event("releases/staging/r.zip"));
    expect(mocks.codedeploy.commandCalls(UpdateDeploymentGroupCommand)).toHaveLength(0);
  });

  it("fails clearly when the replacement slot has no running instances", async () => {
    fakeFleet(
      mocks,
      "mpg-model-staging",
      [
        { id: "i-blue1", environment: "staging", slot: "blue" },
        { id: "i-green1", environment: "staging", slot: "green", state: "stopped" },
      ],
      ["i-blue1"],
    );
    await expect(createHandler(staging, clients(), () => {})(s3Event("releases/staging/r.zip"))).rejects.toThrow(/no running instances tagged Environment=staging, DeploymentSlot=green/);
    expect(created(mocks)).toHaveLength(0);
  });

  it("deploys in place for dev with no targetInstances and without asking the load balancer", async () => {
    mocks.codedeploy.on(GetDeploymentGroupCommand).resolves(group("IN_PLACE", undefined));
    await createHandler(dev, clients(), () => {})(s3Event("releases/dev/r.zip", { bucket: "dev-bucket" }));
    expect(created(mocks)[0]).not.toHaveProperty("targetInstances");
    expect(mocks.elb.commandCalls(DescribeLoadBalancersCommand)).toHaveLength(0);
  });

  it("refuses when the group's deployment type does not match the configured strategy", async () => {
    mocks.codedeploy.on(GetDeploymentGroupCommand).resolves(group("IN_PLACE"));
    await expect(createHandler(staging, clients(), () => {})(s3Event("releases/staging/r.zip"))).rejects.toThrow(/is IN_PLACE but environment staging is configured blue-green/);
  });

  it("starts one deployment when S3 delivers the same object version twice", async () => {
    fakeFleet(mocks, "mpg-model-staging", FLEET, ["i-blue1", "i-blue2"]);
    const deployments: DeploymentInfo[] = [];
    mocks.codedeploy.on(CreateDeploymentCommand).callsFake((input: { revision: DeploymentInfo["revision"] }) => {
      deployments.push(deployment({ deploymentId: "d-FIRST", status: "Succeeded", revision: input.revision, createTime: new Date() }));
      return { deploymentId: "d-FIRST" };
    });
    history(mocks, deployments);
    mocks.codedeploy.on(ListDeploymentsCommand).callsFake(() => ({ deployments: deployments.map((d) => d.deploymentId!) }));
    const { log, lines } = capture();
    const handle = createHandler(staging, clients(), log);
    await handle(s3Event("releases/staging/r.zip"));
    const second = await handle(s3Event("releases/staging/r.zip"));
    expect(second).toEqual([{ outcome: "duplicate", key: "releases/staging/r.zip", deploymentId: "d-FIRST" }]);
    expect(created(mocks)).toHaveLength(1);
    expect(lines.at(-1)).toMatchObject({ message: "duplicate", fields: { deploymentId: "d-FIRST", versionId: "v2" } });
  });

  it("deploys a new version of the same key (a re-upload is a new release)", async () => {
    fakeFleet(mocks, "mpg-model-staging", FLEET, ["i-blue1"]);
    history(mocks, [deployment({ deploymentId: "d-OLD", revision: { revisionType: "S3", s3Location: { bucket: BUCKET, key: "releases/staging/r.zip", bundleType: "zip", version: "v1" } } })]);
    const results = await createHandler(staging, clients(), () => {})(s3Event("releases/staging/r.zip", { versionId: "v2" }));
    expect(results[0]?.outcome).toBe("created");
  });

  it("throws a retryable, logged error while another deployment holds the group, and creates nothing", async () => {
    fakeFleet(mocks, "mpg-model-staging", FLEET, ["i-blue1"]);
    history(mocks, [deployment({ deploymentId: "d-BUSY", status: "InProgress" })]);
    const { log, lines } = capture();
    const run = createHandler(staging, clients(), log)(s3Event("releases/staging/r.zip"));
    await expect(run).rejects.toBeInstanceOf(RetryableError);
    await expect(run).rejects.toThrow(/busy with deployment d-BUSY \(InProgress/);
    expect(created(mocks)).toHaveLength(0);
    expect(lines.at(-1)).toMatchObject({ level: "warn", message: "in-progress", fields: { key: "releases/staging/r.zip" } });
  });

  it.each([
    ["another environment's prefix", s3Event("releases/prod/r.zip"), /outside this environment's release prefix releases\/staging\//],
    ["a key that is not a zip", s3Event("releases/staging/notes.txt"), /does not end in \.zip/],
    ["a delete", s3Event("releases/staging/r.zip", { eventName: "ObjectRemoved:Delete" }), /ObjectRemoved:Delete is not an object creation/],
    ["another bucket", s3Event("releases/staging/r.zip", { bucket: "other" }), /bucket other is not this environment's revision bucket/],
    ["an unversioned object", s3Event("releases/staging/r.zip", { versionId: undefined }), /no version id/],
    ["a malformed record", { Records: [{ eventName: "ObjectCreated:Put", s3: { bucket: {} } }] }, /not an S3 object notification/],
    ["S3's test event", { Service: "Amazon S3", Event: "s3:TestEvent", Bucket: BUCKET }, /S3 test event/],
  ])("ignores %s with a logged reason, without throwing or calling CodeDeploy", async (_name, event, reason) => {
    const { log, lines } = capture();
    const results = await createHandler(staging, clients(), log)(event);
    expect(results[0]?.outcome).toBe("ignored");
    expect(results[0]?.reason).toMatch(reason);
    expect(lines[0]).toMatchObject({ level: "info", message: "ignored" });
    expect(mocks.codedeploy.calls()).toHaveLength(0);
  });

  it("decodes URL-encoded keys before deploying them", async () => {
    fakeFleet(mocks, "mpg-model-staging", FLEET, ["i-blue1"]);
    await createHandler(staging, clients(), () => {})(s3Event("releases/staging/revision+1.2.0%2Bbuild.zip"));
    expect(created(mocks)[0]?.revision?.s3Location?.key).toBe("releases/staging/revision 1.2.0+build.zip");
  });

  it("names the denied action when CreateDeployment is not allowed", async () => {
    fakeFleet(mocks, "mpg-model-staging", FLEET, ["i-blue1"]);
    mocks.codedeploy.on(CreateDeploymentCommand).rejects(awsError("AccessDeniedException", "User is not authorized"));
    await expect(createHandler(staging, clients(), () => {})(s3Event("releases/staging/r.zip"))).rejects.toThrow(
      /access denied: codedeploy:CreateDeployment on deployment group mpg-model-staging\/mpg-model-staging in eu-west-1/,
    );
  });

  it("says the deployment group is missing when it is", async () => {
    mocks.codedeploy.on(GetDeploymentGroupCommand).rejects(awsError("DeploymentGroupDoesNotExistException"));
    await expect(createHandler(staging, clients(), () => {})(s3Event("releases/staging/r.zip"))).rejects.toThrow(/deployment group missing .*stack has not been applied/);
  });
});

describe("handler configuration", () => {
  const env = {
    ENVIRONMENT_NAME: "staging",
    DEPLOY_REGION: "eu-west-1",
    APPLICATION_NAME: "a",
    DEPLOYMENT_GROUP_NAME: "g",
    LOAD_BALANCER_NAME: "lb",
    DEPLOYMENT_STRATEGY: "blue-green",
    RELEASE_PREFIX: "releases/staging/",
    REVISION_BUCKET: "bucket",
  };
  it("reads the construct's environment variables", () => {
    expect(configFromEnv(env)).toEqual({
      environment: "staging",
      region: "eu-west-1",
      application: "a",
      deploymentGroup: "g",
      loadBalancer: "lb",
      strategy: "blue-green",
      releasePrefix: "releases/staging/",
      bucket: "bucket",
    });
  });
  it("names each missing or invalid variable", () => {
    expect(() => configFromEnv({ ...env, DEPLOYMENT_STRATEGY: "canary", LOAD_BALANCER_NAME: undefined })).toThrow(
      /DEPLOYMENT_STRATEGY[\s\S]*LOAD_BALANCER_NAME|LOAD_BALANCER_NAME[\s\S]*DEPLOYMENT_STRATEGY/,
    );
    expect(() => configFromEnv({ ...env, RELEASE_PREFIX: "releases/staging" })).toThrow(/RELEASE_PREFIX/);
  });
});
