import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { parseManifest } from "./manifest.js";
import { createMetrics, LATENCY_BUCKETS } from "./metrics.js";
import { MODEL_DIR } from "./testing.js";

const manifest = parseManifest(readFileSync(join(MODEL_DIR, "manifest.json"), "utf8"), MODEL_DIR);

/** The lines of the given metric families, with sums rounded (summation order differs in the last bits). */
function lines(text: string, names: string[]): string[] {
  return text
    .split("\n")
    .filter((l) => names.some((n) => l.startsWith(n)))
    .map((l) => (/_sum\{/.test(l) ? l.replace(/ ([0-9.e+-]+)$/, (_, v: string) => ` ${Number(v).toFixed(9)}`) : l))
    .sort();
}

describe("metrics recorded per route and folded into prom-client at scrape time", () => {
  it("expose exactly what prom-client fed request by request exposes, across several scrapes", async () => {
    const metrics = createMetrics(manifest);
    // Reference: the same metric definitions, called on every request as before.
    const ref = new Registry();
    const requests = new Counter({ name: "http_requests_total", help: "x", labelNames: ["route", "method", "status"], registers: [ref] });
    const latency = new Histogram({ name: "http_request_duration_seconds", help: "x", labelNames: ["route", "method"], buckets: LATENCY_BUCKETS, registers: [ref] });
    const rows = new Counter({ name: "model_rows_predicted_total", help: "x", labelNames: ["endpoint"], registers: [ref] });

    let seed = 3;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const routes: [string, string][] = [
      ["/predict", "POST"],
      ["/health", "GET"],
      ["/v2/models/:name/infer", "POST"],
      ["unmatched", "GET"],
    ];
    const statuses = [200, 200, 200, 400, 404, 413, 415, 500, 503];
    const names = ["http_requests_total", "http_request_duration_seconds", "model_rows_predicted_total"];
    for (let scrape = 0; scrape < 4; scrape++) {
      for (let i = 0; i < 2000; i++) {
        const [route, method] = routes[Math.floor(rand() * routes.length)]!;
        const status = statuses[Math.floor(rand() * statuses.length)]!;
        // Values on and around every bucket bound, and above the last one.
        const seconds = rand() < 0.3 ? LATENCY_BUCKETS[Math.floor(rand() * LATENCY_BUCKETS.length)]! : rand() ** 4 * 4;
        metrics.route(route, method).record(status, seconds);
        requests.inc({ route, method, status: String(status) });
        latency.observe({ route, method }, seconds);
        if (status === 200 && route !== "/health" && route !== "unmatched") {
          const n = 1 + Math.floor(rand() * 5);
          const endpoint = route === "/predict" ? "/predict" : "/v2/infer";
          metrics.rowsOf(endpoint).inc(n);
          rows.inc({ endpoint }, n);
        }
      }
      const got = lines(await metrics.registry.metrics(), names);
      expect(got.length).toBeGreaterThan(50);
      expect(got).toEqual(lines(await ref.metrics(), names));
    }
  });

  it("shows nothing for a route before its first request, as prom-client does", async () => {
    const metrics = createMetrics(manifest);
    metrics.route("/health", "GET"); // looked up, never recorded
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/http_requests_total\{/);
    expect(text).not.toMatch(/http_request_duration_seconds_bucket\{/);
    expect(text).toContain(`model_info{name="auto-mpg",version="${manifest.version}",sha256="${manifest.model_sha256}"} 1`);
  });
});
