/**
 * /metrics on its own listener (METRICS_PORT). On the service port anyone who reaches the load balancer could
 * scrape it (a scrape costs far more than a prediction, and its size grew with every odd request); the load
 * balancer forwards only to the service port, and the security group admits the metrics port from inside the VPC
 * only. Only GET /metrics is served here.
 */
import { createServer, type Server } from "node:http";
import type { Logger } from "pino";
import type { Registry } from "prom-client";

export function createMetricsServer(registry: Registry, logger: Logger): Server {
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 65_000, connectionsCheckingInterval: 1_000 }, (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    const answer = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method !== "GET" || path !== "/metrics") {
      answer(404, "application/json; charset=utf-8", JSON.stringify({ error: "this port serves GET /metrics only" }));
      return;
    }
    registry.metrics().then(
      (body) => answer(200, registry.contentType, body),
      (err: unknown) => {
        logger.error({ err }, "metrics scrape failed");
        answer(500, "application/json; charset=utf-8", JSON.stringify({ error: "internal error" }));
      },
    );
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  return server;
}
