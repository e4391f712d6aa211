/**
 * The release CLI's commands as functions: each takes parsed options and a context (clients,
 * output, clock) and returns an exit code, so that tests drive them with mocked clients.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import {
  BatchGetDeploymentTargetsCommand,
  GetDeploymentCommand,
  ListDeploymentTargetsCommand,
  type DeploymentInfo,
  type DeploymentTarget as CodeDeployTarget,
  type InstanceTarget,
} from "@aws-sdk/client-codedeploy";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { loadEnvironment, type EnvironmentConfig } from "../environments/index.js";
import { resourceNames } from "../environments/names.js";
import { aws, ReleaseError, UsageError, type AwsClients } from "./aws.js";
import { ACTIVE_STATUSES, describeRevision, isSameRevision, recentDeployments, startDeployment, type DeploymentTarget, type S3Revision } from "./deploy.js";
import { inspectBundle, sha256Base64, sha256Hex } from "./manifest.js";
import { ClassicLoadBalancer } from "./classic-load-balancer.js";
import { readLiveFleet } from "./slots.js";

export const METADATA = { gitCommit: "git-commit", modelVersion: "model-version", sha256: "bundle-sha256", promotedFrom: "promoted-from" } as const;

export interface CommandContext {
  /** Clients for one environment's account and region, with an optional named profile. */
  readonly clientsFor: (config: EnvironmentConfig, profile?: string) => AwsClients;
  readonly out: (line: string) => void;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  /**
   * With --json: records the command's result fields; the CLI prints them as one JSON document
   * on stdout (field names in docs/release.md). Without --json it is absent.
   */
  readonly report?: (fields: Record<string, unknown>) => void;
}

/** A revision as the JSON output names it. */
export function revisionFields(d: DeploymentInfo | undefined): Record<string, unknown> | null {
  const s3 = d?.revision?.s3Location;
  return s3 ? { bucket: s3.bucket ?? null, key: s3.key ?? null, versionId: s3.version ?? null } : null;
}

export function deploymentTarget(config: EnvironmentConfig): DeploymentTarget {
  const names = resourceNames(config);
  return {
    environment: config.name,
    region: config.region,
    application: names.application,
    deploymentGroup: names.deploymentGroup,
    loadBalancer: names.loadBalancer,
    strategy: config.deployment.strategy,
  };
}

export function environment(name: string | undefined, flag: string): EnvironmentConfig {
  if (!name) throw new UsageError(`${flag} <environment> is required`);
  try {
    return loadEnvironment(name);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/* ------------------------------------------------------------------ upload */

/**
 * Stores a revision under `key` in the environment's bucket (which starts its deployment) and
 * returns the new object version. S3 verifies the bytes against their SHA-256 on the way in, and
 * a bucket that is not versioned is refused: a release must be pinned to one object version.
 */
async function putRevision(clients: AwsClients, config: EnvironmentConfig, key: string, body: Buffer, metadata: Record<string, string>): Promise<string> {
  const bucket = resourceNames(config).revisionBucket;
  const label = `s3://${bucket}/${key}`;
  const checksum = sha256Base64(body);
  const put = await aws("s3:PutObject", label, () =>
    clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "application/zip", ChecksumSHA256: checksum, Metadata: metadata })),
  );
  if (put.ChecksumSHA256 && put.ChecksumSHA256 !== checksum) throw new ReleaseError(`${label}: S3 stored checksum ${put.ChecksumSHA256}, expected ${checksum}`);
  if (!put.VersionId) throw new ReleaseError(`${label} was stored without a version id: the revision bucket must be versioned (apply the ${config.name} stack)`);
  return put.VersionId;
}

export interface UploadOptions {
  readonly env?: string | undefined;
  readonly file?: string | undefined;
  readonly gitCommit?: string | undefined;
  readonly modelVersion?: string | undefined;
  readonly profile?: string | undefined;
}

export async function upload(options: UploadOptions, ctx: CommandContext): Promise<number> {
  const config = environment(options.env, "--env");
  if (!options.file) throw new UsageError("upload needs the bundle: release upload --env <env> dist/revision-<version>.zip");
  if (!options.file.endsWith(".zip")) throw new UsageError(`${options.file} does not end in .zip: the S3 trigger only deploys .zip keys`);
  let zip: Buffer;
  try {
    zip = readFileSync(options.file);
  } catch (error) {
    throw new ReleaseError(`cannot read ${options.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const bundle = inspectBundle(zip, options.file, options);
  const names = resourceNames(config);
  const key = `${names.releasePrefix}${basename(options.file)}`;
  const clients = ctx.clientsFor(config, options.profile);
  const versionId = await putRevision(clients, config, key, zip, {
    [METADATA.gitCommit]: bundle.gitCommit,
    [METADATA.modelVersion]: bundle.modelVersion,
    [METADATA.sha256]: bundle.sha256,
  });
  ctx.report?.({ environment: config.name, bucket: names.revisionBucket, key, versionId, sha256: bundle.sha256, modelVersion: bundle.modelVersion, gitCommit: bundle.gitCommit });
  ctx.out(`uploaded ${options.file} to s3://${names.revisionBucket}/${key}`);
  ctx.out(`  version ${versionId}, sha256 ${bundle.sha256}, model ${bundle.modelVersion}, commit ${bundle.gitCommit} (from ${bundle.source})`);
  ctx.out(`  the ${config.name} deployment starts from the S3 trigger; follow it with: npm run release -- watch --env ${config.name} --version-id ${versionId}`);
  ctx.out(versionId);
  return 0;
}

/* ------------------------------------------------------------------ promote */

export interface PromoteOptions {
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly fromProfile?: string | undefined;
  readonly toProfile?: string | undefined;
}

async function lastSucceeded(clients: AwsClients, target: DeploymentTarget): Promise<DeploymentInfo[]> {
  const succeeded = await recentDeployments(clients, target, { statuses: ["Succeeded"], limit: 50 });
  return succeeded.filter((d) => d.revision?.revisionType === "S3" && d.revision.s3Location?.version);
}

export async function promote(options: PromoteOptions, ctx: CommandContext): Promise<number> {
  const from = environment(options.from, "--from");
  const to = environment(options.to, "--to");
  if (from.name === to.name) throw new UsageError(`--from and --to are both ${from.name}: promotion copies a release to another environment`);
  const source = ctx.clientsFor(from, options.fromProfile);
  const target = ctx.clientsFor(to, options.toProfile);
  const [last] = await lastSucceeded(source, deploymentTarget(from));
  const location = last?.revision?.s3Location;
  if (!last || !location?.bucket || !location.key || !location.version) {
    throw new ReleaseError(`${from.name} has no succeeded deployment of a versioned S3 revision: nothing to promote (deploy and verify it in ${from.name} first)`);
  }
  const sourceLabel = `s3://${location.bucket}/${location.key}?versionId=${location.version}`;
  ctx.out(`promoting ${sourceLabel} (deployment ${last.deploymentId}, succeeded ${last.completeTime?.toISOString() ?? "?"}) from ${from.name} to ${to.name}`);
  const object = await aws("s3:GetObjectVersion", sourceLabel, async () => {
    const response = await source.s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key, VersionId: location.version }));
    return { body: Buffer.from((await response.Body?.transformToByteArray()) ?? []), metadata: response.Metadata ?? {}, eTag: response.ETag };
  });
  const sha256 = sha256Hex(object.body);
  const recorded = object.metadata[METADATA.sha256];
  if (!recorded) throw new ReleaseError(`${sourceLabel} has no ${METADATA.sha256} metadata: it was not uploaded with "release upload", so its integrity cannot be checked`);
  if (recorded !== sha256) throw new ReleaseError(`${sourceLabel} downloaded with sha256 ${sha256} but was uploaded with ${recorded}: refusing to promote a changed artifact`);
  if (location.eTag && object.eTag && object.eTag.replaceAll('"', "") !== location.eTag.replaceAll('"', "")) {
    throw new ReleaseError(`${sourceLabel} has ETag ${object.eTag} but ${from.name} deployed ETag ${location.eTag}: refusing to promote a different object`);
  }

  const names = resourceNames(to);
  const key = `${names.releasePrefix}${basename(location.key)}`;
  const targetLabel = `s3://${names.revisionBucket}/${key}`;
  const existing = await aws("s3:GetObject", targetLabel, () => target.s3.send(new HeadObjectCommand({ Bucket: names.revisionBucket, Key: key }))).catch((error: unknown) => {
    const cause = (error as { cause?: { name?: string; $metadata?: { httpStatusCode?: number } } }).cause;
    if (cause?.name === "NotFound" || cause?.name === "NoSuchKey" || cause?.$metadata?.httpStatusCode === 404) return undefined;
    throw error;
  });
  const promoted = (versionId: string, copied: boolean) =>
    ctx.report?.({
      from: from.name,
      to: to.name,
      source: { bucket: location.bucket, key: location.key, versionId: location.version, deploymentId: last.deploymentId ?? null },
      environment: to.name,
      bucket: names.revisionBucket,
      key,
      versionId,
      sha256,
      copied,
    });
  if (existing?.Metadata?.[METADATA.sha256] === sha256 && existing.VersionId) {
    promoted(existing.VersionId, false);
    ctx.out(`${targetLabel} already holds this artifact (version ${existing.VersionId}, sha256 ${sha256}): not uploading again`);
    ctx.out(existing.VersionId);
    return 0;
  }
  const versionId = await putRevision(target, to, key, object.body, {
    [METADATA.gitCommit]: object.metadata[METADATA.gitCommit] ?? "unknown",
    [METADATA.modelVersion]: object.metadata[METADATA.modelVersion] ?? "unknown",
    [METADATA.sha256]: sha256,
    [METADATA.promotedFrom]: `${from.name} ${sourceLabel}`,
  });
  promoted(versionId, true);
  ctx.out(`copied to ${targetLabel} version ${versionId} (sha256 ${sha256}, byte-identical); the ${to.name} deployment starts from the S3 trigger:`);
  ctx.out(`  npm run release -- watch --env ${to.name} --version-id ${versionId}`);
  ctx.out(versionId);
  return 0;
}

/* ------------------------------------------------------------------ watch */

export interface WatchOptions {
  readonly env?: string | undefined;
  readonly deployment?: string | undefined;
  /**
   * S3 version id printed by upload/promote: wait for the deployment the trigger starts for
   * exactly that object, instead of the newest one (which may still be the previous release).
   */
  readonly versionId?: string | undefined;
  readonly profile?: string | undefined;
  readonly timeoutMs?: number | undefined;
  readonly intervalMs?: number | undefined;
}

export const WATCH_TIMEOUT_EXIT = 124;

const MARK: Record<string, string> = { Succeeded: "ok", Failed: "FAILED", InProgress: "running", Pending: "pending", Skipped: "skipped", Unknown: "?", Ready: "ready" };

function renderInstance(t: InstanceTarget): string {
  const events = (t.lifecycleEvents ?? []).filter((e) => e.status !== "Pending" || e.lifecycleEventName === undefined);
  const current = events.at(-1);
  const label = t.instanceLabel ? ` [${t.instanceLabel}]` : "";
  return `  ${t.targetId ?? "?"}${label} ${t.status ?? "?"}${current ? `: ${events.map((e) => `${e.lifecycleEventName}=${MARK[e.status ?? "Unknown"] ?? e.status}`).join(" ")}` : ""}`;
}

function trafficLine(targets: InstanceTarget[]): string | undefined {
  const count = (label: string, event: string) => {
    const group = targets.filter((t) => t.instanceLabel === label);
    const done = group.filter((t) => t.lifecycleEvents?.some((e) => e.lifecycleEventName === event && e.status === "Succeeded")).length;
    return `${done}/${group.length}`;
  };
  if (!targets.some((t) => t.instanceLabel)) return undefined;
  return `  traffic: replacement (Green) AllowTraffic ${count("Green", "AllowTraffic")}, original (Blue) BlockTraffic ${count("Blue", "BlockTraffic")}`;
}

async function deploymentTargets(clients: AwsClients, deploymentId: string): Promise<InstanceTarget[]> {
  const ids: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await aws("codedeploy:ListDeploymentTargets", `deployment ${deploymentId}`, () => clients.codedeploy.send(new ListDeploymentTargetsCommand({ deploymentId, nextToken })));
    ids.push(...(page.targetIds ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  const targets: CodeDeployTarget[] = [];
  for (let i = 0; i < ids.length; i += 25) {
    const batch = await aws("codedeploy:BatchGetDeploymentTargets", `deployment ${deploymentId}`, () =>
      clients.codedeploy.send(new BatchGetDeploymentTargetsCommand({ deploymentId, targetIds: ids.slice(i, i + 25) })),
    );
    targets.push(...(batch.deploymentTargets ?? []));
  }
  return targets.flatMap((t) => (t.instanceTarget ? [t.instanceTarget] : [])).sort((a, b) => `${a.instanceLabel}${a.targetId}`.localeCompare(`${b.instanceLabel}${b.targetId}`));
}

function explainFailure(info: DeploymentInfo, targets: InstanceTarget[], out: (line: string) => void): void {
  out(`deployment ${info.deploymentId} ${info.status}${info.errorInformation ? `: ${info.errorInformation.code ?? ""} ${info.errorInformation.message ?? ""}`.trimEnd() : ""}`);
  for (const t of targets.filter((x) => x.status === "Failed")) {
    const event = t.lifecycleEvents?.find((e) => e.status === "Failed");
    out(`failed instance ${t.targetId}${t.instanceLabel ? ` [${t.instanceLabel}]` : ""}, lifecycle event ${event?.lifecycleEventName ?? "unknown"}`);
    const d = event?.diagnostics;
    if (d) {
      out(`  ${d.errorCode ?? "error"}${d.scriptName ? ` in ${d.scriptName}` : ""}: ${d.message ?? ""}`);
      if (d.logTail) for (const line of d.logTail.trimEnd().split("\n")) out(`  | ${line}`);
    }
  }
  if (info.rollbackInfo?.rollbackDeploymentId)
    out(`CodeDeploy started rollback deployment ${info.rollbackInfo.rollbackDeploymentId}: watch it with --deployment ${info.rollbackInfo.rollbackDeploymentId}`);
}

export async function watch(options: WatchOptions, ctx: CommandContext): Promise<number> {
  const config = environment(options.env, "--env");
  const target = deploymentTarget(config);
  const clients = ctx.clientsFor(config, options.profile);
  let deploymentId = options.deployment;
  if (deploymentId !== undefined && !/^d-[A-Z0-9]{9}$/.test(deploymentId)) throw new UsageError(`--deployment ${deploymentId} is not a CodeDeploy deployment id (d- followed by 9 characters)`);
  if (deploymentId && options.versionId) throw new UsageError("--deployment and --version-id both name the deployment to watch: give one");
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const intervalMs = options.intervalMs ?? 10_000;
  const started = ctx.now().getTime();
  if (options.versionId) {
    const names = resourceNames(config);
    ctx.out(`waiting for the S3 trigger to start a deployment of version ${options.versionId} in ${config.name}`);
    for (;;) {
      const since = new Date(started - 86_400_000);
      const match = (await recentDeployments(clients, target, { since, limit: 50 })).find((d) => d.revision?.s3Location?.version === options.versionId);
      if (match?.deploymentId) {
        deploymentId = match.deploymentId;
        break;
      }
      if (ctx.now().getTime() - started + intervalMs > timeoutMs) {
        ctx.out(
          `timed out after ${Math.round(timeoutMs / 1000)} s: no deployment of version ${options.versionId} started in ${config.name}. ` +
            `Check the trigger's log group /aws/lambda/${names.triggerFunction} and its failure queue ${names.triggerFunction}-failures.`,
        );
        ctx.report?.({ environment: config.name, deploymentId: null, status: null, outcome: "timeout", versionId: options.versionId });
        return WATCH_TIMEOUT_EXIT;
      }
      await ctx.sleep(intervalMs);
    }
  }
  if (!deploymentId) {
    const [latest] = await recentDeployments(clients, target, { limit: 25 });
    if (!latest?.deploymentId) throw new ReleaseError(`${config.name} has no deployments yet: upload a revision first`);
    deploymentId = latest.deploymentId;
  }
  const printed = new Map<string, string>();
  const show = (key: string, line: string) => {
    if (printed.get(key) === line) return;
    printed.set(key, line);
    ctx.out(line);
  };
  ctx.out(`watching ${deploymentId} in ${config.name} (timeout ${Math.round(timeoutMs / 1000)} s)`);
  for (;;) {
    const id = deploymentId;
    const { deploymentInfo: info } = await aws("codedeploy:GetDeployment", `deployment ${id}`, () => clients.codedeploy.send(new GetDeploymentCommand({ deploymentId: id })));
    if (!info) throw new ReleaseError(`deployment ${id} not found in ${config.name} (${config.region})`);
    const targets = await deploymentTargets(clients, id);
    const o = info.deploymentOverview;
    show(
      "status",
      `${info.status}${o ? ` (pending ${o.Pending ?? 0}, in progress ${o.InProgress ?? 0}, succeeded ${o.Succeeded ?? 0}, failed ${o.Failed ?? 0}, skipped ${o.Skipped ?? 0}${o.Ready ? `, ready ${o.Ready}` : ""})` : ""} ${describeRevision(info)}`,
    );
    for (const t of targets) show(`instance ${t.targetId}`, renderInstance(t));
    const traffic = trafficLine(targets);
    if (traffic) show("traffic", traffic);
    const watched = (outcome: string) =>
      ctx.report?.({
        environment: config.name,
        deploymentId: id,
        status: info.status ?? null,
        outcome,
        revision: revisionFields(info),
        instances: targets.map((t) => ({
          instanceId: t.targetId ?? null,
          label: t.instanceLabel ?? null,
          status: t.status ?? null,
          lifecycleEvents: (t.lifecycleEvents ?? []).map((e) => ({ name: e.lifecycleEventName ?? null, status: e.status ?? null })),
        })),
        error: info.errorInformation ? { code: info.errorInformation.code ?? null, message: info.errorInformation.message ?? null } : null,
        rollbackDeploymentId: info.rollbackInfo?.rollbackDeploymentId ?? null,
      });
    if (info.status === "Ready") show("ready", `  replacement fleet is ready and waiting for the traffic switch: aws deploy continue-deployment --deployment-id ${id}`);
    if (info.status === "Succeeded") {
      watched("succeeded");
      ctx.out(`deployment ${id} succeeded`);
      return 0;
    }
    if (info.status === "Failed" || info.status === "Stopped") {
      watched("failed");
      explainFailure(info, targets, ctx.out);
      return 1;
    }
    if (ctx.now().getTime() - started + intervalMs > timeoutMs) {
      watched("timeout");
      ctx.out(`timed out after ${Math.round(timeoutMs / 1000)} s: deployment ${id} is still ${info.status}; it goes on in AWS. Watch again with --deployment ${id}`);
      return WATCH_TIMEOUT_EXIT;
    }
    await ctx.sleep(intervalMs);
  }
}

/* ------------------------------------------------------------------ status */

export async function status(options: { env?: string | undefined; profile?: string | undefined }, ctx: CommandContext): Promise<number> {
  const config = environment(options.env, "--env");
  const target = deploymentTarget(config);
  const clients = ctx.clientsFor(config, options.profile);
  const names = resourceNames(config);
  ctx.out(`${config.name}: account ${config.accountId}, ${config.region}, ${config.deployment.strategy}`);
  const fleet = await readLiveFleet(new ClassicLoadBalancer(clients, target.loadBalancer), target.environment, { withHealth: true }).catch((error: unknown) => {
    // AWS failures (credentials, access) stop the command; a confused load balancer is status to show.
    if (!(error instanceof ReleaseError) || error.cause !== undefined) throw error;
    ctx.out(`live slot: unknown (${error.message})`);
    return undefined;
  });
  if (fleet) {
    ctx.out(`live slot: ${fleet.liveSlot ?? "none (nothing registered with the load balancer)"}`);
    for (const i of fleet.instances) ctx.out(`  ${i.instanceId} ${i.slot ?? "?"} ${i.state ?? "?"} ${i.health ?? "?"}`);
  }
  const deployments = await recentDeployments(clients, target, { limit: 10 });
  const current = deployments.find((d) => d.status === "Succeeded");
  const location = current?.revision?.s3Location;
  const report = (currentRevision: Record<string, unknown> | null) =>
    ctx.report?.({
      environment: config.name,
      accountId: config.accountId,
      region: config.region,
      strategy: config.deployment.strategy,
      liveSlot: fleet ? (fleet.liveSlot ?? null) : null,
      instances: (fleet?.instances ?? []).map((i) => ({ instanceId: i.instanceId, slot: i.slot ?? null, state: i.state ?? null, health: i.health ?? null })),
      currentRevision,
      deployments: deployments.map((d) => ({
        deploymentId: d.deploymentId ?? null,
        status: d.status ?? null,
        createTime: d.createTime?.toISOString() ?? null,
        creator: d.creator ?? null,
        revision: revisionFields(d),
      })),
    });
  if (current && location?.bucket && location.key) {
    const head = await aws("s3:GetObject", describeRevision(current), () => clients.s3.send(new HeadObjectCommand({ Bucket: location.bucket, Key: location.key, VersionId: location.version })));
    const m = head.Metadata ?? {};
    report({
      ...revisionFields(current),
      deploymentId: current.deploymentId ?? null,
      modelVersion: m[METADATA.modelVersion] ?? null,
      gitCommit: m[METADATA.gitCommit] ?? null,
      sha256: m[METADATA.sha256] ?? null,
      promotedFrom: m[METADATA.promotedFrom] ?? null,
    });
    ctx.out(`current revision: ${describeRevision(current)} (deployment ${current.deploymentId})`);
    ctx.out(
      `  model ${m[METADATA.modelVersion] ?? "unknown"}, commit ${m[METADATA.gitCommit] ?? "unknown"}, sha256 ${m[METADATA.sha256] ?? "unknown"}${m[METADATA.promotedFrom] ? `, promoted from ${m[METADATA.promotedFrom]}` : ""}`,
    );
  } else {
    report(null);
    ctx.out(`current revision: none succeeded yet in ${names.deploymentGroup}`);
  }
  ctx.out("last deployments:");
  if (deployments.length === 0) ctx.out("  none");
  for (const d of deployments) ctx.out(`  ${d.deploymentId} ${d.status} ${d.createTime?.toISOString() ?? "?"} ${d.creator ?? ""} ${describeRevision(d)}`);
  return 0;
}

/* ------------------------------------------------------------------ rollback */

export async function rollback(options: { env?: string | undefined; profile?: string | undefined }, ctx: CommandContext): Promise<number> {
  const config = environment(options.env, "--env");
  const target = deploymentTarget(config);
  const clients = ctx.clientsFor(config, options.profile);
  const recent = await recentDeployments(clients, target, { limit: 100 });
  const active = recent.find((d) => ACTIVE_STATUSES.includes(d.status ?? ""));
  if (active) {
    throw new ReleaseError(
      `deployment ${active.deploymentId} is ${active.status} in ${config.name}: stop it (aws deploy stop-deployment --auto-rollback-enabled) or let it finish before rolling back`,
    );
  }
  const succeeded = recent.filter((d) => d.status === "Succeeded" && d.revision?.s3Location?.version);
  const [current] = succeeded;
  const previous = current && succeeded.find((d) => !isSameRevision(d, revisionOf(current)));
  if (!current || !previous) {
    throw new ReleaseError(`${config.name} has ${current ? "only one" : "no"} successfully deployed revision among its last ${recent.length} deployments: there is nothing to roll back to`);
  }
  const revision = revisionOf(previous);
  ctx.out(`rolling ${config.name} back from ${describeRevision(current)} to ${describeRevision(previous)} (deployed by ${previous.deploymentId})`);
  const result = await startDeployment(clients, target, revision, { description: `rollback to ${revision.key} (version ${revision.versionId}) from ${current.deploymentId}`, allowRedeploy: true });
  ctx.report?.({
    environment: config.name,
    deploymentId: result.deploymentId,
    from: { ...revisionFields(current), deploymentId: current.deploymentId ?? null },
    to: { ...revisionFields(previous), deploymentId: previous.deploymentId ?? null },
    replacementSlot: result.outcome === "created" ? (result.replacementSlot ?? null) : null,
    liveSlot: result.outcome === "created" ? (result.liveSlot ?? null) : null,
  });
  if (result.outcome === "created" && result.replacementSlot) ctx.out(`  installing to the ${result.replacementSlot} slot (live: ${result.liveSlot ?? "none"})`);
  ctx.out(`started deployment ${result.deploymentId}: npm run release -- watch --env ${config.name} --deployment ${result.deploymentId}`);
  ctx.out(result.deploymentId);
  return 0;
}

function revisionOf(d: DeploymentInfo): S3Revision {
  const s3 = d.revision?.s3Location;
  return { bucket: s3?.bucket ?? "", key: s3?.key ?? "", versionId: s3?.version ?? "", eTag: s3?.eTag };
}
