/**
 * The routes: what each path answers. POST /predict is one callback chain (no promise per request, the hot path);
 * the other routes are an async function returning a Reply. Neither writes to the response (reply.ts does).
 */
import type { IncomingMessage } from "node:http";
import type { Batcher } from "./batcher.js";
import type { BodyReader } from "./body.js";
import { modelMetadata, parseInferRequest } from "./kserve.js";
import { clip } from "./logging.js";
import type { RowCount } from "./metrics.js";
import type { Instance, Model } from "./model.js";
import { json, predictionsSerializer, type Reply } from "./reply.js";
import { compilePredictCheck, type PredictBody, predictBodySchema, RequestError, invalid, toFieldIssues } from "./validation.js";

const MODEL_ROUTE = /^\/v2\/models\/([^/]+)(\/ready|\/infer)?$/;
const STATIC_ROUTES = new Set(["/predict", "/health", "/ready", "/version", "/metrics", "/v2", "/v2/health/live", "/v2/health/ready"]);

export interface RoutesOptions {
  model: Model;
  batcher: Batcher;
  body: BodyReader;
  maxBatchRows: number;
  /** Rows predicted, per endpoint. */
  rows: { predict: RowCount; infer: RowCount };
  /** /ready and /v2/health/ready answer 200 only while this is true. */
  isReady(): boolean;
  /** Version of this service build, for /version and /v2. */
  serviceVersion?: string;
  /** The deployment revision, echoed in /predict, infer and /version answers when set. */
  revisionId?: string;
}

export interface Routes {
  /** POST /predict: the reply, or the error to answer, delivered to `done` exactly once (`done` must not throw). */
  predict(req: IncomingMessage, done: (err: unknown, reply?: Reply) => void): void;
  /** Every other route; rejects with a RequestError for a refused request (404 for no route). */
  route(req: IncomingMessage, method: string, path: string): Promise<Reply>;
}

/** Only route templates become metric labels; anything else (404s, typos) is "unmatched", so label cardinality stays bounded. */
export function templateOf(path: string): string {
  if (STATIC_ROUTES.has(path)) return path;
  const match = MODEL_ROUTE.exec(path);
  return match ? `/v2/models/:name${match[2] ?? ""}` : "unmatched";
}

/** A request that runs the model: what overload protection admits or sheds. */
export function isPrediction(method: string, path: string): boolean {
  return method === "POST" && (path === "/predict" || (path.endsWith("/infer") && MODEL_ROUTE.test(path)));
}

export function createRoutes(opts: RoutesOptions): Routes {
  const { model, batcher, body, maxBatchRows, rows } = opts;
  const m = model.manifest;
  const predictSchema = predictBodySchema(m, maxBatchRows);
  const predictCheck = compilePredictCheck(m, maxBatchRows);
  const modelRef = { name: m.name, version: m.version };
  const revision = opts.revisionId !== undefined ? { revision: opts.revisionId } : {};
  const predictions = predictionsSerializer({ model: modelRef, revisionId: opts.revisionId });
  const serviceVersion = opts.serviceVersion ?? "dev";

  /**
   * Body callback -> precompiled check (zod only when it declines, and zod then decides and words the refusal) ->
   * batcher callback -> the answer serialized without JSON.stringify.
   */
  function predict(req: IncomingMessage, done: (err: unknown, reply?: Reply) => void): void {
    body.read(req, (err, value) => {
      if (err) {
        done(err);
        return;
      }
      try {
        let instances = predictCheck(value);
        if (instances === undefined) {
          const parsed = predictSchema.safeParse(value);
          if (!parsed.success) throw invalid(toFieldIssues(parsed.error));
          instances = parsed.data.instances as PredictBody["instances"];
        }
        const n = instances.length;
        batcher.submit(model.encode(instances), n, (e, out, offset) => {
          if (e !== undefined) {
            done(e);
            return;
          }
          let text: string;
          try {
            text = predictions(out!, offset, n);
          } catch (e2) {
            done(e2);
            return;
          }
          rows.predict.inc(n);
          done(undefined, { status: 200, body: text });
        });
      } catch (e) {
        done(e);
      }
    });
  }

  const known = (name: string) => {
    if (name !== m.name) throw new RequestError(404, `model "${clip(name)}" not found; this server serves "${m.name}"`);
  };

  async function infer(req: IncomingMessage): Promise<Reply> {
    const r = parseInferRequest(await body.json(req), m, maxBatchRows);
    const instances: Instance[] = r.instances;
    const out = await batcher.predict(model.encode(instances), instances.length);
    rows.infer.inc(instances.length);
    return json(200, {
      model_name: m.name,
      model_version: m.version,
      ...(r.id !== undefined ? { id: r.id } : {}),
      ...(opts.revisionId !== undefined ? { parameters: revision } : {}),
      outputs: [{ name: m.target.name, datatype: "FP32", shape: [instances.length], data: Array.from(out) }],
    });
  }

  async function route(req: IncomingMessage, method: string, path: string): Promise<Reply> {
    const ready = opts.isReady();
    if (method === "GET") {
      switch (path) {
        case "/health":
          return json(200, { status: "ok" });
        case "/ready":
          return ready ? json(200, { status: "ready" }) : json(503, { status: "not ready" });
        case "/version":
          return json(200, {
            model: { name: m.name, version: m.version, created_at: m.created_at, sha256: m.model_sha256, metrics: m.metrics.holdout },
            service: { version: serviceVersion, node: process.version },
            ...revision,
          });
        // KServe / Open Inference Protocol v2
        case "/v2":
          return json(200, { name: "auto-mpg-service", version: serviceVersion, extensions: [] });
        case "/v2/health/live":
          return json(200, { live: true });
        case "/v2/health/ready":
          return ready ? json(200, { ready: true }) : json(503, { ready: false });
      }
    }
    const match = MODEL_ROUTE.exec(path);
    if (match) {
      let name: string;
      try {
        name = decodeURIComponent(match[1]!);
      } catch {
        throw new RequestError(400, `model name in the path is not valid percent-encoding: ${clip(match[1]!)}`, [{ field: "name", message: "not valid percent-encoding" }]);
      }
      const sub = match[2];
      if (method === "GET" && sub === undefined) {
        known(name);
        return json(200, modelMetadata(m));
      }
      if (method === "GET" && sub === "/ready") {
        known(name);
        return ready ? json(200, { name: m.name, ready: true }) : json(503, { name: m.name, ready: false });
      }
      if (method === "POST" && sub === "/infer") {
        known(name);
        return infer(req);
      }
    }
    throw new RequestError(404, `no route ${method} ${clip(path)}`);
  }

  return { predict, route };
}
