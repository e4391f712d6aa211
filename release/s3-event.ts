/**
 * Turns one S3 notification record into either a revision to deploy or a reason to ignore it.
 * Anything that is not a new .zip under this environment's prefix in this bucket is ignored
 * (and logged by the caller): retrying it would never succeed.
 */
import type { S3Revision } from "./deploy.js";

interface ParsedRecord {
  readonly eventName: string;
  readonly bucket: string;
  readonly key: string;
  readonly versionId: string | undefined;
  readonly eTag: string | undefined;
  readonly size: number | undefined;
}

/**
 * Checks the few fields the trigger relies on and names the first one that is wrong. Written
 * by hand rather than with zod to keep the Lambda bundle small (see deployment-trigger.ts).
 */
export function parseRecord(record: unknown): ParsedRecord | string {
  const at = (value: unknown, path: string[]): unknown =>
    path.reduce<unknown>((node, part) => (node !== null && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined), value);
  const text = (path: string[], optional = false): string | undefined => {
    const value = at(record, path);
    if (value === undefined && optional) return undefined;
    if (typeof value !== "string" || value.length === 0) throw new Error(`${path.join(".")} must be a non-empty string, got ${JSON.stringify(value) ?? "undefined"}`);
    return value;
  };
  try {
    const source = at(record, ["eventSource"]);
    if (source !== undefined && source !== "aws:s3") return `eventSource is ${JSON.stringify(source)}, not aws:s3`;
    const size = at(record, ["s3", "object", "size"]);
    return {
      eventName: text(["eventName"])!,
      bucket: text(["s3", "bucket", "name"])!,
      key: text(["s3", "object", "key"])!,
      versionId: text(["s3", "object", "versionId"], true),
      eTag: text(["s3", "object", "eTag"], true),
      size: typeof size === "number" ? size : undefined,
    };
  } catch (error) {
    return (error as Error).message;
  }
}

export interface EventScope {
  /** Bucket the function is subscribed to. */
  readonly bucket: string;
  /** Key prefix of this environment's releases, e.g. "releases/staging/". */
  readonly releasePrefix: string;
}

export type RecordDecision = { readonly action: "deploy"; readonly revision: S3Revision } | { readonly action: "ignore"; readonly reason: string; readonly key?: string | undefined };

/** S3 URL-encodes keys in notifications, with "+" for spaces. */
export function decodeS3Key(raw: string): string {
  return decodeURIComponent(raw.replace(/\+/g, " "));
}

export function decideRecord(record: unknown, scope: EventScope): RecordDecision {
  const parsed = parseRecord(record);
  if (typeof parsed === "string") return { action: "ignore", reason: `not an S3 object notification: ${parsed}` };
  const { eventName } = parsed;
  let key: string;
  try {
    key = decodeS3Key(parsed.key);
  } catch {
    return { action: "ignore", reason: `object key is not valid URL encoding: ${parsed.key}` };
  }
  if (!eventName.startsWith("ObjectCreated:")) return { action: "ignore", reason: `event ${eventName} is not an object creation (deletes and restores are not releases)`, key };
  if (parsed.bucket !== scope.bucket) return { action: "ignore", reason: `bucket ${parsed.bucket} is not this environment's revision bucket ${scope.bucket}`, key };
  if (!key.startsWith(scope.releasePrefix)) return { action: "ignore", reason: `key is outside this environment's release prefix ${scope.releasePrefix}`, key };
  if (!key.endsWith(".zip")) return { action: "ignore", reason: "key does not end in .zip: only zip bundles are revisions", key };
  if (parsed.size === 0) return { action: "ignore", reason: "object is empty: not a revision bundle", key };
  if (!parsed.versionId || parsed.versionId === "null") {
    return { action: "ignore", reason: "object has no version id: the revision bucket must be versioned so that exactly this object is deployed", key };
  }
  return { action: "deploy", revision: { bucket: parsed.bucket, key, versionId: parsed.versionId, eTag: parsed.eTag } };
}
