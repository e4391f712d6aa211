import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL_DIR } from "../service/training/paths.js";
import { writeModelReport } from "../service/report/write-report.js";
import { COMMENT_MARKER } from "./plan-comment.js";
import { GitHubError, pullRequestFrom, reviewStack, upsertComment } from "./plan-review.js";
import { terraformEnvironment } from "./provider-mirror.js";
import { terraform } from "./terraform-runner.js";

const REPO = resolve(import.meta.dirname, "..");

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A stand-in for GitHub's REST API on loopback: issue comments of one pull request. */
class FakeGitHub {
  readonly requests: Recorded[] = [];
  comments: Array<{ id: number; body: string }> = [];
  failWith?: number;
  private server?: Server;
  base = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((done) => this.server!.listen(0, "127.0.0.1", done));
    this.base = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/api/v3`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((done) => this.server?.close(() => done()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    this.requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(JSON.stringify(payload));
    };
    if (this.failWith) return send(this.failWith, { message: "Resource not accessible by integration" });
    const url = new URL(req.url ?? "/", "http://x");
    const list = /^\/api\/v3\/repos\/acme\/mpg-model\/issues\/12\/comments$/.exec(url.pathname);
    const one = /^\/api\/v3\/repos\/acme\/mpg-model\/issues\/comments\/(\d+)$/.exec(url.pathname);
    if (list && req.method === "GET") {
      // Pages linked the way GitHub links them: a Link header with rel="next" while more remain.
      const perPage = Number(url.searchParams.get("per_page") ?? 30);
      const page = Number(url.searchParams.get("page") ?? 1);
      const next: Record<string, string> = page * perPage < this.comments.length ? { Link: `<http://${req.headers.host}${url.pathname}?per_page=${perPage}&page=${page + 1}>; rel="next"` } : {};
      return send(200, this.comments.slice((page - 1) * perPage, page * perPage), next);
    }
    if (list && req.method === "POST") {
      const id = 1000 + this.comments.length;
      this.comments.push({ id, body: (JSON.parse(body) as { body: string }).body });
      return send(201, { id, html_url: `https://github.com/acme/mpg-model/pull/12#issuecomment-${id}` });
    }
    if (one && req.method === "PATCH") {
      const comment = this.comments.find((c) => c.id === Number(one[1]));
      if (!comment) return send(404, { message: "Not Found" });
      comment.body = (JSON.parse(body) as { body: string }).body;
      return send(200, { id: comment.id, html_url: `https://github.com/acme/mpg-model/pull/12#issuecomment-${comment.id}` });
    }
    send(404, { message: "Not Found" });
  }
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(REPO, "node_modules/tsx/dist/cli.mjs"), join(REPO, "terraform/plan-review-cli.ts"), ...args], { cwd: REPO, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

describe("npm run plan:review, end to end with a real plan against existing state", () => {
  const github = new FakeGitHub();
  let root: string;
  let out: string;
  let result: Awaited<ReturnType<typeof run>>;

  beforeAll(async () => {
    await github.start();
    // A stack directory as cdktf leaves it (cdk.tf.json), with real local state. terraform_data is
    // terraform's built-in resource: real init/apply/plan/show with no provider download and no AWS.
    // (The dev stack itself is planned by plan-comment.spec.ts through the same reviewStack.)
    root = mkdtempSync(join(tmpdir(), "plan-review-"));
    out = join(root, "review");
    const stack = join(root, "synth", "stacks", "demo");
    mkdirSync(stack, { recursive: true });
    const write = (resources: Record<string, object>) => writeFileSync(join(stack, "cdk.tf.json"), JSON.stringify({ resource: { terraform_data: resources } }));
    write({ model: { triggers_replace: "v1" }, old: { input: "x" } });
    const { env } = await terraformEnvironment(root);
    await terraform(["init", "-input=false", "-no-color"], { cwd: stack, env });
    await terraform(["apply", "-input=false", "-no-color", "-auto-approve"], { cwd: stack, env });
    write({ model: { triggers_replace: "v2" }, added: { input: "y" } });
    await writeModelReport({ modelDir: DEFAULT_MODEL_DIR, outDir: join(root, "model-report"), repo: REPO, baseRef: "HEAD" });
    // An earlier comment of ours (on the second page) must be updated, not duplicated.
    github.comments = [...Array.from({ length: 100 }, (_, i) => ({ id: i + 1, body: `someone else's comment ${i}` })), { id: 101, body: `${COMMENT_MARKER}\nold plan` }];
    const reportArgs = ["--model-report", join(root, "model-report"), "--model-report-url", "https://output.example/model-report/index.html"];
    result = await run(["--synth-dir", join(root, "synth"), "--out", out, "--github-api", github.base, ...reportArgs, "demo"], {
      ...process.env,
      GITHUB_TOKEN: "test-token-not-secret",
      CIRCLE_PULL_REQUEST: "https://github.com/acme/mpg-model/pull/12",
      CIRCLE_SHA1: "abcdef0123456789",
      CIRCLE_BUILD_URL: "https://circleci.com/gh/acme/mpg-model/7",
    });
  });
  afterAll(async () => {
    await github.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("plans the stack in place against its state, and keeps the plan, its JSON, its text and the comment", () => {
    expect(result.code, result.stderr).toBe(0);
    for (const file of ["demo.tfplan", "demo.plan.json", "demo.plan.txt", "demo.cost.txt", "comment.md"]) expect(existsSync(join(out, file)), file).toBe(true);
    const showJson = JSON.parse(readFileSync(join(out, "demo.plan.json"), "utf8")) as { resource_changes: Array<{ address: string; change: { actions: string[] } }> };
    expect(showJson.resource_changes.map((rc) => [rc.address, rc.change.actions.join("+")]).sort()).toEqual([
      ["terraform_data.added", "create"],
      ["terraform_data.model", "delete+create"],
      ["terraform_data.old", "delete"],
    ]);
    expect(readFileSync(join(out, "demo.plan.txt"), "utf8")).toContain("Plan: 2 to add, 0 to change, 2 to destroy.");
    const comment = readFileSync(join(out, "comment.md"), "utf8");
    expect(result.stdout.trim()).toBe(comment.trim());
    expect(comment).toContain("| demo | 1 | 0 | 1 | 1 |");
    expect(comment).toContain("```diff\n- terraform_data.old\n! terraform_data.model\n+ terraform_data.added\n```");
    expect(comment).toContain("commit `abcdef012345`");
  });

  it("adds the cost estimate from the plan and the model section from the model report to the same comment", () => {
    const comment = readFileSync(join(out, "comment.md"), "utf8");
    // terraform_data is Terraform's own resource: free, so the estimate is a real $0, not a missing price.
    expect(comment).toContain("| demo | $0.00 | $0.00 | $0.00 |");
    expect(comment).not.toContain("not priced");
    expect(readFileSync(join(out, "demo.cost.txt"), "utf8")).toContain("2 resources: 0 with a fixed monthly cost, 0 depend on usage, 2 free, 0 not priced");
    expect(comment).toContain("## Model");
    expect(comment).toContain("✅ **Quality gate: PASS** for auto-mpg 1.0.0 on 78 held-out cars; compared with HEAD");
    expect(comment).toContain("| RMSE (MPG) | 2.9856 | 2.9856 | 0 |");
    expect(comment).toContain("[Full model report (plots)](https://output.example/model-report/index.html)");
    expect(comment.indexOf(COMMENT_MARKER)).toBe(0);
  });

  it("updates its earlier comment on the pull request instead of adding one, with the token in the authorization header", () => {
    expect(result.stderr).toContain("plan review comment updated: https://github.com/acme/mpg-model/pull/12#issuecomment-101");
    expect(github.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /api/v3/repos/acme/mpg-model/issues/12/comments?per_page=100",
      "GET /api/v3/repos/acme/mpg-model/issues/12/comments?per_page=100&page=2",
      "PATCH /api/v3/repos/acme/mpg-model/issues/comments/101",
    ]);
    expect(github.requests[2]!.headers).toMatchObject({ authorization: "token test-token-not-secret", accept: "application/vnd.github+json", "x-github-api-version": "2022-11-28" });
    expect(github.comments).toHaveLength(101);
    expect(github.comments[100]!.body).toBe(readFileSync(join(out, "comment.md"), "utf8"));
  });
});

describe("npm run plan:review with a model report that is not there", () => {
  it("fails before planning, naming the file and what to run", async () => {
    const root = mkdtempSync(join(tmpdir(), "mpg13-review-"));
    try {
      const r = await run(["--synth-dir", join(root, "synth"), "--out", join(root, "out"), "--model-report", join(root, "nowhere"), "demo"], { ...process.env, GITHUB_TOKEN: "" });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot read the model report ${join(root, "nowhere", "metrics.json")} (ENOENT): run npm run model:report first`);
      expect(r.stderr).not.toContain("planning demo");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("reviewStack", () => {
  it("turns a failing plan into the stack's error instead of throwing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "plan-review-bad-"));
    try {
      writeFileSync(join(dir, "main.tf.json"), JSON.stringify({ output: { x: { value: "${var.missing}" } } }));
      const { env } = await terraformEnvironment(dir);
      const review = await reviewStack({ stack: "broken", workdir: dir, outDir: dir, env });
      expect(review.summary).toBeUndefined();
      expect(review.error).toMatch(/terraform plan .* failed in .* \(exit 1\):[\s\S]*Reference to undeclared input variable/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("posting the comment", () => {
  const github = new FakeGitHub();
  beforeAll(() => github.start());
  afterAll(() => github.stop());
  const pullRequest = { owner: "acme", repo: "mpg-model", number: 12 };

  it("creates a comment when the pull request has none of ours", async () => {
    github.comments = [{ id: 7, body: "looks good" }];
    github.requests.length = 0;
    const result = await upsertComment({ apiBase: github.base, token: "t", pullRequest, body: `${COMMENT_MARKER}\nnew` });
    expect(result).toEqual({ action: "created", url: "https://github.com/acme/mpg-model/pull/12#issuecomment-1001" });
    expect(github.requests.map((r) => r.method)).toEqual(["GET", "POST"]);
    expect(JSON.parse(github.requests[1]!.body)).toEqual({ body: `${COMMENT_MARKER}\nnew` });
  });

  it("explains a rejected token instead of failing silently", async () => {
    github.failWith = 403;
    try {
      await expect(upsertComment({ apiBase: github.base, token: "t", pullRequest, body: "x" })).rejects.toThrow(GitHubError);
      await expect(upsertComment({ apiBase: github.base, token: "t", pullRequest, body: "x" })).rejects.toThrow(
        /GitHub GET \/repos\/acme\/mpg-model\/issues\/12\/comments\?per_page=100 failed: 403 Forbidden \(the token needs write access.*Resource not accessible by integration/,
      );
    } finally {
      delete github.failWith;
    }
  });
});

describe("pullRequestFrom", () => {
  it("reads CircleCI's pull request URL and ignores builds without one", () => {
    expect(pullRequestFrom({ CIRCLE_PULL_REQUEST: "https://github.com/acme/mpg-model/pull/12" })).toEqual({ owner: "acme", repo: "mpg-model", number: 12 });
    expect(pullRequestFrom({ CIRCLE_PULL_REQUESTS: "https://github.com/acme/mpg-model/pull/3,https://github.com/acme/mpg-model/pull/4" })).toEqual({ owner: "acme", repo: "mpg-model", number: 3 });
    expect(pullRequestFrom({})).toBeUndefined();
    expect(() => pullRequestFrom({ CIRCLE_PULL_REQUEST: "https://github.com/acme/mpg-model/issues/12" })).toThrow(/not a pull request URL/);
  });
});
