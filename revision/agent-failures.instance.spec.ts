/**
 * What the real agent refuses or fails, and that our bundle check agrees with it: a hook that
 * outlives its timeout, a hook that leaves a process holding its stdout, overlapping permission
 * rules, and an unquoted mode with a leading zero.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AppSpecError, parseAppSpec } from "./appspec.js";
import { installedPaths, permissionProblems } from "./appspec-permissions.js";
import { LocalInstance } from "./instance.js";
import { cleanupTargets, repack, tempDir, zipEntry } from "./test-helpers.js";
import { readFileSync } from "node:fs";
import { readZip } from "./zip.js";

const DEV = { applicationName: "mpg-model-dev", deploymentGroupName: "mpg-model-dev" } as const;
const bundle = inject("bundleZip");
const appspec = zipEntry(bundle, "appspec.yml").toString();
let instance: LocalInstance;
let variants: string;

beforeAll(async () => {
  variants = tempDir("mpg10-variants");
  instance = await LocalInstance.boot({ name: `mpg10-fail-${randomBytes(3).toString("hex")}`, image: inject("instanceImage"), agent: inject("agent") });
});
afterAll(async () => {
  await instance?.stop();
  await cleanupTargets();
});

/** The bundle with BeforeInstall replaced by `script` and a `timeout`-second limit. */
function withBeforeInstall(name: string, script: string, timeout: number): Promise<string> {
  const text = appspec.replace(/(location: hooks\/before-install\.sh\n\s+timeout: )\d+/, `$1${timeout}`);
  return repack(bundle, join(variants, name), { "appspec.yml": text, "hooks/before-install.sh": { data: script, mode: 0o755 } });
}

const OVERLAPPING = appspec.replace(
  "  - object: /opt/mpg-model/config\n",
  '  - object: /opt/mpg-model\n    pattern: "**"\n    mode: "0644"\n    type:\n      - file\n  - object: /opt/mpg-model/config\n',
);

describe("the real agent's failures, and our checks agreeing with it", () => {
  it("kills a hook that outlives its timeout and fails the event, saying it timed out", async () => {
    const slow = await withBeforeInstall("slow.zip", "#!/usr/bin/env bash\necho 'waiting forever' >&2\nsleep 300\n", 2);
    const t0 = Date.now();
    const d = await instance.deploy(slow, DEV);
    expect(d.status).toBe("Failed");
    expect(d.failure?.event).toBe("BeforeInstall");
    expect(d.failure?.reason).toMatch(/hooks\/before-install\.sh timed out/);
    expect(d.failure?.reason).toMatch(/waiting forever/);
    expect(Date.now() - t0).toBeLessThan(60_000);
    // The agent killed the script's process group: no sleep 300 is left on the instance.
    const left = await instance.exec(["pgrep", "-f", "sleep 300"]);
    expect(left.stdout.trim()).toBe("");
  });

  it("fails a hook that exits but leaves a background process holding its stdout", async () => {
    const leaky = await withBeforeInstall("leaky.zip", "#!/usr/bin/env bash\nsleep 20 &\nexit 0\n", 2);
    const d = await instance.deploy(leaky, DEV);
    expect(d.failure?.event).toBe("BeforeInstall");
    expect(d.failure?.reason).toMatch(/failed to close STDOUT/);
    await instance.exec(["pkill", "-f", "sleep 20"]);
  });

  it("refuses overlapping permission rules at Install, and npm run bundle's check names the same path first", async () => {
    const spec = parseAppSpec(OVERLAPPING);
    const problems = permissionProblems(
      spec,
      installedPaths(
        spec,
        readZip(readFileSync(bundle)).map((e) => e.name),
      ),
    );
    expect(problems.join("\n")).toMatch(/\/opt\/mpg-model\/config\/dev\.env is matched by permissions\[1\] and permissions\[2\]/);

    const d = await instance.deploy(await repack(bundle, join(variants, "overlap.zip"), { "appspec.yml": OVERLAPPING }), DEV);
    expect(d.status).toBe("Failed");
    expect(d.failure?.event).toBe("Install");
    expect(d.failure?.reason).toMatch(/the permissions setting for \(\/opt\/mpg-model\/[^)]+\) is specified more than once/);
  });

  it("applies an unquoted 0644 as chmod 0420, which is why the AppSpec check refuses it", async () => {
    const unquoted = appspec.replace(/(object: \/opt\/mpg-model\/config\n(?:.*\n)*?\s+mode: )"0644"/, "$10644");
    expect(() => parseAppSpec(unquoted)).toThrow(AppSpecError);
    expect(() => parseAppSpec(unquoted)).toThrow(/permissions\[1\]\.mode: 0644 is unquoted: YAML 1\.1 reads a leading zero as octal, so the agent would apply chmod 0420/);

    const d = await instance.deploy(await repack(bundle, join(variants, "unquoted.zip"), { "appspec.yml": unquoted }), { ...DEV, events: ["DownloadBundle", "BeforeInstall", "Install"] });
    expect(d.status, d.failure?.reason).toBe("Succeeded");
    const mode = await instance.exec(["stat", "-c", "%a", "/opt/mpg-model/config/dev.env"]);
    expect(mode.stdout.trim()).toBe("420");
  });
});
