/**
 * The fallback for hosts that cannot boot a container: the real agent in a private mount
 * namespace, the hooks on their local path. It must deploy, answer, and leave nothing behind,
 * least of all anything in the host's /opt or /etc.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { NamespaceInstance } from "./namespace-instance.js";
import { cleanupTargets, REPO_DIR, tempDir } from "./test-helpers.js";

afterAll(cleanupTargets);

/** Gone, or a zombie: this host's PID 1 does not reap the orphans it inherits. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

describe("the mount-namespace fallback", () => {
  it("deploys through the real agent on the hooks' local path, predicts, and leaves no process, file or mount behind", async () => {
    const opt = readdirSync("/opt").sort();
    const lines: string[] = [];
    const instance = await NamespaceInstance.boot({ name: `mpg10-ns-${randomBytes(3).toString("hex")}`, agent: inject("agent"), log: (l) => lines.push(l) });
    let pid: number | undefined;
    try {
      expect(lines.join("\n")).toMatch(/FALLBACK, no container.*LOCAL path/);
      const d = await instance.deploy(inject("bundleZip"), { applicationName: "mpg-model-dev", deploymentGroupName: "mpg-model-dev" });
      expect(d.status, d.failure?.reason).toBe("Succeeded");
      expect(readFileSync(d.scriptsLog!, "utf8")).toMatch(/BeforeInstall: local target: the service runs as/);
      const answer = await instance.exec(["bash", "-c", 'set -a; . "$1"; exec /opt/mpg-model/app/bin/make_prediction.sh', "_", `${instance.deployRoot}/etc/mpg-model/service.env`]);
      expect(answer.stdout).toMatch(/^\{"predictions":\[[\d.]+\]/);
      pid = Number(readFileSync(`${instance.deployRoot}/var/lib/mpg-model/service.pid`, "utf8"));
      expect(existsSync(`/proc/${pid}`)).toBe(true);
      // The agent wrote /opt/mpg-model inside its namespace only.
      expect(existsSync("/opt/mpg-model")).toBe(false);
      expect(existsSync("/etc/mpg-model")).toBe(false);
    } finally {
      await instance.stop();
    }
    expect(running(pid!)).toBe(false);
    expect(existsSync(instance.deployRoot)).toBe(false);
    expect(readdirSync("/opt").sort()).toEqual(opt);
  });

  it("works without root too: a user namespace, where the agent's su root -c runs the hook as the namespace's root", () => {
    // A world-readable copy of the revision and a folder the unprivileged user may write.
    const dir = tempDir("mpg10-nonroot");
    chmodSync(dir, 0o777);
    const zip = join(dir, "revision.zip");
    copyFileSync(inject("bundleZip"), zip);
    chmodSync(zip, 0o644);
    const agent = inject("agent");
    const script = `
      const { NamespaceInstance } = await import(${JSON.stringify(join(REPO_DIR, "revision/namespace-instance.ts"))});
      const instance = await NamespaceInstance.boot({ name: "mpg10-nonroot", agent: ${JSON.stringify(agent)}, scratchParent: ${JSON.stringify(dir)}, log: (l) => console.log(l) });
      try {
        const d = await instance.deploy(${JSON.stringify(zip)}, { applicationName: "mpg-model-dev", deploymentGroupName: "mpg-model-dev" });
        console.log("status", d.status, d.failure?.event ?? "", d.failure?.reason ?? "");
        const r = await instance.exec(["bash", "-c", 'set -a; . "$1"; exec /opt/mpg-model/app/bin/make_prediction.sh', "_", instance.deployRoot + "/etc/mpg-model/service.env"]);
        console.log("answer", r.stdout.trim(), "uid", process.getuid());
      } finally {
        await instance.stop();
      }`;
    const r = spawnSync(
      "setpriv",
      ["--reuid=65534", "--regid=65534", "--clear-groups", "--", "env", "-i", `PATH=${process.env.PATH}`, `HOME=${dir}`, process.execPath, "--import", "tsx", "--input-type=module", "-e", script],
      { cwd: REPO_DIR, encoding: "utf8", timeout: 120_000 },
    );
    expect(r.stdout, r.stderr).toMatch(/FALLBACK, no container/);
    expect(r.stdout, r.stderr).toMatch(/^status Succeeded/m);
    expect(r.stdout).toMatch(/^answer \{"predictions":\[[\d.]+\].* uid 65534$/m);
    expect(readdirSync(dir).sort()).toEqual(["revision.zip"]);
  });
});
