import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { unzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { buildHandlerArtifact } from "./handler-artifact.js";

const REPO = resolve(import.meta.dirname, "..");
const BUILD = join(REPO, ".tmp/deployment-trigger-spec");

describe("buildHandlerArtifact", () => {
  it("bundles the handler deterministically into a zip of index.js alone, without the AWS SDK or absolute paths", () => {
    const dir = join(REPO, ".tmp/deployment-trigger-determinism");
    const { zipPath: zip, sha256 } = buildHandlerArtifact({ projectRoot: REPO, directory: dir });
    const first = readFileSync(join(dir, "index.js"));
    const packaged = unzipSync(readFileSync(zip));
    expect(Object.keys(packaged)).toEqual(["index.js"]);
    expect(Buffer.from(packaged["index.js"]!).equals(first)).toBe(true);
    // A second build elsewhere zips to the same bytes: the asset hash depends on the code only.
    const again = buildHandlerArtifact({ projectRoot: REPO, directory: join(REPO, ".tmp/deployment-trigger-determinism-2") });
    expect(readFileSync(again.zipPath).equals(readFileSync(zip))).toBe(true);
    expect(again.sha256).toBe(sha256);
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(first.toString()).not.toContain(REPO);
    expect(first.toString()).toMatch(/require\("@aws-sdk\/client-codedeploy"\)/);
    expect(first.length).toBeLessThan(200_000);
  });

  it("ships a bundle that loads and answers an S3 event on its own (no project files needed)", async () => {
    buildHandlerArtifact({ projectRoot: REPO, directory: BUILD });
    const require = createRequire(join(BUILD, "index.js"));
    const env = {
      ENVIRONMENT_NAME: "dev",
      DEPLOY_REGION: "eu-west-1",
      APPLICATION_NAME: "a",
      DEPLOYMENT_GROUP_NAME: "g",
      LOAD_BALANCER_NAME: "lb",
      DEPLOYMENT_STRATEGY: "in-place",
      RELEASE_PREFIX: "releases/dev/",
      REVISION_BUCKET: "b",
    };
    Object.assign(process.env, env);
    try {
      const bundled = require("./index.js") as { handler: (event: unknown) => Promise<{ outcome: string; reason?: string }[]> };
      const results = await bundled.handler({ Records: [{ eventName: "ObjectCreated:Put", s3: { bucket: { name: "b" }, object: { key: "releases/dev/readme.txt", versionId: "v1" } } }] });
      expect(results).toEqual([{ outcome: "ignored", key: "releases/dev/readme.txt", reason: "key does not end in .zip: only zip bundles are revisions" }]);
    } finally {
      for (const name of Object.keys(env)) delete process.env[name];
    }
  });
});
