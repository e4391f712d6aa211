/**
 * The app under hostile and unlucky traffic, over real HTTP on loopback: bounded logs and error bodies, overload
 * protection, connection-level errors, timeouts, lingering close, pipelining, the revision id.
 */
import { execFile } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_TIMEOUTS } from "./app.js";
import { EXAMPLE_CAR, type RunningApp, startApp } from "./testing.js";

const execFileP = promisify(execFile);
const ONE = JSON.stringify({ instances: [EXAMPLE_CAR] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes `data` on a fresh connection and collects everything the server sends until it closes (or `ms` pass). */
async function raw(url: string, data: string, ms = 3000): Promise<string> {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  await once(socket, "connect");
  let answer = "";
  socket.on("data", (d: Buffer) => (answer += d.toString("latin1")));
  socket.on("error", () => {});
  socket.write(data);
  await Promise.race([once(socket, "close"), sleep(ms)]);
  socket.destroy();
  return answer;
}

const scrape = async (svc: RunningApp) => (await fetch(`${svc.metricsUrl}/metrics`)).text();

describe("bounded logs and error bodies", () => {
  let svc: RunningApp;
  beforeAll(async () => {
    svc = await startApp();
  });
  afterAll(() => svc.close());

  it("clips a 15,000-character URL in the 404 body and in the log line", async () => {
    const long = `/${"a".repeat(15_000)}`;
    const res = await fetch(`${svc.url}${long}`);
    const text = await res.text();
    expect(res.status).toBe(404);
    expect(text.length).toBeLessThan(600);
    expect(text).toMatch(/more characters/);
    const line = JSON.stringify(svc.logs.at(-1));
    expect(line.length).toBeLessThan(1500);
  });

  it("logs a flood of one kind of client error a few lines a second, and counts the rest", async () => {
    const before = svc.logs.length;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 200 }, (_, i) => fetch(`${svc.url}/nope-${i}`).then((r) => r.text())));
    const windows = Math.ceil((performance.now() - t0) / 1000) + 1;
    const refused = svc.logs.slice(before).filter((l) => l.msg === "request refused");
    expect(refused.length).toBeLessThanOrEqual(10 * windows);
    const sampled = Number(/log_lines_dropped_total\{reason="sampled"\} (\d+)/.exec(await scrape(svc))?.[1]);
    expect(sampled).toBeGreaterThanOrEqual(200 - refused.length);
    await sleep(1100); // the window ends: its count is logged
    await fetch(`${svc.url}/nope-again`).then((r) => r.text());
    // One summary line per window that suppressed lines; together they account for every line not written.
    const summaries = svc.logs.slice(before).filter((l) => l.msg === "similar log lines suppressed" && l.kind === "refused 404 unmatched");
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries.reduce((n, l) => n + Number(l.suppressed), 0)).toBeGreaterThanOrEqual(200 - refused.length);
  });

  it("caps the issue list of a KServe request with thousands of bad tensors: the first 20 and the total", async () => {
    const inputs = Array.from({ length: 5000 }, (_, i) => ({ name: `x${i}`, shape: [1], datatype: "FP32", data: [1] }));
    const res = await fetch(`${svc.url}/v2/models/auto-mpg/infer`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs }) });
    const text = await res.text();
    const body = JSON.parse(text) as { issues: unknown[]; issues_total: number };
    expect(res.status).toBe(400);
    expect(body.issues).toHaveLength(20);
    expect(body.issues_total).toBe(5000 + 7); // every unknown input, and the 7 missing features
    expect(text.length).toBeLessThan(4000);
  });

  it("bounds the method label: odd HTTP methods share one series", async () => {
    for (const method of ["PUT", "PATCH", "OPTIONS", "PROPFIND", "MKCOL", "LOCK", "PURGE"]) {
      await raw(svc.url, `${method} /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    }
    const text = await scrape(svc);
    expect(text).toMatch(/http_requests_total\{route="\/predict",method="other",status="404"\} 7/);
    expect(text).not.toMatch(/method="(PROPFIND|MKCOL|LOCK|PURGE)"/);
  });

  it("answers a request with no Host header with a JSON 400", async () => {
    const answer = await raw(svc.url, "GET /health HTTP/1.1\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4))).toMatchObject({ error: "host: required in HTTP/1.1 requests" });
  });
});

describe("KServe datatypes are held to their ranges", () => {
  let svc: RunningApp;
  beforeAll(async () => {
    svc = await startApp();
  });
  afterAll(() => svc.close());

  const infer = (cylinders: { datatype: string; value: number }) =>
    fetch(`${svc.url}/v2/models/auto-mpg/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        inputs: Object.entries(EXAMPLE_CAR).map(([name, v]) =>
          name === "weight" ? { name, shape: [1], datatype: cylinders.datatype, data: [cylinders.value] } : { name, shape: [1], datatype: name === "origin" ? "BYTES" : "FP64", data: [v] },
        ),
      }),
    }).then(async (r) => ({ status: r.status, json: (await r.json()) as { error?: string } }));

  it.each([
    ["INT8", 2400, /INT8 holds whole numbers from -128 to 127, got 2400/],
    ["INT64", 3504.5, /INT64 holds whole numbers .* got 3504.5/],
    ["UINT8", 3504, /UINT8 holds whole numbers from 0 to 255/],
    ["FP16", 70000, /FP16 holds numbers from -65504 to 65504/],
  ])("refuses %s %d", async (datatype, value, says) => {
    const r = await infer({ datatype, value });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(says);
  });

  it.each([
    ["INT16", 3504],
    ["INT64", 3504],
    ["FP16", 3504],
    ["FP32", 3504.5],
  ])("accepts %s %d", async (datatype, value) => {
    expect((await infer({ datatype, value })).status).toBe(200);
  });
});

describe("overload protection", () => {
  it("answers /predict 503 with Retry-After at once past the in-flight limit, counts it, and keeps /health and /ready fast", async () => {
    const svc = await startApp({ overload: { maxInFlight: 1, maxEventLoopDelayMs: 0 } });
    svc.app.setReady(true);
    try {
      // A request whose body is still arriving holds the one in-flight slot.
      const slow = connect(Number(new URL(svc.url).port), "127.0.0.1");
      await once(slow, "connect");
      slow.write(`POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${ONE.length}\r\n\r\n{`);
      await sleep(50);
      const res = await fetch(`${svc.url}/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: ONE });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(((await res.json()) as { error: string }).error).toMatch(/1 prediction requests in flight, the limit is 1/);
      expect((await fetch(`${svc.url}/ready`)).status).toBe(200);
      expect((await fetch(`${svc.url}/health`)).status).toBe(200);
      slow.end(ONE.slice(1));
      await once(slow, "end");
      const after = await fetch(`${svc.url}/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: ONE });
      expect(after.status).toBe(200); // the slot is free again
      expect(await scrape(svc)).toMatch(/http_requests_shed_total\{reason="in_flight"\} 1/);
    } finally {
      await svc.close();
    }
  });

  it("answers 503 while the event loop lags past the limit, and accepts again once it recovers", async () => {
    const svc = await startApp({ overload: { maxEventLoopDelayMs: 100, maxInFlight: 0, sampleIntervalMs: 50 } });
    try {
      const post = () => fetch(`${svc.url}/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: ONE });
      expect((await post()).status).toBe(200);
      const t0 = performance.now();
      while (performance.now() - t0 < 300); // the loop blocked for 300 ms
      await sleep(10);
      const shed = await post();
      expect(shed.status).toBe(503);
      expect(((await shed.json()) as { error: string }).error).toMatch(/event-loop delay \d+ ms is over the 100 ms limit/);
      // Recovery: accepted again once the sampled delay is back under the limit (a busy machine may take a few samples).
      let status = 503;
      for (const deadline = performance.now() + 5000; status === 503 && performance.now() < deadline; await sleep(50)) status = (await post()).status;
      expect(status).toBe(200);
      expect(await scrape(svc)).toMatch(/http_requests_shed_total\{reason="event_loop_delay"\} [1-9]\d*/);
    } finally {
      await svc.close();
    }
  });
});

describe("connection-level errors, timeouts and pipelining", () => {
  let svc: RunningApp;
  beforeAll(async () => {
    svc = await startApp({ timeouts: { headersMs: 300, requestMs: 600, checkIntervalMs: 50 } });
  });
  afterAll(() => svc.close());

  it("uses the documented timeouts by default, checked every second", async () => {
    const d = await startApp();
    try {
      expect({ headers: d.app.server.headersTimeout, request: d.app.server.requestTimeout, keepAlive: d.app.server.keepAliveTimeout }).toEqual({
        headers: 10_000,
        request: 30_000,
        keepAlive: 65_000,
      });
      expect(DEFAULT_TIMEOUTS.checkIntervalMs).toBeLessThanOrEqual(1000);
    } finally {
      await d.close();
    }
  });

  it("closes a slow-header connection at the headers timeout with a JSON 408, counted and logged as such", async () => {
    const t0 = performance.now();
    const answer = await raw(svc.url, "GET /health HTTP/1.1\r\nHost: x\r\n", 3000);
    const ms = performance.now() - t0;
    expect(answer).toMatch(/^HTTP\/1\.1 408 [\s\S]*"error":"request headers not received within 0.3 s"/);
    expect(ms).toBeLessThan(300 + 50 + 250);
    expect(await scrape(svc)).toMatch(/http_connection_errors_total\{status="408",reason="headers_timeout"\} [1-9]/);
    expect(svc.logs.some((l) => l.msg === "connection refused: request headers not received within 0.3 s")).toBe(true);
  });

  it("answers a body that stops arriving with a 408 at the request timeout, logged as a timeout, not as a client hang-up", async () => {
    const t0 = performance.now();
    const answer = await raw(svc.url, `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${ONE.length}\r\nX-Request-Id: slow-body\r\n\r\n{"inst`, 3000);
    expect(answer).toMatch(/^HTTP\/1\.1 408 [\s\S]*request body not received within the 0.6 s request timeout/);
    expect(performance.now() - t0).toBeLessThan(600 + 50 + 250);
    await sleep(50);
    const line = svc.logs.find((l) => l.reqId === "slow-body");
    expect(line).toMatchObject({ msg: "request refused", statusCode: 408 });
    expect(String(line!.error)).toMatch(/not received within the 0.6 s request timeout \(6 bytes arrived\)/);
    expect(await scrape(svc)).toMatch(/http_connection_errors_total\{status="408",reason="body_timeout"\} [1-9]/);
  });

  it("counts and logs malformed requests (400) and oversized headers (431)", async () => {
    expect(await raw(svc.url, "NOT HTTP AT ALL\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 [\s\S]*"error":"malformed request: HPE_INVALID_METHOD"/);
    expect(await raw(svc.url, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    const text = await scrape(svc);
    expect(text).toMatch(/http_connection_errors_total\{status="400",reason="HPE_INVALID_METHOD"\} 1/);
    expect(text).toMatch(/http_connection_errors_total\{status="431",reason="headers_too_large"\} 1/);
    expect(svc.logs.some((l) => l.msg === "connection refused: malformed request: HPE_INVALID_METHOD")).toBe(true);
  });

  it("answers valid pipelined requests before the 400 of a malformed one that follows in the same write", async () => {
    const answer = await raw(svc.url, "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\nBROKEN\r\n\r\n");
    const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    expect(statuses).toEqual(["200", "200", "400"]);
    expect(answer).toMatch(/\{"status":"ok"\}[\s\S]*\{"live":true\}[\s\S]*malformed request/);
  });
});

describe("lingering close after 413 and 415", () => {
  let svc: RunningApp;
  beforeAll(async () => {
    svc = await startApp({ maxBatchRows: 10, bodyLimitBytes: 64 * 1024 });
  });
  afterAll(() => svc.close());

  // Python's urllib writes the whole body before it reads: it must still see the answer.
  const python = (contentType: string, bytes: number) =>
    execFileP("python3", [
      "-c",
      `import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], data=b"x" * int(sys.argv[2]), headers={"Content-Type": sys.argv[3]})
try:
    urllib.request.urlopen(req, timeout=10)
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
except Exception as e:
    print("failed:", repr(e))`,
      `${svc.url}/predict`,
      String(bytes),
      contentType,
    ]).then((r) => r.stdout);

  it.each([
    ["application/json", 2 * 1024 * 1024, /^413 .*limit of 65536 bytes/],
    ["text/plain", 2 * 1024 * 1024, /^415 .*must be application\/json/],
  ])("urllib sending %s, %d bytes, reads the refusal instead of a broken pipe", async (type, bytes, says) => {
    expect(await python(type, bytes)).toMatch(says);
  });

  it("stops reading after the byte bound and closes", async () => {
    const bounded = await startApp({ maxBatchRows: 10, bodyLimitBytes: 64 * 1024, linger: { maxBytes: 256 * 1024, maxMs: 5000 } });
    try {
      const u = new URL(bounded.url);
      const socket = connect(Number(u.port), u.hostname);
      await once(socket, "connect");
      socket.on("error", () => {});
      let answer = "";
      socket.on("data", (d: Buffer) => (answer += d.toString()));
      socket.write(`POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      while (!socket.destroyed && sent < 10 * 1024 * 1024) {
        // events.once rejects on "error": the reset after the bound is what ends this loop.
        if (!socket.write(chunk)) await Promise.race([once(socket, "drain"), once(socket, "close")]).catch(() => socket.destroy());
        sent += chunk.length;
      }
      await Promise.race([once(socket, "close"), sleep(3000)]);
      expect(socket.destroyed || socket.readableEnded).toBe(true);
      expect(sent).toBeLessThan(10 * 1024 * 1024);
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      socket.destroy();
    } finally {
      await bounded.close();
    }
  });
});

describe("the revision id", () => {
  it("is in every /predict answer (with or without a query string), in KServe infer parameters and in /version", async () => {
    const svc = await startApp({ revisionId: "d-EXAMPLE123" });
    try {
      const post = (path: string) => fetch(`${svc.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: ONE }).then((r) => r.text());
      const fast = await post("/predict");
      expect(JSON.parse(fast)).toMatchObject({ model: { name: "auto-mpg" }, revision: "d-EXAMPLE123" });
      expect(await post("/predict?via=query")).toBe(fast);
      expect(((await (await fetch(`${svc.url}/version`)).json()) as { revision: string }).revision).toBe("d-EXAMPLE123");
      const v2 = await fetch(`${svc.url}/v2/models/auto-mpg/infer`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ inputs: Object.entries(EXAMPLE_CAR).map(([name, v]) => ({ name, shape: [1], datatype: name === "origin" ? "BYTES" : "FP32", data: [v] })) }),
      });
      expect(await v2.json()).toMatchObject({ parameters: { revision: "d-EXAMPLE123" } });
    } finally {
      await svc.close();
    }
  });
});
