/**
 * `release ssh` and `release predict`: AWS through SDK client mocks, `aws` as a fake on PATH that
 * records its arguments (and, for open-tunnel, relays to a local sshd as the real tunnel would to
 * the instance), `ssh` either the real OpenSSH client or a fake that records its arguments.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { DescribeInstanceConnectEndpointsCommand } from "@aws-sdk/client-ec2";
import { SendSSHPublicKeyCommand } from "@aws-sdk/client-ec2-instance-connect";
import { DescribeInstanceHealthCommand, DescribeLoadBalancersCommand } from "@aws-sdk/client-elastic-load-balancing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadEnvironment } from "../environments/index.js";
import { SshHop } from "../revision/ssh-hop.js";
import { buildService } from "../service/build.js";
import { MODEL_DIR, spawnServer, type ServerProcess } from "../service/src/testing.js";
import { createClients } from "./aws.js";
import { run } from "./release-cli.js";
import type { CommandContext } from "./commands.js";
import { predict, ssh, type ProcessContext } from "./ssh.js";
import { awsError, fakeFleet, mockAws, type AwsMocks, type FakeInstance } from "./testing.js";

const work = mkdtempSync(join(tmpdir(), "mpg12-release-ssh-"));
const awsLog = join(work, "aws.log");
const sshLog = join(work, "ssh.log");

/** A fake `aws`: records its arguments; --version answers FAKE_AWS_VERSION; open-tunnel relays stdin/stdout to 127.0.0.1:FAKE_TUNNEL_PORT. */
const FAKE_AWS = `#!${process.execPath}
const fs = require("node:fs");
const net = require("node:net");
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_AWS_LOG, JSON.stringify(args) + "\\n");
if (args[0] === "--version") {
  process.stdout.write((process.env.FAKE_AWS_VERSION || "aws-cli/2.22.35 Python/3.12.6 Linux/6.1.0 exe/x86_64.debian.12") + "\\n");
  process.exit(0);
}
if (args[0] === "ec2-instance-connect" && args[1] === "open-tunnel") {
  if (process.env.FAKE_TUNNEL_DENIED) {
    process.stderr.write("\\nAn error occurred (AccessDeniedException) when calling the OpenTunnel operation: User: arn:aws:sts::333333333333:assumed-role/operator/me is not authorized to perform: ec2-instance-connect:OpenTunnel\\n");
    process.exit(254);
  }
  const socket = net.connect(Number(process.env.FAKE_TUNNEL_PORT), "127.0.0.1");
  process.stdin.pipe(socket);
  socket.pipe(process.stdout);
  socket.on("close", () => process.exit(0));
  socket.on("error", (e) => { process.stderr.write(String(e) + "\\n"); process.exit(255); });
} else {
  process.stderr.write("fake aws: unexpected arguments: " + args.join(" ") + "\\n");
  process.exit(2);
}
`;

/** A fake `ssh`: records its arguments, the public half of the key it was given, and its stdin; exits FAKE_SSH_EXIT. */
const FAKE_SSH = `#!${process.execPath}
const fs = require("node:fs");
const args = process.argv.slice(2);
const key = args[args.indexOf("-i") + 1];
let stdin = "";
process.stdin.on("data", (c) => (stdin += c));
process.stdin.on("end", () => {
  fs.appendFileSync(process.env.FAKE_SSH_LOG, JSON.stringify({ args, publicKey: fs.readFileSync(key + ".pub", "utf8").trim(), stdin }) + "\\n");
  process.stdout.write("fake ssh output\\n");
  process.exit(Number(process.env.FAKE_SSH_EXIT || 0));
});
`;

function bin(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    writeFileSync(join(dir, file), text);
    chmodSync(join(dir, file), 0o755);
  }
  return dir;
}
const withFakeSsh = bin("fake-ssh-bin", { aws: FAKE_AWS, ssh: FAKE_SSH });
const withRealSsh = bin("real-ssh-bin", { aws: FAKE_AWS });
const noAws = bin("no-aws-bin", { ssh: FAKE_SSH });

const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : []);
const awsCalls = (): string[][] => lines(awsLog).map((l) => JSON.parse(l) as string[]);
const sshCalls = () => lines(sshLog).map((l) => JSON.parse(l) as { args: string[]; publicKey: string; stdin: string });

const PROD_FLEET: FakeInstance[] = [
  { id: "i-0aaaaaaaaaaaaaaa1", environment: "prod", slot: "blue", privateIp: "10.30.10.11", vpcId: "vpc-0prod" },
  { id: "i-0aaaaaaaaaaaaaaa2", environment: "prod", slot: "blue", privateIp: "10.30.11.12", vpcId: "vpc-0prod" },
  { id: "i-0bbbbbbbbbbbbbbb1", environment: "prod", slot: "green", privateIp: "10.30.10.21", vpcId: "vpc-0prod" },
  { id: "i-0ddddddddddddddd1", environment: "dev", slot: "blue", privateIp: "10.10.10.5", vpcId: "vpc-0dev" },
];
const ENDPOINT = {
  InstanceConnectEndpointId: "eice-0123456789abcdef0",
  DnsName: "eice-0123456789abcdef0.1a2b3c4d.ec2-instance-connect-endpoint.eu-west-1.amazonaws.com",
  State: "create-complete" as const,
};

let mocks: AwsMocks;
let pushedKeys: { InstanceId?: string; InstanceOSUser?: string; SSHPublicKey?: string }[];

function endpoints(list: object[]) {
  mocks.ec2.on(DescribeInstanceConnectEndpointsCommand).callsFake((input: { Filters?: { Name?: string; Values?: string[] }[] }) => {
    const vpc = input.Filters?.find((f) => f.Name === "vpc-id")?.Values?.[0];
    return { InstanceConnectEndpoints: list.filter((e) => (e as { VpcId?: string }).VpcId === vpc) };
  });
}

beforeEach(() => {
  mocks = mockAws();
  rmSync(awsLog, { force: true });
  rmSync(sshLog, { force: true });
  fakeFleet(mocks, "mpg-model-prod", PROD_FLEET, ["i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2"]);
  endpoints([{ ...ENDPOINT, VpcId: "vpc-0prod", Tags: [{ Key: "Name", Value: "mpg-model-prod-instance-connect" }] }]);
  pushedKeys = [];
  mocks.instanceConnect.on(SendSSHPublicKeyCommand).callsFake((input: (typeof pushedKeys)[number]) => {
    pushedKeys.push(input);
    return { Success: true, RequestId: "r-1" };
  });
});

interface Harness {
  ctx: CommandContext & { processes: ProcessContext };
  stdout: () => string;
  stderr: () => string;
  out: string[];
  errors: string[];
  cli: (...argv: string[]) => Promise<number>;
}

function harness(path: string, env: Record<string, string> = {}, stdin = ""): Harness {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let outText = "";
  let errText = "";
  stdout.on("data", (c: Buffer) => (outText += c.toString()));
  stderr.on("data", (c: Buffer) => (errText += c.toString()));
  const out: string[] = [];
  const errors: string[] = [];
  const ctx = {
    clientsFor: (config: { region: string }, profile?: string) => createClients({ region: config.region, profile }),
    out: (line: string) => out.push(line),
    now: () => new Date(),
    sleep: async () => {},
    processes: {
      env: { PATH: `${path}:${process.env.PATH}`, HOME: join(work, "home"), FAKE_AWS_LOG: awsLog, FAKE_SSH_LOG: sshLog, ...env },
      stdin: Readable.from([Buffer.from(stdin)]),
      stdout,
      stderr,
      interactive: false,
    },
  } as Harness["ctx"];
  return { ctx, stdout: () => outText, stderr: () => errText, out, errors, cli: (...argv) => run(argv, ctx, (line) => errors.push(line)) };
}

const option = (args: string[], name: string) =>
  args
    .filter((_, i) => args[i - 1] === "-o")
    .find((o) => o.startsWith(`${name}=`))
    ?.slice(name.length + 1);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("release ssh (fake ssh and aws on PATH)", () => {
  it("pushes a one-time key for ubuntu to an InService live instance, then runs ssh through open-tunnel to its private address", async () => {
    const h = harness(withFakeSsh);
    expect(await h.cli("ssh", "--env", "prod", "--", "uptime", "-p")).toBe(0);
    expect(h.stdout()).toBe("fake ssh output\n");
    expect(h.stderr()).toMatch(/connecting to i-0aaaaaaaaaaaaaaa1 \(blue, 10\.30\.10\.11\) in prod through eice-0123456789abcdef0 as ubuntu/);
    expect(pushedKeys).toEqual([{ InstanceId: "i-0aaaaaaaaaaaaaaa1", InstanceOSUser: "ubuntu", SSHPublicKey: expect.stringMatching(/^ssh-ed25519 \S+ mpg-model release ssh \(one-time\)$/) }]);
    const [call] = sshCalls();
    // The key ssh uses is the key that was pushed, and it is gone afterwards.
    expect(call!.publicKey).toBe(pushedKeys[0]!.SSHPublicKey);
    const keyFile = call!.args[call!.args.indexOf("-i") + 1]!;
    expect(existsSync(keyFile)).toBe(false);
    expect(call!.args.slice(-4)).toEqual(["--", "i-0aaaaaaaaaaaaaaa1", "uptime", "-p"]);
    expect(call!.args[call!.args.indexOf("-l") + 1]).toBe("ubuntu");
    expect(option(call!.args, "IdentitiesOnly")).toBe("yes");
    expect(option(call!.args, "HostKeyAlias")).toBe("i-0aaaaaaaaaaaaaaa1");
    expect(option(call!.args, "StrictHostKeyChecking")).toBe("accept-new");
    expect(option(call!.args, "UserKnownHostsFile")).toBe(join(work, "home", ".cache", "mpg-model", "ssh_known_hosts"));
    expect(option(call!.args, "ProxyCommand")).toBe(
      `'${join(withFakeSsh, "aws")}' 'ec2-instance-connect' 'open-tunnel' '--instance-connect-endpoint-id' 'eice-0123456789abcdef0' '--instance-connect-endpoint-dns-name' '${ENDPOINT.DnsName}' '--private-ip-address' '10.30.10.11' '--remote-port' '22' '--region' 'eu-west-1'`,
    );
    expect(awsCalls()).toEqual([["--version"]]);
  });

  it("opens a login shell when no command is given, and passes --profile on to the tunnel", async () => {
    const h = harness(withFakeSsh);
    expect(await h.cli("ssh", "--env", "prod", "--profile", "prod-operator")).toBe(0);
    const [call] = sshCalls();
    expect(call!.args.slice(-2)).toEqual(["--", "i-0aaaaaaaaaaaaaaa1"]);
    expect(option(call!.args, "ProxyCommand")).toMatch(/'--region' 'eu-west-1' '--profile' 'prod-operator'$/);
  });

  it("skips instances that are not InService", async () => {
    mocks.elb.on(DescribeInstanceHealthCommand).resolves({
      InstanceStates: [
        { InstanceId: "i-0aaaaaaaaaaaaaaa1", State: "OutOfService" },
        { InstanceId: "i-0aaaaaaaaaaaaaaa2", State: "InService" },
      ],
    });
    const h = harness(withFakeSsh);
    expect(await h.cli("ssh", "--env", "prod", "--", "true")).toBe(0);
    expect(pushedKeys.map((k) => k.InstanceId)).toEqual(["i-0aaaaaaaaaaaaaaa2"]);
  });

  it("reaches the standby slot with --slot standby, and a named instance with --instance", async () => {
    const h = harness(withFakeSsh);
    expect(await h.cli("ssh", "--env", "prod", "--slot", "standby", "--", "true")).toBe(0);
    expect(await h.cli("ssh", "--env", "prod", "--instance", "i-0aaaaaaaaaaaaaaa2", "--", "true")).toBe(0);
    expect(pushedKeys.map((k) => k.InstanceId)).toEqual(["i-0bbbbbbbbbbbbbbb1", "i-0aaaaaaaaaaaaaaa2"]);
    expect(sshCalls().map((c) => option(c.args, "ProxyCommand")!.match(/'--private-ip-address' '([\d.]+)'/)![1])).toEqual(["10.30.10.21", "10.30.11.12"]);
  });

  it("refuses an instance of another environment before pushing any key", async () => {
    const h = harness(withFakeSsh);
    expect(await h.cli("ssh", "--env", "prod", "--instance", "i-0ddddddddddddddd1")).toBe(1);
    expect(h.errors.join("\n")).toMatch(/instance i-0ddddddddddddddd1 is not an instance of prod \(Environment=dev\)/);
    expect(pushedKeys).toEqual([]);
    expect(sshCalls()).toEqual([]);
  });

  it.each([
    [["ssh", "--env", "prod", "--slot", "sideways"], /--slot sideways: expected live or standby/],
    [["ssh", "--env", "prod", "--slot", "live", "--instance", "i-0aaaaaaaaaaaaaaa1"], /--instance and --slot both choose the instance/],
    [["ssh", "--env", "prod", "--instance", "web-1"], /--instance web-1 is not an EC2 instance id/],
    [["ssh", "--env", "dev", "--slot", "standby"], /dev deploys in place: it has no standby slot/],
    [["ssh", "--env", "prod", "uptime"], /ssh takes no positional arguments, got: uptime/],
    [["ssh", "--env", "prod", "--"], /nothing after --/],
    [["status", "--env", "prod", "--", "uptime"], /status takes no command after --: only ssh runs one/],
    [["ssh"], /--env <environment> is required/],
    [["predict", "--env", "prod", "--via", "pigeon"], /--via pigeon: expected ssh .* or lb/],
    [["predict", "--env", "prod", "--car", join(work, "no-such-car.json")], /--car .*no-such-car\.json: no such file/],
    [["predict", "--env", "prod", "--via", "lb", "--slot", "live"], /--via lb asks whichever instance the load balancer picks/],
    [["ssh", "--env", "prod", "--profile", "a b"], /--profile a b: a profile name is/],
  ])("exits 2 on %j", async (argv, message) => {
    const h = harness(withFakeSsh);
    expect(await h.cli(...argv)).toBe(2);
    expect(h.errors.join("\n")).toMatch(message);
    expect(sshCalls()).toEqual([]);
  });

  it("says when nothing is live: no instance registered, or none InService", async () => {
    fakeFleet(mocks, "mpg-model-prod", PROD_FLEET, []);
    const empty = harness(withFakeSsh);
    expect(await empty.cli("ssh", "--env", "prod")).toBe(1);
    expect(empty.errors.join("\n")).toMatch(/no live instance in prod: nothing is registered with load balancer mpg-model-prod \(no release yet\?\)\. Use --slot standby or --instance/);
    fakeFleet(mocks, "mpg-model-prod", PROD_FLEET, ["i-0aaaaaaaaaaaaaaa1"]);
    mocks.elb.on(DescribeInstanceHealthCommand).resolves({ InstanceStates: [{ InstanceId: "i-0aaaaaaaaaaaaaaa1", State: "OutOfService" }] });
    const unhealthy = harness(withFakeSsh);
    expect(await unhealthy.cli("ssh", "--env", "prod")).toBe(1);
    expect(unhealthy.errors.join("\n")).toMatch(/no instance behind load balancer mpg-model-prod is InService \(i-0aaaaaaaaaaaaaaa1 \(running, OutOfService\)\)/);
    expect(pushedKeys).toEqual([]);
  });

  it("says the endpoint is missing and how to create it", async () => {
    endpoints([{ ...ENDPOINT, VpcId: "vpc-0prod", State: "create-in-progress", Tags: [{ Key: "Name", Value: "mpg-model-prod-instance-connect" }] }]);
    const h = harness(withFakeSsh);
    expect(await h.cli("ssh", "--env", "prod")).toBe(1);
    expect(h.errors.join("\n")).toMatch(
      /the EC2 Instance Connect Endpoint mpg-model-prod-instance-connect is missing or not ready in vpc-0prod \(eice-0123456789abcdef0 create-in-progress\): apply the prod stack/,
    );
    endpoints([]);
    const none = harness(withFakeSsh);
    expect(await none.cli("ssh", "--env", "prod")).toBe(1);
    expect(none.errors.join("\n")).toMatch(/mpg-model-prod-instance-connect is missing or not ready in vpc-0prod: apply the prod stack \(npx cdktf deploy prod\)/);
    expect(pushedKeys).toEqual([]);
  });

  it("names the action and the policy to attach when SendSSHPublicKey is denied, and runs no ssh", async () => {
    mocks.instanceConnect.on(SendSSHPublicKeyCommand).rejects(awsError("AccessDeniedException", "User is not authorized to perform: ec2-instance-connect:SendSSHPublicKey"));
    const h = harness(withFakeSsh);
    expect(await h.cli("ssh", "--env", "prod")).toBe(1);
    expect(h.errors.join("\n")).toMatch(
      /access denied: ec2-instance-connect:SendSSHPublicKey on i-0aaaaaaaaaaaaaaa1 as ubuntu \(AccessDeniedException\)[\s\S]*Attach the prod stack's output ssh_operators_policy_arn \(policy mpg-model-prod-ssh-operators\)/,
    );
    expect(sshCalls()).toEqual([]);
  });

  it("refuses a missing or too old AWS CLI, naming the version it needs", async () => {
    const missing = harness(noAws, { PATH: noAws });
    expect(await missing.cli("ssh", "--env", "prod")).toBe(1);
    expect(missing.errors.join("\n")).toMatch(/the AWS CLI is not installed \(no "aws" on PATH\): install AWS CLI v2/);
    for (const [version, message] of [
      ["aws-cli/2.11.27 Python/3.11.4 Linux/6.1 exe/x86_64", /is AWS CLI 2\.11\.27: ssh needs 2\.12\.0 or newer/],
      ["aws-cli/1.29.84 Python/3.8.10 Linux/5.15 botocore/1.31.84", /is AWS CLI 1\.29\.84: ssh needs 2\.12\.0 or newer/],
      ["Command 'aws' not found", /--version did not say which AWS CLI it is/],
    ] as const) {
      const old = harness(withFakeSsh, { FAKE_AWS_VERSION: version });
      expect(await old.cli("ssh", "--env", "prod")).toBe(1);
      expect(old.errors.join("\n")).toMatch(message);
    }
    expect(pushedKeys).toEqual([]);
  });

  it("returns the remote command's exit code", async () => {
    const h = harness(withFakeSsh, { FAKE_SSH_EXIT: "7" });
    expect(await h.cli("ssh", "--env", "prod", "--", "false")).toBe(7);
  });

  it("runs the instance's own make_prediction.sh in the application folder for predict, feeding it the car", async () => {
    const car = join(work, "car.json");
    writeFileSync(car, '{"cylinders":4,"displacement":97,"horsepower":88,"weight":2130,"acceleration":14.5,"model_year":1970,"origin":"Japan"}\n');
    const h = harness(withFakeSsh);
    expect(await h.cli("predict", "--env", "prod", "--car", car, "--human")).toBe(0);
    const fromStdin = harness(withFakeSsh, {}, '{"weight":1}');
    expect(await fromStdin.cli("predict", "--env", "prod", "--car", "-")).toBe(0);
    const example = harness(withFakeSsh);
    expect(await example.cli("predict", "--env", "prod")).toBe(0);
    const calls = sshCalls();
    expect(calls.map((c) => c.args.slice(-1)[0])).toEqual([
      "cd '/opt/mpg-model' && sh make_prediction.sh --human -",
      "cd '/opt/mpg-model' && sh make_prediction.sh -",
      "cd '/opt/mpg-model' && sh make_prediction.sh",
    ]);
    expect(calls.map((c) => c.stdin)).toEqual([readFileSync(car, "utf8"), '{"weight":1}', ""]);
  });
});

describe("release ssh and predict over a real SSH connection (OpenSSH client, local sshd, fake tunnel)", () => {
  let hop: SshHop;
  let server: ServerProcess;
  let appDir: string;
  const prod = loadEnvironment("prod");

  beforeAll(async () => {
    hop = await SshHop.start({ namePrefix: "mpg12-release-sshd-" });
    // The instance: the service and, as the revision installs them, the script, the model's manifest and the settings.
    const root = join(work, "instance");
    symlinkSync(join(import.meta.dirname, "..", "node_modules"), join(work, "node_modules"), "dir");
    const { outfile } = await buildService(join(work, "dist"), { modelDir: MODEL_DIR });
    server = await spawnServer(outfile);
    appDir = join(root, "opt", "mpg-model");
    mkdirSync(join(appDir, "app", "bin"), { recursive: true });
    mkdirSync(join(appDir, "app", "model"), { recursive: true });
    mkdirSync(join(root, "etc", "mpg-model"), { recursive: true });
    copyFileSync(join(import.meta.dirname, "..", "service", "make_prediction.sh"), join(appDir, "app", "bin", "make_prediction.sh"));
    copyFileSync(join(MODEL_DIR, "manifest.json"), join(appDir, "app", "model", "manifest.json"));
    symlinkSync("app/bin/make_prediction.sh", join(appDir, "make_prediction.sh"));
    writeFileSync(join(root, "etc", "mpg-model", "service.env"), `HOST=127.0.0.1\nPORT=${server.port}\n`);
  });
  afterAll(async () => {
    await hop?.stop();
    server?.child.kill("SIGTERM");
    await server?.exit;
  });

  beforeEach(() => {
    // EC2 Instance Connect puts the pushed key in front of sshd for 60 s; the local sshd takes it for good.
    mocks.instanceConnect.on(SendSSHPublicKeyCommand).callsFake((input: { SSHPublicKey: string }) => {
      hop.authorize(input.SSHPublicKey);
      return { Success: true };
    });
  });

  const layout = () => ({ osUser: hop.user, appDir });
  const tunnel = () => ({ FAKE_TUNNEL_PORT: String(hop.port) });

  it("runs a command on the instance (words joined for its shell, as ssh does) and hands back its output and exit code", async () => {
    const h = harness(withRealSsh, tunnel());
    expect(await ssh(prod, { command: ["echo", "on the instance;", "exit", "3"], layout: layout() }, h.ctx)).toBe(3);
    expect(h.stdout()).toBe("on the instance\n");
    expect(awsCalls().filter((c) => c[1] === "open-tunnel")).toHaveLength(1);
    // The host key was learnt under the instance's id, for the next connection to check.
    expect(readFileSync(join(work, "home", ".cache", "mpg-model", "ssh_known_hosts"), "utf8")).toMatch(/^i-0aaaaaaaaaaaaaaa1 ssh-ed25519 /m);
  });

  it("prints make_prediction.sh's answer from the application folder: the example car, a car from a file, a sentence", async () => {
    const manifest = JSON.parse(readFileSync(join(MODEL_DIR, "manifest.json"), "utf8")) as { smoke_test: { cases: { instance: object; expected: number }[] } };
    const [example, other] = manifest.smoke_test.cases;
    const h = harness(withRealSsh, tunnel());
    expect(await predict(prod, { layout: layout() }, h.ctx)).toBe(0);
    expect(Math.abs((JSON.parse(h.stdout()) as { predictions: number[] }).predictions[0]! - example!.expected)).toBeLessThan(0.01);

    const car = join(work, "datsun.json");
    writeFileSync(car, JSON.stringify(other!.instance));
    const fromFile = harness(withRealSsh, tunnel());
    expect(await predict(prod, { car, human: true, layout: layout() }, fromFile.ctx)).toBe(0);
    expect(fromFile.stdout()).toBe(`The model auto-mpg 1.0.0 predicts ${other!.expected.toFixed(1)} miles per gallon for your car.\n`);
  });

  it("passes make_prediction.sh's refusal through: its exit code 4 and the service's error", async () => {
    const h = harness(withRealSsh, tunnel(), '{"cylinders":4,"weight":35040}');
    expect(await predict(prod, { car: "-", layout: layout() }, h.ctx)).toBe(4);
    expect(h.stderr()).toMatch(/refused the car \(HTTP 400\):.*weight/);
  });

  it("names ec2-instance-connect:OpenTunnel when the tunnel is refused", async () => {
    const h = harness(withRealSsh, { ...tunnel(), FAKE_TUNNEL_DENIED: "1" });
    expect(await h.cli("ssh", "--env", "prod", "--", "true")).toBe(1);
    expect(h.stderr()).toMatch(/AccessDeniedException\) when calling the OpenTunnel operation/);
    expect(h.errors.join("\n")).toMatch(/access denied: ec2-instance-connect:OpenTunnel on eice-0123456789abcdef0 to 10\.30\.10\.11:22\. Attach the prod stack's output ssh_operators_policy_arn/);
  });

  it("asks through the load balancer with --via lb", async () => {
    mocks.elb.on(DescribeLoadBalancersCommand).resolves({ LoadBalancerDescriptions: [{ LoadBalancerName: "mpg-model-prod", DNSName: "127.0.0.1" }] });
    const h = harness(withRealSsh);
    expect(await predict(prod, { via: "lb", human: true, layout: { loadBalancerPort: server.port } }, h.ctx)).toBe(0);
    expect(h.stdout()).toMatch(/^The model auto-mpg 1\.0\.0 predicts [\d.]+ miles per gallon for the example car \(chevrolet chevelle malibu\)\.\n$/);
    expect(h.stderr()).toMatch(/asking 127\.0\.0\.1:\d+ \(prod's load balancer\)/);
    expect(sshCalls()).toEqual([]);
  });
});
