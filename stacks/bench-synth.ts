/**
 * `npm run bench:synth`: how long synthesis of every stack takes.
 *   1. the app exactly as `cdktf synth` runs it (cdktf.json "app": esbuild + node), 5 runs;
 *   2. `cdktf synth` through the CLI, 5 runs;
 *   3. the same program with every deep provider import rewritten to the barrel import
 *      (`@cdktf/provider-aws`), against the deep-import program, both prebuilt, 5 runs each.
 * Medians, because these machines are noisy. Each run is a fresh process.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build, type Plugin } from "esbuild";
import { median } from "../scripts/stats.js";

const ROOT = resolve(import.meta.dirname, "..");
const RUNS = Number(process.argv[2] ?? 5);
const DEEP_IMPORT = /^@cdktf\/provider-aws\/lib\/([a-z0-9-]+)\/index\.js$/;

/** Wall time of one run of a command, in seconds; a failed run aborts the benchmark. */
function timeRun(command: string, args: string[], env: NodeJS.ProcessEnv): number {
  const start = performance.now();
  const result = spawnSync(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const seconds = (performance.now() - start) / 1000;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status}):\n${result.stderr}`);
  return seconds;
}

function measure(label: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  const runs = Array.from({ length: RUNS }, () => timeRun(command, args, env));
  const m = median(runs);
  console.log(`${label.padEnd(58)} median ${m.toFixed(2)} s   runs ${runs.map((r) => r.toFixed(2)).join(" ")}`);
  return m;
}

/** Resolves each deep provider import to the matching namespace of the barrel module. */
const barrelImports: Plugin = {
  name: "provider-barrel",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: DEEP_IMPORT }, (args) => ({ path: DEEP_IMPORT.exec(args.path)![1]!, namespace: "barrel" }));
    pluginBuild.onLoad({ filter: /.*/, namespace: "barrel" }, (args) => {
      const namespace = args.path.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
      return { contents: `module.exports = require("@cdktf/provider-aws").${namespace};`, loader: "js", resolveDir: ROOT };
    });
  },
};

async function prebuild(outfile: string, plugins: Plugin[]): Promise<void> {
  await build({
    entryPoints: [join(ROOT, "main.ts")],
    outfile,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    plugins,
    // The barrel is CommonJS: give the ESM bundle a require() for it.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
}

async function main(): Promise<void> {
  const app = JSON.parse(readFileSync(join(ROOT, "cdktf.json"), "utf8")).app as string;
  const [command, ...args] = app.split(" ");
  const outdir = await mkdtemp(join(tmpdir(), "bench-synth-"));
  const env = { CDKTF_OUTDIR: outdir, CHECKPOINT_DISABLE: "1" };
  // Prebuilt bundles live beside main.ts so that module resolution is the same as the app's.
  const deep = join(ROOT, `.bench-deep.app.mjs`);
  const barrel = join(ROOT, `.bench-barrel.app.mjs`);
  try {
    console.log(`synthesis of every stack, ${RUNS} runs each (node ${process.version})`);
    const appSeconds = measure(`app as cdktf runs it: ${app}`, command!, args, env);
    const cliSeconds = measure("cdktf synth (CLI)", join(ROOT, "node_modules", ".bin", "cdktf"), ["synth", "--output", outdir], env);
    await prebuild(deep, []);
    await prebuild(barrel, [barrelImports]);
    const deepSeconds = measure("prebuilt program, deep provider imports", process.execPath, [deep], env);
    const barrelSeconds = measure("prebuilt program, barrel provider import (baseline)", process.execPath, [barrel], env);
    console.log("");
    console.log(`app median ${appSeconds.toFixed(2)} s (target < 2 s); CLI median ${cliSeconds.toFixed(2)} s (CLI overhead ${(cliSeconds - appSeconds).toFixed(2)} s)`);
    console.log(
      `deep imports vs barrel import: ${deepSeconds.toFixed(2)} s vs ${barrelSeconds.toFixed(2)} s, ratio ${(deepSeconds / barrelSeconds).toFixed(2)} (${(barrelSeconds / deepSeconds).toFixed(1)}x faster)`,
    );
  } finally {
    await Promise.all([rm(outdir, { recursive: true, force: true }), rm(deep, { force: true }), rm(barrel, { force: true })]);
  }
}

await main();
