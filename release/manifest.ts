/**
 * Reads a revision bundle: its sha256, and the manifest inside it (app/revision.json), checked
 * against the bytes of every file so that what is uploaded is what was built.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { REVISION_MANIFEST_PATH, RevisionManifestSchema } from "../revision/revision-manifest.js";
import { readZip, ZipFormatError } from "../revision/zip.js";
import { ReleaseError } from "./aws.js";

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
    entries = readZip(zip, file);
  } catch (error) {
    if (error instanceof ZipFormatError) throw new ReleaseError(`not a usable revision bundle: ${error.message}`);
    throw error;
  }
  const sha256 = sha256Hex(zip);
  const manifestEntry = entries.find((e) => e.name === REVISION_MANIFEST_PATH);
  if (!manifestEntry) {
    if (!flags.gitCommit || !flags.modelVersion) {
      throw new ReleaseError(`${file} has no ${REVISION_MANIFEST_PATH}: pass --git-commit and --model-version, or build it with the revision builder`);
    }
    return { sha256, gitCommit: flags.gitCommit, modelVersion: flags.modelVersion, source: "flags" };
  }
  let json: unknown;
  try {
    json = JSON.parse(manifestEntry.data.toString("utf8"));
  } catch (error) {
    throw new ReleaseError(`${file}: ${REVISION_MANIFEST_PATH} is not valid JSON (${(error as Error).message})`);
  }
  const parsed = RevisionManifestSchema.safeParse(json);
  if (!parsed.success) throw new ReleaseError(`${file}: ${REVISION_MANIFEST_PATH} is invalid:\n${z.prettifyError(parsed.error)}`);
  const manifest = parsed.data;
  if (manifest.git_commit === "unknown" || manifest.git_dirty) {
    throw new ReleaseError(`${file} was built ${manifest.git_dirty ? "from uncommitted changes" : "outside a git checkout"}: a release must be reproducible from its commit. Commit, then rebuild.`);
  }
  const listed = new Map(Object.entries(manifest.files));
  const problems: string[] = [];
  const files = entries.filter((e) => !e.isDirectory && e.name !== REVISION_MANIFEST_PATH);
  for (const entry of files) {
    const expected = listed.get(entry.name);
    if (expected === undefined) problems.push(`${entry.name} is in the zip but not in the manifest`);
    else if (sha256Hex(entry.data) !== expected) problems.push(`${entry.name} does not match its sha256 in the manifest`);
  }
  for (const path of listed.keys()) if (!files.some((e) => e.name === path)) problems.push(`${path} is in the manifest but not in the zip`);
  if (problems.length > 0) throw new ReleaseError(`${file} does not match its ${REVISION_MANIFEST_PATH}:\n  ${problems.join("\n  ")}`);
  if (flags.gitCommit && !manifest.git_commit.startsWith(flags.gitCommit)) {
    throw new ReleaseError(`--git-commit ${flags.gitCommit} disagrees with the manifest's git_commit ${manifest.git_commit}`);
  }
  if (flags.modelVersion && flags.modelVersion !== manifest.model.version) {
    throw new ReleaseError(`--model-version ${flags.modelVersion} disagrees with the manifest's model version ${manifest.model.version}`);
  }
  return { sha256, gitCommit: manifest.git_commit, modelVersion: manifest.model.version, source: "manifest" };
}
