import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanupTargets, REPO_DIR, tempDir } from "./test-helpers.js";

afterAll(cleanupTargets);

const HOOKS = readdirSync(join(REPO_DIR, "hooks")).filter((f) => f.endsWith(".sh"));

/** The hooks as they sit in an unpacked revision, with the config the bundler writes. */
function fakeArchive(): string {
  const archive = tempDir("hooks-archive");
  cpSync(join(REPO_DIR, "hooks"), join(archive, "hooks"), { recursive: true });
  mkdirSync(join(archive, "config"));
  writeFileSync(join(archive, "config/revision.env"), "APP_NAME=mpg-model\nREVISION_VERSION=0.0.0\nGIT_COMMIT=test\nMODEL_VERSION=m@1.0.0\n");
  return archive;
}

/** make_prediction.sh where the appspec installs it (app/bin under the application folder). */
function installScript(root: string): string {
  const script = join(root, "opt/mpg-model/app/bin/make_prediction.sh");
  mkdirSync(join(script, ".."), { recursive: true });
  cpSync(join(REPO_DIR, "service/make_prediction.sh"), script);
  return script;
}

function runHook(archive: string, hook: string, env: Record<string, string>) {
  return spawnSync(join(archive, "hooks", hook), [], { encoding: "utf8", env: { PATH: process.env.PATH ?? "", ...env }, timeout: 20_000 });
}

describe("hooks", () => {
  it("are shellcheck clean (shellcheck from Debian: apt-get install -y shellcheck)", () => {
    const found = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
    expect(found.error, "shellcheck is not installed: apt-get update && apt-get install -y shellcheck").toBeUndefined();
    const result = spawnSync("shellcheck", ["-x", ...HOOKS.map((h) => `hooks/${h}`), "service/make_prediction.sh"], { cwd: REPO_DIR, encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("are bash with set -euo pipefail, a purpose line, and main at the bottom (lib.sh is sourced, not run)", () => {
    for (const hook of HOOKS) {
      const text = readFileSync(join(REPO_DIR, "hooks", hook), "utf8");
      expect(text.startsWith("#!/usr/bin/env bash\n# "), hook).toBe(true);
      if (hook === "lib.sh") continue;
      expect(text, hook).toContain("set -euo pipefail");
      expect(text.trimEnd().endsWith('main "$@"'), hook).toBe(true);
      expect(text.split("\n").length, `${hook} should stay short`).toBeLessThan(100);
    }
  });

  it("ApplicationStop succeeds when nothing is installed and nothing runs", () => {
    const root = tempDir("hooks-root");
    const r = runHook(fakeArchive(), "application-stop.sh", { DEPLOY_ROOT: root, LIFECYCLE_EVENT: "ApplicationStop" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/no running service: nothing to stop/);
  });

  it("ApplicationStop stops a process whose pid file is stale without failing", () => {
    const root = tempDir("hooks-root");
    mkdirSync(join(root, "var/lib/mpg-model"), { recursive: true });
    // A pid that is certainly not running: the pid of a child that has already exited.
    const stale = execFileSync("bash", ["-c", "sh -c 'exit 0' & wait; echo $!"], { encoding: "utf8" }).trim();
    writeFileSync(join(root, "var/lib/mpg-model/service.pid"), stale);
    const r = runHook(fakeArchive(), "application-stop.sh", { DEPLOY_ROOT: root });
    expect(r.status).toBe(0);
    expect(existsSync(join(root, "var/lib/mpg-model/service.pid"))).toBe(false);
  });

  it("AfterInstall fails clearly on a deployment group this revision has no settings for", () => {
    const root = tempDir("hooks-root");
    const archive = fakeArchive();
    mkdirSync(join(root, "opt/mpg-model/config"), { recursive: true });
    writeFileSync(join(root, "opt/mpg-model/config/dev.env"), "DEPLOYMENT_GROUP=mpg-model-dev\nPORT=8080\nREADY_PATH=/ready\n");
    const r = runHook(archive, "after-install.sh", { DEPLOY_ROOT: root, LOCAL_PORT: "9999", DEPLOYMENT_GROUP_NAME: "mpg-model-qa", LIFECYCLE_EVENT: "AfterInstall" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown deployment group 'mpg-model-qa': this revision has settings for mpg-model-dev/);
  });

  it("AfterInstall writes the group's settings and a hardened unit (own user, NoNewPrivileges, read-only system, restart on failure)", () => {
    const root = tempDir("hooks-root");
    mkdirSync(join(root, "opt/mpg-model/config"), { recursive: true });
    writeFileSync(join(root, "opt/mpg-model/config/staging.env"), "DEPLOYMENT_GROUP=mpg-model-staging\nPORT=8080\nREADY_PATH=/ready\n");
    installScript(root);
    const r = runHook(fakeArchive(), "after-install.sh", { DEPLOY_ROOT: root, LOCAL_PORT: "9999", DEPLOYMENT_GROUP_NAME: "mpg-model-staging" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const env = readFileSync(join(root, "etc/mpg-model/service.env"), "utf8");
    expect(env).toContain("DEPLOYMENT_GROUP=mpg-model-staging");
    expect(env).toMatch(/^PORT=9999$/m);
    expect(env).toMatch(/^METRICS_PORT=0$/m);
    const unit = readFileSync(join(root, "etc/systemd/system/mpg-model.service"), "utf8");
    for (const line of ["User=mpg-model", "NoNewPrivileges=yes", "ProtectSystem=strict", "Restart=on-failure", `EnvironmentFile=${root}/etc/mpg-model/service.env`]) {
      expect(unit).toContain(line);
    }
  });

  it("AfterInstall puts make_prediction.sh in the application folder and on PATH, pointing at this revision's copy", () => {
    const root = tempDir("hooks-root");
    mkdirSync(join(root, "opt/mpg-model/config"), { recursive: true });
    writeFileSync(join(root, "opt/mpg-model/config/dev.env"), "DEPLOYMENT_GROUP=mpg-model-dev\nPORT=8080\nREADY_PATH=/ready\n");
    const script = installScript(root);
    // A link left by the previous revision is replaced, not followed.
    mkdirSync(join(root, "usr/local/bin"), { recursive: true });
    symlinkSync("/nonexistent/old/make_prediction.sh", join(root, "usr/local/bin/make_prediction.sh"));
    const r = runHook(fakeArchive(), "after-install.sh", { DEPLOY_ROOT: root, LOCAL_PORT: "9999", DEPLOYMENT_GROUP_NAME: "mpg-model-dev" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(readlinkSync(join(root, "opt/mpg-model/make_prediction.sh"))).toBe("app/bin/make_prediction.sh");
    expect(readlinkSync(join(root, "usr/local/bin/make_prediction.sh"))).toBe(script);
    expect(realpathSync(join(root, "opt/mpg-model/make_prediction.sh"))).toBe(realpathSync(script));
  });

  it("AfterInstall fails clearly when the revision has no make_prediction.sh", () => {
    const root = tempDir("hooks-root");
    mkdirSync(join(root, "opt/mpg-model/config"), { recursive: true });
    writeFileSync(join(root, "opt/mpg-model/config/dev.env"), "DEPLOYMENT_GROUP=mpg-model-dev\nPORT=8080\nREADY_PATH=/ready\n");
    const r = runHook(fakeArchive(), "after-install.sh", { DEPLOY_ROOT: root, LOCAL_PORT: "9999", DEPLOYMENT_GROUP_NAME: "mpg-model-dev" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/opt\/mpg-model\/app\/bin\/make_prediction\.sh is missing from this revision/);
  });

  it("lib.sh refuses a bundle without config/revision.env", () => {
    const archive = fakeArchive();
    execFileSync("rm", [join(archive, "config/revision.env")]);
    const r = runHook(archive, "application-stop.sh", { DEPLOY_ROOT: tempDir("hooks-root") });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/config\/revision\.env is missing: this bundle was not built by npm run bundle/);
  });
});
