/**
 * Test support: aws-sdk-client-mock stubs for the four clients, plus a small in-memory EC2
 * inventory and CLB registration list that answer DescribeInstances / DescribeLoadBalancers
 * the way the real APIs do (ids, tag filters, state filter), so the tests exercise slot logic
 * against data rather than against canned answers per call.
 */
import { CodeDeployClient, type DeploymentInfo } from "@aws-sdk/client-codedeploy";
import { DescribeInstancesCommand, EC2Client, type Instance } from "@aws-sdk/client-ec2";
import { EC2InstanceConnectClient } from "@aws-sdk/client-ec2-instance-connect";
import { DescribeInstanceHealthCommand, DescribeLoadBalancersCommand, ElasticLoadBalancingClient } from "@aws-sdk/client-elastic-load-balancing";
import { S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { createClients, type AwsClients } from "./aws.js";

export interface FakeInstance {
  readonly id: string;
  readonly environment: string;
  readonly slot?: string;
  readonly state?: string;
  readonly privateIp?: string;
  readonly vpcId?: string;
}

export function mockAws() {
  const mocks = {
    codedeploy: mockClient(CodeDeployClient),
    s3: mockClient(S3Client),
    elb: mockClient(ElasticLoadBalancingClient),
    ec2: mockClient(EC2Client),
    instanceConnect: mockClient(EC2InstanceConnectClient),
  };
  return mocks;
}
export type AwsMocks = ReturnType<typeof mockAws>;

export function clients(region = "eu-west-1"): AwsClients {
  return createClients({ region });
}

function toInstance(i: FakeInstance): Instance {
  return {
    InstanceId: i.id,
    State: { Name: (i.state ?? "running") as never },
    ...(i.privateIp ? { PrivateIpAddress: i.privateIp } : {}),
    ...(i.vpcId ? { VpcId: i.vpcId } : {}),
    Tags: [{ Key: "Environment", Value: i.environment }, ...(i.slot ? [{ Key: "DeploymentSlot", Value: i.slot }] : [])],
  };
}

/** Answers EC2 and CLB describe calls from `inventory` and `registered` (instance ids behind the LB). */
export function fakeFleet(mocks: AwsMocks, loadBalancer: string, inventory: FakeInstance[], registered: string[]): void {
  mocks.ec2.on(DescribeInstancesCommand).callsFake((input: { InstanceIds?: string[]; Filters?: { Name?: string; Values?: string[] }[] }) => {
    let found = inventory;
    if (input.InstanceIds) {
      const missing = input.InstanceIds.filter((id) => !inventory.some((i) => i.id === id));
      if (missing.length) throw Object.assign(new Error(`The instance IDs '${missing.join(", ")}' do not exist`), { name: "InvalidInstanceID.NotFound" });
      found = inventory.filter((i) => input.InstanceIds!.includes(i.id));
    }
    for (const filter of input.Filters ?? []) {
      const values = filter.Values ?? [];
      if (filter.Name === "tag:Environment") found = found.filter((i) => values.includes(i.environment));
      else if (filter.Name === "tag:DeploymentSlot") found = found.filter((i) => i.slot !== undefined && values.includes(i.slot));
      else if (filter.Name === "instance-state-name") found = found.filter((i) => values.includes(i.state ?? "running"));
      else throw new Error(`fake EC2 does not know filter ${filter.Name}`);
    }
    return { Reservations: [{ Instances: found.map(toInstance) }] };
  });
  mocks.elb.on(DescribeLoadBalancersCommand).callsFake((input: { LoadBalancerNames?: string[] }) => {
    if (!input.LoadBalancerNames?.includes(loadBalancer)) {
      throw Object.assign(new Error(`There is no ACTIVE Load Balancer named '${input.LoadBalancerNames?.join(",")}'`), { name: "AccessPointNotFoundException" });
    }
    return { LoadBalancerDescriptions: [{ LoadBalancerName: loadBalancer, Instances: registered.map((InstanceId) => ({ InstanceId })) }] };
  });
  mocks.elb.on(DescribeInstanceHealthCommand).callsFake(() => ({
    InstanceStates: registered.map((InstanceId) => ({ InstanceId, State: "InService" })),
  }));
}

export function deployment(overrides: Partial<DeploymentInfo> & { deploymentId: string }): DeploymentInfo {
  return {
    applicationName: "mpg-model-staging",
    deploymentGroupName: "mpg-model-staging",
    status: "Succeeded",
    createTime: new Date("2026-11-20T10:00:00Z"),
    creator: "user",
    revision: { revisionType: "S3", s3Location: { bucket: "bucket", key: "releases/staging/revision-1.0.0.zip", bundleType: "zip", version: "v1" } },
    ...overrides,
  };
}

/** AWS-shaped error: the SDK sets `name` to the exception's code. */
export function awsError(name: string, message = name, status = 400): Error {
  return Object.assign(new Error(message), { name, $fault: status >= 500 ? "server" : "client", $metadata: { httpStatusCode: status } });
}
