/**
 * Connection-level errors (node:http's "clientError"): malformed requests (400), headers too large (431), headers or
 * body not received in time (408). These never reach a route, so without this they were invisible: each is now
 * answered with a JSON body and `Connection: close`, counted in /metrics
 * (`http_connection_errors_total{status,reason}`) and logged, sampled (a flood of them costs a few lines a second).
 *
 * A malformed request that follows valid ones in the same write (pipelining) is answered after their responses,
 * which Node's default handling (and the previous one here) wrote over or dropped.
 */
import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "pino";
import type { Connections } from "./connections.js";
import type { LogSampler } from "./logging.js";

/** Counts by "status reason" (bounded: a few statuses, llhttp's fixed set of error codes), folded into metrics at scrape time. */
export type ConnectionErrorCounts = Map<string, number>;

export interface ClientErrorDeps {
  connections: Connections;
  logger: Logger;
  sampler: LogSampler;
  counts: ConnectionErrorCounts;
  /** Requests whose body timed out: the route answering them says so instead of "the client closed the connection". */
  bodyTimedOut: WeakSet<IncomingMessage>;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

/** After our error response and FIN, a client that keeps its half of the connection open is cut after this. */
const CLOSE_AFTER_MS = 1000;

export function clientErrorHandler(deps: ClientErrorDeps): (err: NodeJS.ErrnoException, socket: Socket) => void {
  const { connections, logger, sampler, counts } = deps;
  return (err, socket) => {
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy(); // the client is gone: nothing to answer
      return;
    }
    const code = typeof err.code === "string" && /^(HPE|ERR)_[A-Z_]{1,60}$/.test(err.code) ? err.code : "unknown";
    const pending = connections.pending(socket);
    let status: number;
    let reason: string;
    let message: string;
    if (code === "ERR_HTTP_REQUEST_TIMEOUT") {
      status = 408;
      if (pending !== undefined && !pending.req.complete) {
        reason = "body_timeout";
        message = `request body not received within the ${deps.requestTimeoutMs / 1000} s request timeout`;
        deps.bodyTimedOut.add(pending.req);
      } else {
        reason = "headers_timeout";
        message = `request headers not received within ${deps.headersTimeoutMs / 1000} s`;
      }
    } else if (code === "HPE_HEADER_OVERFLOW") {
      status = 431;
      reason = "headers_too_large";
      message = "request headers too large";
    } else {
      status = 400;
      reason = code;
      message = `malformed request: ${code}`;
    }
    const key = `${status} ${reason}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    // A timed-out body is logged by the route that was waiting for it, with its request id.
    if (reason !== "body_timeout" && sampler.allow(`connection ${key}`)) {
      logger.info({ statusCode: status, code, remoteAddress: socket.remoteAddress }, `connection refused: ${message}`);
    }
    const body = JSON.stringify({ error: message });
    const answer = () => {
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      setTimeout(() => socket.destroy(), CLOSE_AFTER_MS).unref();
    };
    // Responses owed for complete requests before the bad one go out first. A request still waiting for its own body
    // (timed out, or broken inside the body) will never be answered: ours replaces it, if nothing of it was sent.
    if (pending !== undefined && !pending.req.complete) {
      if (pending.headersSent) socket.destroy();
      else answer();
    } else {
      connections.afterResponses(socket, answer);
    }
  };
}
