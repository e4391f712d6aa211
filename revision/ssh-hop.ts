/**
 * A real SSH hop to the local target: Debian's OpenSSH server on 127.0.0.1, key-only, with a
 * host key and a client key made for this run, all of its configuration in one temp folder that
 * stop() (or Ctrl-C, or the process exiting) removes. The rehearsal ends with the prediction a
 * user makes on an instance: ssh in, `cd` to the application folder, `sh make_prediction.sh`.
 *
 * As root, sshd insists on its privilege-separation folder /run/sshd; rather than creating it on
 * the host, sshd runs in a mount namespace of its own with a private tmpfs on /run (unshare), so
 * the host is left exactly as it was. In that namespace the login's home is an empty tmpfs too,
 * like a fresh instance account: bash run by sshd sources ~/.bashrc, and this machine's root
 * .bashrc (pyenv init) alone took 0.7 s, a cost no instance has. As any other user, sshd runs as
 * that user, in no namespace, with the user's own home.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import getPort from "get-port";

export const SSHD = "/usr/sbin/sshd";

export interface SshHopOptions {
  /** Prefix of the temp folder (tests use their issue's prefix, so parallel runs never collide). */
  readonly namePrefix?: string;
  /** How long sshd may take to accept connections. */
  readonly startTimeoutMs?: number;
}

/** Where and how to reach an sshd: enough for ssh's arguments. */
export interface SshEndpoint {
  readonly user: string;
  /** The client's private key (the only identity offered). */
  readonly privateKey: string;
  /** A known_hosts file that names the server's host key under `host` (or `[host]:port`). */
  readonly knownHosts: string;
  /** An address, or with `proxyCommand` just the name the host key is filed under. */
  readonly host: string;
  readonly port?: number;
  /**
   * A tunnel to the server's port 22, as `aws ec2-instance-connect open-tunnel` is on AWS; for a
   * local instance in its own network namespace: `nsenter --target PID --net -- node
   * revision/tcp-relay.mjs 127.0.0.1 22`.
   */
  readonly proxyCommand?: string;
}

export interface SshRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Connect, authenticate, run, answer: the whole round trip. */
  readonly ms: number;
}

/** Makes an ed25519 key pair without a passphrase at `path` and returns the public key line. */
export function keygen(path: string, comment: string): string {
  const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path], { encoding: "utf8", timeout: 30_000 });
  if (made.error) throw new Error(`cannot run ssh-keygen (${made.error.message}): install openssh-client (npm run setup)`);
  if (made.status !== 0) throw new Error(`ssh-keygen failed: ${made.stderr.trim()}`);
  return readFileSync(`${path}.pub`, "utf8").trim();
}

/** ssh's arguments to run `remote` on `endpoint`: its key only, its host key pinned, no prompts, no user config. */
export function sshArgs(endpoint: SshEndpoint, remote: string): string[] {
  return [
    "-F",
    "none",
    "-i",
    endpoint.privateKey,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "IdentityAgent=none",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${endpoint.knownHosts}`,
    "-o",
    "LogLevel=ERROR",
    ...(endpoint.proxyCommand ? ["-o", `ProxyCommand=${endpoint.proxyCommand}`] : []),
    ...(endpoint.port ? ["-p", String(endpoint.port)] : []),
    "-l",
    endpoint.user,
    "--",
    endpoint.host,
    remote,
  ];
}

/** Runs `remote` over a fresh SSH connection and times the whole round trip. */
export function runOverSsh(endpoint: SshEndpoint, remote: string): Promise<SshRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("ssh", sshArgs(endpoint, remote), { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", (error) => reject(new Error(`cannot run ssh (${error.message}): install openssh-client (npm run setup)`)));
    child.on("close", (code) => resolve({ code: code ?? 255, stdout, stderr, ms: performance.now() - started }));
  });
}

/** Resolves once something on the port speaks SSH; rejects when `exited` settles first or time runs out. */
async function waitForBanner(port: number, timeoutMs: number, exited: Promise<unknown>, log: () => string): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`sshd exited before it listened on 127.0.0.1:${port}: ${log() || "no log"}`);
    const banner = await new Promise<string>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      let data = "";
      const done = (value: string) => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(1000, () => done(data));
      socket.on("data", (chunk: Buffer) => {
        data += chunk.toString();
        if (data.includes("\n")) done(data);
      });
      socket.on("error", () => done(""));
    });
    if (banner.startsWith("SSH-2.0-")) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms: ${log() || "no log"}`);
}

export class SshHop {
  private stopped = false;
  private readonly cleanupOnExit: () => void;
  private readonly cleanupOnSignal: (signal: NodeJS.Signals) => void;

  private constructor(
    /** The temp folder: config, keys, known_hosts, log. */
    public readonly dir: string,
    public readonly port: number,
    /** The login: whoever runs the rehearsal (sshd can only log in its own user when not root). */
    public readonly user: string,
    private readonly sshd: ChildProcess,
    private readonly exited: Promise<unknown>,
  ) {
    this.cleanupOnExit = () => this.stopNow();
    this.cleanupOnSignal = (signal) => {
      this.stopNow();
      process.kill(process.pid, signal);
    };
    process.once("exit", this.cleanupOnExit);
    process.once("SIGINT", this.cleanupOnSignal);
    process.once("SIGTERM", this.cleanupOnSignal);
  }

  static async start(options: SshHopOptions = {}): Promise<SshHop> {
    if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: install Debian's openssh-server (npm run setup)`);
    const dir = mkdtempSync(join(tmpdir(), options.namePrefix ?? "mpg-model-sshd-"));
    try {
      const user = userInfo().username;
      const hostPublic = keygen(join(dir, "host_ed25519"), "rehearsal host key");
      const clientPublic = keygen(join(dir, "client_ed25519"), "rehearsal client key (this run only)");
      writeFileSync(join(dir, "authorized_keys"), `${clientPublic}\n`, { mode: 0o600 });
      const port = await getPort({ host: "127.0.0.1" });
      writeFileSync(join(dir, "known_hosts"), `[127.0.0.1]:${port} ${hostPublic}\n`, { mode: 0o600 });
      writeFileSync(
        join(dir, "sshd_config"),
        [
          `ListenAddress 127.0.0.1:${port}`,
          `HostKey ${join(dir, "host_ed25519")}`,
          "PidFile none",
          `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
          "AuthenticationMethods publickey",
          "PubkeyAuthentication yes",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "PermitEmptyPasswords no",
          // Only the rehearsal's user, and root only with a key (it is root when the rehearsal is).
          `AllowUsers ${user}`,
          "PermitRootLogin prohibit-password",
          "UsePAM no",
          // The keys live under /tmp (world-writable): strict modes would refuse any file there.
          "StrictModes no",
          "PermitUserEnvironment no",
          "AllowTcpForwarding no",
          "AllowAgentForwarding no",
          "X11Forwarding no",
          "PrintMotd no",
          "PrintLastLog no",
          "UseDNS no",
          "LogLevel VERBOSE",
          "",
        ].join("\n"),
      );
      const check = spawnSync(SSHD, ["-t", "-f", join(dir, "sshd_config")], { encoding: "utf8" });
      if (check.status !== 0 && !/privilege separation directory/.test(check.stderr)) throw new Error(`sshd refuses its configuration: ${check.stderr.trim()}`);

      const logFile = join(dir, "sshd.log");
      const sshdArgs = ["-D", "-E", logFile, "-f", join(dir, "sshd_config")];
      const root = process.getuid?.() === 0;
      const home = userInfo().homedir;
      const inNamespace = [
        "mount -t tmpfs -o mode=0755,size=1m mpg-sshd-run /run",
        "mkdir -m 0755 /run/sshd",
        ...(home && home !== "/" && existsSync(home) ? ['mount -t tmpfs -o mode=0700,size=1m mpg-sshd-home "$HOME_DIR"'] : []),
        'exec "$@"',
      ].join(" && ");
      const sshd = root
        ? spawn("unshare", ["--mount", "--propagation", "private", "sh", "-c", inNamespace, "sh", SSHD, ...sshdArgs], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, HOME_DIR: home } })
        : spawn(SSHD, sshdArgs, { stdio: ["ignore", "ignore", "pipe"] });
      let startError = "";
      sshd.stderr!.on("data", (chunk: Buffer) => (startError += chunk.toString()));
      const exited = once(sshd, "exit");
      const log = () => `${startError}${existsSync(logFile) ? readFileSync(logFile, "utf8") : ""}`.trim().split("\n").slice(-5).join(" | ");
      try {
        await waitForBanner(port, options.startTimeoutMs ?? 10_000, exited, log);
      } catch (error) {
        sshd.kill("SIGKILL");
        throw error;
      }
      return new SshHop(dir, port, user, sshd, exited);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Lets another key in (as EC2 Instance Connect does with a key pushed by SendSSHPublicKey). */
  authorize(publicKey: string): void {
    appendFileSync(join(this.dir, "authorized_keys"), `${publicKey.trim()}\n`);
  }

  /** The hop as ssh reaches it: 127.0.0.1, this run's client key, the host key pinned. */
  get endpoint(): SshEndpoint {
    return { user: this.user, privateKey: join(this.dir, "client_ed25519"), knownHosts: join(this.dir, "known_hosts"), host: "127.0.0.1", port: this.port };
  }

  /** The server's public host key (one known_hosts entry, without the host name). */
  get hostPublicKey(): string {
    return readFileSync(join(this.dir, "host_ed25519.pub"), "utf8").trim();
  }

  sshArgs(remote: string): string[] {
    return sshArgs(this.endpoint, remote);
  }

  run(remote: string): Promise<SshRun> {
    return runOverSsh(this.endpoint, remote);
  }

  /** sshd's log: who logged in with which key. */
  log(): string {
    const file = join(this.dir, "sshd.log");
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    if (this.sshd.exitCode === null && this.sshd.signalCode === null) {
      this.sshd.kill("SIGTERM");
      const timer = setTimeout(() => this.sshd.kill("SIGKILL"), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    this.stopNow();
  }

  /** Synchronous part of stop(), also run on exit and on Ctrl-C. */
  private stopNow(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sshd.exitCode === null && this.sshd.signalCode === null) this.sshd.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
    process.removeListener("exit", this.cleanupOnExit);
    process.removeListener("SIGINT", this.cleanupOnSignal);
    process.removeListener("SIGTERM", this.cleanupOnSignal);
  }
}
