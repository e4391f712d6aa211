/**
 * Reading a JSON request body: content type, size limit (declared and actual), a client that hangs up or is too
 * slow, empty and malformed JSON. Every refusal is a RequestError naming `content-type` or `(body)`.
 */
import type { IncomingMessage } from "node:http";
import { clip } from "./logging.js";
import { RequestError } from "./validation.js";

export interface BodyReaderOptions {
  /** Bodies larger than this are refused with 413 (declared or as they arrive). */
  limitBytes: number;
  /** The server's request timeout, named in the 408 answer of a body that did not arrive in time. */
  requestTimeoutMs: number;
}

export type BodyCallback = (err: RequestError | undefined, body: unknown) => void;

export class BodyReader {
  /**
   * Requests whose body timed out: the connection-level handler (client-errors.ts) marks them, so that the route
   * still waiting for the body answers 408 rather than "the client closed the connection".
   */
  readonly timedOut = new WeakSet<IncomingMessage>();

  constructor(private readonly opts: BodyReaderOptions) {}

  /**
   * The JSON body, or a RequestError, delivered to a callback (the /predict path has no promise per request).
   * `done` is called exactly once, possibly synchronously (content-type, declared length).
   */
  read(req: IncomingMessage, done: BodyCallback): void {
    const { limitBytes, requestTimeoutMs } = this.opts;
    const contentType = req.headers["content-type"];
    // Fast check for the usual exact header; otherwise the media type essence, case-insensitively.
    if (contentType !== "application/json" && contentType?.split(";", 1)[0]!.trim().toLowerCase() !== "application/json") {
      const message = `must be application/json, got ${contentType === undefined ? "none" : JSON.stringify(clip(contentType, 100))}`;
      done(new RequestError(415, `content-type: ${message}`, [{ field: "content-type", message }]), undefined);
      return;
    }
    const declared = Number(req.headers["content-length"]);
    if (declared > limitBytes) {
      done(bodyError(413, `larger than the limit of ${limitBytes} bytes`), undefined);
      return;
    }
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    let settled = false;
    req.on("data", (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limitBytes) {
        settled = true;
        done(bodyError(413, `larger than the limit of ${limitBytes} bytes`), undefined);
        return;
      }
      if (first === undefined) first = chunk;
      else (chunks ??= [first]).push(chunk);
    });
    // A client that hangs up mid-body: the request is destroyed and emits "close" with complete === false (Node emits
    // "error" on an IncomingMessage only when it has an "error" listener, so none is needed; one fewer per request).
    req.on("close", () => {
      if (settled || req.complete) return;
      settled = true;
      if (this.timedOut.has(req)) done(bodyError(408, `not received within the ${requestTimeoutMs / 1000} s request timeout (${size} bytes arrived)`), undefined);
      else done(bodyError(400, "the client closed the connection before the body was complete"), undefined);
    });
    req.on("end", () => {
      if (settled) return;
      settled = true; // a later "close" must not call done again
      const text = chunks !== undefined ? Buffer.concat(chunks).toString("utf8") : first !== undefined ? first.toString("utf8") : "";
      if (text.length === 0) {
        done(bodyError(400, "empty, but content-type is application/json"), undefined);
        return;
      }
      let body: unknown;
      try {
        // "__proto__"/"constructor" keys arrive as plain own properties and are refused by the strict schemas.
        body = JSON.parse(text);
      } catch (e) {
        done(bodyError(400, `not valid JSON: ${(e as Error).message}`), undefined);
        return;
      }
      done(undefined, body);
    });
  }

  /** `read` as a promise, for the routes off the /predict path. */
  json(req: IncomingMessage): Promise<unknown> {
    return new Promise((resolve, reject) => this.read(req, (err, body) => (err ? reject(err) : resolve(body))));
  }
}

function bodyError(status: number, message: string): RequestError {
  return new RequestError(status, `(body): ${message}`, [{ field: "(body)", message }]);
}
