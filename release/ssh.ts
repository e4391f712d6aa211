/**
 * `release ssh` and `release predict`: a shell (or one command) on an instance of an environment,
 * through its EC2 Instance Connect Endpoint, with a one-time key.
 *
 * Why OpenSSH with `aws ec2-instance-connect open-tunnel` as ProxyCommand, and not
 * `aws ec2-instance-connect ssh --connection-type eice`: the latter opens an interactive session
 * only, so it cannot run `make_prediction.sh` and hand back its output and exit code, nor feed it
 * a car on stdin; OpenSSH can, and keeps every ssh habit (remote commands, -t, known_hosts, exit
 * codes). The one-time key goes out through the SDK's SendSSHPublicKey, so an AccessDenied is
 * reported by the same code, with the same wording, as every other AWS call of the release tools.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { DescribeInstanceConnectEndpointsCommand, DescribeInstancesCommand, type Instance } from "@aws-sdk/client-ec2";
import { EC2InstanceConnectClient, SendSSHPublicKeyCommand } from "@aws-sdk/client-ec2-instance-connect";
import { DescribeLoadBalancersCommand } from "@aws-sdk/client-elastic-load-balancing";
import which from "which";
import type { EnvironmentConfig } from "../environments/index.js";
import { ENVIRONMENT_TAG_KEY, INITIAL_LIVE_SLOT, resourceNames, SLOT_TAG_KEY, SSH_OS_USER, type Slot } from "../environments/names.js";
import { aws, clientConfig, ReleaseError, UsageError, type AwsClients } from "./aws.js";
import { ClassicLoadBalancer } from "./classic-load-balancer.js";
import type { CommandContext } from "./commands.js";
import { otherSlot, readLiveFleet, runningInstancesOfSlot } from "./slots.js";

/** `aws ec2-instance-connect open-tunnel` came with AWS CLI 2.12.0 (EC2 Instance Connect Endpoint's launch). */
export const MIN_AWS_CLI = [2, 12, 0] as const;

/** How `ssh` and `predict` reach processes: injected so that tests run fake `aws`/`ssh` and capture output. */
export interface ProcessContext {
  /** Environment of child processes: PATH finds `aws` and `ssh`; HOME/XDG_CACHE_HOME place known_hosts. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** True when stdin/stdout are the user's terminal: ssh then gets them directly, for a real interactive session. */
  readonly interactive: boolean;
}

export type SshCommandContext = CommandContext & { readonly processes: ProcessContext };

/**
 * What an instance looks like, fixed by the stacks and the appspec; only the tests of the whole
 * path (a real ssh to a local sshd, which has no `ubuntu` user nor /opt/mpg-model) change them.
 */
export interface InstanceLayout {
  readonly osUser?: string;
  readonly appDir?: string;
  readonly loadBalancerPort?: number;
}

export interface SshOptions {
  readonly slot?: string | undefined;
  readonly instance?: string | undefined;
  readonly profile?: string | undefined;
  /** The remote command (everything after `--`); none opens a login shell. */
  readonly command: readonly string[];
  readonly layout?: InstanceLayout;
}

export interface PredictOptions {
  readonly via?: string | undefined;
  /** A JSON file, or "-" for stdin; none sends the example car. */
  readonly car?: string | undefined;
  readonly human?: boolean | undefined;
  readonly slot?: string | undefined;
  readonly instance?: string | undefined;
  readonly profile?: string | undefined;
  readonly layout?: InstanceLayout;
}

export interface TargetInstance {
  readonly instanceId: string;
  readonly privateIp: string;
  readonly vpcId: string;
  readonly slot: string | undefined;
}

interface Endpoint {
  readonly id: string;
  readonly dnsName: string | undefined;
}

/* ------------------------------------------------------------------ local tools */

/** Absolute path of `program` on `env.PATH`, or undefined. */
export function findOnPath(program: string, env: ProcessContext["env"]): string | undefined {
  return which.sync(program, { path: env.PATH ?? "", nothrow: true }) ?? undefined;
}

/** The AWS CLI, checked to be v2 >= 2.12.0: ProxyCommand runs this exact binary. */
export function checkAwsCli(env: ProcessContext["env"]): string {
  const install = "install AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)";
  const path = findOnPath("aws", env);
  if (!path) throw new ReleaseError(`the AWS CLI is not installed (no "aws" on PATH): ${install}; ssh tunnels through its "ec2-instance-connect open-tunnel"`);
  const result = spawnSync(path, ["--version"], { env: { ...env }, encoding: "utf8", timeout: 30_000 });
  const text = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
  const match = /aws-cli\/(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (result.status !== 0 || !match) throw new ReleaseError(`${path} --version did not say which AWS CLI it is (${text.slice(0, 200) || `exit ${result.status}`}): ${install}`);
  const version = [Number(match[1]), Number(match[2]), Number(match[3])];
  const tooOld = version[0]! < MIN_AWS_CLI[0] || (version[0] === MIN_AWS_CLI[0] && (version[1]! < MIN_AWS_CLI[1] || (version[1] === MIN_AWS_CLI[1] && version[2]! < MIN_AWS_CLI[2])));
  if (tooOld) {
    throw new ReleaseError(`${path} is AWS CLI ${version.join(".")}: ssh needs ${MIN_AWS_CLI.join(".")} or newer for "aws ec2-instance-connect open-tunnel": ${install}`);
  }
  return path;
}

function requireTool(program: string, env: ProcessContext["env"], hint: string): string {
  const path = findOnPath(program, env);
  if (!path) throw new ReleaseError(`${program} is not installed (not on PATH): ${hint}`);
  return path;
}

/* ------------------------------------------------------------------ which instance */

const INSTANCE_ID = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;

function tag(instance: Instance, key: string): string | undefined {
  return instance.Tags?.find((t) => t.Key === key)?.Value;
}

async function describeOne(clients: AwsClients, instanceId: string): Promise<Instance | undefined> {
  const page = await aws("ec2:DescribeInstances", instanceId, () => clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).catch((error: unknown) => {
    if ((error as { cause?: { name?: string } }).cause?.name === "InvalidInstanceID.NotFound") return undefined;
    throw error;
  });
  return page?.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
}

/**
 * The instance to connect to: `--instance` when given (it must belong to the environment), else
 * an InService instance behind the load balancer (`--slot live`, the default), else a running
 * instance of the other slot (`--slot standby`, blue/green only).
 */
export async function chooseInstance(clients: AwsClients, config: EnvironmentConfig, options: { slot?: string | undefined; instance?: string | undefined }): Promise<TargetInstance> {
  const names = resourceNames(config);
  let instanceId: string;
  if (options.instance !== undefined) {
    if (options.slot !== undefined) throw new UsageError("--instance and --slot both choose the instance: give one");
    if (!INSTANCE_ID.test(options.instance)) throw new UsageError(`--instance ${options.instance} is not an EC2 instance id (i- followed by 8 or 17 hex digits)`);
    instanceId = options.instance;
  } else {
    const slot = options.slot ?? "live";
    if (slot !== "live" && slot !== "standby") throw new UsageError(`--slot ${slot}: expected live or standby`);
    if (slot === "standby" && config.deployment.strategy !== "blue-green") throw new UsageError(`${config.name} deploys in place: it has no standby slot (use --slot live or --instance)`);
    const fleet = await readLiveFleet(new ClassicLoadBalancer(clients, names.loadBalancer), config.name, { withHealth: true });
    if (slot === "live") {
      const inService = fleet.instances.filter((i) => i.health === "InService" && i.state === "running");
      if (inService.length === 0) {
        const seen = fleet.instances.map((i) => `${i.instanceId} (${i.state ?? "?"}, ${i.health ?? "?"})`).join(", ");
        throw new ReleaseError(
          fleet.instances.length === 0
            ? `no live instance in ${config.name}: nothing is registered with load balancer ${names.loadBalancer} (no release yet?). Use --slot standby or --instance i-…`
            : `no live instance in ${config.name}: no instance behind load balancer ${names.loadBalancer} is InService (${seen}). Use --instance i-… to reach one anyway`,
        );
      }
      instanceId = inService[0]!.instanceId;
    } else {
      const standby: Slot = otherSlot(fleet.liveSlot ?? INITIAL_LIVE_SLOT);
      const running = await runningInstancesOfSlot(clients, config.name, standby);
      if (running.length === 0) throw new ReleaseError(`no running instance in ${config.name}'s standby slot (${standby})`);
      instanceId = [...running].sort()[0]!;
    }
  }
  const instance = await describeOne(clients, instanceId);
  if (!instance) throw new ReleaseError(`instance ${instanceId} not found in ${config.name}'s account ${config.accountId}, region ${config.region}`);
  const environment = tag(instance, ENVIRONMENT_TAG_KEY);
  if (environment !== config.name) {
    throw new ReleaseError(
      `instance ${instanceId} is not an instance of ${config.name} (${ENVIRONMENT_TAG_KEY}=${environment ?? "no tag"}): the operators' policy of ${config.name} only reaches its own instances`,
    );
  }
  if (instance.State?.Name !== "running") throw new ReleaseError(`instance ${instanceId} is ${instance.State?.Name ?? "in an unknown state"}, not running`);
  if (!instance.PrivateIpAddress || !instance.VpcId) throw new ReleaseError(`instance ${instanceId} has no private address in a VPC: it cannot be reached through an Instance Connect Endpoint`);
  return { instanceId, privateIp: instance.PrivateIpAddress, vpcId: instance.VpcId, slot: tag(instance, SLOT_TAG_KEY) };
}

/** The environment's endpoint, in the instance's VPC, ready for tunnels. */
export async function findEndpoint(clients: AwsClients, config: EnvironmentConfig, vpcId: string): Promise<Endpoint> {
  const name = resourceNames(config).instanceConnectEndpoint;
  const result = await aws("ec2:DescribeInstanceConnectEndpoints", `the Instance Connect Endpoint ${name}`, () =>
    clients.ec2.send(new DescribeInstanceConnectEndpointsCommand({ Filters: [{ Name: "vpc-id", Values: [vpcId] }] })),
  );
  const endpoints = result.InstanceConnectEndpoints ?? [];
  const ours = endpoints.filter((e) => e.Tags?.some((t) => t.Key === "Name" && t.Value === name));
  const ready = ours.find((e) => e.State === "create-complete");
  if (!ready?.InstanceConnectEndpointId) {
    const found = ours.length
      ? ` (${ours.map((e) => `${e.InstanceConnectEndpointId} ${e.State}`).join(", ")})`
      : endpoints.length
        ? ` (other endpoints in ${vpcId}: ${endpoints.map((e) => e.InstanceConnectEndpointId).join(", ")})`
        : "";
    throw new ReleaseError(`the EC2 Instance Connect Endpoint ${name} is missing or not ready in ${vpcId}${found}: apply the ${config.name} stack (npx cdktf deploy ${config.name}), which creates it`);
  }
  return { id: ready.InstanceConnectEndpointId, dnsName: ready.DnsName };
}

/* ------------------------------------------------------------------ the session */

/** A throwaway ed25519 key in a private temp folder: pushed once, valid 60 s on the instance, deleted after. */
function oneTimeKey(env: ProcessContext["env"]): { dir: string; privateKey: string; publicKey: string } {
  const keygen = requireTool("ssh-keygen", env, "install the OpenSSH client (it ships ssh-keygen)");
  const dir = mkdtempSync(join(tmpdir(), "mpg-model-ssh-"));
  const privateKey = join(dir, "id_ed25519");
  const made = spawnSync(keygen, ["-q", "-t", "ed25519", "-N", "", "-C", "mpg-model release ssh (one-time)", "-f", privateKey], { encoding: "utf8", timeout: 30_000 });
  if (made.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new ReleaseError(`ssh-keygen could not make a one-time key: ${made.stderr?.trim() || `exit ${made.status}`}`);
  }
  return { dir, privateKey, publicKey: readFileSync(`${privateKey}.pub`, "utf8").trim() };
}

/** One argument of ProxyCommand, which ssh hands to a shell: single-quoted, and % doubled (ssh's own escapes). */
function proxyArg(value: string): string {
  return `'${value.replaceAll("'", `'\\''`).replaceAll("%", "%%")}'`;
}

export function knownHostsFile(env: ProcessContext["env"]): string {
  const cache = env.XDG_CACHE_HOME || join(env.HOME || tmpdir(), ".cache");
  return join(cache, "mpg-model", "ssh_known_hosts");
}

/** ssh's arguments: the tunnel as ProxyCommand, the one-time key only, host keys remembered per instance id. */
export function sshArguments(p: {
  awsPath: string;
  region: string;
  profile?: string | undefined;
  endpoint: Endpoint;
  target: TargetInstance;
  privateKey: string;
  knownHosts: string;
  command: readonly string[];
  osUser: string;
}): string[] {
  const tunnel = [
    p.awsPath,
    "ec2-instance-connect",
    "open-tunnel",
    "--instance-connect-endpoint-id",
    p.endpoint.id,
    ...(p.endpoint.dnsName ? ["--instance-connect-endpoint-dns-name", p.endpoint.dnsName] : []),
    "--private-ip-address",
    p.target.privateIp,
    "--remote-port",
    "22",
    "--region",
    p.region,
    ...(p.profile ? ["--profile", p.profile] : []),
  ];
  return [
    "-F",
    "none",
    "-i",
    p.privateKey,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "IdentityAgent=none",
    "-o",
    "BatchMode=yes",
    "-o",
    "PasswordAuthentication=no",
    // Instances are reached by id, not address: a host key is remembered per instance.
    "-o",
    `HostKeyAlias=${p.target.instanceId}`,
    "-o",
    "StrictHostKeyChecking=accept-new",
    "-o",
    `UserKnownHostsFile=${p.knownHosts}`,
    "-o",
    "ConnectTimeout=30",
    "-o",
    "ServerAliveInterval=30",
    "-o",
    `ProxyCommand=${tunnel.map(proxyArg).join(" ")}`,
    "-l",
    p.osUser,
    "--",
    p.target.instanceId,
    ...p.command,
  ];
}

export interface SessionResult {
  readonly code: number;
  readonly target: TargetInstance;
}

/**
 * Connects to one instance of the environment and runs `command` there (a login shell when
 * empty): finds the instance and the endpoint, pushes a one-time key, runs OpenSSH through the
 * tunnel. Resolves with ssh's exit code (the remote command's, or 255 when ssh failed).
 */
export async function openSession(
  config: EnvironmentConfig,
  options: { slot?: string | undefined; instance?: string | undefined; profile?: string | undefined; command: readonly string[]; input?: Buffer | "inherit"; osUser?: string | undefined },
  ctx: SshCommandContext,
): Promise<SessionResult> {
  const { env } = ctx.processes;
  if (options.profile !== undefined && !/^[\w.+@-]+$/.test(options.profile)) throw new UsageError(`--profile ${options.profile}: a profile name is letters, digits and . _ + @ -`);
  const awsPath = checkAwsCli(env);
  const sshPath = requireTool("ssh", env, "install the OpenSSH client (openssh-client)");
  const clients = ctx.clientsFor(config, options.profile);
  const target = await chooseInstance(clients, config, options);
  const endpoint = await findEndpoint(clients, config, target.vpcId);
  const osUser = options.osUser ?? SSH_OS_USER;
  const key = oneTimeKey(env);
  try {
    // Made here rather than with the other clients: the deployment trigger (Lambda) shares those and never pushes keys.
    const instanceConnect = new EC2InstanceConnectClient(clientConfig({ region: config.region, profile: options.profile }));
    await aws("ec2-instance-connect:SendSSHPublicKey", `${target.instanceId} as ${osUser}`, () =>
      instanceConnect.send(new SendSSHPublicKeyCommand({ InstanceId: target.instanceId, InstanceOSUser: osUser, SSHPublicKey: key.publicKey })),
    ).catch((error: unknown) => {
      throw withPolicyHint(error, config);
    });
    // Progress goes to stderr: stdout is the remote command's, for pipes (predict | jq).
    note(ctx, `connecting to ${target.instanceId} (${target.slot ?? "no slot"}, ${target.privateIp}) in ${config.name} through ${endpoint.id} as ${osUser}`);
    // ssh records a new host key but does not create the file's folder.
    const knownHosts = knownHostsFile(env);
    mkdirSync(dirname(knownHosts), { recursive: true, mode: 0o700 });
    const args = sshArguments({ awsPath, region: config.region, profile: options.profile, endpoint, target, privateKey: key.privateKey, knownHosts, command: options.command, osUser });
    const { code, stderr } = await runSsh(sshPath, args, options.input ?? "inherit", ctx.processes);
    if (code === 255) explainSshFailure(stderr, config, endpoint, target, (line) => note(ctx, line));
    return { code, target };
  } finally {
    rmSync(key.dir, { recursive: true, force: true });
  }
}

function note(ctx: SshCommandContext, line: string): void {
  ctx.processes.stderr.write(`release: ${line}\n`);
}

function withPolicyHint(error: unknown, config: EnvironmentConfig): unknown {
  if (!(error instanceof ReleaseError) || !/^access denied/.test(error.message)) return error;
  return new ReleaseError(`${error.message} Attach the ${config.name} stack's output ssh_operators_policy_arn (policy ${resourceNames(config).sshOperatorsPolicy}) to your role.`, {
    cause: error.cause,
  });
}

/** ssh exit 255: say what failed when the tunnel (OpenTunnel) was refused, which ssh itself reports only as a closed connection. */
function explainSshFailure(stderr: string, config: EnvironmentConfig, endpoint: Endpoint, target: TargetInstance, out: (line: string) => void): void {
  if (/AccessDenied|not authorized/i.test(stderr) && /OpenTunnel/i.test(stderr)) {
    throw new ReleaseError(
      `access denied: ec2-instance-connect:OpenTunnel on ${endpoint.id} to ${target.privateIp}:22. Attach the ${config.name} stack's output ssh_operators_policy_arn (policy ${resourceNames(config).sshOperatorsPolicy}) to your role.`,
    );
  }
  out(`ssh could not connect to ${target.instanceId} (exit 255): see ssh's message above`);
}

function runSsh(sshPath: string, args: string[], input: Buffer | "inherit", io: ProcessContext): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const direct = io.interactive;
    const child = spawn(sshPath, args, {
      env: { ...io.env },
      // The user's terminal goes straight to ssh (a real interactive session); stderr is also
      // watched, to name a refused tunnel.
      stdio: [input === "inherit" && direct ? "inherit" : "pipe", direct ? "inherit" : "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      io.stderr.write(chunk);
      if (stderr.length < 64_000) stderr += chunk.toString();
    });
    child.stdout?.pipe(io.stdout, { end: false });
    if (child.stdin) {
      child.stdin.on("error", () => {}); // ssh may exit before reading all of it
      if (input === "inherit") io.stdin.pipe(child.stdin);
      else child.stdin.end(input);
    }
    // Ctrl-C reaches ssh (same process group) and ends it; this process waits for that and then
    // deletes the one-time key, instead of dying first and leaving it behind.
    const waitForSsh = () => {};
    process.on("SIGINT", waitForSsh);
    child.on("error", (error) => {
      process.removeListener("SIGINT", waitForSsh);
      reject(new ReleaseError(`cannot run ${sshPath}: ${error.message}`));
    });
    child.on("close", (code, signal) => {
      process.removeListener("SIGINT", waitForSsh);
      if (input === "inherit" && child.stdin) {
        io.stdin.unpipe(child.stdin);
        io.stdin.pause(); // a piped stdin left flowing would keep the CLI from exiting
      }
      resolve({ code: code ?? (signal ? 128 + 2 : 255), stderr });
    });
  });
}

/* ------------------------------------------------------------------ commands */

export async function ssh(config: EnvironmentConfig, options: SshOptions, ctx: SshCommandContext): Promise<number> {
  const { code } = await openSession(config, { ...options, osUser: options.layout?.osUser }, ctx);
  return code;
}

/** The remote command of `predict --via ssh`: what a user types in the application folder. */
export function remotePredictCommand(appDir: string, options: { human?: boolean | undefined; fromStdin: boolean }): string {
  return [`cd '${appDir.replaceAll("'", `'\\''`)}'`, "&&", "sh make_prediction.sh", ...(options.human ? ["--human"] : []), ...(options.fromStdin ? ["-"] : [])].join(" ");
}

function readCar(file: string | undefined, io: ProcessContext): Promise<Buffer | undefined> {
  if (file === undefined) return Promise.resolve(undefined);
  if (file === "-") {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      io.stdin.on("data", (c: Buffer) => chunks.push(Buffer.from(c)));
      io.stdin.on("end", () => resolve(Buffer.concat(chunks)));
      io.stdin.on("error", reject);
    });
  }
  if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`--car ${file}: no such file`);
  return Promise.resolve(readFileSync(file));
}

/** The repository's make_prediction.sh, for `predict --via lb`. */
const LOCAL_SCRIPT = join(import.meta.dirname, "..", "service", "make_prediction.sh");

export async function predict(config: EnvironmentConfig, options: PredictOptions, ctx: SshCommandContext): Promise<number> {
  const via = options.via ?? "ssh";
  if (via !== "ssh" && via !== "lb") throw new UsageError(`--via ${via}: expected ssh (make_prediction.sh on an instance) or lb (through the load balancer)`);
  const car = await readCar(options.car, ctx.processes);
  if (car !== undefined && car.toString().trim() === "") throw new UsageError(`--car ${options.car} is empty: give a car as JSON`);
  if (via === "ssh") {
    const command = [remotePredictCommand(options.layout?.appDir ?? resourceNames(config).appDir, { human: options.human, fromStdin: car !== undefined })];
    const session = { slot: options.slot, instance: options.instance, profile: options.profile, command, input: car ?? Buffer.alloc(0), osUser: options.layout?.osUser };
    const { code } = await openSession(config, session, ctx);
    return code;
  }
  if (options.slot !== undefined || options.instance !== undefined) throw new UsageError("--via lb asks whichever instance the load balancer picks: --slot and --instance apply to --via ssh");
  const clients = ctx.clientsFor(config, options.profile);
  const name = resourceNames(config).loadBalancer;
  const result = await aws("elasticloadbalancing:DescribeLoadBalancers", `load balancer ${name}`, () => clients.elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [name] })));
  const dns = result.LoadBalancerDescriptions?.find((lb) => lb.LoadBalancerName === name)?.DNSName;
  if (!dns) throw new ReleaseError(`load balancer ${name} has no DNS name: wrong account/region, or the ${config.name} stack has not been applied`);
  const sh = requireTool("sh", ctx.processes.env, "a POSIX shell is needed to run make_prediction.sh");
  const port = String(options.layout?.loadBalancerPort ?? 80);
  const args = [LOCAL_SCRIPT, "--host", dns, "--port", port, ...(options.human ? ["--human"] : []), ...(car !== undefined ? ["-"] : [])];
  note(ctx, `asking ${dns}:${port} (${config.name}'s load balancer)`);
  return new Promise((resolve, reject) => {
    const child = spawn(sh, args, { env: { ...ctx.processes.env }, stdio: ["pipe", "pipe", "pipe"] });
    child.stdout.pipe(ctx.processes.stdout, { end: false });
    child.stderr.pipe(ctx.processes.stderr, { end: false });
    child.stdin.on("error", () => {});
    child.stdin.end(car ?? Buffer.alloc(0));
    child.on("error", (error) => reject(new ReleaseError(`cannot run ${sh}: ${error.message}`)));
    child.on("close", (code) => resolve(code ?? 1));
  });
}
