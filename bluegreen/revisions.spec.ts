import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yazl from "yazl";
import { createHash } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { readZip } from "../revision/zip.js";
import { FAULT_MODULE_ENTRY, FAULT_SETTING, RevisionVariantError, writeVariant } from "./revisions.js";

const dir = mkdtempSync(join(tmpdir(), "mpg11-revisions-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A bundle with the files writeVariant touches, laid out as npm run bundle lays them out. */
async function bundle(): Promise<string> {
  const zip = new yazl.ZipFile();
  const files: Record<string, string> = {
    "appspec.yml": "version: 0.0\nos: linux\n",
    "config/revision.env": "APP_NAME=mpg-model\nREVISION_VERSION=0.1.0\nGIT_COMMIT=unknown\n",
    "config/staging.env": "DEPLOYMENT_GROUP=mpg-model-staging\nPORT=8080\n",
    "config/prod.env": "DEPLOYMENT_GROUP=mpg-model-prod\nPORT=8080\n",
    "hooks/validate-service.sh": "#!/usr/bin/env bash\n",
  };
  const sha = (s: string) => createHash("sha256").update(s).digest("hex");
  const manifest = { version: "0.1.0", files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, sha(v)])) };
  for (const [name, data] of Object.entries({ ...files, "app/revision.json": JSON.stringify(manifest) })) {
    zip.addBuffer(Buffer.from(data), name, { mode: 0o100000 | (name.endsWith(".sh") ? 0o755 : 0o644) });
  }
  zip.end();
  const path = join(dir, "base.zip");
  await new Promise<void>((resolve) => zip.outputStream.pipe(createWriteStream(path)).on("close", resolve));
  return path;
}

const entry = (zip: string, name: string) => readZip(readFileSync(zip)).find((e) => e.name === name);

describe("writeVariant", () => {
  it("gives a copy its own revision id and keeps the manifest's hashes and the files' modes true", async () => {
    const out = await writeVariant(await bundle(), join(dir, "r1.zip"), { revisionId: "0.1.0+bg.1", appDestination: "/opt/mpg-model/app" });
    const env = entry(out, "config/revision.env")!.data.toString();
    expect(env).toContain("REVISION_VERSION=0.1.0+bg.1\n");
    expect(env).toContain("APP_NAME=mpg-model\n");
    const manifest = JSON.parse(entry(out, "app/revision.json")!.data.toString()) as { version: string; files: Record<string, string> };
    expect(manifest.version).toBe("0.1.0+bg.1");
    expect(manifest.files["config/revision.env"]).toBe(createHash("sha256").update(env).digest("hex"));
    expect(entry(out, "hooks/validate-service.sh")!.mode & 0o777).toBe(0o755);
    expect(entry(out, FAULT_MODULE_ENTRY)).toBeUndefined();
    expect(entry(out, "config/staging.env")!.data.toString()).not.toContain(FAULT_SETTING);
  });

  it("adds the fault switch only to the rehearsal's faulty copy, for every environment's settings", async () => {
    const out = await writeVariant(await bundle(), join(dir, "r5.zip"), { revisionId: "0.1.0+bg.5.faulty", appDestination: "/opt/mpg-model/app", fail5xxAfter: 40 });
    for (const env of ["staging", "prod"]) {
      const text = entry(out, `config/${env}.env`)!.data.toString();
      expect(text).toContain(`${FAULT_SETTING}=40\n`);
      expect(text).toContain("NODE_OPTIONS=--import=/opt/mpg-model/app/rehearsal-fault.mjs\n");
    }
    expect(entry(out, FAULT_MODULE_ENTRY)!.data.toString()).toContain("never part of a production build");
  });

  it("refuses what is not a bundle and a revision id with spaces", async () => {
    await expect(writeVariant(await bundle(), join(dir, "x.zip"), { revisionId: "a b", appDestination: "/opt/x/app" })).rejects.toBeInstanceOf(RevisionVariantError);
    const empty = new yazl.ZipFile();
    empty.addBuffer(Buffer.from("x"), "README");
    empty.end();
    const path = join(dir, "not-a-bundle.zip");
    await new Promise<void>((resolve) => empty.outputStream.pipe(createWriteStream(path)).on("close", resolve));
    await expect(writeVariant(path, join(dir, "y.zip"), { revisionId: "1", appDestination: "/opt/x/app" })).rejects.toThrow(/has no config\/revision.env: not a bundle built by npm run bundle/);
  });
});
