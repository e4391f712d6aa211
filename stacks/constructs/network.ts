import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group/index.js";
import { DefaultSecurityGroup } from "@cdktf/provider-aws/lib/default-security-group/index.js";
import { Eip } from "@cdktf/provider-aws/lib/eip/index.js";
import { FlowLog } from "@cdktf/provider-aws/lib/flow-log/index.js";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role/index.js";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy/index.js";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway/index.js";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway/index.js";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table/index.js";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association/index.js";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group/index.js";
import { Subnet } from "@cdktf/provider-aws/lib/subnet/index.js";
import { Vpc } from "@cdktf/provider-aws/lib/vpc/index.js";
import { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint/index.js";
import { Construct } from "constructs";
import type { EnvironmentConfig } from "../../environments/index.js";
import { policyDocument, serviceTrustPolicy } from "./policy-document.js";

export interface NetworkProps {
  readonly name: string;
  readonly accountId: string;
  readonly region: string;
  readonly network: EnvironmentConfig["network"];
}

/**
 * A VPC with one public and one private subnet per availability zone. Only the load balancer
 * and NAT gateways live in public subnets; instances live in private ones and reach S3 through
 * a gateway endpoint. Every flow is logged to CloudWatch.
 */
export class Network extends Construct {
  public readonly vpc: Vpc;
  public readonly publicSubnets: Subnet[];
  public readonly privateSubnets: Subnet[];
  public readonly natGateways: NatGateway[];
  public readonly privateRouteTables: RouteTable[];
  public readonly s3Endpoint: VpcEndpoint;
  public readonly flowLogGroup: CloudwatchLogGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const { network, name } = props;

    this.vpc = new Vpc(this, "vpc", {
      cidrBlock: network.vpcCidr,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: { Name: name },
    });
    // The default group allows all traffic between its members: strip it so nothing relies on it.
    new DefaultSecurityGroup(this, "default-security-group", { vpcId: this.vpc.id, ingress: [], egress: [], tags: { Name: `${name}-default-unused` } });

    const internetGateway = new InternetGateway(this, "internet-gateway", { vpcId: this.vpc.id, tags: { Name: name } });
    const publicRoutes = new RouteTable(this, "public-routes", {
      vpcId: this.vpc.id,
      route: [{ cidrBlock: "0.0.0.0/0", gatewayId: internetGateway.id }],
      tags: { Name: `${name}-public` },
    });

    this.publicSubnets = [];
    this.privateSubnets = [];
    network.subnets.forEach((pair) => {
      const zone = pair.availabilityZone;
      const publicSubnet = new Subnet(this, `public-${zone}`, {
        vpcId: this.vpc.id,
        availabilityZone: zone,
        cidrBlock: pair.publicCidr,
        mapPublicIpOnLaunch: false,
        tags: { Name: `${name}-public-${zone}`, Tier: "public" },
      });
      new RouteTableAssociation(this, `public-${zone}-routes`, { subnetId: publicSubnet.id, routeTableId: publicRoutes.id });
      this.publicSubnets.push(publicSubnet);
      this.privateSubnets.push(
        new Subnet(this, `private-${zone}`, {
          vpcId: this.vpc.id,
          availabilityZone: zone,
          cidrBlock: pair.privateCidr,
          mapPublicIpOnLaunch: false,
          tags: { Name: `${name}-private-${zone}`, Tier: "private" },
        }),
      );
    });

    const natSubnets = network.natGateways === "per-az" ? this.publicSubnets : network.natGateways === "single" ? this.publicSubnets.slice(0, 1) : [];
    this.natGateways = natSubnets.map((subnet, i) => {
      const zone = network.subnets[i]!.availabilityZone;
      const address = new Eip(this, `nat-address-${zone}`, { domain: "vpc", tags: { Name: `${name}-nat-${zone}` } });
      return new NatGateway(this, `nat-${zone}`, {
        subnetId: subnet.id,
        allocationId: address.allocationId,
        tags: { Name: `${name}-nat-${zone}` },
        dependsOn: [internetGateway],
      });
    });

    // One route table per zone, so that with NAT per AZ a zone's egress never crosses zones.
    this.privateRouteTables = this.privateSubnets.map((subnet, i) => {
      const zone = network.subnets[i]!.availabilityZone;
      const nat = this.natGateways[i] ?? this.natGateways[0];
      const table = new RouteTable(this, `private-routes-${zone}`, {
        vpcId: this.vpc.id,
        route: nat ? [{ cidrBlock: "0.0.0.0/0", natGatewayId: nat.id }] : [],
        tags: { Name: `${name}-private-${zone}` },
      });
      new RouteTableAssociation(this, `private-${zone}-routes`, { subnetId: subnet.id, routeTableId: table.id });
      return table;
    });

    this.s3Endpoint = new VpcEndpoint(this, "s3-endpoint", {
      vpcId: this.vpc.id,
      serviceName: `com.amazonaws.${props.region}.s3`,
      vpcEndpointType: "Gateway",
      routeTableIds: this.privateRouteTables.map((table) => table.id),
      tags: { Name: `${name}-s3` },
    });

    if (network.natGateways === "none") this.addCodeDeployEndpoints(name, props.region, network.vpcCidr);

    this.flowLogGroup = new CloudwatchLogGroup(this, "flow-logs", {
      name: `/vpc/${name}/flow-logs`,
      retentionInDays: network.flowLogRetentionDays,
    });
    const flowLogRole = new IamRole(this, "flow-log-role", {
      name: `${name}-flow-logs`,
      assumeRolePolicy: serviceTrustPolicy(this, "flow-log-trust", "vpc-flow-logs.amazonaws.com", props.accountId).json,
    });
    new IamRolePolicy(this, "flow-log-policy", {
      role: flowLogRole.id,
      name: "write-flow-logs",
      policy: policyDocument(this, "flow-log-permissions", [
        {
          sid: "WriteOwnLogGroup",
          effect: "Allow",
          actions: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
          resources: [this.flowLogGroup.arn, `${this.flowLogGroup.arn}:*`],
        },
      ]).json,
    });
    new FlowLog(this, "flow-log", {
      vpcId: this.vpc.id,
      trafficType: "ALL",
      logDestinationType: "cloud-watch-logs",
      logDestination: this.flowLogGroup.arn,
      iamRoleArn: flowLogRole.arn,
      maxAggregationInterval: 60,
    });
  }

  /** Without NAT, the agent reaches CodeDeploy through interface endpoints instead of the internet. */
  private addCodeDeployEndpoints(name: string, region: string, vpcCidr: string): void {
    const endpointGroup = new SecurityGroup(this, "endpoint-security-group", {
      name: `${name}-endpoints`,
      description: "HTTPS from inside the VPC to AWS interface endpoints",
      vpcId: this.vpc.id,
      ingress: [{ description: "HTTPS from the VPC", fromPort: 443, toPort: 443, protocol: "tcp", cidrBlocks: [vpcCidr] }],
      egress: [],
    });
    for (const service of ["codedeploy", "codedeploy-commands-secure"]) {
      new VpcEndpoint(this, `${service}-endpoint`, {
        vpcId: this.vpc.id,
        serviceName: `com.amazonaws.${region}.${service}`,
        vpcEndpointType: "Interface",
        privateDnsEnabled: true,
        subnetIds: this.privateSubnets.map((subnet) => subnet.id),
        securityGroupIds: [endpointGroup.id],
        tags: { Name: `${name}-${service}` },
      });
    }
  }
}
