import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle } from "./bundle.js";
import { freeLoopbackPort } from "./rehearsal.js";
import { LocalAgent, type DeploymentResult } from "./runner.js";
import { cleanupTargets, corruptModelDir, repack, REPO_DIR, tempDir, zipEntry } from "./test-helpers.js";

// One real bundle for the whole file; variants are the same bundle with one file changed.
let bundle: string;
let variants: string;
const agents: LocalAgent[] = [];

beforeAll(async () => {
  variants = tempDir("runner-bundles");
  bundle = (await buildBundle({ repoDir: REPO_DIR, outDir: variants })).zipPath;
}, 120_000);

afterAll(async () => {
  // Stop every service a test left running with the deployed revision's own ApplicationStop,
  // then whatever a failed first deployment left behind, then delete the targets.
  await Promise.all(agents.map((agent) => agent.stop().catch(() => undefined)));
  await cleanupTargets();
});

async function target(group = "mpg-model-dev") {
  const rootDir = tempDir("runner-target");
  const port = await freeLoopbackPort();
  const agent = new LocalAgent({ rootDir, applicationName: "mpg-model-dev", deploymentGroupName: group, hookEnv: { DEPLOY_ROOT: rootDir, LOCAL_PORT: String(port) } });
  agents.push(agent);
  return { agent, rootDir, port };
}

async function predict(port: number): Promise<number[]> {
  const manifest = JSON.parse(readFileSync(join(REPO_DIR, "service/model/manifest.json"), "utf8")) as { smoke_test: { cases: { instance: object }[] } };
  const res = await fetch(`http://127.0.0.1:${port}/predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ instances: manifest.smoke_test.cases.map((c) => c.instance) }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { predictions: number[] }).predictions;
}

const statusOf = (d: DeploymentResult, step: string) => d.steps.find((s) => s.step === step)?.status;
const golden = (JSON.parse(readFileSync(join(REPO_DIR, "service/model/manifest.json"), "utf8")) as { smoke_test: { cases: { expected: number }[] } }).smoke_test.cases.map((c) => c.expected);

describe("the local lifecycle runner, on real bundles", () => {
  // The first three tests are one instance's history: first deployment, redeployment, a bad
  // release rolled back. Each service start costs seconds, so they share the target.
  let history: Awaited<ReturnType<typeof target>>;
  let firstDeployment: DeploymentResult;

  it("deploys a first revision: previous-revision hooks skipped, every other hook run in order with the agent's variables", async () => {
    history = await target();
    const { agent, rootDir, port } = history;
    const d = await agent.deploy(bundle);
    firstDeployment = d;
    expect(d.failure).toBeUndefined();
    expect(d.status).toBe("Succeeded");
    expect(d.steps.map((s) => s.step)).toEqual([
      "BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic", "ApplicationStop", "DownloadBundle", "BeforeInstall", "Install",
      "AfterInstall", "ApplicationStart", "ValidateService", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic",
    ]);
    expect(statusOf(d, "ApplicationStop")).toBe("Skipped");
    expect(d.steps.find((s) => s.step === "ApplicationStop")?.detail).toMatch(/first deployment/);
    const log = readFileSync(d.scriptsLog, "utf8");
    // The hooks prefix their lines with LIFECYCLE_EVENT and pick the settings by DEPLOYMENT_GROUP_NAME.
    expect(log).toMatch(/BeforeInstall: emptied/);
    expect(log).toMatch(/AfterInstall: settings for mpg-model-dev from dev\.env/);
    expect(log).toMatch(/ValidateService: revision .* is serving correct predictions/);
    expect(readFileSync(join(rootDir, "etc/mpg-model/service.env"), "utf8")).toMatch(/^ENVIRONMENT=dev$/m);
    expect((await predict(port)).map((p, i) => Math.abs(p - golden[i]!) < 0.01)).toEqual(golden.map(() => true));
  });

  it("redeploys over the first revision: ApplicationStop of the previous revision stops the old process", async () => {
    const { agent, rootDir, port } = history;
    const firstPid = readFileSync(join(rootDir, "var/lib/mpg-model/service.pid"), "utf8").trim();
    const second = await agent.deploy(bundle);
    expect(second.failure).toBeUndefined();
    expect(statusOf(second, "ApplicationStop")).toBe("Succeeded");
    expect(readFileSync(second.scriptsLog, "utf8")).toMatch(new RegExp(`ApplicationStop: stopping pid ${firstPid}`));
    expect(() => process.kill(Number(firstPid), 0)).toThrow();
    expect(readFileSync(join(rootDir, "var/lib/mpg-model/service.pid"), "utf8").trim()).not.toBe(firstPid);
    expect(await predict(port)).toHaveLength(golden.length);
  });

  it("fails a revision with a broken model at ValidateService and rolls back, as a new deployment, to the revision that worked", async () => {
    const { agent, port } = history;
    const good = firstDeployment;
    const model = corruptModelDir();
    const broken = await repack(bundle, join(variants, "broken-model.zip"), {
      "app/model/model.onnx": readFileSync(join(model, "model.onnx")),
      "app/model/manifest.json": readFileSync(join(model, "manifest.json")),
    });
    const d = await agent.deploy(broken, { autoRollback: true });
    expect(d.status).toBe("Failed");
    expect(d.failure?.step).toBe("ValidateService");
    expect(d.failure?.message).toMatch(/validate-service\.sh (run as user root )?failed with exit code 1/);
    expect(readFileSync(d.scriptsLog, "utf8")).toMatch(/the service never became ready/);
    expect(d.rollback?.status).toBe("Succeeded");
    expect(d.rollback?.isRollback).toBe(true);
    expect(new Set([good.deploymentId, d.deploymentId, d.rollback?.deploymentId]).size).toBe(3);
    const answers = await predict(port);
    expect(answers.map((p, i) => Math.abs(p - golden[i]!) < 0.01)).toEqual(golden.map(() => true));
  });

  it("fails ValidateService when make_prediction.sh's answer matches no golden prediction", async () => {
    const { agent } = await target();
    // The same script asking about another car: the service answers, but not with a golden value.
    const original = zipEntry(bundle, "app/bin/make_prediction.sh").toString();
    const script = original.replace(/^main "\$@"$/m, 'main "$@" cylinders=6 displacement=250');
    expect(script).not.toBe(original);
    const wrong = await repack(bundle, join(variants, "wrong-answer.zip"), { "app/bin/make_prediction.sh": { data: script, mode: 0o755 } });
    const d = await agent.deploy(wrong);
    expect(d.failure?.step).toBe("ValidateService");
    expect(readFileSync(d.scriptsLog, "utf8")).toMatch(/make_prediction\.sh answered .* which contains none of the golden predictions/);
  });

  it("kills a hook's whole process group when it outlives its timeout, and fails the deployment", async () => {
    const { agent, rootDir } = await target();
    const pidFile = join(rootDir, "grandchild.pid");
    const appspec = zipEntry(bundle, "appspec.yml").toString().replace(/(location: hooks\/before-install\.sh\n\s+timeout: )\d+/, "$11");
    const slow = await repack(bundle, join(variants, "slow-hook.zip"), {
      "appspec.yml": appspec,
      "hooks/before-install.sh": { data: `#!/usr/bin/env bash\nsleep 300 &\necho $! > ${pidFile}\nwait\n`, mode: 0o755 },
    });
    const t0 = Date.now();
    const d = await agent.deploy(slow);
    expect(d.failure?.step).toBe("BeforeInstall");
    expect(d.failure?.message).toMatch(/hooks\/before-install\.sh failed to complete in 1 seconds/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    await expect.poll(() => { try { process.kill(grandchild, 0); return "alive"; } catch { return "gone"; } }, { timeout: 8000 }).toBe("gone");
  });

  it("fails a hook that exits but leaves a background process holding its stdout (the seed project's hang)", async () => {
    const { agent } = await target();
    const appspec = zipEntry(bundle, "appspec.yml").toString().replace(/(location: hooks\/before-install\.sh\n\s+timeout: )\d+/, "$11");
    const leaky = await repack(bundle, join(variants, "leaky-hook.zip"), {
      "appspec.yml": appspec,
      "hooks/before-install.sh": { data: "#!/usr/bin/env bash\nsleep 30 &\nexit 0\n", mode: 0o755 },
    });
    const d = await agent.deploy(leaky);
    expect(d.failure?.step).toBe("BeforeInstall");
    expect(d.failure?.message).toMatch(/exited \(code 0\) but left stdout\/stderr open/);
  });

  it("with DISALLOW, fails Install on a file it did not put there, before copying anything; the real appspec deploys over it", async () => {
    const { agent, rootDir } = await target();
    const stray = join(rootDir, "opt/mpg-model/app/server.mjs");
    mkdirSync(join(rootDir, "opt/mpg-model/app"), { recursive: true });
    writeFileSync(stray, "// copied by hand\n");
    const appspec = zipEntry(bundle, "appspec.yml").toString().replace("file_exists_behavior: OVERWRITE", "file_exists_behavior: DISALLOW").replace(/ {2}BeforeInstall:\n( {4}.*\n)+?(?= {2}AfterInstall:)/, "");
    const strict = await repack(bundle, join(variants, "disallow.zip"), { "appspec.yml": appspec });
    const d = await agent.deploy(strict);
    expect(statusOf(d, "BeforeInstall")).toBe("Skipped");
    expect(d.failure?.step).toBe("Install");
    expect(d.failure?.message).toBe("The deployment failed because a specified file already exists at this location: /opt/mpg-model/app/server.mjs");
    expect(existsSync(join(rootDir, "opt/mpg-model/app/model"))).toBe(false);
    expect((await agent.deploy(bundle)).status).toBe("Succeeded");
  });

  it("fails AfterInstall on a deployment group the revision has no settings for", async () => {
    const { agent } = await target("mpg-model-qa");
    const d = await agent.deploy(bundle);
    expect(d.failure?.step).toBe("AfterInstall");
    expect(readFileSync(d.scriptsLog, "utf8")).toMatch(/unknown deployment group 'mpg-model-qa': this revision has settings for mpg-model-dev,mpg-model-prod,mpg-model-staging/);
  });

  it("rejects a revision whose appspec is invalid at DownloadBundle, naming the problem", async () => {
    const { agent } = await target();
    const bad = await repack(bundle, join(variants, "bad-appspec.zip"), { "appspec.yml": zipEntry(bundle, "appspec.yml").toString().replace("ValidateService:", "ValidateServices:") });
    const d = await agent.deploy(bad);
    expect(d.failure?.step).toBe("DownloadBundle");
    expect(d.failure?.message).toMatch(/hooks\.ValidateServices: unknown lifecycle event/);
  });
});
