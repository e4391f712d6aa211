import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, MAX_BUNDLE_BYTES, type BundleResult } from "./bundle.js";
import { REVISION_MANIFEST_PATH, RevisionManifestSchema } from "./revision-manifest.js";
import { cleanupTargets, REPO_DIR, tempDir } from "./test-helpers.js";
import { readZip, type ZipEntry } from "./zip.js";

// Two real builds from the same tree, in two directories: the reproducibility check needs both,
// and every other test reads the first.
let first: BundleResult;
let second: BundleResult;
let entries: ZipEntry[];
const byName = (name: string) => entries.find((e) => e.name === name);

beforeAll(async () => {
  // Built at the same time: the builds share nothing but the inputs, so any difference is a leak
  // of time, order or environment into the bytes.
  [first, second] = await Promise.all([buildBundle({ repoDir: REPO_DIR, outDir: tempDir("bundle-a") }), buildBundle({ repoDir: REPO_DIR, outDir: tempDir("bundle-b") })]);
  entries = readZip(readFileSync(first.zipPath), first.zipPath);
}, 120_000);
afterAll(cleanupTargets);

describe("npm run bundle", () => {
  it("is reproducible: two builds of the same tree are the same bytes", () => {
    expect(second.sha256).toBe(first.sha256);
    expect(createHash("sha256").update(readFileSync(second.zipPath)).digest("hex")).toBe(first.sha256);
  });

  it("is named after the version and stays under 25 MB", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_DIR, "package.json"), "utf8")) as { version: string };
    expect(first.zipPath.endsWith(`revision-${pkg.version}.zip`)).toBe(true);
    expect(first.bytes).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
  });

  it("holds the appspec, executable hooks, the compiled service, the model, make_prediction.sh and a settings file per environment", () => {
    for (const name of [
      "appspec.yml",
      "app/server.mjs",
      "app/model/model.onnx",
      "app/model/manifest.json",
      "hooks/smoke-check.mjs",
      "hooks/app.service.in",
      "config/revision.env",
      "config/dev.env",
      "config/staging.env",
      "config/prod.env",
    ]) {
      expect(byName(name), name).toBeDefined();
    }
    for (const hook of ["lib.sh", "application-stop.sh", "before-install.sh", "after-install.sh", "application-start.sh", "validate-service.sh"]) {
      expect(byName(`hooks/${hook}`)?.mode, hook).toBe(0o755);
    }
    expect(byName("app/bin/make_prediction.sh")?.mode).toBe(0o755);
    expect(byName("app/model/model.onnx")?.data.equals(readFileSync(join(REPO_DIR, "service/model/model.onnx")))).toBe(true);
    expect(byName("config/staging.env")?.data.toString()).toMatch(/^DEPLOYMENT_GROUP=mpg-model-staging$/m);
  });

  it("ships only the runtime files onnxruntime-node loads, for linux-x64, and no devDependency", () => {
    const modules = entries.filter((e) => e.name.startsWith("app/node_modules/")).map((e) => e.name.slice("app/node_modules/".length));
    const packages = new Set(modules.map((m) => m.split("/")[0]));
    expect([...packages].sort()).toEqual(["onnxruntime-common", "onnxruntime-node"]);
    expect(modules).toContain("onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1");
    expect(modules).toContain("onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node");
    expect(modules.filter((m) => m.includes("/bin/") && !m.includes("/linux/x64/"))).toEqual([]);
    expect(modules.filter((m) => /\.(map|d\.ts|ts)$/.test(m) || m.includes("/script/"))).toEqual([]);
    // The service itself is one bundled file: pino, prom-client, zod are inside it, not beside it.
    const server = byName("app/server.mjs")!.data.toString();
    expect(server).toMatch(/from "onnxruntime-node"|require\("onnxruntime-node"\)/);
  });

  it("carries a revision manifest with the commit, model version, build time and the SHA-256 of every other file", () => {
    // The schema the release CLI checks bundles with before it uploads them.
    const manifest = RevisionManifestSchema.parse(JSON.parse(byName(REVISION_MANIFEST_PATH)!.data.toString()));
    expect(manifest.git_commit).toMatch(/^[0-9a-f]{40}$/);
    expect(manifest.model.version).toBe(first.modelVersion);
    expect(Number.isNaN(Date.parse(manifest.built_at))).toBe(false);
    const others = entries.filter((e) => e.name !== REVISION_MANIFEST_PATH);
    expect(Object.keys(manifest.files).sort()).toEqual(others.map((e) => e.name).sort());
    for (const e of others) expect(manifest.files[e.name], e.name).toBe(createHash("sha256").update(e.data).digest("hex"));
  });

  it("refuses an appspec that installs outside the application directory", async () => {
    const bad = join(tempDir("bad-appspec"), "appspec.yml");
    writeFileSync(bad, readFileSync(join(REPO_DIR, "appspec.yml"), "utf8").replace("destination: /opt/mpg-model/config", "destination: /etc/mpg"));
    await expect(buildBundle({ repoDir: REPO_DIR, outDir: tempDir("bundle-c"), appspecPath: bad })).rejects.toThrow(
      /installs config to \/etc\/mpg, outside the application directory \/opt\/mpg-model/,
    );
  });
});
