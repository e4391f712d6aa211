/**
 * The blue/green rehearsal on real parts: two booted instances with the real agent in their own
 * network namespaces, HAProxy, live traffic. The full five scenarios run in `.ci/run blue-green`;
 * here the first release and the alarm rollback, the errors that stop a rehearsal, and Ctrl-C.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { LocalInstance } from "../revision/instance.js";
import { fleetNodeForImage } from "../revision/image.js";
import { instanceSettings } from "../revision/instance-settings.js";
import { containerInstances } from "./instances.js";
import { listNamespaces } from "./netns.js";
import { rehearseBlueGreen } from "./rehearsal.js";

const settings = instanceSettings(process.env);
const REPO_DIR = join(import.meta.dirname, "..");
const instances = () => containerInstances({ agent: inject("agent"), cacheDir: settings.cacheDir, node: fleetNodeForImage(settings.cacheDir), imageSettings: settings.image });

/** systemd-nspawn processes whose machine name starts with `prefix`. */
function nspawns(prefix: string): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "latin1")
          .split("\0")
          .some((a) => a.startsWith(`--machine=${prefix}`));
      } catch {
        return false;
      }
    })
    .map(Number);
}
const leftovers = async (prefix: string) => ({
  namespaces: await listNamespaces(prefix),
  containers: nspawns(prefix),
  folders: readdirSync(tmpdir()).filter((d) => d.startsWith(`${prefix}bluegreen-`)),
});

describe("blue/green rehearsal on booted instances", () => {
  it("moves a release to green with 0 failed requests, rolls a 5xx revision back on its alarm, and leaves nothing behind", async () => {
    const lines: string[] = [];
    const result = await rehearseBlueGreen({ environment: "staging", bundleZip: inject("bundleZip"), bootHost: instances(), scenarios: [1, 5], prefix: "mpg11t-", out: (l) => lines.push(l) });
    const text = lines.join("\n");
    expect(result.ok, text).toBe(true);
    const [first, alarm] = result.scenarios;
    expect(first!.traffic!.failed).toBe(0);
    expect(first!.traffic!.ratePerSecond).toBeGreaterThanOrEqual(190);
    expect(alarm!.incidentFailed).toBeGreaterThan(0);
    expect(alarm!.incidentMs).toBeLessThanOrEqual(2 * result.timings!.alarmEvaluationPeriods * result.timings!.alarmPeriodMs);
    expect(text).toMatch(/load balancer up at http:\/\/127\.0\.0\.1:\d+/);
    expect(text).toMatch(/STOPPED ON ALARM: mpg-model-staging-backend-5xx in ALARM/);
    expect(text.indexOf("load balancer closing")).toBeGreaterThan(text.indexOf("✔ scenario 5"));
    expect(await leftovers("mpg11t-")).toEqual({ namespaces: [], containers: [], folders: [] });
  });

  it("names an instance that fails to boot and removes the namespaces, HAProxy and its folder", async () => {
    const lines: string[] = [];
    const result = await rehearseBlueGreen({
      environment: "staging",
      bundleZip: inject("bundleZip"),
      prefix: "mpg11u-",
      scenarios: [1],
      out: (l) => lines.push(l),
      // A real boot of an image that is not there: systemd-nspawn fails, as with a broken image.
      bootHost: ({ name, networkNamespace, log }) =>
        LocalInstance.boot({ name, networkNamespace, log, agent: inject("agent"), image: { ...inject("instanceImage"), rootfs: join(tmpdir(), "mpg11u-no-such-image") }, bootTimeoutMs: 20_000 }),
    });
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/an instance failed to boot: instance mpg11u-\w+-(blue|green) did not boot/);
    expect(lines.join("\n")).toMatch(/load balancer closing/);
    expect(await leftovers("mpg11u-")).toEqual({ namespaces: [], containers: [], folders: [] });
  });

  it("names a load balancer port in use before creating anything", async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    const port = (holder.address() as { port: number }).port;
    try {
      const result = await rehearseBlueGreen({ environment: "staging", bundleZip: inject("bundleZip"), bootHost: instances(), scenarios: [1], lbPort: port, prefix: "mpg11v-", out: () => {} });
      expect(result.error).toBe(`port ${port} on 127.0.0.1 is in use: the load balancer cannot listen there; pick another (--lb-port) or stop what holds it`);
      expect(await leftovers("mpg11v-")).toEqual({ namespaces: [], containers: [], folders: [] });
    } finally {
      holder.close();
    }
  });

  it("on Ctrl-C removes the instances, HAProxy, the namespaces and its folder, and exits 130", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO_DIR, "bluegreen/blue-green-cli.ts"), "--env", "staging", "--scenarios", "1", "--bundle", inject("bundleZip")], {
      cwd: REPO_DIR,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (output += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (output += c));
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    await expect.poll(() => output, { timeout: 120_000, interval: 200 }).toMatch(/load balancer up at http:\/\/127\.0\.0\.1:(\d+)/);
    const port = /load balancer up at http:\/\/127\.0\.0\.1:(\d+)/.exec(output)![1];
    // An outside client's request through the load balancer the rehearsal announced.
    expect((await fetch(`http://127.0.0.1:${port}/version`)).status).toBe(200);
    const id = /namespace (mpg11-\w+)-blue/.exec(output)![1]!;
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(output).toMatch(/SIGINT: removing/);
    expect({ namespaces: await listNamespaces(id), containers: nspawns(id) }).toEqual({ namespaces: [], containers: [] });
  });
});
