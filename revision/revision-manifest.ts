/**
 * The manifest inside every revision bundle: what was built, from which commit, with which
 * model, and the sha256 of every other file. The bundler writes it; the release CLI checks a
 * bundle against it before uploading. One schema for both, so they cannot drift apart.
 */
import { z } from "zod";

/** Where the manifest sits in the bundle. */
export const REVISION_MANIFEST_PATH = "app/revision.json";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase hex sha256");

export const RevisionManifestSchema = z.object({
  application: z.string().min(1),
  version: z.string().min(1),
  /** The commit the bundle was built from, or "unknown" outside a git checkout. */
  git_commit: z.union([z.string().regex(/^[0-9a-f]{40}$/, "must be a full git commit hash"), z.literal("unknown")]),
  /** True when tracked files differed from the commit: such a bundle is not what the commit says. */
  git_dirty: z.boolean(),
  built_at: z.iso.datetime(),
  model: z.object({ name: z.string().min(1), version: z.string().min(1), sha256: Sha256 }),
  platform: z.string().min(1),
  /** Every file of the bundle except this manifest, by path. */
  files: z.record(z.string(), Sha256),
});

export type RevisionManifest = z.infer<typeof RevisionManifestSchema>;
