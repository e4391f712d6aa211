import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOverSsh, SshHop } from "./ssh-hop.js";

let hop: SshHop;
beforeAll(async () => {
  hop = await SshHop.start({ namePrefix: "mpg12-sshd-" });
});
afterAll(async () => {
  await hop?.stop();
});

/** ssh with the hop's own arguments, one of them replaced. */
function sshWith(replace: (args: string[]) => string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync("ssh", replace(hop.sshArgs("echo reached")), { encoding: "utf8", timeout: 20_000 });
}

describe("the local SSH hop (Debian's sshd on 127.0.0.1)", () => {
  it("runs a command over a real SSH connection with this run's key, the host key pinned", async () => {
    const r = await hop.run("echo reached; id -un");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toBe(`reached\n${hop.user}\n`);
    expect(hop.log()).toMatch(/Accepted publickey for \S+ from 127\.0\.0\.1/);
  });

  it("refuses any other key, and passwords altogether", () => {
    const keyDir = mkdtempSync(join(tmpdir(), "mpg12-otherkey-"));
    try {
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(keyDir, "k")]);
      const other = sshWith((args) => args.map((a) => (a.endsWith("client_ed25519") ? join(keyDir, "k") : a)));
      expect(other.status).toBe(255);
      expect(other.stderr).toMatch(/Permission denied \(publickey\)/);
      const password = sshWith((args) => ["-o", "PreferredAuthentications=password,keyboard-interactive", ...args]);
      expect(password.status).toBe(255);
      expect(password.stderr).toMatch(/Permission denied \(publickey\)/);
    } finally {
      rmSync(keyDir, { recursive: true, force: true });
    }
  });

  it("lets in a key pushed later, as EC2 Instance Connect does", () => {
    const keyDir = mkdtempSync(join(tmpdir(), "mpg12-pushed-"));
    try {
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(keyDir, "k")]);
      hop.authorize(readFileSync(join(keyDir, "k.pub"), "utf8"));
      const pushed = sshWith((args) => args.map((a) => (a.endsWith("client_ed25519") ? join(keyDir, "k") : a)));
      expect(pushed).toMatchObject({ status: 0, stdout: "reached\n" });
    } finally {
      rmSync(keyDir, { recursive: true, force: true });
    }
  });

  it("refuses a server whose host key is not the pinned one", () => {
    const r = sshWith((args) => args.map((a) => (a.startsWith("UserKnownHostsFile=") ? `UserKnownHostsFile=${join(hop.dir, "sshd_config")}` : a)));
    expect(r.status).toBe(255);
    expect(r.stderr).toMatch(/Host key verification failed|No ED25519 host key is known/);
  });

  it("logs in to an empty home as root, like a fresh instance account, without touching the host's home", async () => {
    const { homedir } = await import("node:os");
    const root = process.getuid?.() === 0;
    const r = await hop.run("cd && pwd && ls -A");
    expect(r.code).toBe(0);
    const [pwd, ...listing] = r.stdout.trim().split("\n").filter(Boolean);
    expect(pwd).toBe(homedir());
    if (root) expect(listing).toEqual([]);
    else expect(listing.sort()).toEqual(readdirSync(homedir()).sort());
    expect(readdirSync(homedir()).length).toBeGreaterThanOrEqual(listing.length);
  });

  it("is reached through a ProxyCommand tunnel with the host key filed under the instance's name, as on AWS", async () => {
    const knownHosts = join(hop.dir, "known_hosts_by_name");
    writeFileSync(knownHosts, `local-instance ${hop.hostPublicKey}\n`);
    const relay = join(import.meta.dirname, "tcp-relay.mjs");
    const r = await runOverSsh(
      { ...hop.endpoint, host: "local-instance", port: undefined, knownHosts, proxyCommand: `'${process.execPath}' '${relay}' 127.0.0.1 ${hop.port}` },
      "echo through the tunnel",
    );
    expect(r).toMatchObject({ code: 0, stdout: "through the tunnel\n", stderr: "" });
    const closed = await runOverSsh({ ...hop.endpoint, host: "local-instance", port: undefined, knownHosts, proxyCommand: `'${process.execPath}' '${relay}' 127.0.0.1 1` }, "true");
    expect(closed.code).toBe(255);
    expect(closed.stderr).toMatch(/tcp-relay: 127\.0\.0\.1:1: connect ECONNREFUSED/);
  });

  it("listens on 127.0.0.1 only", () => {
    const config = readFileSync(join(hop.dir, "sshd_config"), "utf8");
    expect(config.match(/^ListenAddress .*$/gm)).toEqual([`ListenAddress 127.0.0.1:${hop.port}`]);
  });

  it("removes its process and its folder when stopped, and leaves /run untouched", async () => {
    const hadRunSshd = existsSync("/run/sshd");
    const other = await SshHop.start({ namePrefix: "mpg12-sshd-" });
    const { dir, port } = other;
    await other.stop();
    expect(existsSync(dir)).toBe(false);
    const probe = spawnSync("ssh", ["-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "-p", String(port), "127.0.0.1", "true"], { encoding: "utf8", timeout: 10_000 });
    expect(probe.stderr).toMatch(/Connection refused/);
    expect(existsSync("/run/sshd")).toBe(hadRunSshd);
  });
});
