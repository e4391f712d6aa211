/**
 * When the runtimes we ship stop being supported, and the guard that refuses them. A runtime
 * past its end of support still runs, but gets no security fixes, and AWS Lambda then blocks
 * creating (and later updating) functions on it: `cdktf deploy` breaks on a date nobody chose.
 * The guard turns that date into a synthesis error, with a warning in the 90 days before.
 *
 * "Today" is always passed in: the CDKTF program reads the clock once at the top (main.ts),
 * tests pass a fixed date, so no test starts failing because the calendar moved.
 */

export type LambdaNodeRuntime = "nodejs20.x" | "nodejs22.x" | "nodejs24.x";

/**
 * The deployment trigger's Lambda runtime: the newest Node.js runtime the pinned AWS provider
 * (5.100.0) accepts; nodejs24.x needs provider 6.x. Kept here, beside its support window, so
 * that the stacks, the synthesis guard and the CircleCI checks read one value.
 */
export const TRIGGER_RUNTIME: LambdaNodeRuntime = "nodejs22.x";

interface SupportWindow {
  /** The last day of support (ISO date): after it, synthesis refuses the runtime. */
  readonly endOfSupport: string;
  /** What to move to. */
  readonly replacement: string;
  /** Where the date comes from, quoted in the message so that a reader can check it. */
  readonly source: string;
}

const NODE_RELEASES = "the Node.js release schedule (https://github.com/nodejs/Release#release-schedule)";
const LAMBDA_RUNTIMES = "the AWS Lambda runtimes page (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html)";

/** Upstream end of life of each Node.js major the fleet may run. Read 2026-12-01. */
export const NODE_MAJOR_SUPPORT: Readonly<Record<number, SupportWindow>> = {
  // Node.js 20 "Iron": end of life 2026-04-30.
  20: { endOfSupport: "2026-04-30", replacement: "Node.js 24", source: NODE_RELEASES },
  // Node.js 22 "Jod": maintenance LTS until 2027-04-30.
  22: { endOfSupport: "2027-04-30", replacement: "Node.js 24", source: NODE_RELEASES },
  // Node.js 24 "Krypton": LTS until 2028-04-30.
  24: { endOfSupport: "2028-04-30", replacement: "the next even Node.js major in LTS", source: NODE_RELEASES },
};

/**
 * Lambda's deprecation date of each Node.js runtime (the end of security patches; creating
 * functions is blocked about a month later, updating them about two). Read 2026-12-01.
 */
export const LAMBDA_RUNTIME_SUPPORT: Readonly<Record<LambdaNodeRuntime, SupportWindow>> = {
  // nodejs20.x: deprecated 2026-04-30, create blocked 2026-08-31, update blocked 2026-09-30.
  "nodejs20.x": { endOfSupport: "2026-04-30", replacement: "nodejs22.x", source: LAMBDA_RUNTIMES },
  // nodejs22.x: deprecated 2027-04-30, create blocked 2027-06-01.
  // nodejs24.x needs AWS provider 6.x; provider 5.100.0 (pinned here) rejects it.
  "nodejs22.x": { endOfSupport: "2027-04-30", replacement: "nodejs24.x (needs AWS provider 6.x)", source: LAMBDA_RUNTIMES },
  // nodejs24.x: deprecated 2028-04-30.
  "nodejs24.x": { endOfSupport: "2028-04-30", replacement: "the next Lambda Node.js runtime", source: LAMBDA_RUNTIMES },
};

/** How long before the end of support synthesis starts warning. */
export const WARNING_DAYS = 90;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A runtime one of the stacks ships, and who ships it (for the message). */
export interface ShippedRuntime {
  readonly usedBy: string;
  readonly runtime: { readonly kind: "node-major"; readonly major: number } | { readonly kind: "lambda"; readonly id: LambdaNodeRuntime };
}

export interface RuntimeSupportReport {
  /** Runtimes past their end of support, or with no known date: synthesis must stop. */
  readonly errors: string[];
  /** Runtimes within WARNING_DAYS of their end of support. */
  readonly warnings: string[];
}

export class RuntimeSupportError extends Error {
  override readonly name = "RuntimeSupportError";
}

export function checkRuntimeSupport(shipped: readonly ShippedRuntime[], today: Date): RuntimeSupportReport {
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const { usedBy, runtime } of shipped) {
    const label = runtime.kind === "lambda" ? `Lambda runtime ${runtime.id}` : `Node.js ${runtime.major}`;
    const window = runtime.kind === "lambda" ? LAMBDA_RUNTIME_SUPPORT[runtime.id] : NODE_MAJOR_SUPPORT[runtime.major];
    if (!window) {
      errors.push(`${usedBy}: ${label} has no known end-of-support date: add it to environments/runtime-support.ts with its source`);
      continue;
    }
    // Supported through the whole end-of-support day (UTC).
    const end = Date.parse(`${window.endOfSupport}T23:59:59.999Z`);
    const daysLeft = Math.ceil((end - today.getTime()) / DAY_MS);
    if (today.getTime() > end) {
      errors.push(`${usedBy}: ${label} reached its end of support on ${window.endOfSupport} (source: ${window.source}); move to ${window.replacement}`);
    } else if (daysLeft <= WARNING_DAYS) {
      warnings.push(`${usedBy}: ${label} reaches its end of support on ${window.endOfSupport}, in ${daysLeft} day(s) (source: ${window.source}); move to ${window.replacement}`);
    }
  }
  return { errors, warnings };
}

/** Throws one error listing every unsupported runtime; returns the warnings. */
export function assertRuntimesSupported(shipped: readonly ShippedRuntime[], today: Date): string[] {
  const { errors, warnings } = checkRuntimeSupport(shipped, today);
  if (errors.length > 0) throw new RuntimeSupportError(`unsupported runtime(s), as of ${today.toISOString().slice(0, 10)}:\n${errors.map((e) => `✖ ${e}`).join("\n")}`);
  return warnings;
}
