/**
 * Logging that stays bounded whatever the traffic (a long-URL flood once took the process from 97 MB to 1 GB in
 * 10 s and killed it: every 404 logged its 15 KB URL twice into an unbounded buffer). Three bounds:
 * - strings a client controls are truncated before they reach a log line or an error body (`clip`);
 * - repeated client errors of one kind are sampled: a few lines per second per kind, then a count of the rest
 *   (`LogSampler`);
 * - the buffer between the logger and stdout has a size limit: when stdout cannot keep up (a stalled journald,
 *   a slow pipe), lines are dropped and counted instead of piling up in memory (`createLogger`).
 * Every dropped or suppressed line is counted in /metrics (`log_lines_dropped_total`).
 */
import { pino, type Level, type Logger } from "pino";

/** Longest client-controlled string (URL, header, name) copied into a log line or an error message. */
export const MAX_CLIENT_STRING = 200;

/** `s` cut to `max` characters, saying how much was cut. */
export function clip(s: string, max = MAX_CLIENT_STRING): string {
  return s.length <= max ? s : `${s.slice(0, max)}…(${s.length - max} more characters)`;
}

/** Lines dropped or suppressed so far, by reason; read by the metrics at scrape time. */
export interface LogDrops {
  /** stdout could not keep up and the buffer was full */
  bufferFull: number;
  /** repeated client errors over the per-kind rate */
  sampled: number;
}

export const newLogDrops = (): LogDrops => ({ bufferFull: 0, sampled: 0 });

/** Default bound of the buffer between pino and stdout: ~10,000 typical lines. */
export const LOG_BUFFER_BYTES = 4 * 1024 * 1024;

export interface CreateLoggerOptions {
  level: Level | "silent";
  /** File descriptor to write to (stdout). */
  fd?: number;
  bufferBytes?: number;
  drops?: LogDrops;
}

/**
 * pino writing asynchronously (sonic-boom) to stdout through a buffer of at most `bufferBytes`; a line that does
 * not fit is dropped and counted, and once a second a line says how many were dropped. pino flushes the buffer
 * synchronously at process exit.
 */
export function createLogger(opts: CreateLoggerOptions): { logger: Logger; drops: LogDrops; stop(): void } {
  const drops = opts.drops ?? newLogDrops();
  const destination = pino.destination({ fd: opts.fd ?? 1, sync: false, maxLength: opts.bufferBytes ?? LOG_BUFFER_BYTES });
  destination.on("drop", () => {
    drops.bufferFull++;
  });
  const logger = pino({ level: opts.level, base: { service: "model-service", pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  let reported = 0;
  const timer = setInterval(() => {
    const n = drops.bufferFull - reported;
    if (n === 0) return;
    reported = drops.bufferFull;
    logger.warn({ dropped_lines: n, dropped_total: drops.bufferFull }, "log buffer was full (stdout too slow): lines dropped");
  }, 1000);
  timer.unref();
  return { logger, drops, stop: () => clearInterval(timer) };
}

interface Window {
  start: number;
  logged: number;
  suppressed: number;
}

/**
 * At most `perWindow` lines per kind of event per `windowMs`; the rest are counted, and the count is logged once the
 * window is over (by `flush`, which the app calls once a second and at shutdown). Kinds are bounded sets (status +
 * route template, status + parser error code); past `maxKinds` they share one window.
 */
export class LogSampler {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly logger: Logger,
    private readonly drops: LogDrops,
    private readonly perWindow = 10,
    private readonly windowMs = 1000,
    private readonly maxKinds = 64,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** True when a line of this kind may be written now; otherwise it is counted as suppressed. */
  allow(kind: string): boolean {
    const t = this.now();
    let w = this.windows.get(kind);
    if (w === undefined) {
      if (this.windows.size >= this.maxKinds) return this.allow("(other kinds)");
      this.windows.set(kind, (w = { start: t, logged: 0, suppressed: 0 }));
    } else if (t - w.start >= this.windowMs) {
      this.report(kind, w);
      w.start = t;
      w.logged = 0;
    }
    if (w.logged < this.perWindow) {
      w.logged++;
      return true;
    }
    w.suppressed++;
    this.drops.sampled++;
    return false;
  }

  /** Logs the counts of windows that are over (all windows with `all`, at shutdown). */
  flush(all = false): void {
    const t = this.now();
    for (const [kind, w] of this.windows) {
      if (all || t - w.start >= this.windowMs) {
        this.report(kind, w);
        this.windows.delete(kind);
      }
    }
  }

  private report(kind: string, w: Window): void {
    if (w.suppressed === 0) return;
    this.logger.warn({ kind, suppressed: w.suppressed, window_ms: Math.round(this.now() - w.start) }, "similar log lines suppressed");
    w.suppressed = 0;
  }
}
