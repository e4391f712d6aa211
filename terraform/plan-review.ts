/**
 * `npm run plan:review -- [--out DIR] [--aws-profile-prefix P] [--synth-dir DIR]
 *    [--model-report DIR] [--model-report-url URL] [stack...]`
 *
 * The CI plan review: synthesize, then for every stack run terraform init + plan + show in the
 * synthesized stack directory itself, against its real backend and with real (read-only, OIDC)
 * credentials, never the offline override that `npm run plan` uses. Keeps each plan
 * (`<stack>.tfplan`, `<stack>.plan.json` from `terraform show -json`, `<stack>.plan.txt` as terraform printed it) and the rendered `comment.md` in DIR,
 * and posts or updates the comment on the pull request when GITHUB_TOKEN is set and the build
 * belongs to one (CIRCLE_PULL_REQUEST). Plans run with -lock=false: a review never blocks an apply.
 * The comment also carries each stack's monthly cost estimate (baseline from the state, estimate
 * from the plan; `<stack>.cost.txt` beside the plans) and, with --model-report, the model section
 * from that directory's metrics.json (`npm run model:report`), linking to --model-report-url.
 * Exit 0 when every stack planned (and the comment, if due, was posted), 1 otherwise.
 */
import { STATUS_CODES } from "node:http";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Octokit } from "@octokit/core";
import { paginateRest } from "@octokit/plugin-paginate-rest";
import { costText } from "./cost-format.js";
import { stackCost } from "./cost-plan.js";
import { COMMENT_MARKER, type StackReview } from "./plan-comment.js";
import { changesFromShowJson, summarizeChanges } from "./plan-summary.js";
import { terraform } from "./terraform-runner.js";

export interface ReviewStackOptions {
  readonly stack: string;
  /** The directory terraform runs in: cdktf.out/stacks/<stack> in CI. */
  readonly workdir: string;
  /** Where the plan files go. */
  readonly outDir: string;
  readonly env: NodeJS.ProcessEnv;
}

/** init + plan + show of one stack in place. A failure becomes the review's `error`, not an exception. */
export async function reviewStack(options: ReviewStackOptions): Promise<StackReview> {
  const run = (args: string[]) => terraform(args, { cwd: options.workdir, env: options.env });
  const planFile = join(resolve(options.outDir), `${options.stack}.tfplan`);
  try {
    await run(["init", "-input=false", "-no-color"]);
    // plan's own output is the human-readable plan: keeping it saves a `terraform show` (a provider start).
    const text = await run(["plan", "-input=false", "-no-color", "-lock=false", `-out=${planFile}`]);
    await writeFile(join(options.outDir, `${options.stack}.plan.txt`), text);
    const showJson = JSON.parse(await run(["show", "-json", planFile])) as unknown;
    await writeFile(join(options.outDir, `${options.stack}.plan.json`), JSON.stringify(showJson));
    const changes = changesFromShowJson(showJson);
    const cost = stackCost(options.stack, showJson);
    await writeFile(join(options.outDir, `${options.stack}.cost.txt`), `${costText(cost)}\n`);
    return { stack: options.stack, summary: summarizeChanges(changes), changes, cost };
  } catch (error) {
    return { stack: options.stack, error: error instanceof Error ? error.message : String(error) };
  }
}

export interface PullRequest {
  readonly owner: string;
  readonly repo: string;
  readonly number: number;
}

/** The pull request of a CircleCI build: CIRCLE_PULL_REQUEST is its URL (https://github.com/o/r/pull/12). */
export function pullRequestFrom(env: NodeJS.ProcessEnv): PullRequest | undefined {
  const url = env.CIRCLE_PULL_REQUEST ?? env.CIRCLE_PULL_REQUESTS?.split(",")[0];
  if (!url) return undefined;
  const match = /^https:\/\/[^/]+\/([^/]+)\/([^/]+)\/pull\/(\d+)\/?$/.exec(url.trim());
  if (!match) throw new Error(`CIRCLE_PULL_REQUEST is not a pull request URL: ${url}`);
  return { owner: match[1]!, repo: match[2]!, number: Number(match[3]) };
}

export interface PostOptions {
  /** https://api.github.com, or GitHub Enterprise's /api/v3, or a test server. */
  readonly apiBase: string;
  readonly token: string;
  readonly pullRequest: PullRequest;
  readonly body: string;
}

export class GitHubError extends Error {
  override readonly name = "GitHubError";
}

const PaginatedOctokit = Octokit.plugin(paginateRest);

/** Turns Octokit's RequestError into one line that says what to fix. */
function explainGitHubError(error: unknown, apiBase: string): Error {
  const e = error as { status?: number; message?: string; request?: { method?: string; url?: string } };
  if (typeof e.status !== "number") return error instanceof Error ? error : new Error(String(error));
  const path = (e.request?.url ?? "").replace(apiBase.replace(/\/+$/, ""), "");
  const hint = e.status === 401 ? " (the token is invalid or expired)" : e.status === 403 || e.status === 404 ? " (the token needs write access to pull requests / issues of this repository)" : "";
  return new GitHubError(`GitHub ${e.request?.method ?? "request"} ${path} failed: ${e.status} ${STATUS_CODES[e.status] ?? ""}${hint}: ${(e.message ?? "").slice(0, 300)}`, { cause: error });
}

/**
 * Creates the plan review comment on the pull request, or updates ours (found by its marker) so
 * each push leaves one up-to-date comment. Returns what it did and the comment's URL.
 */
export async function upsertComment(options: PostOptions): Promise<{ action: "created" | "updated"; url: string }> {
  const { owner, repo, number: issue_number } = options.pullRequest;
  const octokit = new PaginatedOctokit({ auth: options.token, baseUrl: options.apiBase.replace(/\/+$/, ""), userAgent: "plan-review" });
  // The media type and API version GitHub's REST docs ask for, pinned so answers keep their shape.
  octokit.hook.before("request", (request) => {
    request.headers.accept = "application/vnd.github+json";
    request.headers["x-github-api-version"] = "2022-11-28";
    request.request = { ...request.request, signal: AbortSignal.timeout(30_000) };
  });
  try {
    let existing: { id: number } | undefined;
    const pages = octokit.paginate.iterator("GET /repos/{owner}/{repo}/issues/{issue_number}/comments", { owner, repo, issue_number, per_page: 100 });
    for await (const page of pages) {
      existing = page.data.find((c) => c.body?.includes(COMMENT_MARKER));
      if (existing) break;
    }
    if (existing) {
      const updated = await octokit.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", { owner, repo, comment_id: existing.id, body: options.body });
      return { action: "updated", url: updated.data.html_url };
    }
    const created = await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", { owner, repo, issue_number, body: options.body });
    return { action: "created", url: created.data.html_url };
  } catch (error) {
    throw explainGitHubError(error, options.apiBase);
  }
}
