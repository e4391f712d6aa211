/**
 * make_prediction.sh as people run it: `sh make_prediction.sh` under dash (Debian's and Ubuntu's
 * sh), bash and busybox sh (with busybox's own sed/awk/tr), against the real bundled service on
 * 127.0.0.1. Every shell must give the same answer.
 */
import { execFile, execFileSync } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildService } from "./build.js";
import { MODEL_DIR, spawnServer, type ServerProcess } from "./src/testing.js";

const SCRIPT = join(import.meta.dirname, "make_prediction.sh");
interface SmokeCase {
  name: string;
  instance: Record<string, string | number>;
  expected: number;
}
const manifest = JSON.parse(await readFile(join(MODEL_DIR, "manifest.json"), "utf8")) as { smoke_test: { cases: SmokeCase[] } };
const [example, other] = manifest.smoke_test.cases as [SmokeCase, SmokeCase];

let work: string;
let server: ServerProcess;
/** PATH for busybox sh: busybox's own applets for every tool the script uses, plus curl. */
let busyboxPath: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Absolute path of a program on this machine's PATH: the tests run shells with a PATH of their own. */
function which(program: string): string {
  const found = execFileSync("sh", ["-c", 'command -v "$1"', "sh", program], { encoding: "utf8" }).trim();
  if (!found.startsWith("/")) throw new Error(`${program} is not installed: npm run setup installs it`);
  return found;
}
const BUSYBOX = which("busybox");
const SHELLS: Record<string, string[]> = { sh: [which("sh")], dash: [which("dash")], bash: [which("bash")], "busybox sh": [BUSYBOX, "sh"] };

/** An empty value in `env` means "not set" in the script's environment. */
function withoutEmpty(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
}

function runScript(shell: string, args: string[], options: { port?: number; stdin?: string; script?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  const [command, ...prefix] = SHELLS[shell]!;
  const path = shell === "busybox sh" ? busyboxPath : (process.env.PATH ?? "");
  return new Promise((resolve, reject) => {
    const child = execFile(
      command!,
      [...prefix, options.script ?? SCRIPT, ...args],
      { cwd: options.cwd, env: withoutEmpty({ PATH: path, HOST: "127.0.0.1", PORT: String(options.port ?? server.port), ...options.env }), timeout: 20_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") return reject(error);
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
    child.stdin!.on("error", () => {}); // the script may exit before reading stdin
    child.stdin!.end(options.stdin ?? "");
  });
}

const prediction = (r: Run): number => {
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const answer = JSON.parse(r.stdout) as { predictions: number[] };
  expect(answer.predictions).toHaveLength(1);
  return answer.predictions[0]!;
};

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  const s = createServer(handler);
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  return { server: s, port: (s.address() as AddressInfo).port };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "mpg12-predict-"));
  await symlink(join(import.meta.dirname, "..", "node_modules"), join(work, "node_modules"), "dir");
  const { outfile } = await buildService(join(work, "dist"), { modelDir: MODEL_DIR });
  server = await spawnServer(outfile);
  busyboxPath = join(work, "busybox-bin");
  await mkdir(busyboxPath);
  for (const tool of ["sed", "awk", "tr", "cat", "cut", "dirname", "readlink"]) await symlink(BUSYBOX, join(busyboxPath, tool));
  await symlink(which("curl"), join(busyboxPath, "curl"));
});

afterAll(async () => {
  server?.child.kill("SIGTERM");
  await server?.exit;
  await rm(work, { recursive: true, force: true });
});

describe("make_prediction.sh", () => {
  it("is clean for shellcheck as a POSIX sh script and parses under dash", async () => {
    const shellcheck = await new Promise<Run>((resolve) =>
      execFile("shellcheck", ["--shell=sh", SCRIPT], (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr })),
    );
    expect(shellcheck).toEqual({ code: 0, stdout: "", stderr: "" });
    expect((await readFile(SCRIPT, "utf8")).split("\n")[0]).toBe("#!/bin/sh");
  });

  it("sends the manifest's example car by default and gets the same prediction under sh, dash, bash and busybox sh", async () => {
    const answers = await Promise.all(Object.keys(SHELLS).map((shell) => runScript(shell, [])));
    const values = answers.map(prediction);
    expect(Math.abs(values[0]! - example.expected)).toBeLessThan(0.01);
    expect(new Set(answers.map((a) => a.stdout)).size).toBe(1);
  });

  it("asks about a car given as key=value pairs: the example car with those fields changed, the same in every shell", async () => {
    const pairs = Object.entries(other.instance).map(([k, v]) => `${k}=${v}`);
    const answers = await Promise.all(Object.keys(SHELLS).map((shell) => runScript(shell, pairs)));
    expect(Math.abs(prediction(answers[0]!) - other.expected)).toBeLessThan(0.01);
    expect(new Set(answers.map((a) => a.stdout)).size).toBe(1);
    // One field changed: a heavier Chevelle is predicted to use more fuel.
    const heavier = prediction(await runScript("dash", [`weight=${Number(example.instance.weight) + 1500}`]));
    expect(heavier).toBeLessThan(example.expected - 0.5);
  });

  it("takes a car as JSON from an argument, a file or stdin, alone, in a list or as a whole request", async () => {
    const car = JSON.stringify(other.instance);
    const file = join(work, "car.json");
    await writeFile(file, `${JSON.stringify(other.instance, null, 2)}\n`);
    const runs = await Promise.all([
      runScript("dash", [car]),
      runScript("busybox sh", ["--file", file]),
      runScript("bash", ["-"], { stdin: car }),
      runScript("dash", ["--file", "-"], { stdin: `{"instances":[${car}]}` }),
      runScript("sh", [`[${car}]`]),
    ]);
    for (const r of runs) expect(Math.abs(prediction(r) - other.expected)).toBeLessThan(0.01);
    const two = await runScript("dash", [`[${JSON.stringify(example.instance)},${car}]`]);
    expect(two.code).toBe(0);
    expect((JSON.parse(two.stdout) as { predictions: number[] }).predictions).toHaveLength(2);
  });

  it("prints a sentence with the MPG with --human", async () => {
    const answers = await Promise.all(Object.keys(SHELLS).map((shell) => runScript(shell, ["--human"])));
    for (const r of answers) {
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`The model auto-mpg 1.0.0 predicts ${example.expected.toFixed(1)} miles per gallon for the example car (${example.name}).\n`);
    }
    const pairs = await runScript("dash", ["--human", "origin=Japan"]);
    expect(pairs.stdout).toMatch(/^The model auto-mpg \S+ predicts \d+\.\d miles per gallon for the example car \(chevrolet chevelle malibu\) with origin=Japan\.\n$/);
  });

  it("asks the service installed beside it, found through a symlink, as `sh make_prediction.sh` in the application folder and make_prediction.sh on PATH", async () => {
    // A revision's layout under a root: <root>/opt/mpg-model/app/{bin,model}, the settings AfterInstall writes in <root>/etc.
    const root = join(work, "instance");
    const appDir = join(root, "opt", "mpg-model");
    await mkdir(join(appDir, "app", "bin"), { recursive: true });
    await mkdir(join(appDir, "app", "model"), { recursive: true });
    await mkdir(join(root, "etc", "mpg-model"), { recursive: true });
    await copyFile(SCRIPT, join(appDir, "app", "bin", "make_prediction.sh"));
    await copyFile(join(MODEL_DIR, "manifest.json"), join(appDir, "app", "model", "manifest.json"));
    await writeFile(join(root, "etc", "mpg-model", "service.env"), `DEPLOYMENT_GROUP=mpg-model-dev\nHOST=127.0.0.1\nPORT=${server.port}\nREADY_PATH=/ready\n`);
    const bin = join(root, "usr", "local", "bin");
    await mkdir(bin, { recursive: true });
    await symlink(join(appDir, "app", "bin", "make_prediction.sh"), join(bin, "make_prediction.sh"));
    await symlink("app/bin/make_prediction.sh", join(appDir, "make_prediction.sh"));
    const noPort = { PORT: "", HOST: "" };
    for (const shell of Object.keys(SHELLS)) {
      expect(Math.abs(prediction(await runScript(shell, [], { script: join(bin, "make_prediction.sh"), cwd: tmpdir(), env: noPort })) - example.expected)).toBeLessThan(0.01);
      expect(Math.abs(prediction(await runScript(shell, [], { script: "make_prediction.sh", cwd: appDir, env: noPort })) - example.expected)).toBeLessThan(0.01);
    }
    // PORT from the environment still wins over the installed settings.
    const elsewhere = await runScript("dash", [], { script: "make_prediction.sh", cwd: appDir, env: { PORT: "1" } });
    expect(elsewhere.code).toBe(3);
    expect(elsewhere.stderr).toMatch(/127\.0\.0\.1:1\/predict/);
  });

  it("exits 2 naming the problem when there is no manifest for the example car, and works when given a car", async () => {
    const lone = join(work, "lone");
    await mkdir(lone, { recursive: true });
    await copyFile(SCRIPT, join(lone, "make_prediction.sh"));
    const r = await runScript("dash", [], { script: join(lone, "make_prediction.sh") });
    expect(r).toMatchObject({ code: 2, stdout: "" });
    expect(r.stderr).toMatch(/no example car: the model's manifest\.json is not beside this script/);
    const withCar = await runScript("dash", [JSON.stringify(other.instance)], { script: join(lone, "make_prediction.sh") });
    expect(Math.abs(prediction(withCar) - other.expected)).toBeLessThan(0.01);
    const withManifest = await runScript("dash", [], { script: join(lone, "make_prediction.sh"), env: { MODEL_MANIFEST: join(MODEL_DIR, "manifest.json") } });
    expect(Math.abs(prediction(withManifest) - example.expected)).toBeLessThan(0.01);
  });

  it.each(Object.keys(SHELLS))("exits 4 under %s showing the service's error when it refuses the car", async (shell) => {
    const r = await runScript(shell, ["weight=35040", "origin=Mars"]);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/refused the car \(HTTP 400\): \{"error":.*weight.*must be at most 6000/);
    expect(r.stderr).toMatch(/origin/);
  });

  it.each(Object.keys(SHELLS))("exits 3 under %s when nothing listens", async (shell) => {
    const { server: probe, port } = await listen(() => {});
    probe.close();
    await once(probe, "close");
    const r = await runScript(shell, [], { port });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot reach the model service at http:\/\/127\.0\.0\.1:\d+\/predict: .*(onnect|refused)/);
  });

  it("exits 5 showing the answer when the service fails or answers without predictions", async () => {
    let reply = { status: 503, body: '{"error":"draining"}' };
    const { server: failing, port } = await listen((_req, res) => {
      res.writeHead(reply.status, { "content-type": "application/json" });
      res.end(reply.body);
    });
    try {
      const r = await runScript("dash", [], { port });
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/answered HTTP 503: \{"error":"draining"\}/);
      reply = { status: 200, body: "<html>a proxy page</html>" };
      const p = await runScript("busybox sh", [], { port });
      expect(p.code).toBe(5);
      expect(p.stderr).toMatch(/answered HTTP 200 without predictions: <html>a proxy page<\/html>/);
    } finally {
      failing.close();
    }
  });

  it.each([
    [["--nope"], /unknown option --nope/],
    [["--port", "http"], /the port must be a number, got 'http'/],
    [["--file", "/nonexistent/car.json"], /cannot read the car file \/nonexistent\/car\.json/],
    [["--file"], /--file needs a value/],
    [["weight 4500"], /weight 4500 is neither a car as JSON nor a key=value pair/],
    [["9weight=1"], /9weight=1: a field name is letters, digits or _/],
    [['{"weight":1}', '{"weight":2}'], /give one car, not two: the argument and the argument/],
    [["[{}]", "weight=1"], /key=value pairs change one car/],
    [["  "], /the car is empty/],
  ])("exits 2 for bad arguments %j", async (args, message) => {
    for (const shell of ["dash", "busybox sh"]) {
      const r = await runScript(shell, args);
      expect(r.code, `${shell}: ${r.stderr}`).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(message);
    }
  });

  it("prints its usage with --help", async () => {
    const r = await runScript("dash", ["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: make_prediction\.sh \[--human\]/);
    expect(r.stdout).toMatch(/--file FILE/);
  });

  it("exits 1 when curl is missing", async () => {
    const bin = join(work, "no-curl");
    await mkdir(bin, { recursive: true });
    for (const tool of ["sed", "awk", "tr", "cat", "cut", "dirname", "readlink"]) await symlink(BUSYBOX, join(bin, tool));
    const r = await new Promise<Run>((resolve) =>
      execFile(SHELLS.dash![0]!, [SCRIPT], { env: { PATH: bin } }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr })),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/curl is not installed/);
  });
});
