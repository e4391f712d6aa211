/**
 * `npm run bench:ssh [-- --runs N]`: the prediction a user makes over SSH, timed. Lays out an
 * instance's application folder (revision layout, the service's settings), starts the real
 * service and the SSH hop (Debian's sshd on 127.0.0.1), then alternates N runs (default 15) of
 * `cd APP && sh make_prediction.sh` run directly (the baseline) and over a fresh SSH connection.
 * Prints both medians, their ratio and SSH's own cost; fails if the SSH median is over 1 s.
 */
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { median } from "../scripts/stats.js";
import { buildService } from "../service/build.js";
import { spawnServer } from "../service/src/testing.js";
import { SshHop } from "./ssh-hop.js";

const TARGET_MS = 1000;

function direct(appDir: string): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn("sh", ["-c", 'cd "$1" && sh make_prediction.sh', "sh", appDir], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolvePromise({ ms: performance.now() - t0, stdout }) : reject(new Error(`make_prediction.sh exited with ${code}`))));
  });
}

async function main(): Promise<number> {
  let runs: number;
  try {
    const { values } = parseArgs({ options: { runs: { type: "string", default: "15" } }, strict: true, allowPositionals: false });
    if (!/^\d+$/.test(values.runs) || Number(values.runs) < 1 || Number(values.runs) > 200) throw new Error(`--runs must be a whole number from 1 to 200, got "${values.runs}"`);
    runs = Number(values.runs);
  } catch (e) {
    console.error(`npm run bench:ssh: ${(e as Error).message}\nusage: npm run bench:ssh [-- --runs N]`);
    return 2;
  }
  const repoDir = resolve(import.meta.dirname, "..");
  const root = mkdtempSync(join(tmpdir(), "mpg-model-bench-ssh-"));
  let hop: SshHop | undefined;
  let server: Awaited<ReturnType<typeof spawnServer>> | undefined;
  try {
    symlinkSync(join(repoDir, "node_modules"), join(root, "node_modules"), "dir");
    const modelDir = join(repoDir, "service", "model");
    const { outfile } = await buildService(join(root, "dist"), { modelDir });
    server = await spawnServer(outfile);
    // The revision's layout on an instance, with the settings AfterInstall writes and its link.
    const appDir = join(root, "opt", "mpg-model");
    mkdirSync(join(appDir, "app", "bin"), { recursive: true });
    mkdirSync(join(appDir, "app", "model"), { recursive: true });
    mkdirSync(join(root, "etc", "mpg-model"), { recursive: true });
    copyFileSync(join(repoDir, "service", "make_prediction.sh"), join(appDir, "app", "bin", "make_prediction.sh"));
    copyFileSync(join(modelDir, "manifest.json"), join(appDir, "app", "model", "manifest.json"));
    symlinkSync("app/bin/make_prediction.sh", join(appDir, "make_prediction.sh"));
    writeFileSync(join(root, "etc", "mpg-model", "service.env"), `HOST=127.0.0.1\nPORT=${server.port}\n`);
    hop = await SshHop.start();
    const command = `cd '${appDir}' && sh make_prediction.sh`;

    const baseline: number[] = [];
    const overSsh: number[] = [];
    let answer: string | undefined;
    for (let i = 1; i <= runs; i++) {
      const d = await direct(appDir);
      const s = await hop.run(command);
      if (s.code !== 0) throw new Error(`over SSH, make_prediction.sh exited with ${s.code}: ${s.stderr.trim()}`);
      answer ??= d.stdout;
      if (d.stdout !== answer || s.stdout !== answer) throw new Error(`run ${i}: answers differ (direct ${d.stdout.trim()}, ssh ${s.stdout.trim()})`);
      baseline.push(d.ms);
      overSsh.push(s.ms);
      console.log(`run ${i}: direct ${d.ms.toFixed(0)} ms, over ssh ${s.ms.toFixed(0)} ms`);
    }
    const b = median(baseline);
    const s = median(overSsh);
    console.log(`answer: ${answer?.trim()}`);
    console.log(
      `median over ${runs} runs: direct (sh make_prediction.sh) ${b.toFixed(0)} ms; over ssh (connect, run, answer) ${s.toFixed(0)} ms; ratio ${(s / b).toFixed(1)}x; ssh's own cost ${(s - b).toFixed(0)} ms; target < ${TARGET_MS} ms`,
    );
    return s < TARGET_MS ? 0 : 1;
  } finally {
    await hop?.stop();
    if (server) {
      server.child.kill("SIGTERM");
      await server.exit;
    }
    rmSync(root, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`npm run bench:ssh failed: ${(e as Error).message}`);
    process.exit(1);
  },
);
