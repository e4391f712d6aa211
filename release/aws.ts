/**
 * What every release tool shares about talking to AWS: one retry policy (throttling and
 * transient faults, exponential backoff with jitter) and one translation of AWS failures into
 * errors that say what to do. SDK clients are built with maxAttempts 1 so that this wrapper
 * is the only retry layer (and the one the tests exercise).
 */
import { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ElasticLoadBalancingClient } from "@aws-sdk/client-elastic-load-balancing";
import { S3Client } from "@aws-sdk/client-s3";

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
}

export function createClients({ region, profile }: ClientOptions): AwsClients {
  const common = { region, maxAttempts: 1, ...(profile ? { profile } : {}) };
  return {
    codedeploy: new CodeDeployClient(common),
    s3: new S3Client(common),
    elb: new ElasticLoadBalancingClient(common),
    ec2: new EC2Client(common),
  };
}

const THROTTLING = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
  "ProvisionedThroughputExceededException",
  "LimitExceededException",
]);
const TRANSIENT = new Set(["InternalError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException", "TimeoutError", "ECONNRESET", "ETIMEDOUT", "EPIPE"]);

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
}

function errorName(error: unknown): string {
  const e = error as AwsLikeError | undefined;
  return e?.name ?? e?.code ?? "Error";
}

export function isThrottling(error: unknown): boolean {
  return THROTTLING.has(errorName(error)) || (error as AwsLikeError | undefined)?.$metadata?.httpStatusCode === 429;
}

function isTransient(error: unknown): boolean {
  const e = error as AwsLikeError | undefined;
  return TRANSIENT.has(errorName(error)) || TRANSIENT.has(e?.code ?? "") || (e?.$fault === "server" && (e.$metadata?.httpStatusCode ?? 0) >= 500);
}

export interface RetryOptions {
  /** Total attempts including the first. */
  readonly attempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Injected in tests so that backoff does not slow them down. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onRetry?: (info: { action: string; attempt: number; delayMs: number; error: string }) => void;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let defaultRetry: RetryOptions = {};
/** Lets a process (the CLI's tests, the Lambda) set the retry policy once. */
export function setDefaultRetryOptions(options: RetryOptions): void {
  defaultRetry = options;
}

/**
 * Runs one AWS call. `action` is the IAM action it needs ("codedeploy:CreateDeployment") and
 * `target` what it acts on; both end up in the error message when the call fails.
 */
export async function aws<T>(action: string, target: string, call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { attempts = 6, baseDelayMs = 200, maxDelayMs = 10_000, sleep = realSleep, onRetry } = { ...defaultRetry, ...options };
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt < attempts && (isThrottling(error) || isTransient(error))) {
        const delayMs = Math.round(Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
        onRetry?.({ action, attempt, delayMs, error: errorName(error) });
        await sleep(delayMs);
        continue;
      }
      throw explainAwsError(error, action, target, attempt);
    }
  }
}

/** Turns an SDK error into a ReleaseError that names the action, the target and the likely fix. */
export function explainAwsError(error: unknown, action: string, target: string, attempts = 1): Error {
  if (error instanceof ReleaseError) return error;
  const name = errorName(error);
  const detail = (error as AwsLikeError | undefined)?.message ?? String(error);
  const on = `${action} on ${target}`;
  if (name === "CredentialsProviderError" || /Could not load credentials|credential/i.test(name)) {
    return new ReleaseError(
      `no AWS credentials for ${on}: ${detail}. Set AWS_PROFILE or pass --profile (--from-profile/--to-profile for promote), or run in an environment with a role.`,
      { cause: error },
    );
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
  if (isThrottling(error)) {
    return new RetryableError(`AWS kept throttling ${on} after ${attempts} attempts (${name}); try again in a minute.`, { cause: error });
  }
  return new ReleaseError(`${on} failed: ${name}: ${detail}`, { cause: error });
}
