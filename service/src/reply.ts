/**
 * What goes back to the client: the reply of a route, the answer of a refused or failed request, writing it (headers,
 * closing or lingering, metrics, debug log), and the /predict answer serialized without JSON.stringify.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Connections, LingerLimits } from "./connections.js";
import { clip, type LogSampler } from "./logging.js";
import type { RouteStats } from "./metrics.js";
import { RequestError } from "./validation.js";

export const JSON_TYPE = "application/json; charset=utf-8";

export interface Reply {
  status: number;
  body: string;
  /** Default: JSON_TYPE. */
  contentType?: string;
  /** Answer with `Connection: close` (and linger if the body was not read). */
  closeAfter?: boolean;
  headers?: Record<string, string>;
}

export const json = (status: number, value: unknown): Reply => ({ status, body: JSON.stringify(value) });

/** One request as it goes through the app. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** performance.now() when the request arrived. */
  started: number;
  id: string;
  method: string;
  url: string;
  /** Where the answer is counted (route template and method). */
  stats: RouteStats;
  /** Counted in flight by overload protection until answered. */
  admitted: boolean;
}

export interface ResponderOptions {
  logger: Logger;
  sampler: LogSampler;
  connections: Connections;
  linger: LingerLimits;
  /** True once shutdown began: every answer then closes its connection. */
  isDraining(): boolean;
  /** Called once per exchange before its answer is written (overload protection's in-flight count). */
  release(ex: Exchange): void;
}

export class Responder {
  constructor(private readonly opts: ResponderOptions) {}

  /** Write the answer, then count it (metrics) and log it at debug. */
  send(ex: Exchange, reply: Reply): void {
    const { logger, connections } = this.opts;
    this.opts.release(ex);
    const { res, req } = ex;
    if (res.destroyed || res.headersSent) return; // the client went away, or the connection was answered at its level
    const { status, body } = reply;
    const headers: Record<string, string | number> = {
      "content-type": reply.contentType ?? JSON_TYPE,
      "content-length": Buffer.byteLength(body),
      "x-request-id": ex.id,
      ...reply.headers,
    };
    // While draining, every answer closes its connection (server.close() alone leaves open keep-alive connections open).
    if (reply.closeAfter || this.opts.isDraining()) headers.connection = "close";
    // A refusal sent before the body was read: linger, so that a client still sending it reads this answer, not a reset.
    if (reply.closeAfter && !req.complete) connections.linger(req, this.opts.linger);
    res.writeHead(status, headers);
    res.end(body);
    const seconds = (performance.now() - ex.started) / 1000;
    ex.stats.record(status, seconds);
    if (status < 400 && logger.isLevelEnabled("debug")) {
      logger.debug({ reqId: ex.id, method: ex.method, url: clip(ex.url), statusCode: status, responseTime: seconds * 1000 }, "request completed");
    }
  }

  /** Answer an error; nothing may escape from here into an event emitter or the batcher. */
  fail(ex: Exchange, err: unknown): void {
    try {
      this.send(ex, this.errorReply(ex, err));
    } catch (e) {
      this.opts.release(ex);
      this.opts.logger.error({ err: e }, "response failed");
      ex.res.destroy();
    }
  }

  /**
   * A refused or failed request: its reply. 4xx are logged at info, sampled per status and route (a flood of them
   * costs a few lines a second, and the rest are counted); 5xx are all logged, at error. Client strings are clipped.
   */
  errorReply(ex: Exchange, err: unknown): Reply {
    const { logger, sampler } = this.opts;
    if (err instanceof RequestError) {
      if (sampler.allow(`refused ${err.statusCode} ${ex.stats.route}`)) {
        logger.info({ reqId: ex.id, method: ex.method, url: clip(ex.url), statusCode: err.statusCode, error: clip(err.message, 500) }, "request refused");
      }
      const body: Record<string, unknown> = { error: err.message, issues: err.issues };
      if (err.issuesTotal > err.issues.length) body.issues_total = err.issuesTotal;
      body.request_id = ex.id;
      // After an early refusal (413/415) the rest of the body is not read: close the connection (lingering, see send()) rather than parse it as a request.
      return { ...json(err.statusCode, body), closeAfter: err.statusCode === 413 || err.statusCode === 415 || err.closeAfter };
    }
    logger.error({ reqId: ex.id, method: ex.method, url: clip(ex.url), err }, "request failed");
    return json(500, { error: "internal error", request_id: ex.id });
  }
}

export interface PredictionsAnswer {
  model: { name: string; version: string };
  /** The deployment revision, when set: the answer then ends with `"revision"`. */
  revisionId?: string;
}

/**
 * The /predict answer for `rows` predictions from `offset`, byte for byte what
 * JSON.stringify({ predictions: [...], model, revision? }) gives (app.spec.ts checks), without building the array.
 */
export function predictionsSerializer(answer: PredictionsAnswer): (out: Float32Array, offset: number, rows: number) => string {
  const head = '{"predictions":[';
  const tail = `],"model":${JSON.stringify(answer.model)}${answer.revisionId !== undefined ? `,"revision":${JSON.stringify(answer.revisionId)}` : ""}}`;
  return (out, offset, rows) => {
    let s = head;
    for (let i = 0; i < rows; i++) {
      const v = out[offset + i]!;
      // JSON.stringify writes a finite number as String(v) and NaN/Infinity as null.
      s += (i === 0 ? "" : ",") + (Number.isFinite(v) ? String(v) : "null");
    }
    return s + tail;
  };
}
