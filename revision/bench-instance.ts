/**
 * `npm run bench:instance [-- --runs N] [--fresh-runs N] [--skip-start]`: medians of
 *
 * - the image built on a fresh machine (empty cache: Node.js download + debootstrap), --fresh-runs times (default 1: minutes each);
 * - the image found in the cache;
 * - an instance booted to `running` (baseline: the same image run by systemd-nspawn without booting, /bin/true);
 * - one full deployment of the revision by the real agent onto a booted instance (baseline: the
 *   same agent and revision in the mount-namespace fallback, no container);
 * - `npm start` warm (every stage, the cache already full).
 *
 * Each line prints the median, min/max, the target, and the ratio to its baseline where it has one.
 * Exits 1 when a median misses its target. Settings as for npm start (revision/instance-settings.ts).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { median } from "../scripts/stats.js";
import { locateAgent } from "./agent-source.js";
import { buildBundle } from "./bundle.js";
import { ensureImage, fleetNodeForImage } from "./image.js";
import { LocalInstance } from "./instance.js";
import { instanceSettings } from "./instance-settings.js";
import { NamespaceInstance } from "./namespace-instance.js";

const DEV = { applicationName: "mpg-model-dev", deploymentGroupName: "mpg-model-dev" } as const;

interface Row {
  readonly name: string;
  readonly times: number[];
  readonly targetMs?: number;
  readonly baseline?: { readonly name: string; readonly times: number[] };
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: { runs: { type: "string", default: "3" }, "fresh-runs": { type: "string", default: "1" }, "skip-start": { type: "boolean", default: false } },
      strict: true,
      allowPositionals: false,
    }));
    for (const key of ["runs", "fresh-runs"] as const) if (!/^\d+$/.test(values[key]) || Number(values[key]) > 20) throw new Error(`--${key} must be a whole number from 0 to 20`);
  } catch (e) {
    console.error(`npm run bench:instance: ${(e as Error).message}\nusage: npm run bench:instance [-- --runs N] [--fresh-runs N] [--skip-start]`);
    return 2;
  }
  const runs = Math.max(1, Number(values.runs));
  const repoDir = resolve(import.meta.dirname, "..");
  const settings = instanceSettings(process.env);
  const agent = await locateAgent({ repoDir, cacheDir: settings.cacheDir, ...(settings.agentDir ? { configuredDir: settings.agentDir } : {}) });
  const rows: Row[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "mpg10-bench-"));
  const say = (l: string) => console.log(l);
  try {
    const fresh: number[] = [];
    for (let i = 0; i < Number(values["fresh-runs"]); i++) {
      const cacheDir = mkdtempSync(join(scratch, "fresh-cache-"));
      const t0 = performance.now();
      await ensureImage({ cacheDir, settings: settings.image, node: fleetNodeForImage(cacheDir) });
      fresh.push(performance.now() - t0);
      say(`fresh image build ${i + 1}: ${s(fresh.at(-1)!)}`);
      rmSync(cacheDir, { recursive: true, force: true });
    }
    if (fresh.length) rows.push({ name: "image build, fresh machine", times: fresh, targetMs: 180_000 });

    const image = await ensureImage({ cacheDir: settings.cacheDir, settings: settings.image, node: fleetNodeForImage(settings.cacheDir), log: say });
    const cached: number[] = [];
    for (let i = 0; i < runs; i++) cached.push((await ensureImage({ cacheDir: settings.cacheDir, settings: settings.image, node: fleetNodeForImage(settings.cacheDir) })).ms);
    rows.push({ name: "image from cache", times: cached, targetMs: 5_000 });

    const bundle = (await buildBundle({ repoDir, outDir: join(scratch, "bundle") })).zipPath;
    const boots: number[] = [];
    const deploys: number[] = [];
    const bare: number[] = [];
    const namespaceDeploys: number[] = [];
    for (let i = 0; i < runs; i++) {
      let t0 = performance.now();
      const r = await run("systemd-nspawn", [
        "--quiet",
        `--directory=${image.rootfs}`,
        `--machine=mpg10-bench-bare-${i}`,
        "--register=no",
        "--keep-unit",
        "--volatile=overlay",
        "--private-network",
        "/bin/true",
      ]);
      if (r !== 0) throw new Error(`systemd-nspawn /bin/true exited ${r}`);
      bare.push(performance.now() - t0);

      t0 = performance.now();
      const instance = await LocalInstance.boot({ name: `mpg10-bench-${i}`, image, agent });
      boots.push(performance.now() - t0);
      try {
        const d = await instance.deploy(bundle, DEV);
        if (d.status !== "Succeeded") throw new Error(`deployment failed at ${d.failure?.event}: ${d.failure?.reason}`);
        deploys.push(d.ms);
      } finally {
        await instance.stop();
      }
      const ns = await NamespaceInstance.boot({ name: `mpg10-bench-ns-${i}`, agent, scratchParent: scratch });
      try {
        const d = await ns.deploy(bundle, DEV);
        if (d.status !== "Succeeded") throw new Error(`fallback deployment failed at ${d.failure?.event}: ${d.failure?.reason}`);
        namespaceDeploys.push(d.ms);
      } finally {
        await ns.stop();
      }
      say(`run ${i + 1}: boot ${s(boots.at(-1)!)} (bare nspawn ${s(bare.at(-1)!)}), deployment ${s(deploys.at(-1)!)} (fallback ${s(namespaceDeploys.at(-1)!)})`);
    }
    rows.push({ name: "boot to running", times: boots, targetMs: 10_000, baseline: { name: "nspawn /bin/true, no boot", times: bare } });
    rows.push({ name: "full agent deployment", times: deploys, targetMs: 15_000, baseline: { name: "same agent, namespace fallback", times: namespaceDeploys } });

    if (!values["skip-start"]) {
      const starts: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const code = await run("npm", ["start", "--silent"], repoDir);
        if (code !== 0) throw new Error(`npm start exited ${code}`);
        starts.push(performance.now() - t0);
        say(`npm start ${i + 1}: ${s(starts.at(-1)!)}`);
      }
      rows.push({ name: "npm start, warm", times: starts, targetMs: 90_000 });
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  console.log("\nmedians");
  let ok = true;
  for (const row of rows) {
    const m = median(row.times);
    const sorted = [...row.times].sort((a, b) => a - b);
    const target = row.targetMs === undefined ? "" : `target < ${s(row.targetMs)} ${m < row.targetMs ? "✔" : "✖"}`;
    const ratio = row.baseline ? `  ${(m / median(row.baseline.times)).toFixed(1)}x ${row.baseline.name} (${s(median(row.baseline.times))})` : "";
    console.log(`  ${row.name.padEnd(28)} ${s(m).padStart(8)}  (min ${s(sorted[0]!)}, max ${s(sorted.at(-1)!)}, n=${row.times.length})  ${target}${ratio}`);
    if (row.targetMs !== undefined && m >= row.targetMs) ok = false;
  }
  return ok ? 0 : 1;
}

function s(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function run(command: string, args: string[], cwd?: string): Promise<number | null> {
  return new Promise((r) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "ignore", "inherit"] });
    child.on("close", (code) => r(code));
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`npm run bench:instance: ${(e as Error).message}`);
    process.exit(1);
  },
);
