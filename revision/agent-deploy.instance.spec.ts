/**
 * One instance's history through the real CodeDeploy agent, on a booted systemd machine: first
 * deployment, the permissions and the unit it leaves, a redeployment over the running service, a
 * revision with a broken model failing at ValidateService, and a good revision deploying over it.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadEnvironment } from "../environments/index.js";
import { parseAppSpec } from "./appspec.js";
import { installedPaths, matchingRules } from "./appspec-permissions.js";
import { LocalInstance, type Deployment } from "./instance.js";
import { cleanupTargets, corruptModelDir, repack, REPO_DIR, tempDir, zipEntry } from "./test-helpers.js";
import { serviceKeepAliveMs } from "./service-settings.js";
import { readZip } from "./zip.js";

const DEV = { applicationName: "mpg-model-dev", deploymentGroupName: "mpg-model-dev" } as const;
const bundle = inject("bundleZip");
let instance: LocalInstance;

beforeAll(async () => {
  instance = await LocalInstance.boot({ name: `mpg10-hist-${randomBytes(3).toString("hex")}`, image: inject("instanceImage"), agent: inject("agent") });
});
afterAll(async () => {
  await instance?.stop();
  await cleanupTargets();
});

const sh = async (script: string) => {
  const r = await instance.exec(["bash", "-c", script]);
  expect(r.code, `${script}\n${r.stderr}`).toBe(0);
  return r.stdout.trim();
};
const statusOf = (d: Deployment, event: string) => d.events.find((e) => e.name === event)?.status;
const golden = (JSON.parse(readFileSync(join(REPO_DIR, "service/model/manifest.json"), "utf8")) as { smoke_test: { cases: { expected: number }[] } }).smoke_test.cases[0]!.expected;

describe("the real CodeDeploy agent on a booted instance", () => {
  let first: Deployment;

  it("deploys a first revision: every in-place event in the agent's order, previous-revision events skipped, the service running under systemd", async () => {
    first = await instance.deploy(bundle, DEV);
    expect(first.failure, first.stderr).toBeUndefined();
    expect(first.status).toBe("Succeeded");
    expect(first.deploymentId).toMatch(/^d-[A-Z0-9]{9}-local$/);
    expect(first.events.map((e) => e.name)).toEqual([
      "BeforeBlockTraffic",
      "AfterBlockTraffic",
      "ApplicationStop",
      "DownloadBundle",
      "BeforeInstall",
      "Install",
      "AfterInstall",
      "ApplicationStart",
      "ValidateService",
      "BeforeAllowTraffic",
      "AfterAllowTraffic",
    ]);
    expect(statusOf(first, "ApplicationStop")).toBe("Skipped");
    for (const e of first.events) expect(e.end.getTime()).toBeGreaterThanOrEqual(e.start.getTime());
    // The systemd path: a system user, the unit, journald.
    expect(await sh("systemctl is-active mpg-model.service")).toBe("active");
    expect(await sh("systemctl show --property=User --value mpg-model.service")).toBe("mpg-model");
    expect(await sh("getent passwd mpg-model | cut -d: -f7")).toBe("/usr/sbin/nologin");
    expect(await sh("journalctl --unit mpg-model.service --no-pager --output cat | wc -l")).not.toBe("0");
    expect(await sh("cat /etc/mpg-model/service.env")).toMatch(/^REVISION_ID=0\.1\.0$/m);
    // The environment's settings reach the service systemd runs: keep-alive above dev's load-balancer idle timeout
    // (announced in the Keep-Alive header), /metrics on dev's service.metricsPort.
    const dev = loadEnvironment("dev");
    const keepAliveMs = serviceKeepAliveMs(dev);
    expect(keepAliveMs).toBeGreaterThan(dev.loadBalancer.idleTimeoutSeconds * 1000);
    expect(await sh("cat /etc/mpg-model/service.env")).toMatch(new RegExp(`^KEEP_ALIVE_TIMEOUT_MS=${keepAliveMs}$`, "m"));
    expect(await sh("cat /etc/mpg-model/service.env")).toMatch(new RegExp(`^METRICS_PORT=${dev.service.metricsPort}$`, "m"));
    expect(await sh("curl -s -D - -o /dev/null http://127.0.0.1:8080/health")).toMatch(new RegExp(`^keep-alive: timeout=${keepAliveMs / 1000}\\r?$`, "im"));
    expect(await sh(`curl -s http://127.0.0.1:${dev.service.metricsPort}/metrics`)).toMatch(/^model_info\{/m);
    // make_prediction.sh, run on the instance against the service systemd started.
    const answer = JSON.parse(await sh("PORT=8080 /opt/mpg-model/app/bin/make_prediction.sh")) as { predictions: number[] };
    expect(answer.predictions[0]).toBeCloseTo(golden, 2);
  });

  it("applies exactly the appspec's permissions: stat of every installed path against the one rule that matches it", async () => {
    const spec = parseAppSpec(zipEntry(bundle, "appspec.yml").toString());
    const installed = installedPaths(
      spec,
      readZip(readFileSync(bundle)).map((e) => e.name),
    );
    const rules = matchingRules(spec, installed);
    const lines = (await sh("find /opt/mpg-model/app /opt/mpg-model/config -printf '%p %m %u %g\\n'")).split("\n");
    expect(lines.length).toBe(installed.files.size + installed.directories.size);
    for (const line of lines) {
      const [path, mode, user, group] = line.split(" ") as [string, string, string, string];
      const matched = rules.get(path);
      expect(matched, path).toHaveLength(1);
      const rule = spec.permissions[matched![0]!]!;
      expect(`${path} ${mode.padStart(4, "0")} ${user}:${group}`).toBe(`${path} ${rule.mode!.padStart(4, "0")} ${rule.owner}:${rule.group}`);
    }
    expect(await sh("stat -c '%a' /opt/mpg-model/app/bin/make_prediction.sh")).toBe("755");
    // The service user can read what it runs and write none of it.
    expect(await sh("runuser -u mpg-model -- find /opt/mpg-model -writable | wc -l")).toBe("0");
    expect(await sh("runuser -u mpg-model -- cat /opt/mpg-model/app/model/manifest.json >/dev/null && echo readable")).toBe("readable");
  });

  it("renders a unit that systemd-analyze verify accepts", async () => {
    const r = await instance.exec(["systemd-analyze", "verify", "/etc/systemd/system/mpg-model.service"]);
    expect(r.stderr.trim()).toBe("");
    expect(r.code).toBe(0);
  });

  it("redeploys over the running service: the previous revision's ApplicationStop stops it, a new process serves", async () => {
    const before = await sh("systemctl show --property=MainPID --value mpg-model.service");
    const again = await instance.deploy(bundle, DEV);
    expect(again.status, again.failure?.reason).toBe("Succeeded");
    expect(statusOf(again, "ApplicationStop")).toBe("Succeeded");
    await expect(readFileOnInstance(again.scriptsLog)).resolves.toMatch(/ApplicationStop: stopping mpg-model \(systemd\)/);
    const after = await sh("systemctl show --property=MainPID --value mpg-model.service");
    expect(after).not.toBe(before);
    expect(await sh("systemctl is-active mpg-model.service")).toBe("active");
  });

  it("fails a revision with a broken model at ValidateService with the hook's reason; a good revision then deploys over it (through the failed revision's ApplicationStop)", async () => {
    const model = corruptModelDir();
    const broken = await repack(bundle, join(tempDir("mpg10-broken"), "broken-model.zip"), {
      "app/model/model.onnx": readFileSync(join(model, "model.onnx")),
      "app/model/manifest.json": readFileSync(join(model, "manifest.json")),
    });
    const bad = await instance.deploy(broken, DEV);
    expect(bad.status).toBe("Failed");
    expect(bad.failure?.event).toBe("ValidateService");
    expect(bad.failure?.reason).toMatch(/exit code 1/);
    expect(bad.failure?.reason).toMatch(/validation failed: the service never became ready/);
    expect(bad.events.at(-1)).toMatchObject({ name: "ValidateService", status: "Failed" });

    // The agent recorded the broken revision as the last install: its ApplicationStop runs now.
    const good = await instance.deploy(bundle, DEV);
    expect(good.status, good.failure?.reason).toBe("Succeeded");
    expect(statusOf(good, "ApplicationStop")).toBe("Succeeded");
    const answer = JSON.parse(await sh("PORT=8080 /opt/mpg-model/app/bin/make_prediction.sh")) as { predictions: number[] };
    expect(answer.predictions[0]).toBeCloseTo(golden, 2);
  });
});

async function readFileOnInstance(path: string | undefined): Promise<string> {
  if (!path) throw new Error("no scripts.log: the agent never started the deployment");
  const r = await instance.exec(["cat", path]);
  return r.stdout;
}
