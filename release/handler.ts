/**
 * Lambda entry point: a new revision under an environment's release prefix starts one
 * CodeDeploy deployment of exactly that object version.
 *
 * Outcomes, each logged as one JSON line:
 * - not a release (other prefix, not .zip, delete, test event, malformed): "ignored", no retry;
 * - the same object version was already deployed (S3 delivers at least once): "duplicate";
 * - another deployment holds the group: "in-progress", thrown so that Lambda retries and,
 *   when retries run out, the event lands in the failure queue with its bucket/key/version;
 * - anything else wrong (mixed load balancer, missing group, AccessDenied): thrown, same path.
 * The function runs with reserved concurrency 1, so list-then-create cannot race itself.
 */
import { createClients, ReleaseError, RetryableError, type AwsClients } from "./aws.js";
import { startDeployment, type DeploymentTarget } from "./deploy.js";
import { decideRecord, type EventScope } from "./s3-event.js";

export type HandlerConfig = DeploymentTarget & EventScope;

/** Environment variables the construct sets (stacks/constructs/deployment-trigger.ts). */
export const HANDLER_ENV_VARS = [
  "ENVIRONMENT_NAME",
  "DEPLOY_REGION",
  "APPLICATION_NAME",
  "DEPLOYMENT_GROUP_NAME",
  "LOAD_BALANCER_NAME",
  "DEPLOYMENT_STRATEGY",
  "RELEASE_PREFIX",
  "REVISION_BUCKET",
] as const;

/** Reads and checks the function's configuration, naming every variable that is missing or wrong. */
export function configFromEnv(env: Record<string, string | undefined>): HandlerConfig {
  const problems = HANDLER_ENV_VARS.filter((name) => !env[name]).map((name) => `${name} is not set`);
  const strategy = env.DEPLOYMENT_STRATEGY;
  if (strategy && strategy !== "in-place" && strategy !== "blue-green") problems.push(`DEPLOYMENT_STRATEGY is "${strategy}": expected in-place or blue-green`);
  const prefix = env.RELEASE_PREFIX;
  if (prefix && (!prefix.endsWith("/") || prefix.startsWith("/"))) problems.push(`RELEASE_PREFIX is "${prefix}": expected a key prefix such as releases/dev/ (no leading /, trailing /)`);
  if (problems.length > 0) throw new ReleaseError(`deployment trigger is misconfigured (environment variables): ${problems.join("; ")}`);
  return {
    environment: env.ENVIRONMENT_NAME!,
    region: env.DEPLOY_REGION!,
    application: env.APPLICATION_NAME!,
    deploymentGroup: env.DEPLOYMENT_GROUP_NAME!,
    loadBalancer: env.LOAD_BALANCER_NAME!,
    strategy: strategy as DeploymentTarget["strategy"],
    releasePrefix: prefix!,
    bucket: env.REVISION_BUCKET!,
  };
}

export type Log = (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;

export const jsonLog: Log = (level, message, fields = {}) => {
  const line = JSON.stringify({ level, message, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

export interface RecordResult {
  readonly outcome: "created" | "duplicate" | "ignored" | "in-progress" | "failed";
  readonly key?: string | undefined;
  readonly deploymentId?: string | undefined;
  readonly reason?: string | undefined;
}

export function createHandler(config: HandlerConfig, clients: AwsClients, log: Log = jsonLog): (event: unknown) => Promise<RecordResult[]> {
  return async (event) => {
    const records = (event as { Records?: unknown } | null)?.Records;
    if (!Array.isArray(records)) {
      const reason = (event as { Event?: unknown } | null)?.Event === "s3:TestEvent" ? "S3 test event" : "event has no Records array";
      log("info", "ignored", { reason, environment: config.environment });
      return [{ outcome: "ignored", reason }];
    }
    const results: RecordResult[] = [];
    const failures: Error[] = [];
    for (const record of records) {
      const decision = decideRecord(record, config);
      if (decision.action === "ignore") {
        log("info", "ignored", { environment: config.environment, key: decision.key, reason: decision.reason });
        results.push({ outcome: "ignored", key: decision.key, reason: decision.reason });
        continue;
      }
      const { revision } = decision;
      const context = { environment: config.environment, bucket: revision.bucket, key: revision.key, versionId: revision.versionId };
      try {
        const started = await startDeployment(clients, config, revision, { description: `release ${revision.key} (version ${revision.versionId}) from S3 trigger` });
        if (started.outcome === "duplicate") {
          log("info", "duplicate", { ...context, deploymentId: started.deploymentId, status: started.status, reason: "this object version was already deployed" });
        } else {
          log("info", "created", { ...context, deploymentId: started.deploymentId, liveSlot: started.liveSlot, replacementSlot: started.replacementSlot, realignedFrom: started.realignedFrom });
        }
        results.push({ outcome: started.outcome, key: revision.key, deploymentId: started.deploymentId });
      } catch (error) {
        const err = error instanceof Error ? error : new Error(String(error));
        const outcome = err instanceof RetryableError ? "in-progress" : "failed";
        log(outcome === "in-progress" ? "warn" : "error", outcome, { ...context, error: err.name, reason: err.message });
        results.push({ outcome, key: revision.key, reason: err.message });
        failures.push(err);
      }
    }
    if (failures.length > 0) {
      // Thrown so that Lambda retries the event and then sends it to the failure destination:
      // the release is never dropped. Records that already started are duplicates on retry.
      throw failures.length === 1 ? failures[0]! : new AggregateError(failures, failures.map((f) => f.message).join("; "));
    }
    return results;
  };
}

let lambdaHandler: ((event: unknown) => Promise<RecordResult[]>) | undefined;
/** The function's handler ("index.handler"): configuration and clients are built once per container. */
export const handler = async (event: unknown): Promise<RecordResult[]> => {
  if (!lambdaHandler) {
    const config = configFromEnv(process.env);
    lambdaHandler = createHandler(config, createClients({ region: config.region }));
  }
  return lambdaHandler(event);
};
