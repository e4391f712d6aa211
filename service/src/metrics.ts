/** Prometheus metrics, on a registry per app (so several apps can live in one test process). */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Manifest } from "./manifest.js";

export interface Metrics {
  registry: Registry;
  requests: Counter<"route" | "method" | "status">;
  latency: Histogram<"route" | "method">;
  rows: Counter<"endpoint">;
}

export function createMetrics(manifest: Manifest): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests by route template, method and status code",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time from request received to response sent",
    labelNames: ["route", "method"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const rows = new Counter({
    name: "model_rows_predicted_total",
    help: "Rows (instances) predicted",
    labelNames: ["endpoint"] as const,
    registers: [registry],
  });
  const info = new Gauge({
    name: "model_info",
    help: "The model being served (always 1)",
    labelNames: ["name", "version", "sha256"] as const,
    registers: [registry],
  });
  info.set({ name: manifest.name, version: manifest.version, sha256: manifest.model_sha256 }, 1);
  return { registry, requests, latency, rows };
}
