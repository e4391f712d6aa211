/**
 * Starting a CodeDeploy deployment of one exact S3 object version, shared by the S3 trigger
 * and the release CLI: duplicate detection, the in-progress rule, and blue/green target slots.
 */
import {
  BatchGetDeploymentsCommand,
  CreateDeploymentCommand,
  GetDeploymentGroupCommand,
  paginateListDeployments,
  UpdateDeploymentGroupCommand,
  type DeploymentGroupInfo,
  type DeploymentInfo,
} from "@aws-sdk/client-codedeploy";
import { ENVIRONMENT_TAG_KEY, SLOT_TAG_KEY, SLOTS, type Slot } from "../environments/names.js";
import { aws, ReleaseError, RetryableError, type AwsClients } from "./aws.js";
import { ClassicLoadBalancer } from "./classic-load-balancer.js";
import { chooseReplacementSlot, runningInstancesOfSlot } from "./slots.js";

export type Strategy = "in-place" | "blue-green";

/** Where an environment deploys to; built from environments/ (CLI) or the function's env vars (Lambda). */
export interface DeploymentTarget {
  readonly environment: string;
  readonly region: string;
  readonly application: string;
  readonly deploymentGroup: string;
  readonly loadBalancer: string;
  readonly strategy: Strategy;
}

/** One exact object version: what CodeDeploy is told to deploy, and how duplicates are recognised. */
export interface S3Revision {
  readonly bucket: string;
  readonly key: string;
  readonly versionId: string;
  /** Without quotes; CodeDeploy checks it against the object when given. */
  readonly eTag?: string | undefined;
}

/** Statuses in which a deployment still holds the group: CodeDeploy runs one at a time per group. */
export const ACTIVE_STATUSES: readonly string[] = ["Created", "Queued", "InProgress", "Baking", "Ready"];

export class DeploymentInProgressError extends RetryableError {
  override readonly name = "DeploymentInProgressError";
  constructor(
    readonly target: DeploymentTarget,
    readonly active: DeploymentInfo,
  ) {
    super(
      `deployment group ${target.deploymentGroup} (${target.environment}) is busy with deployment ${active.deploymentId} (${active.status}, ${describeRevision(active)}); ` +
        `this revision will be retried; if retries run out the event lands in the failure queue for redrive.`,
    );
  }
}

export function describeRevision(deployment: DeploymentInfo): string {
  const s3 = deployment.revision?.s3Location;
  return s3 ? `s3://${s3.bucket}/${s3.key}?versionId=${s3.version ?? "none"}` : (deployment.revision?.revisionType ?? "unknown revision");
}

export function isSameRevision(deployment: DeploymentInfo, revision: S3Revision): boolean {
  const s3 = deployment.revision?.s3Location;
  return s3?.bucket === revision.bucket && s3.key === revision.key && s3.version === revision.versionId;
}

const groupLabel = (t: DeploymentTarget): string => `deployment group ${t.application}/${t.deploymentGroup} in ${t.region}`;

/** Full details of a group's deployments created since `since`, newest first (at most `limit`). */
export async function recentDeployments(clients: AwsClients, target: DeploymentTarget, options: { since?: Date; limit?: number; statuses?: string[] } = {}): Promise<DeploymentInfo[]> {
  const { since, limit = 200, statuses } = options;
  const input = {
    applicationName: target.application,
    deploymentGroupName: target.deploymentGroup,
    ...(since ? { createTimeRange: { start: since } } : {}),
    ...(statuses ? { includeOnlyStatuses: statuses as never } : {}),
  };
  const ids = await aws("codedeploy:ListDeployments", groupLabel(target), async () => {
    const found: string[] = [];
    for await (const page of paginateListDeployments({ client: clients.codedeploy }, input)) {
      found.push(...(page.deployments ?? []));
      if (found.length >= limit) break;
    }
    return found;
  });
  const infos: DeploymentInfo[] = [];
  for (let i = 0; i < Math.min(ids.length, limit); i += 25) {
    const chunk = ids.slice(i, Math.min(i + 25, limit));
    const batch = await aws("codedeploy:BatchGetDeployments", groupLabel(target), () => clients.codedeploy.send(new BatchGetDeploymentsCommand({ deploymentIds: chunk })));
    infos.push(...(batch.deploymentsInfo ?? []));
  }
  return infos.sort((a, b) => (b.createTime?.getTime() ?? 0) - (a.createTime?.getTime() ?? 0));
}

export async function getDeploymentGroup(clients: AwsClients, target: DeploymentTarget): Promise<DeploymentGroupInfo> {
  const result = await aws("codedeploy:GetDeploymentGroup", groupLabel(target), () =>
    clients.codedeploy.send(new GetDeploymentGroupCommand({ applicationName: target.application, deploymentGroupName: target.deploymentGroup })),
  );
  if (!result.deploymentGroupInfo) throw new ReleaseError(`${groupLabel(target)} returned no details: has the environment's stack been applied?`);
  return result.deploymentGroupInfo;
}

/** The slot the group's EC2 tag filters name as the original fleet, if they name one. */
export function slotNamedByGroup(group: DeploymentGroupInfo): Slot | undefined {
  const filters = [...(group.ec2TagFilters ?? []), ...(group.ec2TagSet?.ec2TagSetList ?? []).flat()];
  const value = filters.find((f) => f.Key === SLOT_TAG_KEY)?.Value;
  return (SLOTS as readonly string[]).includes(value ?? "") ? (value as Slot) : undefined;
}

/** EC2 tag set naming one slot of one environment: CodeDeploy ORs filters inside a list and ANDs the lists. */
function slotTagSet(environment: string, slot: Slot) {
  return {
    ec2TagSetList: [[{ Key: ENVIRONMENT_TAG_KEY, Value: environment, Type: "KEY_AND_VALUE" as const }], [{ Key: SLOT_TAG_KEY, Value: slot, Type: "KEY_AND_VALUE" as const }]],
  };
}

/**
 * Points a blue/green group's original fleet at the slot that really serves traffic. With
 * DISCOVER_EXISTING, CodeDeploy reads the original fleet from the group's tags; whether it
 * moves them after a release is not documented, and a group left naming the old slot would
 * make the next release install onto live traffic. The load balancer is the source of truth,
 * so the group follows it (Terraform ignores ec2_tag_set, so the next plan keeps this).
 */
async function alignOriginalFleet(clients: AwsClients, target: DeploymentTarget, liveSlot: Slot): Promise<void> {
  await aws("codedeploy:UpdateDeploymentGroup", groupLabel(target), () =>
    clients.codedeploy.send(
      new UpdateDeploymentGroupCommand({
        applicationName: target.application,
        currentDeploymentGroupName: target.deploymentGroup,
        ec2TagSet: slotTagSet(target.environment, liveSlot),
      }),
    ),
  );
}

export type StartResult =
  | {
      readonly outcome: "created";
      readonly deploymentId: string;
      readonly replacementSlot?: Slot | undefined;
      readonly liveSlot?: Slot | undefined;
      /** The slot the group named as its original fleet before it was pointed at the live one. */
      readonly realignedFrom?: Slot | undefined;
    }
  | { readonly outcome: "duplicate"; readonly deploymentId: string; readonly status: string | undefined };

export interface StartOptions {
  readonly description: string;
  /** Rollback deploys a revision that was deployed before: skip the duplicate check. */
  readonly allowRedeploy?: boolean;
  /** How far back to look for a deployment of the same object version. */
  readonly duplicateWindowDays?: number;
  readonly now?: () => Date;
}

/**
 * Starts one deployment of `revision`, or reports the deployment that already deployed it.
 * Throws DeploymentInProgressError (retryable) while another deployment holds the group.
 */
export async function startDeployment(clients: AwsClients, target: DeploymentTarget, revision: S3Revision, options: StartOptions): Promise<StartResult> {
  const now = options.now?.() ?? new Date();
  const group = await getDeploymentGroup(clients, target);
  const groupType = group.deploymentStyle?.deploymentType ?? "IN_PLACE";
  const expectedType = target.strategy === "blue-green" ? "BLUE_GREEN" : "IN_PLACE";
  if (groupType !== expectedType) {
    throw new ReleaseError(`${groupLabel(target)} is ${groupType} but environment ${target.environment} is configured ${target.strategy}: apply the environment's stack before releasing.`);
  }

  const since = new Date(now.getTime() - (options.duplicateWindowDays ?? 7) * 86_400_000);
  const recent = await recentDeployments(clients, target, { since });
  if (!options.allowRedeploy) {
    const duplicate = recent.find((d) => isSameRevision(d, revision));
    if (duplicate?.deploymentId) return { outcome: "duplicate", deploymentId: duplicate.deploymentId, status: duplicate.status };
  }
  const active = recent.find((d) => ACTIVE_STATUSES.includes(d.status ?? ""));
  if (active) throw new DeploymentInProgressError(target, active);

  const s3Location = { bucket: revision.bucket, key: revision.key, bundleType: "zip" as const, version: revision.versionId, ...(revision.eTag ? { eTag: revision.eTag.replaceAll('"', "") } : {}) };
  let targetInstances: { ec2TagSet: ReturnType<typeof slotTagSet> } | undefined;
  let liveSlot: Slot | undefined;
  let replacementSlot: Slot | undefined;
  let realignedFrom: Slot | undefined;
  if (target.strategy === "blue-green") {
    const groupSlot = slotNamedByGroup(group);
    // Empty load balancer (first release): the group's original fleet is the slot its tag filters name.
    ({ liveSlot, replacementSlot } = await chooseReplacementSlot(new ClassicLoadBalancer(clients, target.loadBalancer), target.environment, groupSlot));
    if (liveSlot && groupSlot !== liveSlot) {
      await alignOriginalFleet(clients, target, liveSlot);
      realignedFrom = groupSlot;
    }
    const running = await runningInstancesOfSlot(clients, target.environment, replacementSlot);
    if (running.length === 0) {
      throw new ReleaseError(
        `no running instances tagged ${ENVIRONMENT_TAG_KEY}=${target.environment}, ${SLOT_TAG_KEY}=${replacementSlot}: the replacement fleet for this blue/green release does not exist or is stopped.`,
      );
    }
    targetInstances = { ec2TagSet: slotTagSet(target.environment, replacementSlot) };
  }
  const created = await aws("codedeploy:CreateDeployment", groupLabel(target), () =>
    clients.codedeploy.send(
      new CreateDeploymentCommand({
        applicationName: target.application,
        deploymentGroupName: target.deploymentGroup,
        revision: { revisionType: "S3", s3Location },
        description: options.description.slice(0, 256),
        ...(targetInstances ? { targetInstances } : {}),
      }),
    ),
  );
  if (!created.deploymentId) throw new ReleaseError(`CreateDeployment on ${groupLabel(target)} returned no deployment id`);
  return { outcome: "created", deploymentId: created.deploymentId, replacementSlot, liveSlot, realignedFrom };
}
