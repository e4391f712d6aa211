import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile/index.js";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role/index.js";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy/index.js";
import { Construct } from "constructs";
import { partitionOf } from "./aws-partition.js";
import { policyDocument, serviceTrustPolicy } from "./policy-document.js";

export interface InstanceRoleProps {
  readonly roleName: string;
  readonly accountId: string;
  readonly region: string;
  /** ARN of the environment's revision bucket. */
  readonly revisionBucketArn: string;
  /** Key prefix of this environment's revisions: the instances may read nothing else. */
  readonly releasePrefix: string;
}

/**
 * What the CodeDeploy agent on an instance needs, and nothing more: read this environment's
 * revisions, and read the regional bucket the agent installs and updates itself from.
 */
export class InstanceRole extends Construct {
  public readonly role: IamRole;
  public readonly profile: IamInstanceProfile;

  constructor(scope: Construct, id: string, props: InstanceRoleProps) {
    super(scope, id);
    const agentBucket = `arn:${partitionOf(props.region)}:s3:::aws-codedeploy-${props.region}`;
    this.role = new IamRole(this, "role", {
      name: props.roleName,
      description: "Model service instances: CodeDeploy agent reads revisions",
      assumeRolePolicy: serviceTrustPolicy(this, "trust", "ec2.amazonaws.com", props.accountId).json,
    });
    new IamRolePolicy(this, "policy", {
      role: this.role.id,
      name: "codedeploy-agent",
      policy: policyDocument(this, "permissions", [
        {
          sid: "ReadOwnRevisions",
          effect: "Allow",
          actions: ["s3:GetObject", "s3:GetObjectVersion"],
          resources: [`${props.revisionBucketArn}/${props.releasePrefix}*`],
        },
        {
          sid: "InstallAndUpdateAgent",
          effect: "Allow",
          actions: ["s3:GetObject", "s3:ListBucket"],
          resources: [agentBucket, `${agentBucket}/*`],
        },
      ]).json,
    });
    this.profile = new IamInstanceProfile(this, "profile", { name: props.roleName, role: this.role.name });
  }
}
