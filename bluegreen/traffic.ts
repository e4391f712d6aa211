/**
 * Live traffic through the load balancer while a release happens: autocannon at a fixed
 * overall rate, every answer recorded with its time, status, the revision it names (the
 * service puts `revision` in every /predict answer) and the HAProxy server that gave it. The
 * report counts failed requests (non-2xx and connection errors or timeouts, as a client sees
 * them), latency percentiles, and which revision answered over time.
 */
import autocannon from "autocannon";
import { SERVICE_MODEL_DIR } from "../service/build.js";
import { exampleCar } from "../service/src/manifest.js";

/** The prediction make_prediction.sh sends: the example car of the model the revision ships. */
export const PREDICTION_BODY = JSON.stringify({ instances: [exampleCar(SERVICE_MODEL_DIR)] });

export interface Answer {
  /** ms since the load started. */
  readonly at: number;
  readonly status: number;
  readonly revision: string | undefined;
  readonly server: string | undefined;
}

export interface TrafficReport {
  readonly requests: number;
  readonly failed: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly durationMs: number;
  readonly ratePerSecond: number;
  readonly answers: readonly Answer[];
  /** ms since the load started, one per connection error or timeout. */
  readonly errorTimes: readonly number[];
}

interface AutocannonResult {
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number };
}
interface Tracker {
  on(event: "reqError", listener: (error: Error) => void): void;
  stop(): void;
}
type Run = (
  options: {
    url: string;
    connections: number;
    overallRate: number;
    duration: number;
    timeout: number;
    requests: { method: string; path: string; headers: Record<string, string>; body: string; onResponse: (status: number, body: string, context: unknown, headers: Record<string, string>) => void }[];
  },
  done: (error: Error | null, result: AutocannonResult) => void,
) => Tracker;
// The project's autocannon typing (service/bench/autocannon.d.ts) covers the promise form only;
// the rehearsal needs the callback form, which returns the tracker it stops.
const runAutocannon = autocannon as unknown as Run;

export interface LoadOptions {
  readonly url: string;
  readonly ratePerSecond: number;
  readonly connections?: number;
  /** Upper bound: the load stops by itself after this long even if nobody calls stop(). */
  readonly maxSeconds?: number;
  readonly timeoutSeconds?: number;
}

export interface RunningLoad {
  /** ms since the load started. */
  now(): number;
  /** The answers so far (live: the rehearsal watches them while the release happens). */
  readonly answers: readonly Answer[];
  stop(): Promise<TrafficReport>;
}

export function startLoad(options: LoadOptions): RunningLoad {
  const started = performance.now();
  const now = () => performance.now() - started;
  const answers: Answer[] = [];
  const errorTimes: number[] = [];
  let finish: (report: TrafficReport) => void;
  let fail: (error: Error) => void;
  let stoppedAt: number | undefined;
  const finished = new Promise<TrafficReport>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const tracker = runAutocannon(
    {
      url: options.url,
      connections: options.connections ?? 10,
      overallRate: options.ratePerSecond,
      duration: options.maxSeconds ?? 600,
      timeout: options.timeoutSeconds ?? 10,
      requests: [
        {
          method: "POST",
          path: "/predict",
          headers: { "content-type": "application/json" },
          body: PREDICTION_BODY,
          onResponse: (status, body, _context, headers) => {
            answers.push({ at: now(), status, revision: revisionOf(body), server: headers["x-served-by"] });
          },
        },
      ],
    },
    (error, result) => {
      if (error) return fail(error);
      // Until stop() was called: autocannon finishes its current second before it reports.
      const durationMs = stoppedAt ?? now();
      finish({
        requests: answers.length + errorTimes.length,
        failed: result.non2xx + result.errors,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        durationMs,
        ratePerSecond: (answers.filter((a) => a.at <= durationMs).length + errorTimes.filter((t) => t <= durationMs).length) / (durationMs / 1000),
        answers,
        errorTimes,
      });
    },
  );
  tracker.on("reqError", () => errorTimes.push(now()));
  return {
    now,
    answers,
    stop: () => {
      stoppedAt ??= now();
      tracker.stop();
      return finished;
    },
  };
}

function revisionOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { revision?: unknown };
    return typeof parsed.revision === "string" ? parsed.revision : undefined;
  } catch {
    return undefined;
  }
}

export interface Segment {
  readonly fromMs: number;
  readonly toMs: number;
  /** Answers per revision (or "HTTP 5xx" for failed ones) in this stretch. */
  readonly counts: Readonly<Record<string, number>>;
}

/**
 * Which revision answered over time, as stretches in which the SET of answering revisions
 * stays the same (bucketed by `bucketMs`): "r1 only", then "r1 + r2" during the switch, then
 * "r2 only". Buckets without answers up to `maxGapMs` long do not split a stretch.
 */
export function revisionTimeline(answers: readonly Answer[], bucketMs = 250, maxGapMs = 1000): Segment[] {
  const segments: { fromMs: number; toMs: number; counts: Record<string, number>; key: string }[] = [];
  const buckets = new Map<number, Record<string, number>>();
  for (const a of answers) {
    const b = Math.floor(a.at / bucketMs);
    const label = a.status >= 200 && a.status < 300 ? (a.revision ?? `${a.server ?? "?"} (no revision in the answer)`) : `HTTP ${a.status}`;
    const counts = buckets.get(b) ?? {};
    counts[label] = (counts[label] ?? 0) + 1;
    buckets.set(b, counts);
  }
  for (const b of [...buckets.keys()].sort((x, y) => x - y)) {
    const counts = buckets.get(b)!;
    const key = Object.keys(counts).sort().join(" + ");
    const last = segments.at(-1);
    // autocannon paces by the second (bursts), so quiet buckets inside a stretch are no change.
    if (last && last.key === key && b * bucketMs - last.toMs <= maxGapMs) {
      last.toMs = (b + 1) * bucketMs;
      for (const [k, v] of Object.entries(counts)) last.counts[k] = (last.counts[k] ?? 0) + v;
    } else {
      segments.push({ fromMs: b * bucketMs, toMs: (b + 1) * bucketMs, counts: { ...counts }, key });
    }
  }
  return segments.map(({ fromMs, toMs, counts }) => ({ fromMs, toMs, counts }));
}

export function formatTimeline(segments: readonly Segment[]): string[] {
  return segments.map(
    (s) =>
      `${(s.fromMs / 1000).toFixed(2).padStart(7)}-${(s.toMs / 1000).toFixed(2).padEnd(7)} s  ${Object.entries(s.counts)
        .map(([k, v]) => `${k} x${v}`)
        .join(", ")}`,
  );
}
