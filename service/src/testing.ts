/** Test helpers (not a spec): a real app on a loopback port, and a real bundled server process. */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import { join } from "node:path";
import { pino } from "pino";
import { type AppOptions, buildApp, type App } from "./app.js";
import { exampleCar, type Manifest } from "./manifest.js";
import { type Instance, Model } from "./model.js";

export const MODEL_DIR = join(import.meta.dirname, "..", "model");

/** The example car of the committed model (its manifest's first smoke case). */
export const EXAMPLE_CAR: Readonly<Instance> = exampleCar(MODEL_DIR);

export interface RunningApp {
  app: App;
  model: Model;
  url: string;
  /** The /metrics listener. */
  metricsUrl: string;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** buildApp + listen (service and metrics) on 127.0.0.1:0, with logs captured as parsed JSON lines. */
export async function startApp(opts: Partial<Omit<AppOptions, "model" | "logger">> & { manifest?: (m: Manifest) => Manifest } = {}): Promise<RunningApp> {
  const loaded = await Model.load(MODEL_DIR);
  let model = loaded;
  if (opts.manifest) {
    const { readFile } = await import("node:fs/promises");
    model = await Model.fromBytes(opts.manifest(structuredClone(loaded.manifest)), await readFile(join(MODEL_DIR, "model.onnx")));
    await loaded.close();
  }
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const { manifest: _, ...rest } = opts;
  // Overload protection off unless a test asks for it: the test client shares this event loop, and a busy CI
  // machine lags it past any limit (the protection's own tests set their limits).
  const app = buildApp({
    ...rest,
    model,
    logger,
    maxBatchRows: opts.maxBatchRows ?? 1000,
    bodyLimitBytes: opts.bodyLimitBytes ?? 1024 * 1024,
    overload: opts.overload ?? { maxEventLoopDelayMs: 0, maxInFlight: 0 },
  });
  const { port } = await app.listen(0, "127.0.0.1");
  const { port: metricsPort } = await app.listenMetrics(0, "127.0.0.1");
  return {
    app,
    model,
    url: `http://127.0.0.1:${port}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
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
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", METRICS_PORT: "0", ...env },
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
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", METRICS_PORT: "0", ...env },
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

export interface KeepAliveLoadResult {
  /** Requests fully handed to the kernel by the client. */
  sent: number;
  answered: number;
  /** Sent in full, then the connection closed or reset with no answer: a lost request. */
  lost: number;
  /** Of those, lost as the first request of a new connection (accepted by the kernel, in the listen backlog, when the listener closed). */
  lostOnNewConnection: number;
  /** Answers that carried Connection: close. */
  closing: number;
  /** Connections refused (the listener was closed). */
  refused: number;
  statuses: Record<number, number>;
}

/**
 * `connections` raw keep-alive HTTP/1.1 clients, each sending `request` again as soon as the previous answer is
 * complete, and reconnecting after an answer with Connection: close (as wrk and load balancers do), until stop().
 * Counts, per request, whether it was fully written and whether an answer came back: what a shutdown must not lose.
 */
export function keepAliveLoad(port: number, connections: number, request: string): { stop(): Promise<KeepAliveLoadResult> } {
  const r: KeepAliveLoadResult = { sent: 0, answered: 0, lost: 0, lostOnNewConnection: 0, closing: 0, refused: 0, statuses: {} };
  let running = true;
  const loops: Promise<void>[] = [];
  const one = () =>
    new Promise<void>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      let buf = "";
      let outstanding = false; // a request fully written and not answered
      let closeAfter = false;
      let answers = 0;
      const send = () => {
        if (!running || closeAfter) {
          socket.end();
          return;
        }
        socket.write(request, (err) => {
          if (!err) {
            r.sent++;
            outstanding = true;
          }
        });
      };
      socket.on("connect", send);
      socket.on("data", (d: Buffer) => {
        buf += d.toString("latin1");
        for (;;) {
          const end = buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          const head = buf.slice(0, end);
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length < end + 4 + length) return;
          buf = buf.slice(end + 4 + length);
          const status = Number(head.slice(9, 12));
          r.statuses[status] = (r.statuses[status] ?? 0) + 1;
          r.answered++;
          answers++;
          outstanding = false;
          if (/\r\nconnection: *close/i.test(head)) {
            r.closing++;
            closeAfter = true;
          }
          send();
        }
      });
      socket.on("error", (err: NodeJS.ErrnoException) => {
        if (err.code === "ECONNREFUSED") r.refused++;
      });
      socket.on("close", () => {
        if (outstanding) {
          r.lost++;
          if (answers === 0) r.lostOnNewConnection++;
        }
        resolve();
      });
    });
  for (let i = 0; i < connections; i++) {
    loops.push(
      (async () => {
        while (running) {
          await one();
          if (running) await new Promise((res) => setTimeout(res, 5));
        }
      })(),
    );
  }
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return r;
    },
  };
}
