/**
 * The machine image: cached by its inputs, and a build interrupted by Ctrl-C leaves neither a
 * half-built tree, nor a lock, nor a debootstrap process behind.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { DEBIAN_BOOKWORM, ensureImage, fleetNodeForImage, imageKey } from "./image.js";
import { instanceSettings } from "./instance-settings.js";
import { cleanupTargets, REPO_DIR, tempDir } from "./test-helpers.js";

const settings = instanceSettings(process.env);
afterAll(cleanupTargets);

function processesMentioning(text: string): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "latin1").includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("the instance image", () => {
  it("comes from the cache in well under a second, keyed by every input", async () => {
    const image = inject("instanceImage");
    const again = await ensureImage({ cacheDir: settings.cacheDir, settings: settings.image, node: fleetNodeForImage(settings.cacheDir) });
    expect(again).toMatchObject({ rootfs: image.rootfs, cached: true });
    expect(again.ms).toBeLessThan(1000);
    expect(existsSync(join(image.rootfs, "usr/local/bin/node"))).toBe(true);
    const node = { version: "24.22.3", integrity: "sha512-x" };
    expect(imageKey(DEBIAN_BOOKWORM, node)).not.toBe(imageKey({ ...DEBIAN_BOOKWORM, mirror: "http://other.example/debian" }, node));
    expect(imageKey(DEBIAN_BOOKWORM, node)).not.toBe(imageKey(DEBIAN_BOOKWORM, { ...node, integrity: "sha512-y" }));
  });

  it("on Ctrl-C during a fresh build, kills debootstrap and removes the half-built tree and the lock", async () => {
    const cacheDir = tempDir("mpg10-image-cache");
    const script = `
      const { ensureImage, fleetNodeForImage } = await import(${JSON.stringify(join(REPO_DIR, "revision/image.ts"))});
      await ensureImage({ cacheDir: ${JSON.stringify(cacheDir)}, node: fleetNodeForImage(${JSON.stringify(settings.cacheDir)}), log: (l) => console.log(l) });`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: REPO_DIR, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (output += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (output += c));
    await expect.poll(() => output, { timeout: 60_000 }).toMatch(/building the instance image: debootstrap/);
    await expect.poll(() => processesMentioning(join(cacheDir, "images")).length, { timeout: 30_000 }).toBeGreaterThan(0);
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    child.kill("SIGINT");
    expect(await exited, output).toBe(130);
    await expect.poll(() => processesMentioning(join(cacheDir, "images")), { timeout: 10_000 }).toEqual([]);
    expect(readdirSync(join(cacheDir, "images"))).toEqual([]);
  });
});
