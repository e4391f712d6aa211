/**
 * The service's open connections, for three things node:http does not do the way this service needs:
 *
 * - **Drain without resets.** http.Server.close() destroys every keep-alive connection that is idle at that instant
 *   (closeIdleConnections). Under keep-alive load a connection is "idle" for the microseconds between a response
 *   and the client's next request, which may already be on the wire: destroying it resets a request the client
 *   fully sent (22-46 per SIGTERM were measured). Instead `drain()` leaves every connection open, the app answers
 *   each request that still arrives with `Connection: close` (so the socket closes right after its response), and
 *   a connection is closed by the server only once it has been quiet (no byte in or out, nothing pending) for
 *   `quietMs`: an idle or half-sent connection then costs at most that, not the whole shutdown timeout.
 * - **Errors after pipelined responses.** A malformed request that follows valid ones in the same write must be
 *   answered after their responses, not instead of them (`afterResponses`).
 * - **Lingering close.** After a 413/415 the server closes the connection, but a client that writes its whole
 *   body before reading (Python's http.client, urllib) would get a reset, not the 413, if the socket closed while
 *   it is still sending. `linger()` half-closes instead and reads and discards for a bounded time and byte count.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

const LAST_RESPONSE = Symbol("lastResponse");
type Tracked = Socket & { [LAST_RESPONSE]?: ServerResponse };

export interface LingerLimits {
  /** Stop discarding (and close) after this many more bytes. */
  maxBytes: number;
  /** ... or after this long. */
  maxMs: number;
}

export class Connections {
  readonly sockets = new Set<Socket>();
  private draining = false;

  constructor(server: Server) {
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
  }

  /** Called for every request: its response is now the last one of its connection. */
  started(req: IncomingMessage, res: ServerResponse): void {
    (req.socket as Tracked)[LAST_RESPONSE] = res;
  }

  /** The connection's last response if it is not completely written yet. */
  pending(socket: Socket): ServerResponse | undefined {
    const res = (socket as Tracked)[LAST_RESPONSE];
    return res !== undefined && !res.writableFinished && !res.destroyed ? res : undefined;
  }

  /** Runs `fn` once every response of the connection is written (at once if none is pending). Responses finish in order. */
  afterResponses(socket: Socket, fn: () => void): void {
    const res = this.pending(socket);
    if (res === undefined) fn();
    else res.once("close", fn);
  }

  /**
   * Closes each connection once it has been quiet for `quietMs` and no response is owed on it (a request fully
   * received and not yet answered is never cut here; the process-level shutdown timeout bounds those). Resolves when
   * no connection is left. Quiet is checked on successive timer ticks, so bytes the event loop has not read yet
   * (a loop busy past quietMs) are never mistaken for silence.
   */
  drain(quietMs: number): Promise<void> {
    this.draining = true;
    return new Promise((resolve) => {
      const seen = new Map<Socket, { bytes: number; since: number; ticks: number }>();
      const tick = () => {
        const now = performance.now();
        for (const s of this.sockets) {
          const res = this.pending(s);
          if (res !== undefined && res.req.complete) {
            seen.delete(s); // owed an answer: the app is working on it
            continue;
          }
          const bytes = s.bytesRead + s.bytesWritten;
          const last = seen.get(s);
          if (last === undefined || last.bytes !== bytes) seen.set(s, { bytes, since: now, ticks: 0 });
          else if (++last.ticks >= 2 && now - last.since >= quietMs) s.destroy();
        }
        if (this.sockets.size === 0) {
          clearInterval(timer);
          resolve();
        }
      };
      const timer = setInterval(tick, Math.max(10, Math.min(50, quietMs / 5)));
      tick();
    });
  }

  isDraining(): boolean {
    return this.draining;
  }

  /**
   * Lingering close for a response sent with `Connection: close` before the request body was read. Node closes such
   * a connection with socket.destroySoon() once the response is written; on this socket that becomes: half-close
   * (the client gets FIN after the response), keep reading and discarding (the HTTP parser still drains the body),
   * and destroy once the body is all in (nothing unread left to cause a reset), when the client closes, after
   * `maxBytes` more bytes, or after `maxMs`.
   */
  linger(req: IncomingMessage, limits: LingerLimits): void {
    const s = req.socket as Socket & { destroySoon?: () => void };
    s.destroySoon = () => {
      const start = s.bytesRead;
      s.end();
      const check = setInterval(() => {
        if ((req.complete && s.writableFinished) || s.bytesRead - start > limits.maxBytes) s.destroy();
      }, 10);
      const deadline = setTimeout(() => s.destroy(), limits.maxMs);
      s.once("close", () => {
        clearInterval(check);
        clearTimeout(deadline);
      });
    };
  }
}
