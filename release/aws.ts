/**
 * What every release tool shares about talking to AWS: the clients' configuration (the SDK's
 * standard retry strategy: throttling and transient faults, exponential backoff with jitter)
 * and one translation of AWS failures into errors that say what to do.
 */
import { CodeDeployClient, type CodeDeployClientConfig } from "@aws-sdk/client-codedeploy";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ElasticLoadBalancingClient } from "@aws-sdk/client-elastic-load-balancing";
import { S3Client } from "@aws-sdk/client-s3";
import type { RetryStrategyV2 } from "@smithy/types";

/** A failure the operator can act on; `message` says what is wrong and what to do. */
export class ReleaseError extends Error {
  override readonly name: string = "ReleaseError";
}

/** Wrong or missing command-line input: the CLI prints the usage and exits 2. */
export class UsageError extends ReleaseError {
  override readonly name: string = "UsageError";
}

/** A failure that will probably go away by itself (a deployment in progress, throttling). */
export class RetryableError extends ReleaseError {
  override readonly name: string = "RetryableError";
}

export interface AwsClients {
  readonly codedeploy: CodeDeployClient;
  readonly s3: S3Client;
  readonly elb: ElasticLoadBalancingClient;
  readonly ec2: EC2Client;
}

export interface ClientOptions {
  readonly region: string;
  /** Named profile from ~/.aws; without one the SDK's default chain (env, SSO, role, IMDS) applies. */
  readonly profile?: string | undefined;
  /** Tests only: a retry strategy without backoff delays. Default: the SDK's standard strategy. */
  readonly retryStrategy?: RetryStrategyV2 | undefined;
  /** Tests only: answers HTTP requests instead of AWS, below the SDK's retry middleware. */
  readonly requestHandler?: CodeDeployClientConfig["requestHandler"];
  /** Tests only: fixed credentials, so that the SDK never looks for real ones. */
  readonly credentials?: CodeDeployClientConfig["credentials"];
}

/** Total attempts per call, including the first: enough to ride out throttling bursts. */
export const RETRY_ATTEMPTS = 6;

/**
 * Configuration every release client shares. Retries are the SDK's own standard strategy
 * (throttling and transient errors as @smithy classifies them, exponential backoff with jitter,
 * a retry quota per client), built by each client from its own @smithy: nothing of it is copied
 * here, and the trigger's Lambda bundle stays free of a second @smithy.
 */
export function clientConfig({ region, profile, retryStrategy, requestHandler, credentials }: ClientOptions) {
  return {
    region,
    retryMode: "standard",
    maxAttempts: RETRY_ATTEMPTS,
    ...(retryStrategy ? { retryStrategy } : {}),
    ...(profile ? { profile } : {}),
    ...(requestHandler ? { requestHandler } : {}),
    ...(credentials ? { credentials } : {}),
  };
}

export function createClients(options: ClientOptions): AwsClients {
  const common = clientConfig(options);
  return {
    codedeploy: new CodeDeployClient(common),
    s3: new S3Client(common),
    elb: new ElasticLoadBalancingClient(common),
    ec2: new EC2Client(common),
  };
}

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $fault?: string;
}

function errorName(error: unknown): string {
  const e = error as AwsLikeError | undefined;
  return e?.name ?? e?.code ?? "Error";
}

/**
 * Runs one AWS call and translates its failure. `action` is the IAM action it needs
 * ("codedeploy:CreateDeployment") and `target` what it acts on; both end up in the error
 * message. Retries happen inside the SDK client (clientConfig), below this.
 */
export async function aws<T>(action: string, target: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw explainAwsError(error, action, target);
  }
}

/** Turns an SDK error into a ReleaseError that names the action, the target and the likely fix. */
export function explainAwsError(error: unknown, action: string, target: string): Error {
  if (error instanceof ReleaseError) return error;
  const attempts = (error as AwsLikeError | undefined)?.$metadata?.attempts ?? 1;
  const name = errorName(error);
  const detail = (error as AwsLikeError | undefined)?.message ?? String(error);
  const on = `${action} on ${target}`;
  if (name === "CredentialsProviderError" || /Could not load credentials|credential/i.test(name)) {
    return new ReleaseError(`no AWS credentials for ${on}: ${detail}. Set AWS_PROFILE or pass --profile (--from-profile/--to-profile for promote), or run in an environment with a role.`, {
      cause: error,
    });
  }
  if (["ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId", "SignatureDoesNotMatch"].includes(name)) {
    return new ReleaseError(`AWS rejected the credentials for ${on} (${name}): refresh them (aws sso login, new session) and retry.`, { cause: error });
  }
  if (["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "Forbidden"].includes(name)) {
    return new ReleaseError(`access denied: ${action} on ${target} (${name}). The caller's role needs ${action} on that resource. AWS said: ${detail}`, { cause: error });
  }
  if (["PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"].includes(name)) {
    return new ReleaseError(`wrong region for ${on}: the bucket is in another region (${name}). Check the environment's region in environments/. AWS said: ${detail}`, { cause: error });
  }
  if (name === "ENOTFOUND" || name === "UnknownEndpoint" || /getaddrinfo/.test(detail)) {
    return new ReleaseError(`cannot reach the AWS endpoint for ${on}: is the region right and the network up? (${detail})`, { cause: error });
  }
  if (name === "ApplicationDoesNotExistException") {
    return new ReleaseError(`CodeDeploy application not found for ${on}: wrong account/region, or the environment's stack has not been applied.`, { cause: error });
  }
  if (name === "DeploymentGroupDoesNotExistException") {
    return new ReleaseError(`CodeDeploy deployment group missing for ${on}: wrong account/region, or the environment's stack has not been applied.`, { cause: error });
  }
  if (name === "NoSuchBucket") {
    return new ReleaseError(`bucket not found for ${on}: wrong account, or the environment's stack has not been applied.`, { cause: error });
  }
  if (name === "LoadBalancerNotFound" || name === "AccessPointNotFoundException" || name === "AccessPointNotFound") {
    return new ReleaseError(`load balancer not found for ${on}: wrong account/region, or the environment's stack has not been applied.`, { cause: error });
  }
  // The SDK stops at the first error it does not retry: all attempts used means every one was
  // throttled or a transient fault.
  if (attempts >= RETRY_ATTEMPTS) {
    return new RetryableError(`AWS kept refusing ${on} after ${attempts} attempts (${name}: throttled or unavailable); try again in a minute.`, { cause: error });
  }
  return new ReleaseError(`${on} failed: ${name}: ${detail}`, { cause: error });
}
