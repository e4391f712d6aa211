/**
 * Overload protection in the style of fastify's under-pressure (which is a fastify plugin, so not usable on
 * node:http as is): while the event loop lags more than a limit, or more prediction requests are in flight than a
 * limit, new prediction requests are refused at once with 503 + Retry-After, before their body is parsed. Refusing
 * costs a few µs where a prediction costs from tens of µs to milliseconds, so the loop recovers and /health and
 * /ready, which are never refused, stay fast enough for the load balancer's health checks.
 *
 * The event-loop delay is read from Node's own monitor (perf_hooks.monitorEventLoopDelay, a libuv timer every
 * RESOLUTION_MS): the longest lag seen in each sample interval, minus the timer's own period (and the lateness of
 * the sampling timer itself).
 */
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";

const RESOLUTION_MS = 10;

export interface OverloadOptions {
  /** Refuse while the sampled event-loop delay is above this (ms); 0 = never on this ground. */
  maxEventLoopDelayMs: number;
  /** Refuse while this many prediction requests are in flight; 0 = never on this ground. */
  maxInFlight: number;
  /** How often the delay is sampled (ms). */
  sampleIntervalMs?: number;
}

export type ShedReason = "event_loop_delay" | "in_flight";

export class Overload {
  /** Prediction requests accepted and not yet answered. */
  inFlight = 0;
  /** Event-loop delay of the last sample interval (ms). */
  eventLoopDelayMs = 0;
  /** Requests refused so far, by reason (read by the metrics at scrape time). */
  readonly shed: Record<ShedReason, number> = { event_loop_delay: 0, in_flight: 0 };
  private histogram: IntervalHistogram | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly options: OverloadOptions) {}

  /** Starts sampling the event-loop delay (from listen()). */
  start(): void {
    if (this.options.maxEventLoopDelayMs <= 0 || this.histogram) return;
    const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    h.enable();
    this.histogram = h;
    const interval = this.options.sampleIntervalMs ?? 250;
    let last = performance.now();
    this.timer = setInterval(() => {
      // The sampling timer's own lateness too: it sees a long block at the first tick after it, where the monitor's
      // timer may only record it after this tick has read and reset the histogram.
      const now = performance.now();
      const late = now - last - interval;
      last = now;
      this.eventLoopDelayMs = Math.max(0, late, h.max / 1e6 - RESOLUTION_MS);
      h.reset();
    }, interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram?.disable();
    this.histogram = undefined;
    this.eventLoopDelayMs = 0;
  }

  /** Why a new prediction request must be refused now, or undefined to accept it (then counted in flight). */
  admit(): ShedReason | undefined {
    const { maxEventLoopDelayMs, maxInFlight } = this.options;
    let reason: ShedReason | undefined;
    if (maxEventLoopDelayMs > 0 && this.eventLoopDelayMs > maxEventLoopDelayMs) reason = "event_loop_delay";
    else if (maxInFlight > 0 && this.inFlight >= maxInFlight) reason = "in_flight";
    if (reason === undefined) this.inFlight++;
    else this.shed[reason]++;
    return reason;
  }

  /** An admitted request was answered (or abandoned). */
  done(): void {
    this.inFlight--;
  }

  /** The words of a refusal, for the 503 body. */
  describe(reason: ShedReason): string {
    return reason === "event_loop_delay"
      ? `overloaded: event-loop delay ${Math.round(this.eventLoopDelayMs)} ms is over the ${this.options.maxEventLoopDelayMs} ms limit; retry later`
      : `overloaded: ${this.inFlight} prediction requests in flight, the limit is ${this.options.maxInFlight}; retry later`;
  }
}
