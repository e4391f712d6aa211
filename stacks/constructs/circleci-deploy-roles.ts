import type { DataAwsIamPolicyDocumentStatement } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js";
import { IamOpenidConnectProvider } from "@cdktf/provider-aws/lib/iam-openid-connect-provider/index.js";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role/index.js";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy/index.js";
import { Construct } from "constructs";
import { RELEASE_PATH, type EnvironmentConfig } from "../../environments/index.js";
import { resourceNames, type ResourceNames } from "../../environments/names.js";
import { partitionOf } from "./aws-partition.js";
import { policyDocument } from "./policy-document.js";

/**
 * The order releases travel in (environments/declared.ts): the first environment receives fresh
 * bundles (upload), every later one receives the exact object that succeeded in the one before it (promote).
 */
export { RELEASE_PATH };

/** The only branch whose pipelines may release. */
export const RELEASE_BRANCH_REF = "refs/heads/main";

/** CircleCI user ids are UUIDs: 36 single-character wildcards match one and nothing longer (see trust policy notes). */
const UUID_PATTERN = "????????-????-????-????-????????????";

/** What the roles are built from: names, account, region, CircleCI ids and the state backend; nothing else of the config. */
export type DeployRolesEnvironment = Pick<EnvironmentConfig, "name" | "project" | "accountId" | "region" | "ci" | "backend">;

export interface CircleciDeployRolesProps {
  /**
   * The environment: account, region, project, CircleCI ids, state backend, and `ci.vcsOrigin`, the
   * repository exactly as it appears in the token's `oidc.circleci.com/vcs-origin` claim (e.g.
   * `github.com/acme/mpg-model`). It is pinned in the release roles' trust policies: without it a
   * branch named `x/vcs-ref/refs/heads/main` could match a `*` and pass for main.
   */
  readonly config: DeployRolesEnvironment;
  /** ARN of this environment's revision bucket (the upload and promote roles write under its release prefix). */
  readonly revisionBucketArn: string;
  /** The promotion path (environments' RELEASE_PATH): the environment's place on it decides its release roles. */
  readonly releasePath: readonly string[];
}

/**
 * What the pipeline's jobs may do in AWS, with CircleCI's OIDC tokens and no stored keys:
 *
 * - `plan`: read-only, any branch of the project (pull requests run the plan review). Reads the
 *   state and what terraform refreshes for the resource types the stacks manage, nothing else:
 *   no object reads outside the state, no secrets.
 * - `upload` (first environment of the release path): put revisions under its release prefix and
 *   follow the deployment that the upload triggers. Main branch only.
 * - `promote` (every later environment): put the promoted revision under its own prefix and
 *   follow the deployment. Main branch only.
 * - `promotionSource` (every environment a later one promotes from): read its revisions and its
 *   deployment history, to find and fetch the last revision that succeeded there. A separate role
 *   because the next environment can be in another account, and CodeDeploy has no resource
 *   policies: reading another account's deployment history needs a role in that account.
 *
 * The CircleCI OIDC provider is created by the one environment per account with
 * `ci.createOidcProvider`; the others reference it by its ARN.
 */
export class CircleciDeployRoles extends Construct {
  /** The account's CircleCI OIDC provider, when this environment creates it. */
  public readonly provider?: IamOpenidConnectProvider;
  /** ARN of the OIDC provider the roles trust (created here or by another environment in the account). */
  public readonly providerArn: string;
  public readonly planRole: IamRole;
  public readonly uploadRole?: IamRole;
  public readonly promoteRole?: IamRole;
  public readonly promotionSourceRole?: IamRole;

  constructor(scope: Construct, id: string, props: CircleciDeployRolesProps) {
    super(scope, id);
    const { config } = props;
    const path = props.releasePath;
    const position = path.indexOf(config.name);
    if (position < 0) throw new Error(`environment ${config.name} is not on the release path ${path.join(" -> ")}`);
    // The schema checks this too; the trust policy is a security boundary, so the construct refuses
    // a wildcard or a malformed origin even from a config that skipped the schema.
    const vcsOrigin = props.config.ci.vcsOrigin;
    if (!/^[a-z0-9.-]+\.[a-z]+\/[\w.-]+\/[\w.-]+$/i.test(vcsOrigin)) {
      throw new Error(`vcsOrigin must look like github.com/<owner>/<repository>, got "${vcsOrigin}"`);
    }

    const names = resourceNames(config);
    const partition = partitionOf(config.region);
    const org = config.ci.circleciOrganizationId;
    const issuerHost = `oidc.circleci.com/org/${org}`;

    if (config.ci.createOidcProvider) {
      this.provider = new IamOpenidConnectProvider(this, "oidc-provider", {
        url: `https://${issuerHost}`,
        // The default token's audience is the organization id.
        clientIdList: [org],
        // No thumbprint: IAM verifies CircleCI's certificate against its own trusted CAs; the
        // provider (5.x) no longer requires thumbprint_list.
        tags: { Name: `circleci-${org}` },
      });
      this.providerArn = this.provider.arn;
    } else {
      this.providerArn = `arn:${partition}:iam::${config.accountId}:oidc-provider/${issuerHost}`;
    }

    const subject = (suffix: string) => `org/${org}/project/${config.ci.circleciProjectId}/user/${suffix}`;
    // Any branch of this project: the V1 token's sub ends after the user id, the V2 token's continues; both match.
    const anyBranch = [subject("*")];
    // Main only: the V2 token (the one circleci/aws-cli and our profiles use) carries the origin and ref in
    // `sub`. No `*` anywhere, so a crafted branch name cannot stretch a wildcard over "/vcs-ref/refs/heads/main".
    const mainOnly = [subject(`${UUID_PATTERN}/vcs-origin/${vcsOrigin}/vcs-ref/${RELEASE_BRANCH_REF}`)];

    const role = (key: string, suffix: string, description: string, subjects: string[], statements: DataAwsIamPolicyDocumentStatement[]): IamRole => {
      const created = new IamRole(this, `${key}-role`, {
        name: `${names.prefix}-circleci-${suffix}`,
        description,
        maxSessionDuration: 3600,
        assumeRolePolicy: policyDocument(this, `${key}-trust`, [
          {
            sid: "CircleciOidc",
            effect: "Allow",
            actions: ["sts:AssumeRoleWithWebIdentity"],
            principals: [{ type: "Federated", identifiers: [this.providerArn] }],
            condition: [
              { test: "StringEquals", variable: `${issuerHost}:aud`, values: [org] },
              { test: "StringLike", variable: `${issuerHost}:sub`, values: subjects },
            ],
          },
        ]).json,
      });
      new IamRolePolicy(this, `${key}-policy`, {
        role: created.id,
        name: `circleci-${suffix}`,
        policy: policyDocument(this, `${key}-permissions`, statements).json,
      });
      return created;
    };

    this.planRole = role("plan", "plan", `CircleCI plan review (${config.name}): read-only, any branch`, anyBranch, planStatements(config, names, partition));

    const watch = watchStatements(config, names, partition);
    if (position === 0) {
      this.uploadRole = role("upload", "upload", `CircleCI (${config.name}): upload revisions from main and watch the deployment`, mainOnly, [
        putRevisionStatement(props.revisionBucketArn, names, "UploadRevision"),
        ...watch,
      ]);
    } else {
      this.promoteRole = role("promote", "promote", `CircleCI (${config.name}): promote revisions from ${path[position - 1]} on main and watch the deployment`, mainOnly, [
        putRevisionStatement(props.revisionBucketArn, names, "WritePromotedRevision"),
        {
          // promote first checks (HeadObject) whether the target already holds the artifact.
          sid: "CheckPromotedRevision",
          effect: "Allow",
          actions: ["s3:GetObject"],
          resources: [`${props.revisionBucketArn}/${names.releasePrefix}*`],
        },
        {
          // Without ListBucket, S3 answers HeadObject of a missing key with 403 instead of 404. HeadObject
          // carries no s3:prefix, so this cannot be narrowed by a prefix condition.
          sid: "TellMissingFromForbidden",
          effect: "Allow",
          actions: ["s3:ListBucket"],
          resources: [props.revisionBucketArn],
        },
        ...watch,
      ]);
    }
    if (position < path.length - 1) {
      this.promotionSourceRole = role(
        "promotion-source",
        "promotion-source",
        `CircleCI (${config.name}): read revisions and deployment history for promotion to ${path[position + 1]}, main only`,
        mainOnly,
        [
          {
            // GetObject with a VersionId is authorized as s3:GetObjectVersion.
            sid: "ReadRevisions",
            effect: "Allow",
            actions: ["s3:GetObject", "s3:GetObjectVersion"],
            resources: [`${props.revisionBucketArn}/${names.releasePrefix}*`],
          },
          ...deploymentHistoryStatements(config, names, partition),
        ],
      );
    }
  }
}

function putRevisionStatement(bucketArn: string, names: ResourceNames, sid: string): DataAwsIamPolicyDocumentStatement {
  return {
    sid,
    effect: "Allow",
    // Commit, model version and sha256 travel as object metadata, which PutObject sets.
    actions: ["s3:PutObject"],
    resources: [`${bucketArn}/${names.releasePrefix}*`],
  };
}

function codedeployArns(config: DeployRolesEnvironment, names: ResourceNames, partition: string) {
  const base = `arn:${partition}:codedeploy:${config.region}:${config.accountId}`;
  return {
    application: `${base}:application:${names.application}`,
    group: `${base}:deploymentgroup:${names.application}/${names.deploymentGroup}`,
    configs: `${base}:deploymentconfig:CodeDeployDefault.*`,
  };
}

/** Enough to find deployments of this environment's group and read their outcome and revision. */
function deploymentHistoryStatements(config: DeployRolesEnvironment, names: ResourceNames, partition: string): DataAwsIamPolicyDocumentStatement[] {
  const arns = codedeployArns(config, names, partition);
  return [
    {
      sid: "ReadDeployments",
      effect: "Allow",
      actions: ["codedeploy:ListDeployments", "codedeploy:GetDeployment", "codedeploy:BatchGetDeployments", "codedeploy:GetDeploymentGroup"],
      resources: [arns.group],
    },
    {
      sid: "ReadRevisionsAndApplication",
      effect: "Allow",
      actions: ["codedeploy:GetApplication", "codedeploy:GetApplicationRevision"],
      resources: [arns.application],
    },
  ];
}

/** What `release watch` reads: the deployment, its instances' lifecycle events, and the load balancer's view. */
function watchStatements(config: DeployRolesEnvironment, names: ResourceNames, partition: string): DataAwsIamPolicyDocumentStatement[] {
  const arns = codedeployArns(config, names, partition);
  return [
    ...deploymentHistoryStatements(config, names, partition),
    {
      sid: "FollowDeploymentInstances",
      effect: "Allow",
      actions: [
        "codedeploy:ListDeploymentInstances",
        "codedeploy:BatchGetDeploymentInstances",
        "codedeploy:GetDeploymentInstance",
        "codedeploy:ListDeploymentTargets",
        "codedeploy:BatchGetDeploymentTargets",
        "codedeploy:GetDeploymentTarget",
      ],
      resources: [arns.group],
    },
    { sid: "ReadDeploymentConfig", effect: "Allow", actions: ["codedeploy:GetDeploymentConfig"], resources: [arns.configs] },
    {
      // Neither Classic ELB's nor EC2's Describe calls support resource-level permissions.
      sid: "ReadTraffic",
      effect: "Allow",
      actions: ["elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeInstanceHealth", "ec2:DescribeInstances"],
      resources: ["*"],
    },
  ];
}

/**
 * IAM service prefix of each resource type the stacks manage. The plan role can refresh exactly these
 * services; the spec checks every resource type a synthesized stack contains is listed here, so a new
 * resource type fails the test instead of the first pull request's plan.
 */
export function iamServiceOf(resourceType: string): string | undefined {
  const rules: Array<[RegExp, string]> = [
    [
      /^aws_(vpc|subnet|eip|nat_gateway|internet_gateway|route_table|route|security_group|default_security_group|instance|flow_log|network_acl|default_network_acl|default_route_table|vpc_endpoint|vpc_security_group_(ingress|egress)_rule|ec2_instance_connect_endpoint)(_|$)/,
      "ec2",
    ],
    [/^aws_elb($|_)|^aws_load_balancer_|^aws_proxy_protocol_policy$|^aws_app_cookie_stickiness_policy$|^aws_lb_cookie_stickiness_policy$/, "elasticloadbalancing"],
    [/^aws_s3_/, "s3"],
    [/^aws_iam_/, "iam"],
    [/^aws_codedeploy_/, "codedeploy"],
    [/^aws_cloudwatch_metric_alarm$/, "cloudwatch"],
    [/^aws_cloudwatch_log_/, "logs"],
    [/^aws_lambda_/, "lambda"],
    [/^aws_sqs_/, "sqs"],
  ];
  return rules.find(([pattern]) => pattern.test(resourceType))?.[1];
}

/**
 * Read-only access for `terraform plan` (refresh) of one environment's stack. Resource-scoped to the
 * environment's name prefix wherever the service supports it; `Describe*` families only for EC2 and
 * Classic ELB, whose reads are pure metadata and do not support resource-level permissions.
 *
 * Why not the AWS managed ReadOnlyAccess policy: it also grants s3:GetObject on every bucket, reads of
 * DynamoDB items, SSM parameters and much more, to a role that any branch of the project can assume.
 * The cost of a scoped list is upkeep when the stacks gain a resource type; the spec makes that
 * visible (every synthesized resource type must map to a covered service).
 */
function planStatements(config: DeployRolesEnvironment, names: ResourceNames, partition: string): DataAwsIamPolicyDocumentStatement[] {
  const account = config.accountId;
  const region = config.region;
  const prefix = names.prefix;
  const arns = codedeployArns(config, names, partition);
  const statements: DataAwsIamPolicyDocumentStatement[] = [
    {
      sid: "RefreshNetworkAndInstances",
      effect: "Allow",
      actions: ["ec2:Describe*", "elasticloadbalancing:Describe*"],
      resources: ["*"],
    },
    {
      sid: "RefreshBuckets",
      effect: "Allow",
      actions: [
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "s3:GetBucketPolicy",
        "s3:GetBucketAcl",
        "s3:GetBucketCORS",
        "s3:GetBucketWebsite",
        "s3:GetBucketVersioning",
        "s3:GetBucketLogging",
        "s3:GetBucketRequestPayment",
        "s3:GetBucketTagging",
        "s3:GetBucketObjectLockConfiguration",
        "s3:GetBucketOwnershipControls",
        "s3:GetBucketPublicAccessBlock",
        "s3:GetBucketNotification",
        "s3:GetAccelerateConfiguration",
        "s3:GetLifecycleConfiguration",
        "s3:GetReplicationConfiguration",
        "s3:GetEncryptionConfiguration",
      ],
      resources: [`arn:${partition}:s3:::${prefix}-*`],
    },
    {
      sid: "RefreshIam",
      effect: "Allow",
      actions: [
        "iam:GetRole",
        "iam:GetRolePolicy",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
        "iam:ListRoleTags",
        "iam:GetInstanceProfile",
        "iam:ListInstanceProfilesForRole",
        "iam:GetOpenIDConnectProvider",
        "iam:ListOpenIDConnectProviderTags",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
      ],
      resources: [
        `arn:${partition}:iam::${account}:role/${prefix}-*`,
        `arn:${partition}:iam::${account}:instance-profile/${prefix}-*`,
        `arn:${partition}:iam::${account}:oidc-provider/oidc.circleci.com/org/${config.ci.circleciOrganizationId}`,
        `arn:${partition}:iam::${account}:policy/${prefix}-*`,
        `arn:${partition}:iam::aws:policy/*`,
      ],
    },
    {
      sid: "RefreshCodeDeploy",
      effect: "Allow",
      actions: ["codedeploy:GetApplication", "codedeploy:GetDeploymentGroup", "codedeploy:ListTagsForResource", "codedeploy:ListDeploymentGroups"],
      resources: [arns.application, arns.group],
    },
    {
      sid: "RefreshAlarms",
      effect: "Allow",
      // DescribeAlarms has no resource-level permissions; tags are read per alarm.
      actions: ["cloudwatch:DescribeAlarms"],
      resources: ["*"],
    },
    {
      sid: "RefreshAlarmTags",
      effect: "Allow",
      actions: ["cloudwatch:ListTagsForResource"],
      resources: [`arn:${partition}:cloudwatch:${region}:${account}:alarm:${prefix}-*`],
    },
    {
      sid: "RefreshLogGroups",
      effect: "Allow",
      actions: ["logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:ListTagsLogGroup"],
      resources: [`arn:${partition}:logs:${region}:${account}:log-group:*`],
    },
    {
      sid: "RefreshFunctions",
      effect: "Allow",
      actions: [
        "lambda:GetFunction",
        "lambda:GetFunctionConfiguration",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:GetFunctionConcurrency",
        "lambda:GetFunctionEventInvokeConfig",
        "lambda:GetRuntimeManagementConfig",
        "lambda:GetPolicy",
        "lambda:ListVersionsByFunction",
        "lambda:ListTags",
      ],
      resources: [`arn:${partition}:lambda:${region}:${account}:function:${prefix}-*`],
    },
    {
      sid: "RefreshQueues",
      effect: "Allow",
      actions: ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags"],
      resources: [`arn:${partition}:sqs:${region}:${account}:${prefix}-*`],
    },
  ];
  if (config.backend.type === "s3") {
    // Read the state only: plan review runs with -lock=false, so no lock object is written.
    statements.push(
      { sid: "ReadState", effect: "Allow", actions: ["s3:GetObject"], resources: [`arn:${partition}:s3:::${config.backend.bucket}/${config.backend.key}`] },
      {
        sid: "ListState",
        effect: "Allow",
        actions: ["s3:ListBucket"],
        resources: [`arn:${partition}:s3:::${config.backend.bucket}`],
        condition: [{ test: "StringEquals", variable: "s3:prefix", values: [config.backend.key] }],
      },
    );
  }
  return statements;
}
