/**
 * The HTTP app on node:http: composes the routes (routes.ts), body reading
 * (body.ts) and answers (reply.ts) with request ids, overload protection,
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
import { BodyReader } from "./body.js";
import { clientErrorHandler, type ConnectionErrorCounts } from "./client-errors.js";
import { Connections, type LingerLimits } from "./connections.js";
import { clip, type LogDrops, LogSampler, newLogDrops } from "./logging.js";
import { createMetrics, methodLabel } from "./metrics.js";
import { createMetricsServer } from "./metrics-server.js";
import type { Model } from "./model.js";
import { Overload, type OverloadOptions } from "./overload.js";
import { type Exchange, type Reply, Responder } from "./reply.js";
import { createRoutes, isPrediction, templateOf } from "./routes.js";
import { RequestError } from "./validation.js";

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
  /**
   * Idle keep-alive connection (KEEP_ALIVE_TIMEOUT_MS): must be longer than the load balancer's idle timeout, so that
   * the balancer, not the service, closes an idle connection; otherwise the balancer may send a request on a
   * connection the service is closing, and answers 502/504. The deployment sets it from loadBalancer.idleTimeoutSeconds.
   */
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

export function buildApp(opts: AppOptions): App {
  const { model, logger } = opts;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  let ready = false;
  let draining = false;
  const logDrops = opts.logDrops ?? newLogDrops();
  const sampler = new LogSampler(logger, logDrops);
  const overload = new Overload({ maxEventLoopDelayMs: 1000, maxInFlight: 1024, ...opts.overload });
  const connectionErrors: ConnectionErrorCounts = new Map();
  const metrics = createMetrics(model.manifest, {
    connectionErrors,
    shed: () => overload.shed,
    logDrops: () => ({ buffer_full: logDrops.bufferFull, sampled: logDrops.sampled }),
  });
  const body = new BodyReader({ limitBytes: opts.bodyLimitBytes, requestTimeoutMs: timeouts.requestMs });
  const routes = createRoutes({
    model,
    batcher: new Batcher(model),
    body,
    maxBatchRows: opts.maxBatchRows,
    rows: { predict: metrics.rowsOf("/predict"), infer: metrics.rowsOf("/v2/infer") },
    isReady: () => ready,
    serviceVersion: opts.serviceVersion,
    revisionId: opts.revisionId,
  });
  const predictStats = metrics.route("/predict", "POST");

  /** An admitted prediction request leaves the in-flight count (exactly once). */
  function release(ex: Exchange): void {
    if (ex.admitted) {
      ex.admitted = false;
      overload.done();
    }
  }

  /** Overload protection for a prediction request: admitted (counted in flight), or answered 503 + Retry-After at once. */
  function admit(ex: Exchange): boolean {
    const reason = overload.admit();
    if (reason === undefined) {
      ex.admitted = true;
      return true;
    }
    const message = clip(overload.describe(reason), 300);
    if (sampler.allow(`shed ${reason}`)) logger.warn({ reqId: ex.id, reason, in_flight: overload.inFlight, event_loop_delay_ms: Math.round(overload.eventLoopDelayMs) }, "request shed: overloaded");
    responder.send(ex, { status: 503, body: JSON.stringify({ error: message, request_id: ex.id }), headers: { "retry-after": "1" } });
    return false;
  }

  /** The last resort when an answer itself failed: nothing more can be said on this connection. */
  function broken(ex: Exchange, err: unknown): void {
    release(ex);
    logger.error({ err }, "response failed");
    ex.res.destroy();
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    connections.started(req, res);
    const given = req.headers["x-request-id"];
    const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const isPredict = method === "POST" && path === "/predict";
    const ex: Exchange = { req, res, started, id, method, url, stats: isPredict ? predictStats : metrics.route(templateOf(path), methodLabel(method)), admitted: false };
    // HTTP/1.1 requires Host (node:http's own check answers with an empty body; this one with JSON).
    if (req.headers.host === undefined && req.httpVersionMinor !== 0) {
      responder.fail(ex, new RequestError(400, "host: required in HTTP/1.1 requests", [{ field: "host", message: "required in HTTP/1.1 requests" }], true));
      return;
    }
    if (isPrediction(method, path) && !admit(ex)) return;
    if (isPredict) {
      routes.predict(req, (err, reply) => answer(ex, err, reply));
      return;
    }
    routes.route(req, method, path).then(
      (reply) => answer(ex, undefined, reply),
      (err: unknown) => answer(ex, err, undefined),
    );
  }

  /** The reply, or the error's answer; never throws (it runs inside event emitters and the batcher). */
  function answer(ex: Exchange, err: unknown, reply: Reply | undefined): void {
    try {
      if (reply !== undefined) responder.send(ex, reply);
      else responder.fail(ex, err);
    } catch (e) {
      broken(ex, e);
    }
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
  const responder = new Responder({ logger, sampler, connections, linger: opts.linger ?? DEFAULT_LINGER, isDraining: () => draining, release });
  server.on(
    "clientError",
    clientErrorHandler({ connections, logger, sampler, counts: connectionErrors, bodyTimedOut: body.timedOut, headersTimeoutMs: timeouts.headersMs, requestTimeoutMs: timeouts.requestMs }),
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
