import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  BatchGetDeploymentTargetsCommand,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  GetDeploymentGroupCommand,
  ListDeploymentsCommand,
  ListDeploymentTargetsCommand,
  BatchGetDeploymentsCommand,
  type DeploymentInfo,
} from "@aws-sdk/client-codedeploy";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { scratchDir } from "../scripts/scratch-dir.js";
import yazl from "yazl";
import type { EnvironmentConfig } from "../environments/index.js";
import { createClients } from "./aws.js";
import { run, parseDuration } from "./release-cli.js";
import type { CommandContext } from "./commands.js";
import { recentDeployments } from "./deploy.js";
import { awsError, deployment, fakeFleet, mockAws, type AwsMocks } from "./testing.js";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const sha = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

function zipOf(files: Record<string, string>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(files)) zip.addBuffer(Buffer.from(content), name, { mtime: new Date("2026-01-01T00:00:00Z") });
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream
      .on("data", (c: Buffer) => chunks.push(c))
      .on("end", () => resolve(Buffer.concat(chunks)))
      .on("error", reject);
  });
}

const APP_FILES = { "appspec.yml": "version: 0.0\nos: linux\n", "hooks/start.sh": "#!/usr/bin/env bash\nexit 0\n" };
/** A manifest in the bundler's format (revision/revision-manifest.ts), listing `files`. */
function manifestFor(files: Record<string, string>, overrides: Record<string, unknown> = {}) {
  return JSON.stringify({
    application: "mpg-model",
    version: "1.2.0",
    git_commit: COMMIT,
    git_dirty: false,
    built_at: "2026-01-01T00:00:00.000Z",
    model: { name: "auto-mpg", version: "1.2.0", sha256: sha("model") },
    platform: "linux-x64",
    files: Object.fromEntries(Object.entries(files).map(([n, c]) => [n, sha(c)])),
    ...overrides,
  });
}

const dir = scratchDir("release-spec-");
async function bundleFile(name: string, files: Record<string, string>): Promise<{ path: string; bytes: Buffer }> {
  const bytes = await zipOf(files);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

function context(start = new Date("2026-11-26T12:00:00Z")) {
  let now = start.getTime();
  const lines: string[] = [];
  const errors: string[] = [];
  const clientCalls: { env: string; profile: string | undefined }[] = [];
  const ctx: CommandContext = {
    clientsFor: (config: EnvironmentConfig, profile?: string) => {
      clientCalls.push({ env: config.name, profile });
      return createClients({ region: config.region, profile });
    },
    out: (line) => lines.push(line),
    now: () => new Date(now),
    sleep: async (ms) => {
      now += ms;
    },
  };
  const cli = (...argv: string[]) => run(argv, ctx, (line) => errors.push(line));
  return { ctx, lines, errors, clientCalls, cli, text: () => lines.join("\n") };
}

function history(mocks: AwsMocks, deployments: DeploymentInfo[]): void {
  mocks.codedeploy.on(ListDeploymentsCommand).callsFake((input: { includeOnlyStatuses?: string[] }) => ({
    deployments: deployments.filter((d) => !input.includeOnlyStatuses || input.includeOnlyStatuses.includes(d.status!)).map((d) => d.deploymentId!),
  }));
  mocks.codedeploy.on(BatchGetDeploymentsCommand).callsFake((input: { deploymentIds: string[] }) => ({
    deploymentsInfo: deployments.filter((d) => input.deploymentIds.includes(d.deploymentId!)),
  }));
}

const s3Revision = (bucket: string, key: string, version: string) => ({ revisionType: "S3" as const, s3Location: { bucket, key, bundleType: "zip" as const, version } });
const STAGING_BUCKET = "mpg-model-staging-revisions-111111111111-eu-west-1";
const PROD_BUCKET = "mpg-model-prod-revisions-333333333333-eu-west-1";
const DEV_BUCKET = "mpg-model-dev-revisions-111111111111-eu-west-1";
/** The part of the SDK's streaming body that the CLI uses. */
const body = (bytes: Buffer) => ({ transformToByteArray: async () => new Uint8Array(bytes) });

let mocks: AwsMocks;
beforeEach(() => {
  mocks = mockAws();
});
afterEach(() => Object.values(mocks).forEach((m) => m.restore()));

describe("release upload", () => {
  it("puts the bundle under the environment's prefix with commit, model version and sha256 from its manifest, and prints the version", async () => {
    const { path, bytes } = await bundleFile("revision-1.2.0.zip", { ...APP_FILES, "app/revision.json": manifestFor(APP_FILES) });
    mocks.s3.on(PutObjectCommand).resolves({ VersionId: "ver-123" });
    const { cli, lines } = context();
    expect(await cli("upload", "--env", "dev", path)).toBe(0);
    const input = mocks.s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(input).toMatchObject({
      Bucket: DEV_BUCKET,
      Key: "releases/dev/revision-1.2.0.zip",
      ContentType: "application/zip",
      ChecksumSHA256: createHash("sha256").update(bytes).digest("base64"),
      Metadata: { "git-commit": COMMIT, "model-version": "1.2.0", "bundle-sha256": sha(bytes) },
    });
    expect(Buffer.compare(input.Body as Buffer, bytes)).toBe(0);
    expect(lines.at(-1)).toBe("ver-123");
  });

  it("takes commit and model version from flags when the bundle has no manifest", async () => {
    const { path } = await bundleFile("revision-0.9.0.zip", APP_FILES);
    mocks.s3.on(PutObjectCommand).resolves({ VersionId: "v" });
    const { cli, errors } = context();
    expect(await cli("upload", "--env", "dev", path)).toBe(1);
    expect(errors[0]).toMatch(/has no app\/revision\.json: pass --git-commit and --model-version/);
    expect(await cli("upload", "--env", "dev", path, "--git-commit", "abc1234", "--model-version", "0.9.0")).toBe(0);
    expect(mocks.s3.commandCalls(PutObjectCommand)[0]!.args[0].input.Metadata).toMatchObject({ "git-commit": "abc1234", "model-version": "0.9.0" });
  });

  it.each([
    [
      "a file whose bytes differ from the manifest",
      { ...APP_FILES, "app/revision.json": manifestFor({ ...APP_FILES, "hooks/start.sh": "other" }) },
      [],
      /hooks\/start\.sh does not match its sha256 in the manifest/,
    ],
    ["a file the manifest does not list", { ...APP_FILES, "extra.bin": "x", "app/revision.json": manifestFor(APP_FILES) }, [], /extra\.bin is in the zip but not in the manifest/],
    ["a manifest without a model", { ...APP_FILES, "app/revision.json": manifestFor(APP_FILES, { model: undefined }) }, [], /app\/revision\.json is invalid:[\s\S]*model/],
    [
      "a bundle built from uncommitted changes",
      { ...APP_FILES, "app/revision.json": manifestFor(APP_FILES, { git_dirty: true }) },
      [],
      /was built from uncommitted changes: a release must be reproducible from its commit/,
    ],
    ["a bundle built outside git", { ...APP_FILES, "app/revision.json": manifestFor(APP_FILES, { git_commit: "unknown" }) }, [], /was built outside a git checkout/],
    [
      "a --model-version that disagrees with the manifest",
      { ...APP_FILES, "app/revision.json": manifestFor(APP_FILES) },
      ["--model-version", "2.0.0"],
      /--model-version 2\.0\.0 disagrees with the manifest's model version 1\.2\.0/,
    ],
  ])("refuses %s and uploads nothing", async (_name, files, flags, message) => {
    const { path } = await bundleFile("revision-bad.zip", files as Record<string, string>);
    const { cli, errors } = context();
    expect(await cli("upload", "--env", "dev", path, ...(flags as string[]))).toBe(1);
    expect(errors.join("\n")).toMatch(message);
    expect(mocks.s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it("refuses a file that is not a zip, or does not exist", async () => {
    const path = join(dir, "fake.zip");
    writeFileSync(path, "not a zip at all, just text");
    const { cli, errors } = context();
    expect(await cli("upload", "--env", "dev", path)).toBe(1);
    expect(errors[0]).toMatch(/not a usable revision bundle: .*fake\.zip: not a zip file/);
    expect(await cli("upload", "--env", "dev", join(dir, "missing.zip"))).toBe(1);
    expect(errors[1]).toMatch(/cannot read .*missing\.zip: ENOENT/);
  });

  it("refuses a damaged zip with one line naming the file, the entry and the damage", async () => {
    const { path, bytes } = await bundleFile("revision-damaged.zip", { ...APP_FILES, "app/revision.json": manifestFor(APP_FILES) });
    // Overwrite the start of the first entry's deflated data: zlib alone would throw a stack.
    const dataStart = 30 + bytes.readUInt16LE(26) + bytes.readUInt16LE(28);
    writeFileSync(path, Buffer.concat([bytes.subarray(0, dataStart), Buffer.alloc(4, 0xff), bytes.subarray(dataStart + 4)]));
    const { cli, errors } = context();
    expect(await cli("upload", "--env", "dev", path)).toBe(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^release: not a usable revision bundle: .*revision-damaged\.zip: entry "appspec\.yml" is damaged: its deflated data does not inflate \(.+\)$/);
    expect(errors[0]).not.toContain("\n");
    expect(mocks.s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it("fails when the bucket returns no version id (an unversioned bucket cannot pin a release)", async () => {
    const { path } = await bundleFile("revision-1.2.0.zip", { ...APP_FILES, "app/revision.json": manifestFor(APP_FILES) });
    mocks.s3.on(PutObjectCommand).resolves({});
    const { cli, errors } = context();
    expect(await cli("upload", "--env", "dev", path)).toBe(1);
    expect(errors[0]).toMatch(/without a version id: the revision bucket must be versioned/);
  });

  it("names the denied action and the object on AccessDenied", async () => {
    const { path } = await bundleFile("revision-1.2.0.zip", { ...APP_FILES, "app/revision.json": manifestFor(APP_FILES) });
    mocks.s3.on(PutObjectCommand).rejects(awsError("AccessDenied", "Access Denied", 403));
    const { cli, errors } = context();
    expect(await cli("upload", "--env", "dev", path)).toBe(1);
    expect(errors[0]).toBe(
      `release: access denied: s3:PutObject on s3://${DEV_BUCKET}/releases/dev/revision-1.2.0.zip (AccessDenied). The caller's role needs s3:PutObject on that resource. AWS said: Access Denied`,
    );
  });

  it("with --json prints one JSON document on stdout and the progress on stderr", async () => {
    const { path, bytes } = await bundleFile("revision-1.2.0.zip", { ...APP_FILES, "app/revision.json": manifestFor(APP_FILES) });
    mocks.s3.on(PutObjectCommand).resolves({ VersionId: "ver-123" });
    const { cli, lines, errors } = context();
    expect(await cli("upload", "--env", "dev", path, "--json")).toBe(0);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      command: "upload",
      ok: true,
      exitCode: 0,
      environment: "dev",
      bucket: DEV_BUCKET,
      key: "releases/dev/revision-1.2.0.zip",
      versionId: "ver-123",
      sha256: sha(bytes),
      modelVersion: "1.2.0",
      gitCommit: COMMIT,
    });
    expect(errors.join("\n")).toContain(`uploaded ${path} to s3://${DEV_BUCKET}/releases/dev/revision-1.2.0.zip`);
  });

  it("with --json reports a failure as one JSON document naming the error, and exits 1", async () => {
    const { path } = await bundleFile("revision-1.2.0.zip", { ...APP_FILES, "app/revision.json": manifestFor(APP_FILES) });
    mocks.s3.on(PutObjectCommand).rejects(awsError("AccessDenied", "Access Denied", 403));
    const { cli, lines, errors } = context();
    expect(await cli("upload", "--json", "--env", "dev", path)).toBe(1);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ command: "upload", ok: false, exitCode: 1, error: expect.stringMatching(/^access denied: s3:PutObject on s3:\/\//) });
    expect(errors[0]).toMatch(/^release: access denied: s3:PutObject/);
  });

  it("explains a bucket in another region", async () => {
    const { path } = await bundleFile("revision-1.2.0.zip", { ...APP_FILES, "app/revision.json": manifestFor(APP_FILES) });
    mocks.s3.on(PutObjectCommand).rejects(awsError("PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint.", 301));
    const { cli, errors } = context();
    expect(await cli("upload", "--env", "dev", path)).toBe(1);
    expect(errors[0]).toMatch(/wrong region for s3:PutObject/);
  });
});

describe("release promote", () => {
  const artifact = Buffer.from("PK\u0003\u0004 the exact bytes that passed staging");
  const stagingDeployments = [
    deployment({ deploymentId: "d-NEWFAILED", status: "Failed", createTime: new Date("2026-11-26T10:00:00Z"), revision: s3Revision(STAGING_BUCKET, "releases/staging/revision-1.3.0.zip", "v-bad") }),
    deployment({
      deploymentId: "d-GOODAAAAA",
      status: "Succeeded",
      createTime: new Date("2026-11-25T10:00:00Z"),
      revision: s3Revision(STAGING_BUCKET, "releases/staging/revision-1.2.0.zip", "v-good"),
    }),
    deployment({
      deploymentId: "d-OLDERAAAA",
      status: "Succeeded",
      createTime: new Date("2026-11-20T10:00:00Z"),
      revision: s3Revision(STAGING_BUCKET, "releases/staging/revision-1.1.0.zip", "v-old"),
    }),
  ];
  beforeEach(() => {
    history(mocks, stagingDeployments);
    mocks.s3.on(GetObjectCommand).callsFake(() => ({ Body: body(artifact), ETag: '"etag"', Metadata: { "bundle-sha256": sha(artifact), "git-commit": COMMIT, "model-version": "1.2.0" } }));
    mocks.s3.on(HeadObjectCommand).rejects(awsError("NotFound", "Not Found", 404));
    mocks.s3.on(PutObjectCommand).resolves({ VersionId: "prod-v1", ChecksumSHA256: createHash("sha256").update(artifact).digest("base64") });
  });

  it("copies the exact object version of the last succeeded staging deployment, byte for byte, into prod's bucket", async () => {
    const { cli, lines, clientCalls } = context();
    expect(await cli("promote", "--from", "staging", "--to", "prod", "--from-profile", "staging-ci", "--to-profile", "prod-ci")).toBe(0);
    expect(mocks.s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({ Bucket: STAGING_BUCKET, Key: "releases/staging/revision-1.2.0.zip", VersionId: "v-good" });
    const put = mocks.s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(put).toMatchObject({
      Bucket: PROD_BUCKET,
      Key: "releases/prod/revision-1.2.0.zip",
      ChecksumSHA256: createHash("sha256").update(artifact).digest("base64"),
      Metadata: {
        "bundle-sha256": sha(artifact),
        "git-commit": COMMIT,
        "model-version": "1.2.0",
        "promoted-from": `staging s3://${STAGING_BUCKET}/releases/staging/revision-1.2.0.zip?versionId=v-good`,
      },
    });
    expect(Buffer.compare(put.Body as Buffer, artifact)).toBe(0);
    expect(clientCalls).toEqual([
      { env: "staging", profile: "staging-ci" },
      { env: "prod", profile: "prod-ci" },
    ]);
    expect(lines.at(-1)).toBe("prod-v1");
  });

  it("with --json names the source object and the copy's version id", async () => {
    const { cli, lines } = context();
    expect(await cli("promote", "--from", "staging", "--to", "prod", "--json")).toBe(0);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      command: "promote",
      ok: true,
      exitCode: 0,
      from: "staging",
      to: "prod",
      source: { bucket: STAGING_BUCKET, key: "releases/staging/revision-1.2.0.zip", versionId: "v-good", deploymentId: "d-GOODAAAAA" },
      environment: "prod",
      bucket: PROD_BUCKET,
      key: "releases/prod/revision-1.2.0.zip",
      versionId: "prod-v1",
      sha256: sha(artifact),
      copied: true,
    });
  });

  it("refuses an artifact whose bytes no longer match the sha256 recorded at upload", async () => {
    mocks.s3.on(GetObjectCommand).callsFake(() => ({ Body: body(Buffer.from("tampered")), Metadata: { "bundle-sha256": sha(artifact) } }));
    const { cli, errors } = context();
    expect(await cli("promote", "--from", "staging", "--to", "prod")).toBe(1);
    expect(errors[0]).toMatch(/refusing to promote a changed artifact/);
    expect(mocks.s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it("does not upload again when prod already holds the same artifact", async () => {
    mocks.s3.on(HeadObjectCommand).resolves({ VersionId: "prod-v0", Metadata: { "bundle-sha256": sha(artifact) } });
    const { cli, lines } = context();
    expect(await cli("promote", "--from", "staging", "--to", "prod")).toBe(0);
    expect(mocks.s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(lines.at(-1)).toBe("prod-v0");
  });

  it("fails clearly when the source environment has no succeeded deployment", async () => {
    history(mocks, [stagingDeployments[0]!]);
    const { cli, errors } = context();
    expect(await cli("promote", "--from", "staging", "--to", "prod")).toBe(1);
    expect(errors[0]).toMatch(/staging has no succeeded deployment of a versioned S3 revision: nothing to promote/);
  });

  it("rejects promoting an environment to itself and unknown environments as usage errors", async () => {
    const { cli, errors } = context();
    expect(await cli("promote", "--from", "prod", "--to", "prod")).toBe(2);
    expect(errors[0]).toMatch(/--from and --to are both prod/);
    expect(await cli("promote", "--from", "qa", "--to", "prod")).toBe(2);
    expect(errors[1]).toMatch(/unknown environment "qa": expected one of dev, staging, prod/);
  });
});

describe("release watch", () => {
  const info = (status: string, extra: Partial<DeploymentInfo> = {}) => ({
    deploymentInfo: deployment({
      deploymentId: "d-ABCDEFGHI",
      status: status as never,
      deploymentOverview: { Pending: 0, InProgress: status === "InProgress" ? 1 : 0, Succeeded: status === "Succeeded" ? 2 : 1, Failed: status === "Failed" ? 1 : 0, Skipped: 0 },
      ...extra,
    }),
  });
  const target = (id: string, label: string, status: string, events: [string, string][], diagnostics?: object) => ({
    deploymentTargetType: "InstanceTarget" as const,
    instanceTarget: {
      targetId: id,
      instanceLabel: label as never,
      status: status as never,
      lifecycleEvents: events.map(([name, s]) => ({ lifecycleEventName: name, status: s as never, ...(s === "Failed" && diagnostics ? { diagnostics } : {}) })),
    },
  });
  beforeEach(() => mocks.codedeploy.on(ListDeploymentTargetsCommand).resolves({ targetIds: ["i-green1", "i-blue1"] }));

  it("follows a deployment to success, showing instance lifecycle events and the traffic switch, and exits 0", async () => {
    mocks.codedeploy.on(GetDeploymentCommand).resolvesOnce(info("InProgress")).resolves(info("Succeeded"));
    mocks.codedeploy
      .on(BatchGetDeploymentTargetsCommand)
      .resolvesOnce({
        deploymentTargets: [
          target("i-green1", "Green", "InProgress", [
            ["BeforeInstall", "Succeeded"],
            ["AfterInstall", "InProgress"],
          ]),
          target("i-blue1", "Blue", "Pending", []),
        ],
      })
      .resolves({
        deploymentTargets: [
          target("i-green1", "Green", "Succeeded", [
            ["BeforeInstall", "Succeeded"],
            ["AfterInstall", "Succeeded"],
            ["AllowTraffic", "Succeeded"],
          ]),
          target("i-blue1", "Blue", "Succeeded", [["BlockTraffic", "Succeeded"]]),
        ],
      });
    const { cli, text } = context();
    expect(await cli("watch", "--env", "staging", "--deployment", "d-ABCDEFGHI", "--interval", "5s")).toBe(0);
    expect(text()).toContain("i-green1 [Green] InProgress: BeforeInstall=ok AfterInstall=running");
    expect(text()).toContain("traffic: replacement (Green) AllowTraffic 1/1, original (Blue) BlockTraffic 1/1");
    expect(text()).toMatch(/deployment d-ABCDEFGHI succeeded$/);
  });

  it("exits 1 on failure naming the failing instance, its lifecycle event and the log tail", async () => {
    mocks.codedeploy
      .on(GetDeploymentCommand)
      .resolves(info("Failed", { errorInformation: { code: "HEALTH_CONSTRAINTS", message: "The overall deployment failed" }, rollbackInfo: { rollbackDeploymentId: "d-ROLLBACK1" } }));
    mocks.codedeploy.on(BatchGetDeploymentTargetsCommand).resolves({
      deploymentTargets: [
        target(
          "i-green1",
          "Green",
          "Failed",
          [
            ["BeforeInstall", "Succeeded"],
            ["ValidateService", "Failed"],
          ],
          {
            errorCode: "ScriptFailed",
            scriptName: "hooks/validate.sh",
            message: "Script at specified location: hooks/validate.sh run as user root failed with exit code 1",
            logTail: "checking /ready\n503 Service Unavailable\n",
          },
        ),
      ],
    });
    const { cli, text } = context();
    expect(await cli("watch", "--env", "staging", "--deployment", "d-ABCDEFGHI")).toBe(1);
    expect(text()).toContain("deployment d-ABCDEFGHI Failed: HEALTH_CONSTRAINTS The overall deployment failed");
    expect(text()).toContain("failed instance i-green1 [Green], lifecycle event ValidateService");
    expect(text()).toContain("ScriptFailed in hooks/validate.sh");
    expect(text()).toContain("  | 503 Service Unavailable");
    expect(text()).toContain("rollback deployment d-ROLLBACK1");
  });

  it("with --json reports the outcome, every instance's lifecycle events and the rollback", async () => {
    mocks.codedeploy
      .on(GetDeploymentCommand)
      .resolves(info("Failed", { errorInformation: { code: "HEALTH_CONSTRAINTS", message: "The overall deployment failed" }, rollbackInfo: { rollbackDeploymentId: "d-ROLLBACK1" } }));
    mocks.codedeploy.on(BatchGetDeploymentTargetsCommand).resolves({
      deploymentTargets: [
        target("i-green1", "Green", "Failed", [
          ["BeforeInstall", "Succeeded"],
          ["ValidateService", "Failed"],
        ]),
      ],
    });
    const { cli, lines, errors } = context();
    expect(await cli("watch", "--env", "staging", "--deployment", "d-ABCDEFGHI", "--json")).toBe(1);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      command: "watch",
      ok: false,
      exitCode: 1,
      environment: "staging",
      deploymentId: "d-ABCDEFGHI",
      status: "Failed",
      outcome: "failed",
      revision: { bucket: "bucket", key: "releases/staging/revision-1.0.0.zip", versionId: "v1" },
      instances: [
        {
          instanceId: "i-green1",
          label: "Green",
          status: "Failed",
          lifecycleEvents: [
            { name: "BeforeInstall", status: "Succeeded" },
            { name: "ValidateService", status: "Failed" },
          ],
        },
      ],
      error: { code: "HEALTH_CONSTRAINTS", message: "The overall deployment failed" },
      rollbackDeploymentId: "d-ROLLBACK1",
    });
    expect(errors.join("\n")).toContain("failed instance i-green1 [Green], lifecycle event ValidateService");
  });

  it("gives up at the timeout with exit 124 and says the deployment continues", async () => {
    mocks.codedeploy.on(GetDeploymentCommand).resolves(info("InProgress"));
    mocks.codedeploy.on(BatchGetDeploymentTargetsCommand).resolves({ deploymentTargets: [] });
    const { cli, text } = context();
    expect(await cli("watch", "--env", "staging", "--deployment", "d-ABCDEFGHI", "--timeout", "1m", "--interval", "10s")).toBe(124);
    expect(text()).toMatch(/timed out after 60 s: deployment d-ABCDEFGHI is still InProgress; it goes on in AWS/);
    // Polls at 0, 10, ..., 60 s: the last look is at the deadline, never past it.
    expect(mocks.codedeploy.commandCalls(GetDeploymentCommand).length).toBe(7);
  });

  it("watches the newest deployment of the environment when no id is given", async () => {
    history(mocks, [deployment({ deploymentId: "d-OLDAAAAAA", createTime: new Date("2026-11-01") }), deployment({ deploymentId: "d-ABCDEFGHI", createTime: new Date("2026-11-26") })]);
    mocks.codedeploy.on(GetDeploymentCommand).resolves(info("Succeeded"));
    mocks.codedeploy.on(BatchGetDeploymentTargetsCommand).resolves({ deploymentTargets: [] });
    const { cli } = context();
    expect(await cli("watch", "--env", "staging")).toBe(0);
    expect(mocks.codedeploy.commandCalls(GetDeploymentCommand)[0]!.args[0].input).toEqual({ deploymentId: "d-ABCDEFGHI" });
  });

  it("with --version-id waits for the trigger's deployment of exactly that object, not the newest older one", async () => {
    const older = deployment({ deploymentId: "d-PREVIOUSA", createTime: new Date("2026-11-26T11:00:00Z"), revision: s3Revision(DEV_BUCKET, "releases/dev/revision-1.1.0.zip", "v-old") });
    const mine = deployment({
      deploymentId: "d-ABCDEFGHI",
      status: "InProgress",
      createTime: new Date("2026-11-26T12:00:20Z"),
      revision: s3Revision(DEV_BUCKET, "releases/dev/revision-1.2.0.zip", "v-new"),
    });
    let listed = 0;
    mocks.codedeploy.on(ListDeploymentsCommand).callsFake(() => ({ deployments: ++listed < 3 ? [older.deploymentId] : [mine.deploymentId, older.deploymentId] }));
    mocks.codedeploy
      .on(BatchGetDeploymentsCommand)
      .callsFake((input: { deploymentIds: string[] }) => ({ deploymentsInfo: [older, mine].filter((d) => input.deploymentIds.includes(d.deploymentId!)) }));
    mocks.codedeploy.on(GetDeploymentCommand).resolves(info("Succeeded"));
    mocks.codedeploy.on(BatchGetDeploymentTargetsCommand).resolves({ deploymentTargets: [] });
    const { cli, text } = context();
    expect(await cli("watch", "--env", "dev", "--version-id", "v-new", "--interval", "10s")).toBe(0);
    expect(listed).toBe(3);
    expect(mocks.codedeploy.commandCalls(GetDeploymentCommand).map((c) => c.args[0].input.deploymentId)).toEqual(["d-ABCDEFGHI"]);
    expect(text()).toContain("waiting for the S3 trigger to start a deployment of version v-new in dev");
  });

  it("with --version-id times out pointing at the trigger's logs and failure queue when no deployment starts", async () => {
    history(mocks, []);
    const { cli, text } = context();
    expect(await cli("watch", "--env", "prod", "--version-id", "v-lost", "--timeout", "2m")).toBe(124);
    expect(text()).toMatch(
      /no deployment of version v-lost started in prod\. Check the trigger's log group \/aws\/lambda\/mpg-model-prod-deploy-trigger and its failure queue mpg-model-prod-deploy-trigger-failures/,
    );
    expect(mocks.codedeploy.commandCalls(GetDeploymentCommand)).toHaveLength(0);
  });

  it("rejects a malformed deployment id and durations before calling AWS", async () => {
    const { cli, errors } = context();
    expect(await cli("watch", "--env", "staging", "--deployment", "12345")).toBe(2);
    expect(errors[0]).toMatch(/--deployment 12345 is not a CodeDeploy deployment id/);
    expect(await cli("watch", "--env", "staging", "--timeout", "soon")).toBe(2);
    expect(errors[1]).toMatch(/--timeout soon is not a duration/);
    expect(mocks.codedeploy.calls()).toHaveLength(0);
  });
});

describe("release status", () => {
  it("shows the live slot, the current revision with its model version, and the last deployments", async () => {
    fakeFleet(mocks, "mpg-model-staging", [{ id: "i-green1", environment: "staging", slot: "green" }], ["i-green1"]);
    history(mocks, [
      deployment({ deploymentId: "d-CURRENTAA", createTime: new Date("2026-11-26"), revision: s3Revision(STAGING_BUCKET, "releases/staging/revision-1.2.0.zip", "v-good") }),
      deployment({ deploymentId: "d-FAILEDAAA", status: "Failed", createTime: new Date("2026-11-27") }),
    ]);
    mocks.s3.on(HeadObjectCommand).resolves({ Metadata: { "model-version": "1.2.0", "git-commit": COMMIT, "bundle-sha256": "ab".repeat(32) } });
    const { cli, text } = context();
    expect(await cli("status", "--env", "staging")).toBe(0);
    expect(text()).toContain("live slot: green");
    expect(text()).toContain("i-green1 green running InService");
    expect(text()).toContain(`current revision: s3://${STAGING_BUCKET}/releases/staging/revision-1.2.0.zip?versionId=v-good (deployment d-CURRENTAA)`);
    expect(text()).toContain(`model 1.2.0, commit ${COMMIT}`);
    expect(text()).toMatch(/d-FAILEDAAA Failed[\s\S]*d-CURRENTAA Succeeded/);
  });

  it("with --json gives the live slot, the current revision and the last deployments as fields", async () => {
    fakeFleet(mocks, "mpg-model-staging", [{ id: "i-green1", environment: "staging", slot: "green" }], ["i-green1"]);
    history(mocks, [deployment({ deploymentId: "d-CURRENTAA", createTime: new Date("2026-11-26T00:00:00Z"), revision: s3Revision(STAGING_BUCKET, "releases/staging/revision-1.2.0.zip", "v-good") })]);
    mocks.s3.on(HeadObjectCommand).resolves({ Metadata: { "model-version": "1.2.0", "git-commit": COMMIT, "bundle-sha256": "ab".repeat(32) } });
    const { cli, lines } = context();
    expect(await cli("status", "--env", "staging", "--json")).toBe(0);
    expect(lines).toHaveLength(1);
    const revision = { bucket: STAGING_BUCKET, key: "releases/staging/revision-1.2.0.zip", versionId: "v-good" };
    expect(JSON.parse(lines[0]!)).toEqual({
      command: "status",
      ok: true,
      exitCode: 0,
      environment: "staging",
      accountId: "111111111111",
      region: "eu-west-1",
      strategy: "blue-green",
      liveSlot: "green",
      instances: [{ instanceId: "i-green1", slot: "green", state: "running", health: "InService" }],
      currentRevision: { ...revision, deploymentId: "d-CURRENTAA", modelVersion: "1.2.0", gitCommit: COMMIT, sha256: "ab".repeat(32), promotedFrom: null },
      deployments: [{ deploymentId: "d-CURRENTAA", status: "Succeeded", createTime: "2026-11-26T00:00:00.000Z", creator: "user", revision }],
    });
  });

  it("says which credentials problem stops it", async () => {
    mocks.elb.onAnyCommand().rejects(Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }));
    const { cli, errors } = context();
    expect(await cli("status", "--env", "dev")).toBe(1);
    expect(errors[0]).toMatch(/no AWS credentials for elasticloadbalancing:DescribeLoadBalancers .*Set AWS_PROFILE or pass --profile/);
  });
});

describe("release rollback", () => {
  beforeEach(() => {
    mocks.codedeploy.on(GetDeploymentGroupCommand).resolves({
      deploymentGroupInfo: {
        deploymentStyle: { deploymentType: "BLUE_GREEN", deploymentOption: "WITH_TRAFFIC_CONTROL" },
        ec2TagSet: { ec2TagSetList: [[{ Key: "DeploymentSlot", Value: "green", Type: "KEY_AND_VALUE" }]] },
      },
    });
    mocks.codedeploy.on(CreateDeploymentCommand).resolves({ deploymentId: "d-ROLLBACKA" });
    fakeFleet(
      mocks,
      "mpg-model-staging",
      [
        { id: "i-blue1", environment: "staging", slot: "blue" },
        { id: "i-green1", environment: "staging", slot: "green" },
      ],
      ["i-green1"],
    );
  });

  it("redeploys the previous successful revision to the slot that is not live, although it was deployed before", async () => {
    history(mocks, [
      deployment({ deploymentId: "d-CURRENTAA", createTime: new Date("2026-11-26T10:00:00Z"), revision: s3Revision(STAGING_BUCKET, "releases/staging/revision-1.3.0.zip", "v3") }),
      deployment({ deploymentId: "d-FAILEDAAA", status: "Failed", createTime: new Date("2026-11-25T10:00:00Z"), revision: s3Revision(STAGING_BUCKET, "releases/staging/revision-1.2.5.zip", "v25") }),
      deployment({ deploymentId: "d-PREVIOUSA", createTime: new Date("2026-11-24T10:00:00Z"), revision: s3Revision(STAGING_BUCKET, "releases/staging/revision-1.2.0.zip", "v2") }),
    ]);
    const { cli, lines } = context();
    expect(await cli("rollback", "--env", "staging")).toBe(0);
    const input = mocks.codedeploy.commandCalls(CreateDeploymentCommand)[0]!.args[0].input;
    expect(input.revision?.s3Location).toMatchObject({ bucket: STAGING_BUCKET, key: "releases/staging/revision-1.2.0.zip", version: "v2" });
    expect(input.targetInstances?.ec2TagSet?.ec2TagSetList?.[1]).toEqual([{ Key: "DeploymentSlot", Value: "blue", Type: "KEY_AND_VALUE" }]);
    expect(lines.at(-1)).toBe("d-ROLLBACKA");
  });

  it("with --json names the new deployment, the revisions it goes from and to, and the slots", async () => {
    history(mocks, [
      deployment({ deploymentId: "d-CURRENTAA", createTime: new Date("2026-11-26T10:00:00Z"), revision: s3Revision(STAGING_BUCKET, "releases/staging/revision-1.3.0.zip", "v3") }),
      deployment({ deploymentId: "d-PREVIOUSA", createTime: new Date("2026-11-24T10:00:00Z"), revision: s3Revision(STAGING_BUCKET, "releases/staging/revision-1.2.0.zip", "v2") }),
    ]);
    const { cli, lines } = context();
    expect(await cli("rollback", "--env", "staging", "--json")).toBe(0);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      command: "rollback",
      ok: true,
      exitCode: 0,
      environment: "staging",
      deploymentId: "d-ROLLBACKA",
      from: { bucket: STAGING_BUCKET, key: "releases/staging/revision-1.3.0.zip", versionId: "v3", deploymentId: "d-CURRENTAA" },
      to: { bucket: STAGING_BUCKET, key: "releases/staging/revision-1.2.0.zip", versionId: "v2", deploymentId: "d-PREVIOUSA" },
      replacementSlot: "blue",
      liveSlot: "green",
    });
  });

  it("refuses when there is no earlier successful revision", async () => {
    history(mocks, [deployment({ deploymentId: "d-CURRENTAA", revision: s3Revision(STAGING_BUCKET, "releases/staging/revision-1.3.0.zip", "v3") })]);
    const { cli, errors } = context();
    expect(await cli("rollback", "--env", "staging")).toBe(1);
    expect(errors[0]).toMatch(/staging has only one successfully deployed revision .* nothing to roll back to/);
    expect(mocks.codedeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
  });

  it("refuses while a deployment is in progress", async () => {
    history(mocks, [deployment({ deploymentId: "d-RUNNINGAA", status: "InProgress" })]);
    const { cli, errors } = context();
    expect(await cli("rollback", "--env", "staging")).toBe(1);
    expect(errors[0]).toMatch(/deployment d-RUNNINGAA is InProgress in staging: stop it/);
  });
});

describe("release command line", () => {
  it.each([
    [[], /no command given/],
    [["deploy", "--env", "dev"], /unknown command "deploy": expected one of upload, promote, watch, status, rollback/],
    [["status", "--env", "dev", "--bogus"], /Unknown option '--bogus'/],
    [["status", "--env", "dev", "--from", "staging"], /status does not take --from/],
    [["status", "--env"], /argument missing|--env/],
    [["status"], /--env <environment> is required/],
    [["status", "--env", "dev", "extra"], /status takes no positional arguments, got: extra/],
    [["upload", "--env", "dev", "a.zip", "b.zip"], /upload takes one bundle, got 2/],
    [["upload", "--env", "dev", "bundle.tar.gz"], /does not end in \.zip/],
  ])("rejects %j with exit 2, a clear message and the usage", async (argv, message) => {
    const { cli, errors } = context();
    expect(await cli(...argv)).toBe(2);
    expect(errors[0]).toMatch(message);
    expect(errors[0]).toContain("usage: npm run release -- <command>");
    expect(mocks.codedeploy.calls()).toHaveLength(0);
  });

  it("refuses --json where it means nothing: ssh (the remote command's output) and predict --human", async () => {
    const first = context();
    expect(await first.cli("ssh", "--env", "dev", "--json")).toBe(2);
    expect(first.errors[0]).toMatch(/^release: ssh does not take --json/);
    const second = context();
    expect(await second.cli("predict", "--env", "dev", "--json", "--human")).toBe(2);
    expect(second.errors[0]).toMatch(/^release: --json and --human ask for two different outputs/);
    expect([...first.lines, ...second.lines]).toEqual([]);
  });

  it("prints the usage for --help", async () => {
    const { cli, text } = context();
    expect(await cli("--help")).toBe(0);
    expect(text()).toContain("promote  --from <env> --to <env>");
  });

  it("parses durations", () => {
    expect(parseDuration("90s", "--timeout")).toBe(90_000);
    expect(parseDuration("30m", "--timeout")).toBe(1_800_000);
    expect(parseDuration("2h", "--timeout")).toBe(7_200_000);
    expect(parseDuration("45", "--timeout")).toBe(45_000);
    expect(() => parseDuration("0", "--timeout")).toThrow(/must be positive/);
  });
});

describe("recent deployments", () => {
  const target = {
    environment: "staging",
    region: "eu-west-1",
    application: "mpg-model-staging",
    deploymentGroup: "mpg-model-staging",
    loadBalancer: "mpg-model-staging",
    strategy: "in-place" as const,
  };
  const ids = Array.from({ length: 7 }, (_, i) => `d-PAGE0000${i}`);
  let tokens: (string | undefined)[] = [];
  beforeEach(() => {
    tokens = [];
    // Pages of three ids, linked by nextToken the way CodeDeploy pages them.
    mocks.codedeploy.on(ListDeploymentsCommand).callsFake((input: { nextToken?: string }) => {
      tokens.push(input.nextToken);
      const start = Number(input.nextToken ?? 0);
      return { deployments: ids.slice(start, start + 3), ...(start + 3 < ids.length ? { nextToken: String(start + 3) } : {}) };
    });
    mocks.codedeploy.on(BatchGetDeploymentsCommand).callsFake((input: { deploymentIds: string[] }) => ({
      deploymentsInfo: input.deploymentIds.map((id) => deployment({ deploymentId: id, createTime: new Date(Date.UTC(2026, 10, 1 + ids.indexOf(id))) })),
    }));
  });

  it("follows every page of ListDeployments and returns the details newest first", async () => {
    const found = await recentDeployments(createClients({ region: "eu-west-1" }), target);
    expect(found.map((d) => d.deploymentId)).toEqual([...ids].reverse());
    expect(tokens).toEqual([undefined, "3", "6"]);
  });

  it("stops asking for pages once it has the limit", async () => {
    const found = await recentDeployments(createClients({ region: "eu-west-1" }), target, { limit: 4 });
    expect(found.map((d) => d.deploymentId)).toEqual([ids[3], ids[2], ids[1], ids[0]]);
    expect(tokens).toEqual([undefined, "3"]);
  });
});
