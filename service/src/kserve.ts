/**
 * KServe / Open Inference Protocol v2 (REST) mapping. Each feature is one
 * named input tensor of shape [N] (or [N, 1]): numeric features take any
 * numeric datatype, categorical ones BYTES (strings in JSON). The output is
 * one FP32 tensor named after the manifest's target, shape [N].
 */
import { z } from "zod";
import { clip } from "./logging.js";
import type { Manifest } from "./manifest.js";
import type { Instance } from "./model.js";
import { type FieldIssue, fieldPath, instanceSchema, invalid, toFieldIssues } from "./validation.js";

/** What a value of each numeric datatype can be: whole or not, and its range (FP16/FP32: the largest finite value). */
const NUMERIC_RANGES: Record<string, { integer: boolean; min: number; max: number }> = {
  INT8: { integer: true, min: -128, max: 127 },
  INT16: { integer: true, min: -32768, max: 32767 },
  INT32: { integer: true, min: -2147483648, max: 2147483647 },
  INT64: { integer: true, min: -(2 ** 63), max: 2 ** 63 - 1 },
  UINT8: { integer: true, min: 0, max: 255 },
  UINT16: { integer: true, min: 0, max: 65535 },
  UINT32: { integer: true, min: 0, max: 4294967295 },
  UINT64: { integer: true, min: 0, max: 2 ** 64 - 1 },
  FP16: { integer: false, min: -65504, max: 65504 },
  FP32: { integer: false, min: -3.4028234663852886e38, max: 3.4028234663852886e38 },
  FP64: { integer: false, min: -Number.MAX_VALUE, max: Number.MAX_VALUE },
};
const NUMERIC_TYPES = Object.keys(NUMERIC_RANGES);

/** The issue of a number that its tensor's datatype cannot hold (non-numbers are left to the feature schema). */
function datatypeIssue(datatype: string, v: unknown): string | undefined {
  const r = NUMERIC_RANGES[datatype];
  if (r === undefined || typeof v !== "number") return undefined;
  if (r.integer ? !Number.isInteger(v) || v < r.min || v > r.max : !(v >= r.min && v <= r.max)) {
    return `${datatype} holds ${r.integer ? "whole numbers" : "numbers"} from ${r.min} to ${r.max}, got ${v}`;
  }
  return undefined;
}
const tensorSchema = z.strictObject({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()).min(1).max(2),
  datatype: z.string().min(1),
  parameters: z.record(z.string(), z.unknown()).optional(),
  data: z.array(z.unknown()),
});

const inferRequestSchema = z.strictObject({
  id: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  inputs: z.array(tensorSchema).min(1),
  outputs: z.array(z.strictObject({ name: z.string(), parameters: z.record(z.string(), z.unknown()).optional() })).optional(),
});

export function modelMetadata(m: Manifest) {
  return {
    name: m.name,
    versions: [m.version],
    platform: "onnxruntime_onnx",
    inputs: m.features.map((f) => ({
      name: f.name,
      datatype: f.type === "category" ? "BYTES" : f.type === "integer" ? "INT64" : "FP32",
      shape: [-1],
    })),
    outputs: [{ name: m.target.name, datatype: "FP32", shape: [-1] }],
  };
}

export interface InferRequest {
  id: string | undefined;
  instances: Instance[];
}

/** Validate an infer request and turn its columns into instances (the same validation as /predict). */
export function parseInferRequest(body: unknown, m: Manifest, maxRows: number): InferRequest {
  const parsed = inferRequestSchema.safeParse(body);
  if (!parsed.success) throw invalid(toFieldIssues(parsed.error));
  const req = parsed.data;
  const issues: FieldIssue[] = [];
  const byFeature = new Map<string, { index: number; data: unknown[] }>();
  let rows: number | undefined;

  req.inputs.forEach((t, i) => {
    const f = m.features.find((x) => x.name === t.name);
    if (!f) {
      issues.push({ field: `inputs[${i}].name`, message: `unknown input "${clip(t.name)}"; inputs are ${m.features.map((x) => x.name).join(", ")}` });
      return;
    }
    if (byFeature.has(t.name)) {
      issues.push({ field: `inputs[${i}].name`, message: `input "${t.name}" given twice` });
      return;
    }
    const okType = f.type === "category" ? t.datatype === "BYTES" : NUMERIC_TYPES.includes(t.datatype);
    if (!okType) {
      issues.push({ field: `inputs[${i}].datatype`, message: `must be ${f.type === "category" ? "BYTES" : "a numeric datatype (FP32, INT64, ...)"}, got ${clip(t.datatype)}` });
    }
    if (t.shape.length === 2 && t.shape[1] !== 1) {
      issues.push({ field: `inputs[${i}].shape`, message: `must be [N] or [N, 1], got [${t.shape.join(", ")}]` });
    }
    const data = t.data.flat(1);
    if (okType && f.type !== "category") {
      data.forEach((v, r) => {
        const message = datatypeIssue(t.datatype, v);
        if (message !== undefined) issues.push({ field: `inputs[${i}].data[${r}]`, message });
      });
    }
    const n = t.shape[0]!;
    if (data.length !== n) {
      issues.push({ field: `inputs[${i}].data`, message: `has ${data.length} values but shape says ${n}` });
    }
    if (rows === undefined) rows = n;
    else if (n !== rows) issues.push({ field: `inputs[${i}].shape`, message: `has ${n} rows, other inputs have ${rows}` });
    byFeature.set(t.name, { index: i, data });
  });
  for (const f of m.features) {
    if (!byFeature.has(f.name) && !req.inputs.some((t) => t.name === f.name)) issues.push({ field: "inputs", message: `missing input "${f.name}"` });
  }
  if (rows !== undefined && rows < 1) issues.push({ field: "inputs[0].shape", message: "must have at least one row" });
  if (rows !== undefined && rows > maxRows) issues.push({ field: "inputs[0].shape", message: `must have at most ${maxRows} rows, got ${rows}` });
  for (const [i, o] of (req.outputs ?? []).entries()) {
    if (o.name !== m.target.name) issues.push({ field: `outputs[${i}].name`, message: `unknown output "${clip(o.name)}"; the output is ${m.target.name}` });
  }
  if (issues.length > 0) throw invalid(issues);

  const n = rows!;
  const instances: Instance[] = new Array(n);
  for (let r = 0; r < n; r++) {
    const x: Record<string, unknown> = {};
    for (const [name, col] of byFeature) x[name] = col.data[r];
    instances[r] = x as Instance;
  }
  const checked = z.array(instanceSchema(m)).safeParse(instances);
  if (!checked.success) {
    // [row, feature] -> inputs[k].data[row]
    throw invalid(
      toFieldIssues(checked.error, (path) => {
        const [row, feature] = path;
        const col = typeof feature === "string" ? byFeature.get(feature) : undefined;
        return col && typeof row === "number" ? `inputs[${col.index}].data[${row}]` : fieldPath(path);
      }),
    );
  }
  return { id: req.id, instances };
}
