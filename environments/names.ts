/**
 * Names of the AWS resources an environment owns. The stacks create them under these names
 * and the release tools (Lambda trigger, release CLI, hooks) find them by the same names,
 * so the convention lives here once.
 */
import type { EnvironmentConfig } from "./schema.js";

/** Tag that tells CodeDeploy (and the release tools) which deployment slot an instance is in. */
export const SLOT_TAG_KEY = "DeploymentSlot";
export const SLOTS = ["blue", "green"] as const;
export type Slot = (typeof SLOTS)[number];
/** Blue/green groups name the slot the first release replaces; CodeDeploy moves on from there. */
export const INITIAL_LIVE_SLOT: Slot = "blue";
export const ENVIRONMENT_TAG_KEY = "Environment";
/** The login the instances' AMI (Ubuntu) offers over EC2 Instance Connect; operators may push keys for it only. */
export const SSH_OS_USER = "ubuntu";

export interface ResourceNames {
  readonly prefix: string;
  readonly application: string;
  readonly deploymentGroup: string;
  readonly loadBalancer: string;
  readonly revisionBucket: string;
  readonly accessLogBucket: string;
  /** Key prefix under which a new revision triggers this environment's deployment. */
  readonly releasePrefix: string;
  readonly triggerFunction: string;
  readonly instanceRole: string;
  readonly codeDeployRole: string;
  /** Name tag of the EC2 Instance Connect Endpoint (and its security group) the release CLI tunnels through. */
  readonly instanceConnectEndpoint: string;
  /** Managed policy that lets operators SSH to this environment's instances. */
  readonly sshOperatorsPolicy: string;
  /** The application folder on an instance, where `sh make_prediction.sh` is typed (AfterInstall links it there). */
  readonly appDir: string;
}

export function resourceNames(config: Pick<EnvironmentConfig, "project" | "name" | "accountId" | "region">): ResourceNames {
  const prefix = `${config.project}-${config.name}`;
  return {
    prefix,
    application: prefix,
    deploymentGroup: prefix,
    loadBalancer: prefix,
    // Bucket names are global: the account and region make them unique without a random suffix.
    revisionBucket: `${prefix}-revisions-${config.accountId}-${config.region}`,
    accessLogBucket: `${prefix}-lb-logs-${config.accountId}-${config.region}`,
    releasePrefix: `releases/${config.name}/`,
    triggerFunction: `${prefix}-deploy-trigger`,
    instanceRole: `${prefix}-instance`,
    codeDeployRole: `${prefix}-codedeploy`,
    instanceConnectEndpoint: `${prefix}-instance-connect`,
    sshOperatorsPolicy: `${prefix}-ssh-operators`,
    appDir: `/opt/${config.project}`,
  };
}
