/**
 * Reads a revision bundle: its sha256, and the revision-manifest.json inside it, checked
 * against the bytes of every file so that what is uploaded is what was built.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { ReleaseError } from "./aws.js";
import { readZip, ZipFormatError } from "./zip.js";

export const MANIFEST_NAME = "revision-manifest.json";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase hex sha256");
/**
 * The fields the release tools rely on. Other fields are allowed (the bundle builder owns the
 * format); `files` may be a path → sha256 map or a list of { path, sha256 }.
 */
const RevisionManifest = z.object({
  gitCommit: z.string().regex(/^[0-9a-f]{7,40}$/, "must be a git commit hash"),
  modelVersion: z.string().min(1),
  buildTime: z.string().optional(),
  files: z.union([z.record(z.string(), Sha256), z.array(z.object({ path: z.string().min(1), sha256: Sha256 }))]),
});

export interface BundleInfo {
  /** sha256 of the whole zip, hex. */
  readonly sha256: string;
  readonly gitCommit: string;
  readonly modelVersion: string;
  /** Where gitCommit/modelVersion came from. */
  readonly source: "manifest" | "flags";
}

export const sha256Hex = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");
export const sha256Base64 = (data: Uint8Array): string => createHash("sha256").update(data).digest("base64");

/**
 * Checks `zip` and returns what `upload` stores as metadata. Values from flags must agree with
 * the manifest when both exist; without a manifest both flags are required.
 */
export function inspectBundle(zip: Buffer, file: string, flags: { gitCommit?: string | undefined; modelVersion?: string | undefined } = {}): BundleInfo {
  let entries;
  try {
    entries = readZip(zip);
  } catch (error) {
    if (error instanceof ZipFormatError) throw new ReleaseError(`${file} is not a usable revision bundle: ${error.message}`);
    throw error;
  }
  const sha256 = sha256Hex(zip);
  const manifestEntry = entries.find((e) => e.name === MANIFEST_NAME);
  if (!manifestEntry) {
    if (!flags.gitCommit || !flags.modelVersion) {
      throw new ReleaseError(`${file} has no ${MANIFEST_NAME} at its root: pass --git-commit and --model-version, or build it with the revision builder`);
    }
    return { sha256, gitCommit: flags.gitCommit, modelVersion: flags.modelVersion, source: "flags" };
  }
  let json: unknown;
  try {
    json = JSON.parse(manifestEntry.read().toString("utf8"));
  } catch (error) {
    throw new ReleaseError(`${file}: ${MANIFEST_NAME} is not valid JSON (${(error as Error).message})`);
  }
  const parsed = RevisionManifest.safeParse(json);
  if (!parsed.success) throw new ReleaseError(`${file}: ${MANIFEST_NAME} is invalid:\n${z.prettifyError(parsed.error)}`);
  const manifest = parsed.data;
  const listed = new Map(Array.isArray(manifest.files) ? manifest.files.map((f) => [f.path, f.sha256] as const) : Object.entries(manifest.files));
  const problems: string[] = [];
  const files = entries.filter((e) => !e.isDirectory && e.name !== MANIFEST_NAME);
  for (const entry of files) {
    const expected = listed.get(entry.name);
    if (expected === undefined) problems.push(`${entry.name} is in the zip but not in the manifest`);
    else if (sha256Hex(entry.read()) !== expected) problems.push(`${entry.name} does not match its sha256 in the manifest`);
  }
  for (const path of listed.keys()) if (!files.some((e) => e.name === path)) problems.push(`${path} is in the manifest but not in the zip`);
  if (problems.length > 0) throw new ReleaseError(`${file} does not match its ${MANIFEST_NAME}:\n  ${problems.join("\n  ")}`);
  if (flags.gitCommit && !manifest.gitCommit.startsWith(flags.gitCommit) && !flags.gitCommit.startsWith(manifest.gitCommit)) {
    throw new ReleaseError(`--git-commit ${flags.gitCommit} disagrees with the manifest's gitCommit ${manifest.gitCommit}`);
  }
  if (flags.modelVersion && flags.modelVersion !== manifest.modelVersion) {
    throw new ReleaseError(`--model-version ${flags.modelVersion} disagrees with the manifest's modelVersion ${manifest.modelVersion}`);
  }
  return { sha256, gitCommit: manifest.gitCommit, modelVersion: manifest.modelVersion, source: "manifest" };
}
