/**
 * The served model: an onnxruntime session plus the manifest that says how a
 * request instance becomes a row of the float32 input tensor. Works for any
 * ONNX model with a [N, F] float input and an [N] or [N, 1] float output.
 */
import * as ort from "onnxruntime-node";
import { type Manifest, ModelLoadError, readModelFiles } from "./manifest.js";

export type Instance = Record<string, number | string>;

/** Column encoders compiled once from the manifest: instance -> value of column j. */
function compileColumns(manifest: Manifest): ((x: Instance) => number)[] {
  return manifest.input.columns.map((c) => {
    const feature = c.feature;
    if ("one_hot" in c) {
      const category = c.one_hot;
      return (x) => (x[feature] === category ? 1 : 0);
    }
    return (x) => x[feature] as number;
  });
}

export class Model {
  private readonly columns: ((x: Instance) => number)[];
  private readonly width: number;

  private constructor(
    readonly manifest: Manifest,
    private readonly session: ort.InferenceSession,
  ) {
    this.columns = compileColumns(manifest);
    this.width = this.columns.length;
  }

  /** Build a model from bytes that have already been checked against the manifest. */
  static async fromBytes(manifest: Manifest, bytes: Uint8Array): Promise<Model> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        // Inference here is microseconds of tree walking: one thread per call
        // avoids thread-pool handoffs; concurrency comes from the event loop.
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        executionMode: "sequential",
        graphOptimizationLevel: "all",
        logSeverityLevel: 3,
        // No busy-waiting thread pool: it burns the CPU the HTTP side needs.
        extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
      });
    } catch (e) {
      throw new ModelLoadError(`onnxruntime cannot load the model: ${(e as Error).message}`);
    }
    if (!session.inputNames.includes(manifest.input.name)) {
      throw new ModelLoadError(`model has no input named "${manifest.input.name}" (it has ${session.inputNames.join(", ")})`);
    }
    if (!session.outputNames.includes(manifest.output.name)) {
      throw new ModelLoadError(`model has no output named "${manifest.output.name}" (it has ${session.outputNames.join(", ")})`);
    }
    return new Model(manifest, session);
  }

  /** Read manifest + model from a directory, verify the SHA-256, create the session. */
  static async load(dir: string): Promise<Model> {
    const files = await readModelFiles(dir);
    return Model.fromBytes(files.manifest, files.modelBytes);
  }

  /** Encode already-validated instances into the float32 input tensor data. */
  encode(instances: readonly Instance[]): Float32Array {
    const out = new Float32Array(instances.length * this.width);
    let k = 0;
    for (const x of instances) for (const col of this.columns) out[k++] = col(x);
    return out;
  }

  async predictEncoded(data: Float32Array, rows: number): Promise<Float32Array> {
    const input = new ort.Tensor("float32", data, [rows, this.width]);
    const result = await this.session.run({ [this.manifest.input.name]: input }, [this.manifest.output.name]);
    const out = result[this.manifest.output.name];
    if (!out || out.type !== "float32" || out.size !== rows) {
      throw new Error(`model output ${this.manifest.output.name} has type ${out?.type} and ${out?.size} values for ${rows} rows`);
    }
    return out.data as Float32Array;
  }

  /** Predictions as plain numbers, one per instance. */
  async predict(instances: readonly Instance[]): Promise<number[]> {
    return Array.from(await this.predictEncoded(this.encode(instances), instances.length));
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
