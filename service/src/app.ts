/**
 * The HTTP app on node:http: routes, body handling, validation, errors,
 * metrics, readiness and graceful close. Built by a function with no side
 * effects; it listens only when asked (main.ts owns the process).
 *
 * node:http rather than fastify, by measurement (service/README.md): the same
 * service on both cost the same CPU per request (54 vs 55 µs, A/B in one run),
 * and node:http halves the bundle (1.1 vs 2.5 MB) and the start-up time. What
 * fastify provided (body limit, content types, JSON errors, timeouts, close
 * semantics) is below, and the HTTP tests cover each of those.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { Batcher } from "./batcher.js";
import { modelMetadata, parseInferRequest } from "./kserve.js";
import { createMetrics } from "./metrics.js";
import type { Model } from "./model.js";
import { type PredictBody, predictBodySchema, RequestError, invalid, toFieldIssues } from "./validation.js";

export interface AppOptions {
  model: Model;
  logger: Logger;
  maxBatchRows: number;
  bodyLimitBytes: number;
  /** Version of this service build, for /version. */
  serviceVersion?: string;
}

export interface App {
  server: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** /ready and /v2/health/ready answer 200 only while this is true (set after warm-up, cleared on shutdown). */
  setReady(ready: boolean): void;
  isReady(): boolean;
  /**
   * Graceful close: not ready, no new connections, idle keep-alive sockets
   * closed, in-flight requests finish and their connections close after the
   * response, requests arriving meanwhile on open connections get 503.
   * Resolves when the last connection is gone.
   */
  shutdown(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MODEL_ROUTE = /^\/v2\/models\/([^/]+)(\/ready|\/infer)?$/;
const STATIC_ROUTES = new Set(["/predict", "/health", "/ready", "/version", "/metrics", "/v2", "/v2/health/live", "/v2/health/ready"]);

interface Reply {
  status: number;
  body: string;
  contentType?: string;
}

const json = (status: number, value: unknown): Reply => ({ status, body: JSON.stringify(value) });

export function buildApp(opts: AppOptions): App {
  const { model, maxBatchRows, bodyLimitBytes, logger } = opts;
  const m = model.manifest;
  let ready = false;
  let draining = false;
  const metrics = createMetrics(m);
  const batcher = new Batcher(model);
  const predictSchema = predictBodySchema(m, maxBatchRows);
  const modelRef = { name: m.name, version: m.version };
  const predictRows = metrics.rows.labels("/predict");
  const inferRows = metrics.rows.labels("/v2/infer");
  // Label children cached per route/method/status: prom-client validates and hashes labels on every call otherwise.
  const counters = new Map<string, { inc(): void }>();
  const timers = new Map<string, { observe(v: number): void }>();

  function record(route: string, method: string, status: number, seconds: number): void {
    const ck = `${route} ${method} ${status}`;
    let counter = counters.get(ck);
    if (!counter) counters.set(ck, (counter = metrics.requests.labels(route, method, String(status))));
    counter.inc();
    const tk = `${route} ${method}`;
    let timer = timers.get(tk);
    if (!timer) timers.set(tk, (timer = metrics.latency.labels(route, method)));
    timer.observe(seconds);
  }

  /** The JSON body, or a RequestError naming content-type / (body). */
  function readJson(req: IncomingMessage): Promise<unknown> {
    const contentType = req.headers["content-type"];
    const essence = contentType?.split(";", 1)[0]!.trim().toLowerCase();
    if (essence !== "application/json") {
      const message = `must be application/json, got ${contentType === undefined ? "none" : JSON.stringify(contentType)}`;
      return Promise.reject(new RequestError(415, `content-type: ${message}`, [{ field: "content-type", message }]));
    }
    const tooLarge = () => {
      const message = `larger than the limit of ${bodyLimitBytes} bytes`;
      return new RequestError(413, `(body): ${message}`, [{ field: "(body)", message }]);
    };
    const declared = Number(req.headers["content-length"]);
    if (declared > bodyLimitBytes) return Promise.reject(tooLarge());
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      req.on("data", (chunk: Buffer) => {
        if (failed) return;
        size += chunk.length;
        if (size > bodyLimitBytes) {
          failed = true;
          reject(tooLarge());
          return;
        }
        chunks.push(chunk);
      });
      const aborted = () => {
        if (failed) return;
        failed = true;
        const message = "the client closed the connection before the body was complete";
        reject(new RequestError(400, `(body): ${message}`, [{ field: "(body)", message }]));
      };
      req.on("error", aborted);
      req.on("close", () => {
        if (!req.complete) aborted();
      });
      req.on("end", () => {
        if (failed) return;
        const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8");
        if (text.length === 0) {
          const message = "empty, but content-type is application/json";
          reject(new RequestError(400, `(body): ${message}`, [{ field: "(body)", message }]));
          return;
        }
        try {
          // "__proto__"/"constructor" keys arrive as plain own properties and are refused by the strict schemas.
          resolve(JSON.parse(text));
        } catch (e) {
          const message = `not valid JSON: ${(e as Error).message}`;
          reject(new RequestError(400, `(body): ${message}`, [{ field: "(body)", message }]));
        }
      });
    });
  }

  async function predict(instances: PredictBody["instances"], rows: { inc(n: number): void }): Promise<Float32Array> {
    const out = await batcher.predict(model.encode(instances), instances.length);
    rows.inc(instances.length);
    return out;
  }

  const known = (name: string) => {
    if (name !== m.name) throw new RequestError(404, `model "${name}" not found; this server serves "${m.name}"`);
  };

  async function route(req: IncomingMessage, method: string, path: string): Promise<Reply> {
    if (method === "POST" && path === "/predict") {
      const parsed = predictSchema.safeParse(await readJson(req));
      if (!parsed.success) throw invalid(toFieldIssues(parsed.error));
      const out = await predict(parsed.data.instances as PredictBody["instances"], predictRows);
      return json(200, { predictions: Array.from(out), model: modelRef });
    }
    if (method === "GET") {
      switch (path) {
        case "/health":
          return json(200, { status: "ok" });
        case "/ready":
          return ready ? json(200, { status: "ready" }) : json(503, { status: "not ready" });
        case "/version":
          return json(200, {
              model: { name: m.name, version: m.version, created_at: m.created_at, sha256: m.model_sha256, metrics: m.metrics.holdout },
              service: { version: opts.serviceVersion ?? "dev", node: process.version },
          });
        case "/metrics":
          return { status: 200, body: await metrics.registry.metrics(), contentType: metrics.registry.contentType };
        // KServe / Open Inference Protocol v2
        case "/v2":
          return json(200, { name: "auto-mpg-service", version: opts.serviceVersion ?? "dev", extensions: [] });
        case "/v2/health/live":
          return json(200, { live: true });
        case "/v2/health/ready":
          return ready ? json(200, { ready: true }) : json(503, { ready: false });
      }
    }
    const match = MODEL_ROUTE.exec(path);
    if (match) {
      let name: string;
      try {
        name = decodeURIComponent(match[1]!);
      } catch {
        throw new RequestError(400, `model name in the path is not valid percent-encoding: ${match[1]}`, [{ field: "name", message: "not valid percent-encoding" }]);
      }
      const sub = match[2];
      if (method === "GET" && sub === undefined) {
        known(name);
        return json(200, modelMetadata(m));
      }
      if (method === "GET" && sub === "/ready") {
        known(name);
        return ready ? json(200, { name: m.name, ready: true }) : json(503, { name: m.name, ready: false });
      }
      if (method === "POST" && sub === "/infer") {
        known(name);
        const body = await readJson(req);
        const r = parseInferRequest(body, m, maxBatchRows);
        const out = await predict(r.instances, inferRows);
        return json(200, {
            model_name: m.name,
            model_version: m.version,
            ...(r.id !== undefined ? { id: r.id } : {}),
            outputs: [{ name: m.target.name, datatype: "FP32", shape: [r.instances.length], data: Array.from(out) }],
        });
      }
    }
    throw new RequestError(404, `no route ${method} ${path}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const given = req.headers["x-request-id"];
    const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const template = templateOf(path);
    let reply: Reply;
    // After an early refusal (413/415) the rest of the body is not read: close the connection rather than parse it as a request.
    let closeAfter = false;
    if (draining) {
      reply = json(503, { error: "shutting down", request_id: id });
      closeAfter = true;
    } else {
      try {
        reply = await route(req, method, path);
      } catch (err) {
        if (err instanceof RequestError) {
          reply = json(err.statusCode, { error: err.message, issues: err.issues, request_id: id });
          closeAfter = err.statusCode === 413 || err.statusCode === 415;
          logger.info({ reqId: id, method, url, statusCode: err.statusCode, error: err.message }, "request refused");
        } else {
          reply = json(500, { error: "internal error", request_id: id });
          logger.error({ reqId: id, method, url, err }, "request failed");
        }
      }
    }
    if (res.destroyed) return; // the client went away
    res.writeHead(reply.status, {
      "content-type": reply.contentType ?? "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(reply.body),
      "x-request-id": id,
      // A request in flight when shutdown began: answer it, then close its keep-alive connection
      // (server.close() only closes connections that are idle at that moment).
      ...(draining || closeAfter ? { connection: "close" } : {}),
    });
    res.end(reply.body);
    const seconds = (performance.now() - started) / 1000;
    record(template, method, reply.status, seconds);
    if (reply.status < 400 && logger.isLevelEnabled("debug")) {
      logger.debug({ reqId: id, method, url, statusCode: reply.status, responseTime: seconds * 1000 }, "request completed");
    }
  }

  /** Only route templates become metric labels; anything else (404s, typos) is "unmatched", so label cardinality stays bounded. */
  function templateOf(path: string): string {
    if (STATIC_ROUTES.has(path)) return path;
    const match = MODEL_ROUTE.exec(path);
    return match ? `/v2/models/:name${match[2] ?? ""}` : "unmatched";
  }

  const server = createServer(
    {
      // Explicit timeouts: a slow or stuck client cannot hold a socket forever.
      requestTimeout: 30_000,
      headersTimeout: 10_000,
      // Longer than an ALB's 60 s idle timeout, so the balancer, not the service, closes idle connections.
      keepAliveTimeout: 65_000,
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        logger.error({ err }, "response failed");
        res.destroy();
      });
    },
  );
  // Malformed HTTP (bad request line, oversized headers): a JSON 4xx, then close.
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    const body = JSON.stringify({ error: `malformed request: ${err.code ?? "unknown"}` });
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    setReady: (r) => {
      ready = r;
    },
    isReady: () => ready,
    shutdown: () =>
      new Promise((resolve, reject) => {
        ready = false;
        draining = true;
        if (!server.listening) {
          resolve();
          return;
        }
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
