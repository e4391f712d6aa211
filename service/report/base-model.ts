/**
 * The model committed on the base branch (what this change would replace), read with `git show`
 * so the working tree is never touched. Every way of not having one is a clear state, not an
 * exception: no base branch in this clone, no model committed there yet, or files that cannot be
 * used (bad manifest, hash mismatch, ONNX that does not load).
 */
import { execFileSync } from "node:child_process";
import { type Manifest, parseManifest, sha256 } from "../src/manifest.js";
import { Model } from "../src/model.js";

/** Where the committed model lives in the repository, on every branch. */
export const COMMITTED_MODEL_PATH = "service/model";

/** Tried in order when no base ref is given: the pull request's target as the remote has it, then the local branch. */
export const DEFAULT_BASE_REFS = ["origin/main", "main"] as const;

export type BaseModel =
  | { readonly status: "found"; readonly ref: string; readonly commit: string; readonly manifest: Manifest; readonly model: Model }
  | { readonly status: "none"; readonly ref: string | null; readonly reason: string }
  | { readonly status: "unusable"; readonly ref: string; readonly commit: string; readonly reason: string };

function git(repo: string, args: string[]): Buffer {
  return execFileSync("git", args, { cwd: repo, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 256 * 1024 * 1024 });
}

/** The commit a ref names, or null when it names none here. */
export function resolveCommit(repo: string, ref: string): string | null {
  try {
    return (
      git(repo, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`])
        .toString("utf8")
        .trim() || null
    );
  } catch {
    return null;
  }
}

function fileAt(repo: string, commit: string, path: string): Buffer | null {
  try {
    return git(repo, ["show", `${commit}:${path}`]);
  } catch {
    return null;
  }
}

/**
 * Load the base model. `ref` given: that ref must exist (a typo is an error, not "no base").
 * `ref` absent: the first of DEFAULT_BASE_REFS that exists, or "none" saying none does.
 */
export async function loadBaseModel(repo: string, ref?: string): Promise<BaseModel> {
  let chosen: string | undefined = ref;
  let commit: string | null = null;
  if (ref !== undefined) {
    commit = resolveCommit(repo, ref);
    if (!commit) throw new Error(`base ref "${ref}" does not name a commit in ${repo} (fetch it first, e.g. git fetch origin main)`);
  } else {
    for (const candidate of DEFAULT_BASE_REFS) {
      commit = resolveCommit(repo, candidate);
      if (commit) {
        chosen = candidate;
        break;
      }
    }
    if (!commit) return { status: "none", ref: null, reason: `no base branch: neither ${DEFAULT_BASE_REFS.join(" nor ")} exists in this clone` };
  }
  const at = chosen!;
  const manifestText = fileAt(repo, commit, `${COMMITTED_MODEL_PATH}/manifest.json`);
  if (!manifestText) return { status: "none", ref: at, reason: `no model committed at ${at} (${COMMITTED_MODEL_PATH}/manifest.json is absent): this is the first model` };
  try {
    const manifest = parseManifest(manifestText.toString("utf8"), `${at}:${COMMITTED_MODEL_PATH}/manifest.json`);
    const bytes = fileAt(repo, commit, `${COMMITTED_MODEL_PATH}/${manifest.model_file}`);
    if (!bytes) throw new Error(`${at}:${COMMITTED_MODEL_PATH}/${manifest.model_file} is absent`);
    const actual = sha256(bytes);
    if (actual !== manifest.model_sha256) throw new Error(`${at}:${COMMITTED_MODEL_PATH}/${manifest.model_file} has sha256 ${actual}, its manifest says ${manifest.model_sha256}`);
    return { status: "found", ref: at, commit, manifest, model: await Model.fromBytes(manifest, bytes) };
  } catch (error) {
    return { status: "unusable", ref: at, commit, reason: error instanceof Error ? error.message : String(error) };
  }
}
