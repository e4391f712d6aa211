/** Test helpers (not a spec): a real app on a loopback port, and a real bundled server process. */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { pino } from "pino";
import { buildApp, type App } from "./app.js";
import type { Manifest } from "./manifest.js";
import { Model } from "./model.js";

export const MODEL_DIR = join(import.meta.dirname, "..", "model");

export const CHEVELLE = {
  cylinders: 8,
  displacement: 307,
  horsepower: 130,
  weight: 3504,
  acceleration: 12,
  model_year: 1970,
  origin: "USA",
} as const;

export interface RunningApp {
  app: App;
  model: Model;
  url: string;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** buildApp + listen on 127.0.0.1:0, with logs captured as parsed JSON lines. */
export async function startApp(opts: { maxBatchRows?: number; bodyLimitBytes?: number; manifest?: (m: Manifest) => Manifest } = {}): Promise<RunningApp> {
  const loaded = await Model.load(MODEL_DIR);
  let model = loaded;
  if (opts.manifest) {
    const { readFile } = await import("node:fs/promises");
    model = await Model.fromBytes(opts.manifest(structuredClone(loaded.manifest)), await readFile(join(MODEL_DIR, "model.onnx")));
    await loaded.close();
  }
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const app = buildApp({ model, logger, maxBatchRows: opts.maxBatchRows ?? 1000, bodyLimitBytes: opts.bodyLimitBytes ?? 1024 * 1024 });
  const { port } = await app.listen(0, "127.0.0.1");
  return {
    app,
    model,
    url: `http://127.0.0.1:${port}`,
    logs,
    close: async () => {
      await app.shutdown();
      await model.close();
    },
  };
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  port: number;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawn a server (node + bundle) and wait for its "ready" log line, or for it to exit. */
export async function spawnServer(bundle: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [bundle], {
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  // "close", not "exit": close fires after the child's stdout/stderr are drained, so no output is lost.
  const exit = once(child, "close").then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const port = await new Promise<number>((resolve, reject) => {
    const check = () => {
      for (const line of out.split("\n")) {
        if (!line.startsWith("{")) continue;
        const rec = JSON.parse(line) as { msg?: string; port?: number };
        if (rec.msg === "ready" && typeof rec.port === "number") {
          child.stdout!.off("data", check);
          resolve(rec.port);
        }
      }
    };
    child.stdout!.on("data", check);
    void exit.then(({ code }) => reject(new Error(`server exited with ${code} before ready\nstdout: ${out}\nstderr: ${err}`)));
  });
  return { child, port, url: `http://127.0.0.1:${port}`, stdout: () => out, stderr: () => err, exit };
}

/** Run a server expected to fail at start; resolves with its exit code and output. */
export async function runToExit(bundle: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bundle], {
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  const [code] = (await once(child, "close")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}
