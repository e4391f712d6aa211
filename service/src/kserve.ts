/**
 * KServe / Open Inference Protocol v2 (REST) mapping. Each feature is one
 * named input tensor of shape [N] (or [N, 1]): numeric features take any
 * numeric datatype, categorical ones BYTES (strings in JSON). The output is
 * one FP32 tensor named after the manifest's target, shape [N].
 */
import { z } from "zod";
import type { Manifest } from "./manifest.js";
import type { Instance } from "./model.js";
import { type FieldIssue, fieldPath, instanceSchema, invalid, toFieldIssues } from "./validation.js";

const NUMERIC_TYPES = ["INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "FP16", "FP32", "FP64"];

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
      issues.push({ field: `inputs[${i}].name`, message: `unknown input "${t.name}"; inputs are ${m.features.map((x) => x.name).join(", ")}` });
      return;
    }
    if (byFeature.has(t.name)) {
      issues.push({ field: `inputs[${i}].name`, message: `input "${t.name}" given twice` });
      return;
    }
    const okType = f.type === "category" ? t.datatype === "BYTES" : NUMERIC_TYPES.includes(t.datatype);
    if (!okType) {
      issues.push({ field: `inputs[${i}].datatype`, message: `must be ${f.type === "category" ? "BYTES" : "a numeric datatype (FP32, INT64, ...)"}, got ${t.datatype}` });
    }
    if (t.shape.length === 2 && t.shape[1] !== 1) {
      issues.push({ field: `inputs[${i}].shape`, message: `must be [N] or [N, 1], got [${t.shape.join(", ")}]` });
    }
    const data = t.data.flat(1);
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
    if (o.name !== m.target.name) issues.push({ field: `outputs[${i}].name`, message: `unknown output "${o.name}"; the output is ${m.target.name}` });
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
