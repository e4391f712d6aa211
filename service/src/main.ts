/**
 * Process entry point: configuration, logger, model load, listen, warm-up,
 * readiness, signals. Everything else is in app.ts and has no side effects.
 *
 * Exit codes: 0 after a graceful shutdown; 1 for bad configuration, a
 * missing/corrupt/mismatched model, a failed warm-up, a shutdown that
 * overran SHUTDOWN_TIMEOUT_MS, a second signal during shutdown, or an
 * uncaught exception / unhandled rejection (after a graceful shutdown).
 */
import closeWithGrace from "close-with-grace";
import { buildApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logging.js";
import { ModelLoadError } from "./manifest.js";
import { Model } from "./model.js";

/** Signals that mean "stop": close-with-grace also listens to fatal ones (SIGSEGV, SIGBUS, ...), which a JS drain cannot help. */
const IGNORED_EVENTS: closeWithGrace.AllEvents[] = ["SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGSEGV", "SIGUSR2", "beforeExit"];

declare const __SERVICE_VERSION__: string | undefined;
const SERVICE_VERSION = typeof __SERVICE_VERSION__ === "string" ? __SERVICE_VERSION__ : "dev";

async function main(): Promise<void> {
  const started = performance.now();
  let config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    // No logger yet (LOG_LEVEL itself may be the bad value): plain stderr.
    console.error(e instanceof ConfigError ? e.message : String(e));
    process.exit(1);
  }
  // Bounded: a flood of refused requests or a stalled stdout cannot grow memory through the logs (logging.ts).
  const { logger, drops } = createLogger({ level: config.LOG_LEVEL });

  let model: Model;
  try {
    model = await Model.load(config.MODEL_DIR);
  } catch (e) {
    const msg = e instanceof ModelLoadError ? e.message : `cannot load model from ${config.MODEL_DIR}: ${String(e)}`;
    logger.fatal({ model_dir: config.MODEL_DIR }, msg);
    console.error(`model-service: ${msg}`);
    process.exit(1);
  }
  const m = model.manifest;
  const app = buildApp({
    model,
    logger,
    maxBatchRows: config.MAX_BATCH_ROWS,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    serviceVersion: SERVICE_VERSION,
    revisionId: config.REVISION_ID,
    overload: { maxEventLoopDelayMs: config.MAX_EVENT_LOOP_DELAY_MS, maxInFlight: config.MAX_IN_FLIGHT_REQUESTS },
    timeouts: { keepAliveMs: config.KEEP_ALIVE_TIMEOUT_MS },
    logDrops: drops,
  });

  // The shutdown contract (README): SIGTERM/SIGINT/SIGHUP drain and exit 0; past SHUTDOWN_TIMEOUT_MS, or on a second
  // signal, exit 1; an uncaught exception or unhandled rejection is logged, drained like a signal, and exits 1.
  closeWithGrace(
    {
      delay: config.SHUTDOWN_TIMEOUT_MS,
      logger,
      skip: IGNORED_EVENTS,
      onSecondSignal: (signal) => logger.error({ signal }, "second signal during shutdown: exiting now"),
      onSecondError: (err) => logger.fatal({ err }, "second error during shutdown: exiting now"),
      onTimeout: (delay) => logger.error({ timeout_ms: delay }, "graceful shutdown timed out"),
    },
    async ({ signal, err }) => {
      if (err) logger.fatal({ err }, "uncaught error: shutting down");
      else logger.info({ signal, timeout_ms: config.SHUTDOWN_TIMEOUT_MS }, "shutting down: no new connections, finishing in-flight requests");
      await app.shutdown();
      await model.close();
      logger.info("stopped");
    },
  );

  let port: number;
  try {
    ({ port } = await app.listen(config.PORT, config.HOST));
  } catch (err) {
    logger.fatal({ err, host: config.HOST, port: config.PORT }, "cannot listen");
    process.exit(1);
  }
  // Predictions matter more than their metrics: a metrics port that is taken is an error in the log, not an outage.
  let metricsPort: number | undefined;
  try {
    ({ port: metricsPort } = await app.listenMetrics(config.METRICS_PORT, config.HOST));
  } catch (err) {
    logger.error({ err, host: config.HOST, metrics_port: config.METRICS_PORT }, "cannot listen on METRICS_PORT: serving without /metrics");
  }
  logger.info({ host: config.HOST, port, metrics_port: metricsPort }, "listening");

  // Warm-up doubles as a self-test: the manifest's smoke cases must come out as the manifest says.
  const cases = m.smoke_test.cases;
  const got = await model.predict(cases.map((c) => c.instance));
  const bad = cases.filter((c, i) => !(Math.abs(got[i]! - c.expected) <= m.smoke_test.tolerance));
  if (bad.length > 0) {
    logger.fatal({ expected: cases.map((c) => c.expected), got }, "warm-up predictions do not match the manifest's smoke_test");
    process.exit(1);
  }
  app.setReady(true);
  logger.info(
    {
      host: config.HOST,
      port,
      metrics_port: metricsPort,
      model: m.name,
      model_version: m.version,
      sha256: m.model_sha256,
      revision: config.REVISION_ID,
      startup_ms: Math.round(performance.now() - started),
    },
    "ready",
  );
}

void main();
