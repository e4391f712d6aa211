import { Ec2InstanceConnectEndpoint } from "@cdktf/provider-aws/lib/ec2-instance-connect-endpoint/index.js";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy/index.js";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group/index.js";
import type { Subnet } from "@cdktf/provider-aws/lib/subnet/index.js";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule/index.js";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js";
import { Construct } from "constructs";
import { ENVIRONMENT_TAG_KEY, SSH_OS_USER } from "../../environments/names.js";
import { partitionOf } from "./aws-partition.js";
import { policyDocument } from "./policy-document.js";

export const SSH_PORT = 22;
/** Longest tunnel an operator may hold open (the service's own maximum is 3600 s). */
export const MAX_TUNNEL_SECONDS = 3600;

export interface InstanceConnectEndpointProps {
  /** Name of the endpoint and its security group: the release CLI finds the endpoint by it. */
  readonly name: string;
  readonly policyName: string;
  /** Environment name, as in the instances' Environment tag: the only instances operators may push keys to. */
  readonly environment: string;
  readonly accountId: string;
  readonly region: string;
  readonly vpcId: string;
  /** The endpoint lives in the first; tunnels may reach instances in any of them. */
  readonly privateSubnets: readonly Subnet[];
  /** Private CIDRs of those subnets: the only addresses a tunnel may open to. */
  readonly privateCidrs: readonly string[];
  /** The instances' security group: it admits SSH from the endpoint's group, nothing else. */
  readonly instancesSecurityGroup: SecurityGroup;
}

/**
 * SSH to instances in private subnets without a bastion, a VPN or an open port: an EC2 Instance
 * Connect Endpoint in a private subnet, its own security group that may only reach port 22 of
 * the instances, the instances admitting port 22 from that group only, and a managed policy for
 * operators (attach it to their role or group) that opens tunnels to port 22 through this
 * endpoint and pushes one-time keys only to this environment's instances, as `ubuntu`.
 */
export class InstanceConnectEndpoint extends Construct {
  public readonly securityGroup: SecurityGroup;
  public readonly endpoint: Ec2InstanceConnectEndpoint;
  public readonly operatorPolicy: IamPolicy;

  constructor(scope: Construct, id: string, props: InstanceConnectEndpointProps) {
    super(scope, id);
    const [subnet] = props.privateSubnets;
    if (!subnet) throw new Error(`${props.name}: an EC2 Instance Connect Endpoint needs a private subnet`);
    const tags = { Name: props.name };

    this.securityGroup = new SecurityGroup(this, "security-group", {
      name: props.name,
      description: `EC2 Instance Connect Endpoint of ${props.environment}: SSH to the model service instances only`,
      vpcId: props.vpcId,
      tags,
    });
    // Traffic into the endpoint comes from the EC2 Instance Connect service and is governed by
    // IAM (OpenTunnel), not by inbound rules: the group has none.
    new VpcSecurityGroupEgressRule(this, "egress-ssh", {
      securityGroupId: this.securityGroup.id,
      ipProtocol: "tcp",
      fromPort: SSH_PORT,
      toPort: SSH_PORT,
      referencedSecurityGroupId: props.instancesSecurityGroup.id,
      description: "SSH to the model service instances",
    });
    new VpcSecurityGroupIngressRule(this, "instances-ssh", {
      securityGroupId: props.instancesSecurityGroup.id,
      ipProtocol: "tcp",
      fromPort: SSH_PORT,
      toPort: SSH_PORT,
      referencedSecurityGroupId: this.securityGroup.id,
      description: "SSH from the EC2 Instance Connect Endpoint only",
    });

    this.endpoint = new Ec2InstanceConnectEndpoint(this, "endpoint", {
      subnetId: subnet.id,
      securityGroupIds: [this.securityGroup.id],
      // The instances then see the endpoint's address, which the group rule above admits; with
      // the client's address preserved they would see laptops' addresses that no rule admits.
      preserveClientIp: false,
      tags,
    });

    const partition = partitionOf(props.region);
    this.operatorPolicy = new IamPolicy(this, "operator-policy", {
      name: props.policyName,
      description: `SSH to ${props.environment} instances as ${SSH_OS_USER} through their EC2 Instance Connect Endpoint (npm run release -- ssh)`,
      policy: policyDocument(this, "operator-permissions", [
        {
          sid: "TunnelToSshOnly",
          effect: "Allow",
          actions: ["ec2-instance-connect:OpenTunnel"],
          resources: [this.endpoint.arn],
          condition: [
            { test: "NumericEquals", variable: "ec2-instance-connect:remotePort", values: [String(SSH_PORT)] },
            { test: "IpAddress", variable: "ec2-instance-connect:privateIpAddress", values: [...props.privateCidrs] },
            { test: "NumericLessThanEquals", variable: "ec2-instance-connect:maxTunnelDuration", values: [String(MAX_TUNNEL_SECONDS)] },
          ],
        },
        {
          sid: "OneTimeKeysToThisEnvironment",
          effect: "Allow",
          actions: ["ec2-instance-connect:SendSSHPublicKey"],
          resources: [`arn:${partition}:ec2:${props.region}:${props.accountId}:instance/*`],
          condition: [
            { test: "StringEquals", variable: `aws:ResourceTag/${ENVIRONMENT_TAG_KEY}`, values: [props.environment] },
            { test: "StringEquals", variable: "ec2:osuser", values: [SSH_OS_USER] },
          ],
        },
        {
          // Finding the live instance and the endpoint; these Describe calls support no resource-level permissions.
          sid: "FindInstancesAndEndpoint",
          effect: "Allow",
          actions: ["ec2:DescribeInstances", "ec2:DescribeInstanceConnectEndpoints", "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeInstanceHealth"],
          resources: ["*"],
        },
      ]).json,
    });
  }
}
