import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { holdoutRows, toInstance } from "../training/gate.js";
import { EXAMPLE_CAR, type RunningApp, startApp } from "./testing.js";

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp({ maxBatchRows: 1000, bodyLimitBytes: 1024 * 1024 });
});
afterAll(async () => {
  await svc.close();
});

interface Res {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed response JSON; every shape is asserted by expect()
  json: any;
}

function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  return callAt(svc.url, method, path, body, headers);
}

async function callAt(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const predict = (instances: unknown[]) => call("POST", "/predict", { instances });

/** v2 infer body: one tensor per feature, columns from the given cars. */
function v2Body(cars: Record<string, unknown>[]) {
  const names = ["cylinders", "displacement", "horsepower", "weight", "acceleration", "model_year", "origin"];
  return {
    id: "req-1",
    inputs: names.map((name) => ({
      name,
      shape: [cars.length],
      datatype: name === "origin" ? "BYTES" : name === "cylinders" || name === "model_year" ? "INT64" : "FP32",
      data: cars.map((c) => c[name]),
    })),
  };
}

describe("model service over HTTP", () => {
  it("answers /health at once and /ready only after warm-up is declared", async () => {
    expect((await call("GET", "/health")).json).toEqual({ status: "ok" });
    expect((await call("GET", "/ready")).status).toBe(503);
    expect((await call("GET", "/v2/health/ready")).status).toBe(503);
    svc.app.setReady(true);
    expect(await call("GET", "/ready")).toMatchObject({ status: 200, json: { status: "ready" } });
    expect(await call("GET", "/v2/health/ready")).toMatchObject({ status: 200, json: { ready: true } });
    expect(await call("GET", "/v2/health/live")).toMatchObject({ status: 200, json: { live: true } });
  });

  it("predicts the manifest's smoke-test cars as the manifest says, and they differ", async () => {
    const m = svc.model.manifest;
    const res = await predict(m.smoke_test.cases.map((c) => c.instance));
    expect(res.status).toBe(200);
    expect(res.json.model).toEqual({ name: "auto-mpg", version: m.version });
    const [a, b] = res.json.predictions as number[];
    expect(Math.abs(a! - m.smoke_test.cases[0]!.expected)).toBeLessThanOrEqual(m.smoke_test.tolerance);
    expect(Math.abs(b! - m.smoke_test.cases[1]!.expected)).toBeLessThanOrEqual(m.smoke_test.tolerance);
    expect(Math.abs(a! - b!)).toBeGreaterThan(5); // an 8-cylinder 1970 Chevelle vs a 4-cylinder Datsun
  });

  it("gives a plausible MPG for the contract's example car", async () => {
    const res = await predict([EXAMPLE_CAR]);
    expect(res.status).toBe(200);
    expect(res.json.predictions).toHaveLength(1);
    expect(res.json.predictions[0]).toBeGreaterThan(12);
    expect(res.json.predictions[0]).toBeLessThan(22); // the real car did 18 MPG
  });

  it("returns the same predictions for a batch, for concurrent single rows (dynamic batching) and for the model called directly", async () => {
    const instances = holdoutRows().holdout.map(toInstance);
    const direct = await svc.model.predict(instances);
    const batch = await predict(instances);
    expect(batch.json.predictions).toEqual(direct);
    const singles = await Promise.all(instances.map((x) => predict([x])));
    expect(singles.map((r) => r.json.predictions[0])).toEqual(direct);
    expect(new Set(direct).size).toBeGreaterThan(instances.length / 2);
  });

  it("accepts a full batch of 1000 rows", async () => {
    const instances = Array.from({ length: 1000 }, (_, i) => ({ ...EXAMPLE_CAR, weight: 2000 + i * 3 }));
    const res = await predict(instances);
    expect(res.status).toBe(200);
    expect(res.json.predictions).toHaveLength(1000);
    expect(res.json.predictions[999]).toBeLessThan(res.json.predictions[0]); // 5000 lbs vs 2000 lbs
  });

  it("echoes a caller's x-request-id and makes one up otherwise", async () => {
    const given = await call("GET", "/health", undefined, { "x-request-id": "abc-123" });
    expect(given.headers.get("x-request-id")).toBe("abc-123");
    const made = await call("GET", "/health", undefined, { "x-request-id": "bad id with spaces" });
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("reports the model on /version", async () => {
    const res = await call("GET", "/version");
    expect(res.status).toBe(200);
    expect(res.json.model).toMatchObject({ name: "auto-mpg", version: svc.model.manifest.version, sha256: svc.model.manifest.model_sha256 });
  });

  it("serves KServe v2 model metadata and readiness, and 404s other model names", async () => {
    const meta = await call("GET", "/v2/models/auto-mpg");
    expect(meta.status).toBe(200);
    expect(meta.json).toMatchObject({ name: "auto-mpg", versions: [svc.model.manifest.version], platform: "onnxruntime_onnx" });
    expect(meta.json.inputs.map((i: { name: string }) => i.name)).toEqual(svc.model.manifest.features.map((f) => f.name));
    expect(meta.json.outputs).toEqual([{ name: "mpg", datatype: "FP32", shape: [-1] }]);
    expect((await call("GET", "/v2/models/auto-mpg/ready")).json).toEqual({ name: "auto-mpg", ready: true });
    const other = await call("GET", "/v2/models/resnet");
    expect(other.status).toBe(404);
    expect(other.json.error).toContain("resnet");
    expect((await call("GET", "/v2")).status).toBe(200);
  });

  it("answers KServe v2 infer with the same numbers as /predict", async () => {
    const cars = holdoutRows().holdout.slice(0, 5).map(toInstance);
    const v2 = await call("POST", "/v2/models/auto-mpg/infer", v2Body(cars));
    expect(v2.status).toBe(200);
    expect(v2.json).toMatchObject({ model_name: "auto-mpg", id: "req-1" });
    expect(v2.json.outputs[0]).toMatchObject({ name: "mpg", datatype: "FP32", shape: [5] });
    expect(v2.json.outputs[0].data).toEqual((await predict(cars)).json.predictions);
  });

  it("exposes Prometheus metrics on their own port only: requests by route and status, latency, rows, model version", async () => {
    await predict([EXAMPLE_CAR, EXAMPLE_CAR]);
    await predict([{ ...EXAMPLE_CAR, weight: "heavy" }]);
    expect((await call("GET", "/metrics")).status).toBe(404); // not on the service port, which the load balancer reaches
    const res = await callAt(svc.metricsUrl, "GET", "/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(res.text).toMatch(/http_requests_total\{route="\/predict",method="POST",status="200"\} \d+/);
    expect(res.text).toMatch(/http_requests_total\{route="\/predict",method="POST",status="400"\} \d+/);
    expect(res.text).toMatch(/http_request_duration_seconds_bucket\{le="0\.005",route="\/predict",method="POST"\} \d+/);
    expect(res.text).toMatch(/model_rows_predicted_total\{endpoint="\/predict"\} \d+/);
    expect(res.text).toContain(`model_info{name="auto-mpg",version="${svc.model.manifest.version}",sha256="${svc.model.manifest.model_sha256}"} 1`);
  });
});

const good = { instances: [EXAMPLE_CAR] };
const withCar = (patch: Record<string, unknown>) => ({ instances: [{ ...EXAMPLE_CAR, ...patch }] });
const without = (key: string) => {
  const { [key as keyof typeof EXAMPLE_CAR]: _, ...rest } = EXAMPLE_CAR;
  return { instances: [rest] };
};

interface Bad {
  name: string;
  path?: string;
  body: unknown;
  contentType?: string | null;
  status: number;
  field: string;
  says: RegExp;
}

const BAD: Bad[] = [
  { name: "no instances", body: {}, status: 400, field: "instances", says: /required/ },
  { name: "instances is an object", body: { instances: EXAMPLE_CAR }, status: 400, field: "instances", says: /array/ },
  { name: "empty batch", body: { instances: [] }, status: 400, field: "instances", says: /at least one/ },
  { name: "batch over MAX_BATCH_ROWS", body: { instances: Array.from({ length: 1001 }, () => EXAMPLE_CAR) }, status: 400, field: "instances", says: /at most 1000.*1001/ },
  { name: "unknown top-level field", body: { ...good, debug: true }, status: 400, field: "debug", says: /unknown field/ },
  { name: "unknown feature", body: withCar({ colour: "red" }), status: 400, field: "instances[0].colour", says: /unknown field/ },
  { name: "missing weight", body: without("weight"), status: 400, field: "instances[0].weight", says: /required/ },
  { name: "missing origin", body: without("origin"), status: 400, field: "instances[0].origin", says: /required/ },
  { name: "number as string", body: withCar({ weight: "3504" }), status: 400, field: "instances[0].weight", says: /must be a number.*string/ },
  { name: "null value", body: withCar({ horsepower: null }), status: 400, field: "instances[0].horsepower", says: /must be a number.*null/ },
  { name: "boolean value", body: withCar({ cylinders: true }), status: 400, field: "instances[0].cylinders", says: /must be a number/ },
  { name: "array value", body: withCar({ displacement: [307] }), status: 400, field: "instances[0].displacement", says: /must be a number.*array/ },
  { name: "object value", body: withCar({ acceleration: { s: 12 } }), status: 400, field: "instances[0].acceleration", says: /must be a number.*object/ },
  { name: "fractional cylinders", body: withCar({ cylinders: 8.5 }), status: 400, field: "instances[0].cylinders", says: /whole number/ },
  { name: "fractional model year", body: withCar({ model_year: 1970.5 }), status: 400, field: "instances[0].model_year", says: /whole number/ },
  { name: "two-digit model year", body: withCar({ model_year: 70 }), status: 400, field: "instances[0].model_year", says: /at least 1970/ },
  { name: "model year after the data", body: withCar({ model_year: 2024 }), status: 400, field: "instances[0].model_year", says: /at most 1982/ },
  { name: "weight far too high", body: withCar({ weight: 35040 }), status: 400, field: "instances[0].weight", says: /at most 6000 lbs/ },
  { name: "negative weight", body: withCar({ weight: -1 }), status: 400, field: "instances[0].weight", says: /at least 1500/ },
  { name: "zero horsepower", body: withCar({ horsepower: 0 }), status: 400, field: "instances[0].horsepower", says: /at least 40/ },
  { name: "huge displacement", body: withCar({ displacement: 1e308 }), status: 400, field: "instances[0].displacement", says: /at most 500/ },
  {
    name: "overflow to Infinity (1e999)",
    body: '{"instances":[{"cylinders":8,"displacement":307,"horsepower":130,"weight":1e999,"acceleration":12,"model_year":1970,"origin":"USA"}]}',
    status: 400,
    field: "instances[0].weight",
    says: /must be a number|at most/,
  },
  { name: "NaN literal", body: '{"instances":[{"cylinders":8,"displacement":NaN}]}', status: 400, field: "(body)", says: /not valid JSON: Unexpected token/ },
  { name: "Infinity literal", body: '{"instances":[{"weight":Infinity}]}', status: 400, field: "(body)", says: /JSON/ },
  { name: "unknown origin", body: withCar({ origin: "UK" }), status: 400, field: "instances[0].origin", says: /one of USA, Europe, Japan/ },
  { name: "origin in lower case", body: withCar({ origin: "usa" }), status: 400, field: "instances[0].origin", says: /one of USA/ },
  { name: "origin as a number", body: withCar({ origin: 1 }), status: 400, field: "instances[0].origin", says: /one of USA/ },
  { name: "instance is a number", body: { instances: [5] }, status: 400, field: "instances[0]", says: /object of features/ },
  { name: "instance is null", body: { instances: [null] }, status: 400, field: "instances[0]", says: /object of features/ },
  { name: "second row bad", body: { instances: [EXAMPLE_CAR, { ...EXAMPLE_CAR, acceleration: 99 }] }, status: 400, field: "instances[1].acceleration", says: /at most 26/ },
  { name: "body is an array", body: [EXAMPLE_CAR], status: 400, field: "(body)", says: /JSON object/ },
  { name: "body is null", body: "null", status: 400, field: "(body)", says: /JSON object/ },
  { name: "body is a JSON string", body: '"hello"', status: 400, field: "(body)", says: /JSON object/ },
  { name: "malformed JSON", body: '{"instances": [', status: 400, field: "(body)", says: /JSON/ },
  { name: "empty JSON body", body: "", status: 400, field: "(body)", says: /empty/ },
  { name: "prototype poisoning", body: `{"instances":[${JSON.stringify(EXAMPLE_CAR)}],"__proto__":{"admin":true}}`, status: 400, field: "__proto__", says: /unknown field/ },
  {
    name: "constructor poisoning in an instance",
    body: `{"instances":[${JSON.stringify(EXAMPLE_CAR).slice(0, -1)},"constructor":{"prototype":{"admin":true}}}]}`,
    status: 400,
    field: "instances[0].constructor",
    says: /unknown field/,
  },
  { name: "text/plain", body: JSON.stringify(good), contentType: "text/plain", status: 415, field: "content-type", says: /application\/json.*text\/plain/ },
  { name: "form encoded", body: "instances=1", contentType: "application/x-www-form-urlencoded", status: 415, field: "content-type", says: /application\/json/ },
  { name: "body over BODY_LIMIT_BYTES", body: JSON.stringify({ instances: [EXAMPLE_CAR], pad: "x".repeat(1024 * 1024) }), status: 413, field: "(body)", says: /limit of 1048576 bytes/ },
  // KServe v2 infer
  { name: "v2: unknown model", path: "/v2/models/other/infer", body: v2Body([EXAMPLE_CAR]), status: 404, field: "", says: /not found/ },
  { name: "v2: malformed model name", path: "/v2/models/%E0%A4%A/infer", body: v2Body([EXAMPLE_CAR]), status: 400, field: "name", says: /percent-encoding/ },
  { name: "v2: no inputs", path: "/v2/models/auto-mpg/infer", body: { inputs: [] }, status: 400, field: "inputs", says: /at least|>=1|too small/i },
  {
    name: "v2: unknown input",
    path: "/v2/models/auto-mpg/infer",
    body: { inputs: [...v2Body([EXAMPLE_CAR]).inputs, { name: "colour", shape: [1], datatype: "BYTES", data: ["red"] }] },
    status: 400,
    field: "inputs[7].name",
    says: /unknown input "colour"/,
  },
  { name: "v2: missing input", path: "/v2/models/auto-mpg/infer", body: { inputs: v2Body([EXAMPLE_CAR]).inputs.slice(0, 6) }, status: 400, field: "inputs", says: /missing input "origin"/ },
  {
    name: "v2: wrong datatype",
    path: "/v2/models/auto-mpg/infer",
    body: { inputs: v2Body([EXAMPLE_CAR]).inputs.map((t) => (t.name === "origin" ? { ...t, datatype: "FP32" } : t)) },
    status: 400,
    field: "inputs[6].datatype",
    says: /BYTES/,
  },
  {
    name: "v2: shape disagrees with data",
    path: "/v2/models/auto-mpg/infer",
    body: { inputs: v2Body([EXAMPLE_CAR]).inputs.map((t, i) => (i === 0 ? { ...t, shape: [2] } : t)) },
    status: 400,
    field: "inputs[0].data",
    says: /1 values but shape says 2/,
  },
  { name: "v2: out-of-range value", path: "/v2/models/auto-mpg/infer", body: v2Body([EXAMPLE_CAR, { ...EXAMPLE_CAR, weight: 9000 }]), status: 400, field: "inputs[3].data[1]", says: /at most 6000/ },
  {
    name: "v2: unknown output requested",
    path: "/v2/models/auto-mpg/infer",
    body: { ...v2Body([EXAMPLE_CAR]), outputs: [{ name: "probabilities" }] },
    status: 400,
    field: "outputs[0].name",
    says: /unknown output/,
  },
  { name: "v2: unknown top-level field", path: "/v2/models/auto-mpg/infer", body: { ...v2Body([EXAMPLE_CAR]), instances: [] }, status: 400, field: "instances", says: /unknown field/ },
];

describe("bad requests get a 4xx that names the field and the reason", () => {
  it("has a table of at least 30 cases", () => {
    expect(BAD.length).toBeGreaterThanOrEqual(30);
  });

  it.each(BAD)("$name -> $status $field", async (c) => {
    const headers: Record<string, string> = {};
    if (c.contentType !== undefined && c.contentType !== null) headers["content-type"] = c.contentType;
    const res = await call("POST", c.path ?? "/predict", c.body, headers);
    expect(res.status, res.text).toBe(c.status);
    expect(typeof res.json.error).toBe("string");
    expect(res.json.error).toMatch(c.says);
    if (c.field !== "")
      expect(
        res.json.issues.map((i: { field: string }) => i.field),
        res.text,
      ).toContain(c.field);
    expect(res.text).not.toMatch(/node_modules|\bat .*\.(ts|js):\d+/); // no stack traces
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it("refuses a POST with a body and no content-type with 415", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${svc.url}/predict`);
      const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", headers: { "content-length": "2" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end("{}");
    });
    expect(status).toBe(415);
  });

  it("survives a client that hangs up in the middle of a body, and answers garbage HTTP with a JSON 400", async () => {
    const { connect } = await import("node:net");
    const u = new URL(svc.url);
    const sock = connect(Number(u.port), u.hostname);
    await new Promise((r) => sock.once("connect", r));
    sock.write('POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"instances":');
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    const garbage = connect(Number(u.port), u.hostname);
    let answer = "";
    garbage.on("data", (d: Buffer) => (answer += d.toString()));
    garbage.write("NOT HTTP AT ALL\r\n\r\n");
    await new Promise((r) => garbage.once("close", r));
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request[\s\S]*"error":"malformed request/);
    expect((await predict([EXAMPLE_CAR])).status).toBe(200);
  });

  it("answers unknown routes with a JSON 404", async () => {
    const res = await call("GET", "/predictions");
    expect(res.status).toBe(404);
    expect(res.json.error).toContain("/predictions");
  });

  it("never answers 5xx to any of 300 random JSON bodies", async () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const values = (): unknown => {
      const pick = Math.floor(rand() * 9);
      if (pick === 0) return null;
      if (pick === 1) return rand() > 0.5;
      if (pick === 2) return (rand() - 0.5) * 10 ** Math.floor(rand() * 12);
      if (pick === 3) return ["USA", "Japan", "", "x".repeat(50)][Math.floor(rand() * 4)];
      if (pick === 4) return [];
      if (pick === 5) return {};
      if (pick === 6) return Math.floor(rand() * 3000);
      if (pick === 7) return [values()];
      return { ...EXAMPLE_CAR };
    };
    const keys = ["instances", "cylinders", "weight", "origin", "model_year", "inputs", "x"];
    for (let i = 0; i < 300; i++) {
      const car: Record<string, unknown> = { ...EXAMPLE_CAR };
      for (let k = 0; k < 3; k++) car[keys[Math.floor(rand() * keys.length)]!] = values();
      const body = rand() < 0.7 ? { instances: [car] } : { [keys[Math.floor(rand() * keys.length)]!]: values() };
      const path = rand() < 0.8 ? "/predict" : "/v2/models/auto-mpg/infer";
      const res = await call("POST", path, body);
      expect(res.status, `${path} ${JSON.stringify(body)} -> ${res.text}`).toBeLessThan(500);
    }
  });
});

describe("one /predict path (precompiled check, callbacks, hand-written JSON), whatever the query string", () => {
  // Before, "/predict?x=1" took a second, generic route (zod on every body, promises, JSON.stringify); now the path
  // is routed, not the raw URL, so a query string changes nothing.
  const both = async (body: unknown, contentType?: string) => {
    const headers: Record<string, string> = contentType ? { "content-type": contentType } : {};
    const [plain, query] = [await call("POST", "/predict", body, headers), await call("POST", "/predict?via=query", body, headers)];
    const strip = (r: Res) => ({
      status: r.status,
      json: r.json === undefined ? r.text : { ...r.json, request_id: typeof r.json.request_id },
      contentType: r.headers.get("content-type"),
      connection: r.headers.get("connection"),
    });
    expect(strip(query)).toEqual(strip(plain));
    return { plain, query };
  };

  it("gives 200 answers byte-identical to JSON.stringify for single rows, batches and the 1000-row maximum", async () => {
    const holdout = holdoutRows().holdout.map(toInstance);
    for (const instances of [[EXAMPLE_CAR], holdout, Array.from({ length: 1000 }, (_, i) => ({ ...EXAMPLE_CAR, weight: 2000 + i * 3 }))]) {
      const { plain, query } = await both({ instances });
      expect(plain.status).toBe(200);
      expect(query.text).toBe(plain.text);
      expect(plain.json.predictions).toHaveLength(instances.length);
      expect(plain.text).toBe(JSON.stringify({ predictions: plain.json.predictions, model: plain.json.model }));
    }
  });

  it.each(BAD.filter((c) => c.path === undefined))("same status and body with a query string for: $name", async (c) => {
    await both(c.body, c.contentType ?? undefined);
  });

  it("counts /predict?query under the /predict route, not as unmatched", async () => {
    const svc2 = await startApp();
    try {
      for (const path of ["/predict", "/predict?a=1", "/predict?"]) {
        const res = await fetch(`${svc2.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ instances: [EXAMPLE_CAR] }) });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
      const text = await (await fetch(`${svc2.metricsUrl}/metrics`)).text();
      expect(text).toContain('http_requests_total{route="/predict",method="POST",status="200"} 3');
      expect(text).toContain('model_rows_predicted_total{endpoint="/predict"} 3');
      expect(text).not.toMatch(/route="unmatched"/);
    } finally {
      await svc2.close();
    }
  });
});

describe("internal errors", () => {
  it("answers 500 with no internals and logs the error as one JSON line with the request id", async () => {
    // A manifest that feeds the model 8 columns instead of 9: onnxruntime itself fails at run time.
    const broken = await startApp({
      manifest: (m) => ({ ...m, input: { ...m.input, columns: m.input.columns.filter((c) => !("one_hot" in c && c.one_hot === "Japan")) } }),
    });
    try {
      const res = await fetch(`${broken.url}/predict`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": "trace-500" },
        body: JSON.stringify(good),
      });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: "internal error", request_id: "trace-500" });
      const line = broken.logs.find((l) => l.reqId === "trace-500" && l.level === 50);
      expect(line).toBeDefined();
      expect(JSON.stringify(line)).toMatch(/dimension|Got invalid|index/i);
    } finally {
      await broken.close();
    }
  });
});
