/**
 * Prometheus metrics, on a registry per app (so several apps can live in one test process).
 *
 * The request path does not call prom-client: a prom-client `inc`/`observe`
 * hashes and validates its labels on every call (~2.5-3 µs per request for
 * the counter, the histogram and the rows counter together, measured), which
 * was ~6 % of a /predict request's CPU. Requests are instead counted in plain
 * numbers per route (`RouteStats.record`, a few tens of ns). The counters are
 * folded into prom-client counters by their `collect` hooks at every scrape;
 * the latency histogram is this module's own collector (`RouteLatency`), which
 * renders the per-route numbers as prom-client renders a histogram. A scrape
 * therefore shows exactly what calling prom-client on every request would have
 * shown (metrics.spec.ts checks this against prom-client fed request by request).
 */
import { collectDefaultMetrics, Counter, Gauge, type Metric, Registry } from "prom-client";
import type { Manifest } from "./manifest.js";

/** Plain counters kept elsewhere (cumulative numbers), exposed at scrape time. */
export interface MetricSources {
  /** "status reason" -> connection-level errors since the last scrape (cleared when folded) */
  connectionErrors?: Map<string, number>;
  /** reason -> prediction requests refused by overload protection (cumulative) */
  shed?: () => Readonly<Record<string, number>>;
  /** reason -> log lines dropped (cumulative) */
  logDrops?: () => Readonly<Record<string, number>>;
}

/** Method label: the methods the service serves, else "other" (so 34 HTTP methods cannot multiply the series). */
export function methodLabel(method: string): string {
  return method === "GET" || method === "POST" || method === "HEAD" ? method : "other";
}

export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Request count by status (pending until the next scrape) and latency histogram (since start) of one route template and method. */
export class RouteStats {
  /** status code -> requests not yet folded into http_requests_total */
  readonly statuses = new Map<number, number>();
  /** requests per latency bucket (per bucket, not cumulative); the last slot is above the highest bound (+Inf only) */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  constructor(
    readonly route: string,
    readonly method: string,
  ) {}

  record(status: number, seconds: number): void {
    const s = this.statuses;
    s.set(status, (s.get(status) ?? 0) + 1);
    let b = 0;
    // prom-client's rule: the first bucket whose upper bound is >= the value.
    while (b < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[b]!) b++;
    this.buckets[b] = this.buckets[b]! + 1;
    this.sum += seconds;
    this.count++;
  }
}

/** Rows predicted through one endpoint, pending until the next scrape. */
export class RowCount {
  pending = 0;
  constructor(readonly endpoint: string) {}
  inc(n: number): void {
    this.pending += n;
  }
}

export interface Metrics {
  registry: Registry;
  requests: Counter<"route" | "method" | "status">;
  rows: Counter<"endpoint">;
  /** The (cached) stats of a route template and method: `record(status, seconds)` once per answered request. */
  route(route: string, method: string): RouteStats;
  /** The (cached) rows counter of an endpoint. */
  rowsOf(endpoint: string): RowCount;
}

/**
 * http_request_duration_seconds as a custom collector: prom-client's registry renders any registered object with
 * `name`, `help`, `type`, `aggregator` and `get()` (it also calls `reset()`). The values are the ones prom-client's
 * Histogram would give for the same observations, in its order: the buckets (cumulative), +Inf, sum, count, per
 * label set (`le` first, as prom-client writes it), and nothing for a label set never observed.
 */
class RouteLatency {
  readonly name = "http_request_duration_seconds";
  readonly help = "Time from request received to response sent";
  readonly type = "histogram";
  readonly aggregator = "sum";

  constructor(private readonly routes: ReadonlyMap<string, RouteStats>) {}

  get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.routes.values()) {
      if (s.count === 0) continue;
      const labels = { route: s.route, method: s.method };
      let cumulative = 0;
      for (let b = 0; b < LATENCY_BUCKETS.length; b++) {
        cumulative += s.buckets[b]!;
        values.push({ labels: { le: LATENCY_BUCKETS[b]!, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push(
        { labels: { le: "+Inf", ...labels }, value: s.count, metricName: `${this.name}_bucket` },
        { labels, value: s.sum, metricName: `${this.name}_sum` },
        { labels, value: s.count, metricName: `${this.name}_count` },
      );
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** Registry.resetMetrics(): forget every observation. */
  reset(): void {
    for (const s of this.routes.values()) {
      s.buckets.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

/** A counter mirroring cumulative plain numbers by one label. */
function mirror(registry: Registry, name: string, help: string, label: string, values: () => Readonly<Record<string, number>> | undefined): void {
  const counter: Counter<string> = new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      const v = values();
      if (!v) return;
      counter.reset();
      for (const [k, n] of Object.entries(v)) if (n > 0) counter.inc({ [label]: k }, n);
    },
  });
}

export function createMetrics(manifest: Manifest, sources: MetricSources = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const routes = new Map<string, RouteStats>();
  const rowCounts = new Map<string, RowCount>();
  const requests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests by route template, method and status code",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
    collect() {
      for (const s of routes.values()) {
        for (const [status, n] of s.statuses) requests.inc({ route: s.route, method: s.method, status: String(status) }, n);
        s.statuses.clear();
      }
    },
  });
  // Typed as prom-client's Metric union only for registerMetric's signature; the registry uses the members above.
  registry.registerMetric(new RouteLatency(routes) as unknown as Metric);
  const rows = new Counter({
    name: "model_rows_predicted_total",
    help: "Rows (instances) predicted",
    labelNames: ["endpoint"] as const,
    registers: [registry],
    collect() {
      for (const r of rowCounts.values()) {
        if (r.pending > 0) rows.inc({ endpoint: r.endpoint }, r.pending);
        r.pending = 0;
      }
    },
  });
  const connectionErrors = new Counter({
    name: "http_connection_errors_total",
    help: "Requests refused at the connection level (malformed 400, 408 timeouts, 431 headers too large), by status and reason",
    labelNames: ["status", "reason"] as const,
    registers: [registry],
    collect() {
      const m = sources.connectionErrors;
      if (!m) return;
      for (const [key, n] of m) {
        const [status, reason] = key.split(" ", 2) as [string, string];
        connectionErrors.inc({ status, reason }, n);
      }
      m.clear();
    },
  });
  mirror(registry, "http_requests_shed_total", "Prediction requests refused with 503 by overload protection, by reason", "reason", () => sources.shed?.());
  mirror(registry, "log_lines_dropped_total", "Log lines not written: buffer_full (stdout too slow) or sampled (repeated client errors)", "reason", () => sources.logDrops?.());
  const info = new Gauge({
    name: "model_info",
    help: "The model being served (always 1)",
    labelNames: ["name", "version", "sha256"] as const,
    registers: [registry],
  });
  info.set({ name: manifest.name, version: manifest.version, sha256: manifest.model_sha256 }, 1);
  return {
    registry,
    requests,
    rows,
    route(route, method) {
      const key = `${method} ${route}`;
      let s = routes.get(key);
      if (!s) routes.set(key, (s = new RouteStats(route, method)));
      return s;
    },
    rowsOf(endpoint) {
      let r = rowCounts.get(endpoint);
      if (!r) rowCounts.set(endpoint, (r = new RowCount(endpoint)));
      return r;
    },
  };
}
