import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scratchDir } from "../scripts/scratch-dir.js";
import { AWS_PROVIDER_SOURCE, AWS_PROVIDER_VERSION, mirrorCliConfig, resolveProviderMirror } from "./provider-mirror.js";

async function fakeMirror(withProvider: boolean): Promise<string> {
  const dir = scratchDir("mirror-");
  if (withProvider) await mkdir(join(dir, AWS_PROVIDER_SOURCE, AWS_PROVIDER_VERSION), { recursive: true });
  return dir;
}

describe("provider mirror", () => {
  it("uses TF_PROVIDER_MIRROR when it holds the pinned provider", async () => {
    const mirror = await fakeMirror(true);
    expect(resolveProviderMirror({ TF_PROVIDER_MIRROR: mirror }, [])).toBe(mirror);
  });

  it("refuses a TF_PROVIDER_MIRROR without the pinned provider instead of silently downloading", async () => {
    const mirror = await fakeMirror(false);
    expect(() => resolveProviderMirror({ TF_PROVIDER_MIRROR: mirror }, [])).toThrow(`TF_PROVIDER_MIRROR=${mirror} does not contain registry.terraform.io/hashicorp/aws/5.100.0`);
  });

  it("falls back to the first candidate that holds the provider, else to the registry", async () => {
    const empty = await fakeMirror(false);
    const full = await fakeMirror(true);
    expect(resolveProviderMirror({}, [empty, full])).toBe(full);
    expect(resolveProviderMirror({}, [empty])).toBeUndefined();
  });

  it("writes a CLI config that installs the AWS provider from the mirror only", () => {
    const config = mirrorCliConfig("/opt/mirror");
    expect(config).toContain('path    = "/opt/mirror"');
    expect(config).toMatch(/filesystem_mirror \{[\s\S]*include = \["registry\.terraform\.io\/hashicorp\/aws"\]/);
    expect(config).toMatch(/direct \{\s*exclude = \["registry\.terraform\.io\/hashicorp\/aws"\]/);
  });
});
