/**
 * The real bundled server as a real process: start-up failures (config,
 * model) and graceful shutdown. make_prediction.sh has its own spec beside it.
 */
import { once } from "node:events";
import { cp, mkdtemp, readFile, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { request as httpRequest, Agent } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildService } from "../build.js";
import { sha256 } from "./manifest.js";
import { EXAMPLE_CAR, keepAliveLoad, MODEL_DIR, runToExit, spawnServer } from "./testing.js";

let work: string;
let bundle: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "svc-"));
  // The external onnxruntime-node resolves through a node_modules beside the bundle, as in a deployed revision.
  await symlink(join(import.meta.dirname, "..", "..", "node_modules"), join(work, "node_modules"), "dir");
  ({ outfile: bundle } = await buildService(join(work, "dist"), { modelDir: MODEL_DIR }));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A copy of the committed model dir that a test may break. */
async function modelCopy(name: string, edit?: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(work, name);
  await cp(MODEL_DIR, dir, { recursive: true });
  if (edit) await edit(dir);
  return dir;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a manifest being deliberately broken, any shape allowed
type AnyJson = Record<string, any>;
async function editManifest(dir: string, f: (m: AnyJson) => void): Promise<void> {
  const p = join(dir, "manifest.json");
  const m = JSON.parse(await readFile(p, "utf8")) as AnyJson;
  f(m);
  await writeFile(p, JSON.stringify(m));
}

describe("the bundle", () => {
  it("inlines everything but onnxruntime-node", async () => {
    const text = await readFile(bundle, "utf8");
    expect(text).toMatch(/from "onnxruntime-node"/);
    expect(text).not.toMatch(/from "(pino|zod|prom-client)"/);
  });

  it("names no source map (a revision ships server.mjs alone)", async () => {
    expect(await readFile(bundle, "utf8")).not.toMatch(/sourceMappingURL/);
  });
});

describe.concurrent("start-up refuses bad configuration with a clear message and exit 1", () => {
  it.each([
    [{ PORT: "http" }, /whole number[\s\S]*PORT/],
    [{ PORT: "70000" }, /PORT/],
    [{ LOG_LEVEL: "loud" }, /LOG_LEVEL/],
    [{ MAX_BATCH_ROWS: "0" }, /MAX_BATCH_ROWS/],
    [{ BODY_LIMIT_BYTES: "2048" }, /MAX_BATCH_ROWS[\s\S]*BODY_LIMIT_BYTES/],
    [{ HOST: "my host!" }, /HOST/],
  ])("%o", async (env, message) => {
    const r = await runToExit(bundle, env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid configuration/);
    expect(r.stderr).toMatch(message);
  });
});

describe.concurrent("start-up refuses a missing, corrupt or mismatched model with exit 1", () => {
  const cases: [string, (dir: string) => Promise<void>, RegExp][] = [
    ["no model directory", async (d) => rm(d, { recursive: true }), /cannot read model manifest .*ENOENT/],
    ["manifest is not JSON", async (d) => writeFile(join(d, "manifest.json"), "{ not json"), /manifest.json: not valid JSON/],
    ["manifest lacks model_sha256", async (d) => editManifest(d, (m) => delete m.model_sha256), /invalid manifest[\s\S]*model_sha256/],
    ["model file missing", async (d) => unlink(join(d, "model.onnx")), /cannot read model file .*model.onnx: ENOENT/],
    [
      "model file altered (one byte)",
      async (d) => {
        const p = join(d, "model.onnx");
        const b = await readFile(p);
        b[b.length - 10] = b[b.length - 10]! ^ 0xff;
        await writeFile(p, b);
      },
      /does not match its manifest: SHA-256 is [0-9a-f]{64}, manifest says [0-9a-f]{64}/,
    ],
    [
      "corrupt model with a matching hash",
      async (d) => {
        const junk = Buffer.from("this is not an onnx model");
        await writeFile(join(d, "model.onnx"), junk);
        await editManifest(d, (m) => (m.model_sha256 = sha256(junk)));
      },
      /onnxruntime cannot load the model/,
    ],
    ["manifest names an input the model lacks", async (d) => editManifest(d, (m) => (m.input.name = "features")), /no input named "features"/],
    ["manifest smoke test disagrees with the model", async (d) => editManifest(d, (m) => (m.smoke_test.cases[0].expected += 5)), /warm-up predictions do not match/],
  ];
  it.each(cases)("%s", async (name, edit, message) => {
    const dir = await modelCopy(name.replace(/\W+/g, "-"), edit);
    const r = await runToExit(bundle, { MODEL_DIR: dir });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(message);
    expect(r.stdout).not.toMatch(/"msg":"ready"/);
  });
});

/** Send the headers and part of a /predict body, leaving the request in flight. */
async function startSlowRequest(port: number) {
  const body = JSON.stringify({ instances: [EXAMPLE_CAR] });
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  let response = "";
  socket.on("data", (d: Buffer) => (response += d.toString()));
  const closed = once(socket, "close");
  socket.on("error", () => {}); // a stalled request's connection is closed by the server
  socket.write(`POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
  return {
    finish: async () => {
      socket.write(body.slice(10));
      await closed;
      return response;
    },
    response: () => response,
  };
}

describe("keep-alive", () => {
  it("closes an idle keep-alive connection after KEEP_ALIVE_TIMEOUT_MS (the deployment sets it above the load balancer's idle timeout), not before", async () => {
    const srv = await spawnServer(bundle, { KEEP_ALIVE_TIMEOUT_MS: "1500" });
    try {
      const socket = connect(srv.port, "127.0.0.1");
      await once(socket, "connect");
      let answer = "";
      socket.on("data", (d: Buffer) => (answer += d.toString()));
      socket.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
      while (!answer.includes('{"status":"ok"}')) await new Promise((r) => setTimeout(r, 5));
      const idleSince = performance.now();
      await once(socket, "close");
      const idleMs = performance.now() - idleSince;
      expect(answer).toMatch(/keep-alive: timeout=1\r\n/i);
      expect(idleMs).toBeGreaterThanOrEqual(1400);
      expect(idleMs).toBeLessThan(6000);
    } finally {
      srv.child.kill("SIGKILL");
      await srv.exit;
    }
  });
});

describe("graceful shutdown", () => {
  it("on SIGTERM finishes the in-flight request with Connection: close, refuses new connections, and closes idle and stalled connections within a second, exit 0", async () => {
    const srv = await spawnServer(bundle, { SHUTDOWN_TIMEOUT_MS: "5000" });
    // An idle keep-alive connection: must not hold the shutdown up.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const idleClosed = new Promise<void>((resolve) => {
      const req = httpRequest({ port: srv.port, host: "127.0.0.1", path: "/health", agent }, (res) => {
        res.resume();
        res.on("end", () => {
          req.socket?.once("close", () => resolve());
        });
      });
      req.end();
    });
    const inflight = await startSlowRequest(srv.port); // finished after SIGTERM
    const stalled = await startSlowRequest(srv.port); // never finished
    await new Promise((r) => setTimeout(r, 100));

    const t0 = Date.now();
    srv.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 100));
    // New connections are refused while the in-flight request is still open.
    await expect(fetch(`${srv.url}/health`)).rejects.toThrow();
    expect(srv.child.exitCode).toBeNull();

    const response = await inflight.finish();
    expect(response).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(response).toMatch(/"predictions":\[1\d\.\d+\]/);
    expect(response).toMatch(/\r\nconnection: close\r\n/i);
    await idleClosed; // the server closed the idle socket
    const exit = await srv.exit;
    expect(exit, srv.stdout()).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(stalled.response()).toBe(""); // closed without an answer: its request was never complete
    expect(srv.stdout()).toMatch(/"msg":"stopped"/);
    agent.destroy();
  });

  it("loses no fully-sent request when SIGTERM arrives under keep-alive load, and every answer after it says Connection: close", async () => {
    const srv = await spawnServer(bundle, { SHUTDOWN_TIMEOUT_MS: "5000" });
    // GET /health answers within the same event-loop turn, so connections are often idle between requests: the case
    // http.Server.close() resets (all 32 connections lost their request in every run before).
    const load = keepAliveLoad(srv.port, 32, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise((r) => setTimeout(r, 500));
    srv.child.kill("SIGTERM");
    const exit = await srv.exit;
    const r = await load.stop();
    expect(exit, srv.stdout()).toEqual({ code: 0, signal: null });
    expect(r.answered).toBeGreaterThan(100);
    // A connection still in the kernel's accept queue when the listener closes is reset by the
    // kernel before the process ever sees it: no server can answer it. On an instance the load
    // balancer has deregistered it (BlockTraffic) before ApplicationStop sends SIGTERM, so that
    // queue is empty. What the service owns: nothing lost on a connection it had accepted.
    expect(r.lost - r.lostOnNewConnection, JSON.stringify(r)).toBe(0);
    expect(r.statuses, JSON.stringify(r)).toEqual({ 200: r.answered });
    expect(r.closing).toBeGreaterThanOrEqual(1);
  });

  it("exits 1 when in-flight work outlasts SHUTDOWN_TIMEOUT_MS", async () => {
    const srv = await spawnServer(bundle, { SHUTDOWN_TIMEOUT_MS: "300" });
    // A body still arriving, a byte every 50 ms: progress, so the drain waits for it.
    const socket = connect(srv.port, "127.0.0.1");
    await once(socket, "connect");
    socket.on("error", () => {});
    socket.write("POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n");
    const trickle = setInterval(() => socket.write(" "), 50);
    try {
      await new Promise((r) => setTimeout(r, 100));
      const t0 = Date.now();
      srv.child.kill("SIGTERM");
      const exit = await srv.exit;
      expect(exit.code).toBe(1);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(srv.stdout()).toMatch(/graceful shutdown timed out/);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });

  it("exits 1 at once on a second signal", async () => {
    const srv = await spawnServer(bundle, { SHUTDOWN_TIMEOUT_MS: "20000" });
    const socket = connect(srv.port, "127.0.0.1");
    await once(socket, "connect");
    socket.on("error", () => {});
    socket.write("POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n");
    const trickle = setInterval(() => socket.write(" "), 50);
    try {
      await new Promise((r) => setTimeout(r, 100));
      srv.child.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 100));
      srv.child.kill("SIGINT");
      const exit = await srv.exit;
      expect(exit.code).toBe(1);
      expect(srv.stdout()).toMatch(/second signal/);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });
});
