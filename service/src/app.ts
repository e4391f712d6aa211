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
import { createMetrics, type RouteStats } from "./metrics.js";
import type { Model } from "./model.js";
import { compilePredictCheck, type PredictBody, predictBodySchema, RequestError, invalid, toFieldIssues } from "./validation.js";

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
const JSON_TYPE = "application/json; charset=utf-8";

export function buildApp(opts: AppOptions): App {
  const { model, maxBatchRows, bodyLimitBytes, logger } = opts;
  const m = model.manifest;
  let ready = false;
  let draining = false;
  const metrics = createMetrics(m);
  const batcher = new Batcher(model);
  const predictSchema = predictBodySchema(m, maxBatchRows);
  const predictCheck = compilePredictCheck(m, maxBatchRows);
  const modelRef = { name: m.name, version: m.version };
  const predictRows = metrics.rowsOf("/predict");
  const inferRows = metrics.rowsOf("/v2/infer");
  const predictStats = metrics.route("/predict", "POST");
  // The /predict answer, byte for byte what JSON.stringify({ predictions: [...], model: modelRef }) gives (app.spec.ts checks).
  const PREDICTIONS_HEAD = '{"predictions":[';
  const PREDICTIONS_TAIL = `],"model":${JSON.stringify(modelRef)}}`;

  function predictionsBody(out: Float32Array, offset: number, rows: number): string {
    let s = PREDICTIONS_HEAD;
    for (let i = 0; i < rows; i++) {
      const v = out[offset + i]!;
      // JSON.stringify writes a finite number as String(v) and NaN/Infinity as null.
      s += (i === 0 ? "" : ",") + (Number.isFinite(v) ? String(v) : "null");
    }
    return s + PREDICTIONS_TAIL;
  }

  /**
   * The JSON body, or a RequestError naming content-type / (body), delivered to a callback (the /predict hot path has no
   * promise per request). `done` is called exactly once, possibly synchronously (content-type, declared length).
   */
  function readBody(req: IncomingMessage, done: (err: RequestError | undefined, body: unknown) => void): void {
    const contentType = req.headers["content-type"];
    // Fast check for the usual exact header; otherwise the media type essence, case-insensitively.
    if (contentType !== "application/json" && contentType?.split(";", 1)[0]!.trim().toLowerCase() !== "application/json") {
      const message = `must be application/json, got ${contentType === undefined ? "none" : JSON.stringify(contentType)}`;
      done(new RequestError(415, `content-type: ${message}`, [{ field: "content-type", message }]), undefined);
      return;
    }
    const tooLarge = () => {
      const message = `larger than the limit of ${bodyLimitBytes} bytes`;
      return new RequestError(413, `(body): ${message}`, [{ field: "(body)", message }]);
    };
    const declared = Number(req.headers["content-length"]);
    if (declared > bodyLimitBytes) {
      done(tooLarge(), undefined);
      return;
    }
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > bodyLimitBytes) {
        failed = true;
        done(tooLarge(), undefined);
        return;
      }
      if (first === undefined) first = chunk;
      else (chunks ??= [first]).push(chunk);
    });
    const aborted = () => {
      if (failed) return;
      failed = true;
      const message = "the client closed the connection before the body was complete";
      done(new RequestError(400, `(body): ${message}`, [{ field: "(body)", message }]), undefined);
    };
    // A client that hangs up mid-body: the request is destroyed and emits "close" with complete === false (Node emits
    // "error" on an IncomingMessage only when it has an "error" listener, so none is needed; one fewer per request).
    req.on("close", () => {
      if (!req.complete) aborted();
    });
    req.on("end", () => {
      if (failed) return;
      failed = true; // settled: a later "close" must not call done again
      const text = chunks !== undefined ? Buffer.concat(chunks).toString("utf8") : first !== undefined ? first.toString("utf8") : "";
      if (text.length === 0) {
        const message = "empty, but content-type is application/json";
        done(new RequestError(400, `(body): ${message}`, [{ field: "(body)", message }]), undefined);
        return;
      }
      let body: unknown;
      try {
        // "__proto__"/"constructor" keys arrive as plain own properties and are refused by the strict schemas.
        body = JSON.parse(text);
      } catch (e) {
        const message = `not valid JSON: ${(e as Error).message}`;
        done(new RequestError(400, `(body): ${message}`, [{ field: "(body)", message }]), undefined);
        return;
      }
      done(undefined, body);
    });
  }

  function readJson(req: IncomingMessage): Promise<unknown> {
    return new Promise((resolve, reject) => readBody(req, (err, body) => (err ? reject(err) : resolve(body))));
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

  /** A refused or failed request: its reply (logged like every 4xx/5xx). */
  function errorReply(err: unknown, id: string, method: string, url: string): Reply & { closeAfter: boolean } {
    if (err instanceof RequestError) {
      logger.info({ reqId: id, method, url, statusCode: err.statusCode, error: err.message }, "request refused");
      // After an early refusal (413/415) the rest of the body is not read: close the connection rather than parse it as a request.
      return { ...json(err.statusCode, { error: err.message, issues: err.issues, request_id: id }), closeAfter: err.statusCode === 413 || err.statusCode === 415 };
    }
    logger.error({ reqId: id, method, url, err }, "request failed");
    return { ...json(500, { error: "internal error", request_id: id }), closeAfter: false };
  }

  /** Write the answer, then count it (metrics) and log it at debug. */
  function send(
    res: ServerResponse,
    stats: RouteStats,
    started: number,
    id: string,
    method: string,
    url: string,
    status: number,
    body: string,
    contentType: string,
    closeAfter: boolean,
  ): void {
    if (res.destroyed) return; // the client went away
    const headers: Record<string, string | number> = {
      "content-type": contentType,
      "content-length": Buffer.byteLength(body),
      "x-request-id": id,
    };
    // A request in flight when shutdown began: answer it, then close its keep-alive connection
    // (server.close() only closes connections that are idle at that moment).
    if (draining || closeAfter) headers.connection = "close";
    res.writeHead(status, headers);
    res.end(body);
    const seconds = (performance.now() - started) / 1000;
    stats.record(status, seconds);
    if (status < 400 && logger.isLevelEnabled("debug")) {
      logger.debug({ reqId: id, method, url, statusCode: status, responseTime: seconds * 1000 }, "request completed");
    }
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const given = req.headers["x-request-id"];
    const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    if (url === "/predict" && method === "POST" && !draining) predictRequest(req, res, started, id);
    else {
      handleRoute(req, res, started, id, method, url).catch((err: unknown) => {
        logger.error({ err }, "response failed");
        res.destroy();
      });
    }
  }

  /**
   * POST /predict without a promise per request: body callback -> precompiled check (zod only when it declines, and
   * zod then decides and words the refusal) -> batcher callback -> the answer serialized without JSON.stringify.
   * Same statuses, bodies, headers, metrics and logs as the generic route() path (app.spec.ts).
   */
  function predictRequest(req: IncomingMessage, res: ServerResponse, started: number, id: string): void {
    readBody(req, (err, body) => {
      if (err) {
        predictFailed(res, started, id, err);
        return;
      }
      try {
        let instances = predictCheck(body);
        if (instances === undefined) {
          const parsed = predictSchema.safeParse(body);
          if (!parsed.success) throw invalid(toFieldIssues(parsed.error));
          instances = parsed.data.instances as PredictBody["instances"];
        }
        const rows = instances.length;
        batcher.submit(model.encode(instances), rows, (e, out, offset) => {
          if (e !== undefined) {
            predictFailed(res, started, id, e);
            return;
          }
          try {
            predictRows.inc(rows);
            send(res, predictStats, started, id, "POST", "/predict", 200, predictionsBody(out!, offset, rows), JSON_TYPE, false);
          } catch (e2) {
            predictFailed(res, started, id, e2);
          }
        });
      } catch (e) {
        predictFailed(res, started, id, e);
      }
    });
  }

  /** The error answer of /predict; nothing may escape from here into an event emitter or the batcher. */
  function predictFailed(res: ServerResponse, started: number, id: string, err: unknown): void {
    try {
      const r = errorReply(err, id, "POST", "/predict");
      send(res, predictStats, started, id, "POST", "/predict", r.status, r.body, JSON_TYPE, r.closeAfter);
    } catch (e) {
      logger.error({ err: e }, "response failed");
      res.destroy();
    }
  }

  async function handleRoute(req: IncomingMessage, res: ServerResponse, started: number, id: string, method: string, url: string): Promise<void> {
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const stats = metrics.route(templateOf(path), method);
    let reply: Reply;
    let closeAfter = false;
    if (draining) {
      reply = json(503, { error: "shutting down", request_id: id });
      closeAfter = true;
    } else {
      try {
        reply = await route(req, method, path);
      } catch (err) {
        const r = errorReply(err, id, method, url);
        reply = r;
        closeAfter = r.closeAfter;
      }
    }
    send(res, stats, started, id, method, url, reply.status, reply.body, reply.contentType ?? JSON_TYPE, closeAfter);
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
      try {
        handle(req, res);
      } catch (err) {
        logger.error({ err }, "response failed");
        res.destroy();
      }
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
