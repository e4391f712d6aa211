/**
 * Request validation, generated from the manifest: the feature list, types,
 * ranges and categories all come from there, so a new model with a new
 * manifest needs no code change. Every error names the field and the reason.
 */
import { z } from "zod";
import type { Feature, Manifest } from "./manifest.js";
import type { Instance } from "./model.js";

export interface FieldIssue {
  /** e.g. "instances[3].weight" */
  field: string;
  message: string;
}

/** Most issues an error body lists; the body then says how many there were in all (`issues_total`). */
export const MAX_ISSUES = 20;

/** Raised for any request the service refuses; becomes a 4xx JSON body. */
export class RequestError extends Error {
  override name = "RequestError";
  /** The first MAX_ISSUES issues. */
  readonly issues: FieldIssue[];
  /** How many issues there were in all. */
  readonly issuesTotal: number;
  constructor(
    readonly statusCode: number,
    message: string,
    issues: FieldIssue[] = [],
    /** Close the connection after the answer (the request cannot be trusted to be framed right). */
    readonly closeAfter = false,
  ) {
    super(message);
    this.issues = issues.length > MAX_ISSUES ? issues.slice(0, MAX_ISSUES) : issues;
    this.issuesTotal = issues.length;
  }
}

/** Longest field path or key name copied into an error (a key is as long as the client makes it). */
const MAX_FIELD = 200;
const clipField = (s: string) => (s.length <= MAX_FIELD ? s : `${s.slice(0, MAX_FIELD)}…`);

const describe = (v: unknown): string => {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
};

function featureSchema(f: Feature): z.ZodType {
  if (f.type === "category") {
    const allowed = f.categories.join(", ");
    return z.enum(f.categories as [string, ...string[]], {
      error: (iss) => (iss.input === undefined ? "required" : `must be one of ${allowed}, got ${describe(iss.input)}`),
    });
  }
  const unit = f.unit ? ` ${f.unit}` : "";
  let n = z.number({ error: (iss) => (iss.input === undefined ? "required" : `must be a number, got ${describe(iss.input)}`) });
  if (f.type === "integer") n = n.int({ error: (iss) => `must be a whole number, got ${String(iss.input)}` });
  return n.min(f.min, { error: (iss) => `must be at least ${f.min}${unit}, got ${String(iss.input)}` }).max(f.max, { error: (iss) => `must be at most ${f.max}${unit}, got ${String(iss.input)}` });
}

const unknownKeys = (iss: { code?: string; keys?: string[] }) => (iss.code === "unrecognized_keys" ? `unknown field(s): ${(iss.keys ?? []).join(", ")}` : undefined);

const instanceSchemas = new WeakMap<Manifest, z.ZodType>();

/** One instance: exactly the manifest's features, each with its type and range. Cached per manifest. */
export function instanceSchema(manifest: Manifest): z.ZodType {
  const cached = instanceSchemas.get(manifest);
  if (cached) return cached;
  const shape: Record<string, z.ZodType> = {};
  for (const f of manifest.features) shape[f.name] = featureSchema(f);
  const schema = z.strictObject(shape, {
    error: (iss) => unknownKeys(iss) ?? (iss.input === undefined ? "required" : `must be an object of features, got ${describe(iss.input)}`),
  });
  instanceSchemas.set(manifest, schema);
  return schema;
}

export function predictBodySchema(manifest: Manifest, maxRows: number) {
  return z.strictObject(
    {
      instances: z
        .array(instanceSchema(manifest), {
          error: (iss) => (iss.input === undefined ? "required" : `must be an array of instances, got ${describe(iss.input)}`),
        })
        .min(1, { error: "must contain at least one instance" })
        .max(maxRows, { error: (iss) => `must contain at most ${maxRows} instances, got ${(iss.input as unknown[]).length}` }),
    },
    { error: (iss) => unknownKeys(iss) ?? `must be a JSON object like {"instances": [...]}, got ${describe(iss.input)}` },
  );
}

/**
 * Fast path for /predict: a check compiled from the same manifest rules, for
 * the common well-formed body. It returns the instances when the body is
 * certainly valid (every condition is at least as strict as the zod schema's,
 * and the zod schema's output for such a body has the same values), and
 * undefined otherwise; the caller then runs the zod schema, which alone
 * decides and words every refusal. So valid bodies skip zod's ~3-5 µs and
 * invalid ones get exactly the errors they got before.
 */
export function compilePredictCheck(manifest: Manifest, maxRows: number): (body: unknown) => Instance[] | undefined {
  const names = manifest.features.map((f) => f.name);
  const checks = manifest.features.map((f): ((v: unknown) => boolean) => {
    if (f.type === "category") {
      const allowed = new Set(f.categories);
      return (v) => typeof v === "string" && allowed.has(v);
    }
    const { min, max } = f;
    return f.type === "integer" ? (v) => typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max : (v) => typeof v === "number" && Number.isFinite(v) && v >= min && v <= max;
  });
  const width = names.length;
  const plainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype;
  /** Exactly one enumerable key (as zod counts them: for...in), and it is "instances". */
  const onlyInstances = (body: Record<string, unknown>): boolean => {
    let n = 0;
    for (const k in body) if (++n > 1 || k !== "instances") return false;
    return n === 1;
  };
  return (body) => {
    if (!plainObject(body) || !onlyInstances(body)) return undefined;
    const instances = body.instances;
    if (!Array.isArray(instances) || instances.length < 1 || instances.length > maxRows) return undefined;
    for (let r = 0; r < instances.length; r++) {
      const x: unknown = instances[r];
      if (!plainObject(x)) return undefined;
      for (let j = 0; j < width; j++) if (!checks[j]!(x[names[j]!])) return undefined;
      // Every feature is present and valid, so exactly `width` keys means no unknown field.
      let keys = 0;
      for (const _k in x) keys++;
      if (keys !== width) return undefined;
    }
    return instances as Instance[];
  };
}

export function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out === "" ? "(body)" : out;
}

/** zod issues -> field/message pairs (all of them: RequestError keeps the first MAX_ISSUES and the count); unknown keys are reported one field each. */
export function toFieldIssues(error: z.ZodError, rename: (path: readonly PropertyKey[]) => string = fieldPath): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const iss of error.issues) {
    if (iss.code === "unrecognized_keys") {
      for (const k of iss.keys) out.push({ field: clipField(rename([...iss.path, k])), message: "unknown field" });
    } else {
      out.push({ field: clipField(rename(iss.path)), message: iss.message });
    }
  }
  return out;
}

export function invalid(issues: FieldIssue[]): RequestError {
  const first = issues[0];
  const summary = first ? `${first.field}: ${first.message}` : "invalid request";
  return new RequestError(400, `invalid request: ${summary}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`, issues);
}

export type PredictBody = { instances: Instance[] };
