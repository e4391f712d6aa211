import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatTimeline, revisionTimeline, startLoad, type Answer } from "./traffic.js";

describe("revisionTimeline", () => {
  const a = (at: number, revision: string | undefined, status = 200): Answer => ({ at, status, revision, server: "s1" });
  it("shows the switch as stretches: old only, both, new only; failures as their status", () => {
    const answers = [a(0, "r1"), a(100, "r1"), a(300, "r1"), a(310, "r2"), a(600, "r2"), a(620, undefined, 503)];
    expect(revisionTimeline(answers)).toEqual([
      { fromMs: 0, toMs: 250, counts: { r1: 2 } },
      { fromMs: 250, toMs: 500, counts: { r1: 1, r2: 1 } },
      { fromMs: 500, toMs: 750, counts: { r2: 1, "HTTP 503": 1 } },
    ]);
  });
  it("does not split a stretch at a pause in the load, and names answers without a revision by their server", () => {
    const segments = revisionTimeline([a(0, undefined), a(900, undefined)]);
    expect(segments).toEqual([{ fromMs: 0, toMs: 1000, counts: { "s1 (no revision in the answer)": 2 } }]);
    expect(formatTimeline(segments)[0]).toMatch(/0\.00-1\.00\s+s\s+s1 \(no revision in the answer\) x2/);
  });
});

describe("startLoad", () => {
  let server: Server;
  let port = 0;
  let fail = false;
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        if (fail) res.writeHead(500).end("{}");
        else res.writeHead(200, { "content-type": "application/json", "x-served-by": "s1" }).end('{"predictions":[1],"revision":"r7"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => server.close());

  it("sends predictions at the asked rate and counts 5xx as failed requests, with the revision of each answer", async () => {
    const load = startLoad({ url: `http://127.0.0.1:${port}`, ratePerSecond: 100, connections: 4 });
    await new Promise((r) => setTimeout(r, 1100));
    fail = true;
    await new Promise((r) => setTimeout(r, 1000));
    const report = await load.stop();
    expect(report.requests).toBeGreaterThanOrEqual(150);
    expect(report.failed).toBe(report.non2xx);
    expect(report.failed).toBeGreaterThan(0);
    expect(report.answers.filter((x) => x.status === 200).every((x) => x.revision === "r7" && x.server === "s1")).toBe(true);
  });

  it("counts a connection that nobody accepts as a failed request", async () => {
    const load = startLoad({ url: "http://127.0.0.1:1", ratePerSecond: 20, connections: 2 });
    await new Promise((r) => setTimeout(r, 600));
    const report = await load.stop();
    expect(report.errors).toBeGreaterThan(0);
    expect(report.failed).toBeGreaterThanOrEqual(report.errors);
  });
});
