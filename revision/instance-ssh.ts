/**
 * The prediction as the original project's users make it, on the local instance: a real SSH
 * connection to the instance's own OpenSSH server, `cd` to the application folder,
 * `sh make_prediction.sh`, answer printed. Run several times to report the median round trip.
 *
 * On a booted container the instance's sshd (Debian's, from the image, started by systemd)
 * listens on port 22 inside the instance's network; ssh reaches it through a relay run in that
 * network namespace as its ProxyCommand, exactly where `aws ec2-instance-connect open-tunnel`
 * sits on AWS. The login is `ubuntu` (SSH_OS_USER), with a key made for this run only. On the
 * mount-namespace fallback (no container, no sshd of its own) the SSH hop's sshd on 127.0.0.1
 * stands in, and the application folder is the fallback's scratch one.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SSH_OS_USER } from "../environments/names.js";
import { LocalInstance, type Instance } from "./instance.js";
import { keygen, runOverSsh, SshHop, type SshRun } from "./ssh-hop.js";

const TCP_RELAY = resolve(import.meta.dirname, "tcp-relay.mjs");

export interface SshPrediction {
  readonly answer: string;
  /** Each round trip (connect, authenticate, run, answer), in ms. */
  readonly rounds: number[];
}

/** Runs `sh make_prediction.sh` in `/opt/<project>` on the instance over SSH, `rounds` times. */
export async function predictOverSsh(instance: Instance, project: string, out: (line: string) => void, rounds = 5): Promise<SshPrediction> {
  const appDir = `${instance.deployRoot}/opt/${project}`;
  const command = `cd '${appDir.replaceAll("'", `'\\''`)}' && sh make_prediction.sh`;
  if (instance instanceof LocalInstance) {
    const session = await openInstanceSsh(instance);
    try {
      out(`    $ ssh ${SSH_OS_USER}@${instance.name}    (the instance's sshd, through a relay in its network namespace; a key made for this run)`);
      return await repeat(() => runOverSsh(session.endpoint, command), command, rounds, out);
    } finally {
      session.close();
    }
  }
  out("    ⚠ FALLBACK: no instance sshd; Debian's sshd on 127.0.0.1 (the SSH hop) stands in");
  const hop = await SshHop.start();
  try {
    out(`    $ ssh -p ${hop.port} ${hop.user}@127.0.0.1`);
    return await repeat(() => hop.run(command), command, rounds, out);
  } finally {
    await hop.stop();
  }
}

async function repeat(run: () => Promise<SshRun>, command: string, rounds: number, out: (line: string) => void): Promise<SshPrediction> {
  out(`    $ ${command}`);
  const times: number[] = [];
  let answer = "";
  for (let i = 0; i < rounds; i++) {
    const r = await run();
    if (r.code !== 0) throw new Error(`ssh ... sh make_prediction.sh exited with ${r.code}: ${(r.stderr || r.stdout).trim()}`);
    const text = r.stdout.trim();
    if (i === 0) {
      answer = text;
      out(`    ${answer}`);
    } else if (text !== answer) {
      throw new Error(`round trip ${i + 1} answered ${text}, the first ${answer}`);
    }
    times.push(r.ms);
  }
  out(`    round trips: ${times.map((t) => `${Math.round(t)} ms`).join(", ")}`);
  return { answer, rounds: times };
}

/** A login on the instance for this run: the user, its one authorized key, the instance's host key pinned. */
async function openInstanceSsh(instance: LocalInstance) {
  const dir = mkdtempSync(join(tmpdir(), "mpg-model-instance-ssh-"));
  try {
    const key = join(dir, "client_ed25519");
    const publicKey = keygen(key, "rehearsal (this run only)");
    const must = async (what: string, argv: string[], input?: string) => {
      const r = await instance.exec(argv, input === undefined ? {} : { input });
      if (r.code !== 0) throw new Error(`${what} on ${instance.name} failed (${r.code}): ${(r.stderr || r.stdout).trim()}`);
      return r.stdout;
    };
    const home = `/home/${SSH_OS_USER}`;
    await must(`creating the ${SSH_OS_USER} user`, ["sh", "-c", `id -u ${SSH_OS_USER} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash ${SSH_OS_USER}`]);
    await must(
      "installing the run's key",
      [
        "sh",
        "-c",
        `install -d -m 0700 -o ${SSH_OS_USER} -g ${SSH_OS_USER} ${home}/.ssh && cat > ${home}/.ssh/authorized_keys && chown ${SSH_OS_USER}: ${home}/.ssh/authorized_keys && chmod 0600 ${home}/.ssh/authorized_keys`,
      ],
      `${publicKey}\n`,
    );
    await must("starting sshd", ["systemctl", "start", "ssh.service"]);
    const hostKey = (await must("reading the host key", ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])).trim().split(/\s+/).slice(0, 2).join(" ");
    const knownHosts = join(dir, "known_hosts");
    writeFileSync(knownHosts, `${instance.name} ${hostKey}\n`, { mode: 0o600 });
    const endpoint = {
      user: SSH_OS_USER,
      privateKey: key,
      knownHosts,
      host: instance.name,
      proxyCommand: `nsenter --target ${instance.leaderPid} --net -- '${process.execPath}' '${TCP_RELAY}' 127.0.0.1 22`,
    };
    return { endpoint, close: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
