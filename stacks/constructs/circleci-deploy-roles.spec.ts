import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEnvironment, loadEnvironments, type EnvironmentConfig } from "../../environments/index.js";
import { buildApp } from "../app.js";
import { SYNTH_TEST_DATE, testingApp } from "../synthesized.js";
import { TerraformStack, Testing } from "../platform.js";
import { CircleciDeployRoles, iamServiceOf, RELEASE_PATH } from "./circleci-deploy-roles.js";

const VCS_ORIGIN = "github.com/acme/mpg-model";
const REPO_ROOT = resolve(import.meta.dirname, "../..");

interface Statement {
  sid: string;
  effect: string;
  actions: string[];
  resources?: string[];
  principals?: Array<{ type: string; identifiers: string[] }>;
  condition?: Array<{ test: string; variable: string; values: string[] }>;
}
interface Synth {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  data: Record<string, Record<string, { statement: Statement[] }>>;
}

/** dev's config with another repository, as a config that skipped the schema could carry. */
function withOrigin(vcsOrigin: string): EnvironmentConfig {
  const dev = loadEnvironment("dev");
  return { ...dev, ci: { ...dev.ci, vcsOrigin } };
}

function synth(config: EnvironmentConfig): Synth {
  const app = testingApp();
  const stack = new TerraformStack(app, `circleci-${config.name}`);
  new AwsProvider(stack, "aws", { region: config.region });
  new CircleciDeployRoles(stack, "circleci", { config, revisionBucketArn: `arn:aws:s3:::bucket-${config.name}`, releasePath: RELEASE_PATH });
  return JSON.parse(Testing.synth(stack)) as Synth;
}

/** The policy document data source with this id suffix, e.g. "plan-permissions". */
function doc(s: Synth, suffix: string): Statement[] {
  const entry = Object.entries(s.data.aws_iam_policy_document ?? {}).find(([id]) => new RegExp(`_${suffix}_[0-9A-F]{8}$`).test(id));
  if (!entry) throw new Error(`no policy document ${suffix}; have ${Object.keys(s.data.aws_iam_policy_document ?? {}).join(", ")}`);
  return entry[1].statement;
}

function roleNames(s: Synth): string[] {
  return Object.values(s.resource.aws_iam_role ?? {})
    .map((r) => r.name as string)
    .sort();
}

/** IAM's StringLike: `*` any run of characters (including "/"), `?` exactly one character. */
function stringLike(pattern: string, value: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${regex}$`, "s").test(value);
}

function subjectPatterns(s: Synth, role: string): string[] {
  const [statement] = doc(s, `${role}-trust`);
  return statement!.condition!.find((c) => c.variable.endsWith(":sub"))!.values;
}

const configs = loadEnvironments();
const org = configs.dev.ci.circleciOrganizationId;
const project = configs.dev.ci.circleciProjectId;
const user = "0f5e8d7c-6b5a-4f3e-9d2c-1b0a9f8e7d6c";
const v2Sub = (origin: string, ref: string) => `org/${org}/project/${project}/user/${user}/vcs-origin/${origin}/vcs-ref/${ref}`;

describe("CircleciDeployRoles", () => {
  const synths = {} as Record<"dev" | "staging" | "prod", Synth>;
  beforeAll(() => {
    for (const name of RELEASE_PATH) synths[name] = synth(configs[name]);
  });

  it("gives the first environment an upload role, later ones a promote role, and every source of a promotion a read role", () => {
    expect(roleNames(synths.dev)).toEqual(["mpg-model-dev-circleci-plan", "mpg-model-dev-circleci-promotion-source", "mpg-model-dev-circleci-upload"]);
    expect(roleNames(synths.staging)).toEqual(["mpg-model-staging-circleci-plan", "mpg-model-staging-circleci-promote", "mpg-model-staging-circleci-promotion-source"]);
    expect(roleNames(synths.prod)).toEqual(["mpg-model-prod-circleci-plan", "mpg-model-prod-circleci-promote"]);
  });

  it("creates the OIDC provider only where the config says so, and otherwise trusts the account's provider by ARN", () => {
    const provider = Object.values(synths.dev.resource.aws_iam_openid_connect_provider ?? {});
    expect(provider).toHaveLength(1);
    expect(provider[0]).toMatchObject({ url: `https://oidc.circleci.com/org/${org}`, client_id_list: [org] });
    expect(synths.staging.resource.aws_iam_openid_connect_provider).toBeUndefined();
    const [stagingTrust] = doc(synths.staging, "plan-trust");
    expect(stagingTrust!.principals).toEqual([{ type: "Federated", identifiers: [`arn:aws:iam::111111111111:oidc-provider/oidc.circleci.com/org/${org}`] }]);
    // prod is alone in its account, so it creates its own.
    expect(Object.keys(synths.prod.resource.aws_iam_openid_connect_provider ?? {})).toHaveLength(1);
    const [devTrust] = doc(synths.dev, "plan-trust");
    expect(devTrust!.principals![0]!.identifiers[0]).toMatch(/^\$\{aws_iam_openid_connect_provider\..+\.arn\}$/);
  });

  it("requires the organization as audience in every trust policy", () => {
    for (const s of Object.values(synths)) {
      const trusts = Object.entries(s.data.aws_iam_policy_document ?? {}).filter(([id]) => /-trust_[0-9A-F]{8}$/.test(id));
      expect(trusts.length).toBeGreaterThan(1);
      for (const [, { statement }] of trusts) {
        expect(statement).toHaveLength(1);
        expect(statement[0]!.actions).toEqual(["sts:AssumeRoleWithWebIdentity"]);
        expect(statement[0]!.condition).toContainEqual({ test: "StringEquals", variable: `oidc.circleci.com/org/${org}:aud`, values: [org] });
      }
    }
  });

  it("lets any branch of this project assume the plan role, and nothing from another project", () => {
    const patterns = subjectPatterns(synths.dev, "plan");
    const matches = (sub: string) => patterns.some((p) => stringLike(p, sub));
    expect(matches(`org/${org}/project/${project}/user/${user}`)).toBe(true);
    expect(matches(v2Sub(VCS_ORIGIN, "refs/heads/feature/new-model"))).toBe(true);
    expect(matches(`org/${org}/project/a0000000-0000-4000-8000-000000000000/user/${user}`)).toBe(false);
  });

  it("lets only main of the pinned repository assume the release roles, even with a branch named to look like main", () => {
    for (const [s, role] of [
      [synths.dev, "upload"],
      [synths.dev, "promotion-source"],
      [synths.staging, "promote"],
      [synths.prod, "promote"],
    ] as const) {
      const patterns = subjectPatterns(s, role);
      const matches = (sub: string) => patterns.some((p) => stringLike(p, sub));
      expect(patterns.join("")).not.toContain("*");
      expect(matches(v2Sub(VCS_ORIGIN, "refs/heads/main")), role).toBe(true);
      expect(matches(v2Sub(VCS_ORIGIN, "refs/heads/feature"))).toBe(false);
      expect(matches(v2Sub(VCS_ORIGIN, "refs/pull/12/head"))).toBe(false);
      expect(matches(v2Sub("github.com/someone/fork", "refs/heads/main"))).toBe(false);
      // A branch named "x/vcs-ref/refs/heads/main" defeats a `*`-based pattern; not this one.
      expect(matches(v2Sub(VCS_ORIGIN, "refs/heads/x/vcs-ref/refs/heads/main"))).toBe(false);
      expect(matches(v2Sub(VCS_ORIGIN, `refs/heads/x/vcs-origin/${VCS_ORIGIN}/vcs-ref/refs/heads/main`))).toBe(false);
      // The V1 token has no ref at all: never enough for a release role.
      expect(matches(`org/${org}/project/${project}/user/${user}`)).toBe(false);
    }
  });

  it("lets the upload and promote roles write only under their own environment's release prefix", () => {
    const writes = (s: Synth, role: string) => doc(s, `${role}-permissions`).filter((st) => st.actions.some((a) => /^s3:(Put|Delete|Copy|Restore)/.test(a)));
    expect(writes(synths.dev, "upload")).toEqual([expect.objectContaining({ resources: ["arn:aws:s3:::bucket-dev/releases/dev/*"] })]);
    expect(writes(synths.staging, "promote")).toEqual([expect.objectContaining({ resources: ["arn:aws:s3:::bucket-staging/releases/staging/*"] })]);
    expect(writes(synths.prod, "promote")).toEqual([expect.objectContaining({ resources: ["arn:aws:s3:::bucket-prod/releases/prod/*"] })]);
    expect(writes(synths.dev, "promotion-source")).toEqual([]);
    expect(writes(synths.dev, "plan")).toEqual([]);
  });

  it("lets the release roles read only their own deployment group, never create deployments", () => {
    const actions = doc(synths.prod, "promote-permissions").flatMap((st) => st.actions);
    expect(actions).toEqual(expect.arrayContaining(["codedeploy:GetDeployment", "codedeploy:ListDeploymentInstances", "elasticloadbalancing:DescribeInstanceHealth"]));
    expect(actions.filter((a) => /^codedeploy:(Create|Stop|Continue|Delete|Update|Register)/.test(a))).toEqual([]);
    const groups = doc(synths.prod, "promote-permissions")
      .flatMap((st) => st.resources ?? [])
      .filter((r) => r.includes(":deploymentgroup:"));
    expect(new Set(groups)).toEqual(new Set(["arn:aws:codedeploy:eu-west-1:333333333333:deploymentgroup:mpg-model-prod/mpg-model-prod"]));
  });

  it("reads state from an S3 backend, the key only, and adds nothing for a local backend", () => {
    const withS3: EnvironmentConfig = {
      ...configs.staging,
      backend: { type: "s3", bucket: "acme-tfstate", key: "mpg-model/staging.tfstate", region: "eu-west-1" },
    };
    const plan = doc(synth(withS3), "plan-permissions");
    expect(plan.find((st) => st.sid === "ReadState")).toMatchObject({ actions: ["s3:GetObject"], resources: ["arn:aws:s3:::acme-tfstate/mpg-model/staging.tfstate"] });
    expect(plan.flatMap((st) => st.actions)).not.toContain("s3:PutObject");
    expect(doc(synths.staging, "plan-permissions").find((st) => st.sid === "ReadState")).toBeUndefined();
  });

  it("rejects an environment off the release path and a repository that is not owner/name", () => {
    const app = testingApp();
    const stack = new TerraformStack(app, "bad");
    expect(() => new CircleciDeployRoles(stack, "a", { config: loadEnvironment("prod"), revisionBucketArn: "arn:aws:s3:::b", releasePath: ["dev", "staging"] })).toThrow(
      /prod is not on the release path dev -> staging/,
    );
    expect(() => new CircleciDeployRoles(stack, "b", { config: withOrigin("github.com/acme/*"), revisionBucketArn: "arn:aws:s3:::b", releasePath: RELEASE_PATH })).toThrow(/vcsOrigin/);
    expect(() => new CircleciDeployRoles(stack, "c", { config: withOrigin("acme"), revisionBucketArn: "arn:aws:s3:::b", releasePath: RELEASE_PATH })).toThrow(/vcsOrigin/);
  });

  it("keeps each environment's roles and policies stable", () => {
    for (const name of RELEASE_PATH) {
      const s = synths[name];
      expect({ roles: s.resource.aws_iam_role, policies: s.data.aws_iam_policy_document }).toMatchSnapshot(name);
    }
  });
});

describe("the plan role against the real stacks", () => {
  let outdir: string;
  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), "circleci-roles-"));
    buildApp(loadEnvironments(), { projectRoot: REPO_ROOT, outdir, today: SYNTH_TEST_DATE }).app.synth();
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it("can refresh every resource type the synthesized stacks manage", () => {
    const stacks = readdirSync(join(outdir, "stacks"));
    expect(stacks.sort()).toEqual(["dev", "prod", "staging"]);
    for (const stack of stacks) {
      const synthesized = JSON.parse(readFileSync(join(outdir, "stacks", stack, "cdk.tf.json"), "utf8")) as { resource: Record<string, unknown> };
      const covered = new Set(doc(synth(configs[stack as "dev"]), "plan-permissions").flatMap((st) => st.actions.map((a) => a.split(":")[0])));
      const types = Object.keys(synthesized.resource);
      expect(types.length).toBeGreaterThan(10);
      for (const type of types) {
        const service = iamServiceOf(type);
        expect(service, `${stack}: no IAM service known for ${type}: add it to iamServiceOf and the plan role`).toBeDefined();
        expect(covered.has(service!), `${stack}: plan role cannot refresh ${type} (${service})`).toBe(true);
      }
    }
  });
});
