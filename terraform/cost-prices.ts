/**
 * The price table of the cost estimate: AWS on-demand list prices (USD, before tax, no free tier,
 * no Savings Plans) for each region the environment configs use, and the resource types that cost
 * nothing by themselves. Checked in, so estimates are offline and reviewable; a region or resource
 * type that is not here is reported as "not priced", never as $0.
 *
 * To add a region: copy a table, change every figure from the pages in `sources`, set `read`.
 */

/** AWS's convention for monthly estimates (and Infracost's): 730 hours a month. */
export const HOURS_PER_MONTH = 730;

export interface RegionPrices {
  readonly region: string;
  readonly location: string;
  /** Where each figure comes from. */
  readonly sources: readonly string[];
  /** When the figures were read from the sources, and how. */
  readonly read: string;
  /** EC2 on-demand, Linux/UNIX, shared tenancy, USD per hour. */
  readonly ec2LinuxHourly: Readonly<Record<string, number>>;
  /** T-family CPU credits above the baseline in unlimited mode, USD per vCPU-hour (Linux). */
  readonly ec2SurplusCreditPerVcpuHour: number;
  /** EBS storage, USD per GB-month, by volume type. */
  readonly ebsGbMonth: Readonly<Record<string, number>>;
  /** gp3 provisioned IOPS above the free 3,000, USD per IOPS-month; throughput above the free 125 MB/s, USD per MB/s-month. */
  readonly gp3IopsMonth: number;
  readonly gp3ThroughputMonth: number;
  readonly natGatewayHourly: number;
  readonly natGatewayPerGb: number;
  /** Classic Load Balancer. */
  readonly clbHourly: number;
  readonly clbPerGb: number;
  /** Every public IPv4 address, in use or idle (since February 2024). */
  readonly publicIpv4Hourly: number;
  /** CloudWatch metric alarms, USD per alarm metric per month. */
  readonly alarmStandardMonth: number;
  readonly alarmHighResolutionMonth: number;
  /** Interface VPC endpoints: per endpoint per availability zone (ENI), and per GB processed. */
  readonly interfaceEndpointHourly: number;
  readonly interfaceEndpointPerGb: number;
  /** CloudWatch Logs (flow logs are vended logs at the same first-tier price). */
  readonly logsIngestPerGb: number;
  readonly logsStorageGbMonth: number;
  readonly lambdaPerMillionRequests: number;
  /** x86_64; arm64 is about 20 % less. */
  readonly lambdaPerGbSecond: number;
  readonly s3StandardGbMonth: number;
  readonly sqsPerMillionRequests: number;
  readonly kmsKeyMonth: number;
}

const EU_WEST_1: RegionPrices = {
  region: "eu-west-1",
  location: "Europe (Ireland)",
  sources: [
    "https://aws.amazon.com/ec2/pricing/on-demand/",
    "https://aws.amazon.com/ebs/pricing/",
    "https://aws.amazon.com/vpc/pricing/",
    "https://aws.amazon.com/elasticloadbalancing/pricing/",
    "https://aws.amazon.com/cloudwatch/pricing/",
    "https://aws.amazon.com/privatelink/pricing/",
    "https://aws.amazon.com/lambda/pricing/",
    "https://aws.amazon.com/s3/pricing/",
    "https://aws.amazon.com/sqs/pricing/",
    "https://aws.amazon.com/kms/pricing/",
  ],
  read:
    "2026-12-02, entered from AWS's published eu-west-1 list prices; this machine cannot reach aws.amazon.com, " +
    "so the figures were not re-read from the pages that day: check them against the sources before relying on them",
  ec2LinuxHourly: {
    "t3.micro": 0.0114,
    "t3.small": 0.0228,
    "t3.medium": 0.0456,
    "t3.large": 0.0912,
    "c6i.large": 0.096,
    "c6i.xlarge": 0.192,
    "m6i.large": 0.107,
  },
  ec2SurplusCreditPerVcpuHour: 0.05,
  ebsGbMonth: { gp3: 0.088, gp2: 0.11 },
  gp3IopsMonth: 0.0055,
  gp3ThroughputMonth: 0.044,
  natGatewayHourly: 0.048,
  natGatewayPerGb: 0.048,
  clbHourly: 0.028,
  clbPerGb: 0.008,
  publicIpv4Hourly: 0.005,
  alarmStandardMonth: 0.1,
  alarmHighResolutionMonth: 0.3,
  interfaceEndpointHourly: 0.011,
  interfaceEndpointPerGb: 0.01,
  logsIngestPerGb: 0.57,
  logsStorageGbMonth: 0.03,
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecond: 0.0000166667,
  s3StandardGbMonth: 0.023,
  sqsPerMillionRequests: 0.4,
  kmsKeyMonth: 1,
};

/** One table per region the environment configs use (environments/*.ts; a spec keeps this true). */
export const PRICE_TABLES: Readonly<Record<string, RegionPrices>> = { "eu-west-1": EU_WEST_1 };

/** Resource types AWS does not bill by themselves (what they enable may cost: that is priced on its own resource). */
export const FREE_TYPES: Readonly<Record<string, string>> = {
  aws_vpc: "VPC",
  aws_subnet: "VPC",
  aws_route_table: "VPC",
  aws_route_table_association: "VPC",
  aws_route: "VPC",
  aws_internet_gateway: "VPC",
  aws_default_security_group: "security group",
  aws_security_group: "security group",
  aws_vpc_security_group_ingress_rule: "security group",
  aws_vpc_security_group_egress_rule: "security group",
  aws_iam_role: "IAM",
  aws_iam_role_policy: "IAM",
  aws_iam_role_policy_attachment: "IAM",
  aws_iam_policy: "IAM",
  aws_iam_instance_profile: "IAM",
  aws_iam_openid_connect_provider: "IAM",
  aws_s3_bucket_versioning: "bucket setting",
  aws_s3_bucket_server_side_encryption_configuration: "bucket setting",
  aws_s3_bucket_public_access_block: "bucket setting",
  aws_s3_bucket_policy: "bucket setting",
  aws_s3_bucket_ownership_controls: "bucket setting",
  aws_s3_bucket_notification: "bucket setting",
  aws_s3_bucket_lifecycle_configuration: "bucket setting",
  aws_lambda_permission: "Lambda setting",
  aws_lambda_function_event_invoke_config: "Lambda setting",
  aws_codedeploy_app: "CodeDeploy to EC2 is free",
  aws_codedeploy_deployment_group: "CodeDeploy to EC2 is free",
  terraform_data: "Terraform's own resource, nothing in AWS",
};
