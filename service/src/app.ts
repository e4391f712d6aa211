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
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, Server as NetServer } from "node:net";
import type { Logger } from "pino";
import { Batcher } from "./batcher.js";
import { clientErrorHandler, type ConnectionErrorCounts } from "./client-errors.js";
import { Connections, type LingerLimits } from "./connections.js";
import { modelMetadata, parseInferRequest } from "./kserve.js";
import { clip, type LogDrops, LogSampler, newLogDrops } from "./logging.js";
import { createMetrics, methodLabel, type RouteStats } from "./metrics.js";
import { createMetricsServer } from "./metrics-server.js";
import type { Model } from "./model.js";
import { Overload, type OverloadOptions } from "./overload.js";
import { compilePredictCheck, type PredictBody, predictBodySchema, RequestError, invalid, toFieldIssues } from "./validation.js";

export interface AppOptions {
  model: Model;
  logger: Logger;
  maxBatchRows: number;
  bodyLimitBytes: number;
  /** Version of this service build, for /version. */
  serviceVersion?: string;
  /** The deployment revision (REVISION_ID), echoed in /predict, infer and /version answers when set. */
  revisionId?: string;
  /** Overload protection limits (0 switches a limit off). Default: 1000 ms event-loop delay, 1024 requests in flight. */
  overload?: Partial<OverloadOptions>;
  /** Node's HTTP timeouts; the defaults are the documented ones. */
  timeouts?: Partial<Timeouts>;
  /** During shutdown, a connection with nothing owed on it is closed after this long without a byte in or out. */
  drainQuietMs?: number;
  /** Bounds of the lingering close after a 413/415. */
  linger?: LingerLimits;
  /** Where dropped log lines are counted (the logger's buffer counts into it too); exposed in /metrics. */
  logDrops?: LogDrops;
}

export interface Timeouts {
  /** Whole request, headers and body (requestTimeout). */
  requestMs: number;
  /** Headers (headersTimeout). */
  headersMs: number;
  /** Idle keep-alive connection: longer than an ALB's 60 s idle timeout, so the balancer closes idle connections first. */
  keepAliveMs: number;
  /** How often Node checks the two timeouts above (connectionsCheckingInterval; Node's default of 30 s let them overrun by up to that). */
  checkIntervalMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { requestMs: 30_000, headersMs: 10_000, keepAliveMs: 65_000, checkIntervalMs: 1_000 };
export const DEFAULT_DRAIN_QUIET_MS = 500;
/** nginx-like lingering close: bounded so that a client cannot make us read for long. */
export const DEFAULT_LINGER: LingerLimits = { maxBytes: 8 * 1024 * 1024, maxMs: 5_000 };

export interface App {
  server: Server;
  /** The /metrics listener (its own port, never behind the load balancer). */
  metricsServer: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  listenMetrics(port: number, host: string): Promise<AddressInfo>;
  /** /ready and /v2/health/ready answer 200 only while this is true (set after warm-up, cleared on shutdown). */
  setReady(ready: boolean): void;
  isReady(): boolean;
  /**
   * Graceful close: not ready, no new connections; requests already received or still arriving on open connections
   * are answered with `Connection: close` (so each connection closes after its response); a connection with nothing
   * owed on it closes once quiet for drainQuietMs (connections.ts says why not at once). Resolves when the last
   * connection is gone.
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

/** One request as it goes through the app. */
interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  started: number;
  id: string;
  method: string;
  url: string;
  stats: RouteStats;
  /** Counted in flight by overload protection until answered. */
  admitted: boolean;
}

/** The 4xx/5xx answer of a refused or failed request. */
interface ErrorReply extends Reply {
  closeAfter: boolean;
  headers?: Record<string, string>;
}

export function buildApp(opts: AppOptions): App {
  const { model, maxBatchRows, bodyLimitBytes, logger } = opts;
  const m = model.manifest;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const lingerLimits = opts.linger ?? DEFAULT_LINGER;
  let ready = false;
  let draining = false;
  const logDrops = opts.logDrops ?? newLogDrops();
  const sampler = new LogSampler(logger, logDrops);
  const overload = new Overload({ maxEventLoopDelayMs: 1000, maxInFlight: 1024, ...opts.overload });
  const connectionErrors: ConnectionErrorCounts = new Map();
  const bodyTimedOut = new WeakSet<IncomingMessage>();
  const metrics = createMetrics(m, {
    connectionErrors,
    shed: () => overload.shed,
    logDrops: () => ({ buffer_full: logDrops.bufferFull, sampled: logDrops.sampled }),
  });
  const batcher = new Batcher(model);
  const predictSchema = predictBodySchema(m, maxBatchRows);
  const predictCheck = compilePredictCheck(m, maxBatchRows);
  const modelRef = { name: m.name, version: m.version };
  const revision = opts.revisionId !== undefined ? { revision: opts.revisionId } : {};
  const predictRows = metrics.rowsOf("/predict");
  const inferRows = metrics.rowsOf("/v2/infer");
  const predictStats = metrics.route("/predict", "POST");
  // The /predict answer, byte for byte what JSON.stringify({ predictions: [...], model: modelRef, revision? }) gives (app.spec.ts checks).
  const PREDICTIONS_HEAD = '{"predictions":[';
  const PREDICTIONS_TAIL = `],"model":${JSON.stringify(modelRef)}${opts.revisionId !== undefined ? `,"revision":${JSON.stringify(opts.revisionId)}` : ""}}`;

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
      const message = `must be application/json, got ${contentType === undefined ? "none" : JSON.stringify(clip(contentType, 100))}`;
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
      if (bodyTimedOut.has(req)) {
        const message = `not received within the ${timeouts.requestMs / 1000} s request timeout (${size} bytes arrived)`;
        done(new RequestError(408, `(body): ${message}`, [{ field: "(body)", message }]), undefined);
        return;
      }
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
    if (name !== m.name) throw new RequestError(404, `model "${clip(name)}" not found; this server serves "${m.name}"`);
  };

  async function route(req: IncomingMessage, method: string, path: string): Promise<Reply> {
    if (method === "POST" && path === "/predict") {
      const parsed = predictSchema.safeParse(await readJson(req));
      if (!parsed.success) throw invalid(toFieldIssues(parsed.error));
      const out = await predict(parsed.data.instances as PredictBody["instances"], predictRows);
      return json(200, { predictions: Array.from(out), model: modelRef, ...revision });
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
              ...revision,
          });
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
        throw new RequestError(400, `model name in the path is not valid percent-encoding: ${clip(match[1]!)}`, [{ field: "name", message: "not valid percent-encoding" }]);
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
            ...(opts.revisionId !== undefined ? { parameters: revision } : {}),
            outputs: [{ name: m.target.name, datatype: "FP32", shape: [r.instances.length], data: Array.from(out) }],
        });
      }
    }
    throw new RequestError(404, `no route ${method} ${clip(path)}`);
  }

  /**
   * A refused or failed request: its reply. 4xx are logged at info, sampled per status and route (a flood of them
   * costs a few lines a second, and the rest are counted); 5xx are all logged, at error. Client strings are clipped.
   */
  function errorReply(err: unknown, ctx: Ctx): ErrorReply {
    if (err instanceof RequestError) {
      if (sampler.allow(`refused ${err.statusCode} ${ctx.stats.route}`)) {
        logger.info({ reqId: ctx.id, method: ctx.method, url: clip(ctx.url), statusCode: err.statusCode, error: clip(err.message, 500) }, "request refused");
      }
      const body: Record<string, unknown> = { error: err.message, issues: err.issues };
      if (err.issuesTotal > err.issues.length) body.issues_total = err.issuesTotal;
      body.request_id = ctx.id;
      // After an early refusal (413/415) the rest of the body is not read: close the connection (lingering, see send()) rather than parse it as a request.
      return { ...json(err.statusCode, body), closeAfter: err.statusCode === 413 || err.statusCode === 415 || err.closeAfter };
    }
    logger.error({ reqId: ctx.id, method: ctx.method, url: clip(ctx.url), err }, "request failed");
    return { ...json(500, { error: "internal error", request_id: ctx.id }), closeAfter: false };
  }

  /** An admitted prediction request leaves the in-flight count (exactly once). */
  function release(ctx: Ctx): void {
    if (ctx.admitted) {
      ctx.admitted = false;
      overload.done();
    }
  }

  /** Write the answer, then count it (metrics) and log it at debug. */
  function send(ctx: Ctx, status: number, body: string, contentType: string, closeAfter: boolean, extra?: Record<string, string>): void {
    release(ctx);
    const { res, req } = ctx;
    if (res.destroyed || res.headersSent) return; // the client went away, or the connection was answered at its level
    const headers: Record<string, string | number> = {
      "content-type": contentType,
      "content-length": Buffer.byteLength(body),
      "x-request-id": ctx.id,
      ...extra,
    };
    // While draining, every answer closes its connection (server.close() alone leaves open keep-alive connections open).
    if (draining || closeAfter) headers.connection = "close";
    // A refusal sent before the body was read: linger, so that a client still sending it reads this answer, not a reset.
    if (closeAfter && !req.complete) connections.linger(req, lingerLimits);
    res.writeHead(status, headers);
    res.end(body);
    const seconds = (performance.now() - ctx.started) / 1000;
    ctx.stats.record(status, seconds);
    if (status < 400 && logger.isLevelEnabled("debug")) {
      logger.debug({ reqId: ctx.id, method: ctx.method, url: clip(ctx.url), statusCode: status, responseTime: seconds * 1000 }, "request completed");
    }
  }

  /** Answer an error; nothing may escape from here into an event emitter or the batcher. */
  function fail(ctx: Ctx, err: unknown): void {
    try {
      const r = errorReply(err, ctx);
      send(ctx, r.status, r.body, JSON_TYPE, r.closeAfter, r.headers);
    } catch (e) {
      release(ctx);
      logger.error({ err: e }, "response failed");
      ctx.res.destroy();
    }
  }

  /** Overload protection for a prediction request: admitted (counted in flight), or answered 503 + Retry-After at once. */
  function admit(ctx: Ctx): boolean {
    const reason = overload.admit();
    if (reason === undefined) {
      ctx.admitted = true;
      return true;
    }
    const err = new RequestError(503, clip(overload.describe(reason), 300));
    if (sampler.allow(`shed ${reason}`)) logger.warn({ reqId: ctx.id, reason, in_flight: overload.inFlight, event_loop_delay_ms: Math.round(overload.eventLoopDelayMs) }, "request shed: overloaded");
    send(ctx, 503, JSON.stringify({ error: err.message, request_id: ctx.id }), JSON_TYPE, false, { "retry-after": "1" });
    return false;
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    connections.started(req, res);
    const given = req.headers["x-request-id"];
    const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    // HTTP/1.1 requires Host (node:http's own check answers with an empty body; this one with JSON).
    const hostOk = req.headers.host !== undefined || req.httpVersionMinor === 0;
    if (url === "/predict" && method === "POST" && hostOk) {
      const ctx: Ctx = { req, res, started, id, method, url, stats: predictStats, admitted: false };
      if (admit(ctx)) predictRequest(ctx);
    } else {
      const q = url.indexOf("?");
      const path = q < 0 ? url : url.slice(0, q);
      const ctx: Ctx = { req, res, started, id, method, url, stats: metrics.route(templateOf(path), methodLabel(method)), admitted: false };
      if (!hostOk) {
        fail(ctx, new RequestError(400, "host: required in HTTP/1.1 requests", [{ field: "host", message: "required in HTTP/1.1 requests" }], true));
        return;
      }
      if (method === "POST" && isPrediction(path) && !admit(ctx)) return;
      handleRoute(ctx, path).catch((err: unknown) => {
        release(ctx);
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
  function predictRequest(ctx: Ctx): void {
    readBody(ctx.req, (err, body) => {
      if (err) {
        fail(ctx, err);
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
            fail(ctx, e);
            return;
          }
          try {
            predictRows.inc(rows);
            send(ctx, 200, predictionsBody(out!, offset, rows), JSON_TYPE, false);
          } catch (e2) {
            fail(ctx, e2);
          }
        });
      } catch (e) {
        fail(ctx, e);
      }
    });
  }

  async function handleRoute(ctx: Ctx, path: string): Promise<void> {
    let reply: Reply;
    let closeAfter = false;
    try {
      reply = await route(ctx.req, ctx.method, path);
    } catch (err) {
      const r = errorReply(err, ctx);
      reply = r;
      closeAfter = r.closeAfter;
    }
    send(ctx, reply.status, reply.body, reply.contentType ?? JSON_TYPE, closeAfter);
  }

  const isPrediction = (path: string) => path === "/predict" || (path.endsWith("/infer") && MODEL_ROUTE.test(path));

  /** Only route templates become metric labels; anything else (404s, typos) is "unmatched", so label cardinality stays bounded. */
  function templateOf(path: string): string {
    if (STATIC_ROUTES.has(path)) return path;
    const match = MODEL_ROUTE.exec(path);
    return match ? `/v2/models/:name${match[2] ?? ""}` : "unmatched";
  }

  const server = createServer(
    {
      // Explicit timeouts: a slow or stuck client cannot hold a socket forever; checked every second, so they
      // hold to within a second of what the README says.
      requestTimeout: timeouts.requestMs,
      headersTimeout: timeouts.headersMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      connectionsCheckingInterval: timeouts.checkIntervalMs,
      // Checked in handle(), to answer with JSON like every other refusal.
      requireHostHeader: false,
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
  const connections = new Connections(server);
  server.on(
    "clientError",
    clientErrorHandler({ connections, logger, sampler, counts: connectionErrors, bodyTimedOut, headersTimeoutMs: timeouts.headersMs, requestTimeoutMs: timeouts.requestMs }),
  );
  const metricsServer = createMetricsServer(metrics.registry, logger);
  let flushTimer: NodeJS.Timeout | undefined;

  const listenOn = (srv: Server, port: number, host: string) =>
    new Promise<AddressInfo>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(port, host, () => {
        srv.off("error", reject);
        resolve(srv.address() as AddressInfo);
      });
    });

  return {
    server,
    metricsServer,
    listen: async (port, host) => {
      const address = await listenOn(server, port, host);
      overload.start();
      flushTimer ??= setInterval(() => sampler.flush(), 1000).unref();
      return address;
    },
    listenMetrics: (port, host) => listenOn(metricsServer, port, host),
    setReady: (r) => {
      ready = r;
    },
    isReady: () => ready,
    shutdown: async () => {
      ready = false;
      overload.stop();
      clearInterval(flushTimer);
      // Let one more poll phase run first: it accepts the connections the kernel has already queued (completed
      // handshakes, requests possibly sent), which closing the listener would reset. Until the listener is closed,
      // answers keep their connections alive, so no client is told to reconnect into a listener about to close.
      await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
      draining = true;
      const closing: Promise<unknown>[] = [];
      if (server.listening) {
        // net's close, not http's: http.Server.close() would also destroy every idle keep-alive connection at once.
        closing.push(new Promise((resolve) => NetServer.prototype.close.call(server, resolve)), connections.drain(opts.drainQuietMs ?? DEFAULT_DRAIN_QUIET_MS));
      }
      if (metricsServer.listening) {
        closing.push(new Promise((resolve) => metricsServer.close(resolve)));
        metricsServer.closeAllConnections(); // a scrape cut short is retried at the next interval
      }
      await Promise.all(closing);
      sampler.flush(true);
    },
  };
}
