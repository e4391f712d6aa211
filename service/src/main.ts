/**
 * Process entry point: configuration, logger, model load, listen, warm-up,
 * readiness, signals. Everything else is in app.ts and has no side effects.
 *
 * Exit codes: 0 after a graceful shutdown; 1 for bad configuration, a
 * missing/corrupt/mismatched model, a failed warm-up, a shutdown that
 * overran SHUTDOWN_TIMEOUT_MS, or a second signal during shutdown.
 */
import { pino } from "pino";
import { buildApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { ModelLoadError } from "./manifest.js";
import { Model } from "./model.js";

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
  const logger = pino({
    level: config.LOG_LEVEL,
    base: { service: "model-service", pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
  process.on("uncaughtException", (err) => {
    logger.fatal({ err }, "uncaught exception");
    process.exit(1);
  });
  process.on("unhandledRejection", (err) => {
    logger.fatal({ err }, "unhandled rejection");
    process.exit(1);
  });

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
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.error({ signal }, "second signal during shutdown: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, timeout_ms: config.SHUTDOWN_TIMEOUT_MS }, "shutting down: no new connections, finishing in-flight requests");
    const timer = setTimeout(() => {
      logger.error({ timeout_ms: config.SHUTDOWN_TIMEOUT_MS }, "graceful shutdown timed out");
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    app
      .shutdown()
      .then(() => model.close())
      .then(
        () => {
          clearTimeout(timer);
          logger.info("stopped");
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, "error during shutdown");
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  let port: number;
  try {
    ({ port } = await app.listen(config.PORT, config.HOST));
  } catch (err) {
    logger.fatal({ err, host: config.HOST, port: config.PORT }, "cannot listen");
    process.exit(1);
  }
  logger.info({ host: config.HOST, port }, "listening");

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
    { host: config.HOST, port, model: m.name, model_version: m.version, sha256: m.model_sha256, startup_ms: Math.round(performance.now() - started) },
    "ready",
  );
}

void main();
