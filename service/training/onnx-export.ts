/**
 * Writes a tree ensemble as a standard ONNX model: one TreeEnsembleRegressor
 * node (domain ai.onnx.ml), input "float_input" [N, F] float32, output
 * "variable" [N, 1] float32 - the same names skl2onnx uses, so a model
 * exported from scikit-learn drops into the service the same way.
 */
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** A binary regression tree, in a form independent of the library that grew it. */
export type TreeNode = { leaf: true; value: number } | { leaf: false; feature: number; threshold: number; left: TreeNode; right: TreeNode };

export interface EnsembleOptions {
  nFeatures: number;
  /** "AVERAGE" for a random forest, "SUM" for boosting. */
  aggregate: "AVERAGE" | "SUM";
  /** Added to every prediction (boosting's base score); 0 for a forest. */
  baseValue?: number;
  inputName?: string;
  outputName?: string;
  docString?: string;
  producerVersion?: string;
}

const A = onnx.AttributeProto.AttributeType;
const ints = (name: string, v: number[]) => ({ name, type: A.INTS, ints: v });
const floats = (name: string, v: number[]) => ({ name, type: A.FLOATS, floats: v });
const strings = (name: string, v: string[]) => ({ name, type: A.STRINGS, strings: v.map((s) => Buffer.from(s, "utf8")) });

/**
 * The smallest float32 that is >= t. ONNX thresholds are float32 and the model
 * compares float32 inputs; for any float32 x, `x < t` holds exactly when
 * `x < float32AtLeast(t)` (no float32 lies in [t, float32AtLeast(t))). Rounding
 * to nearest instead would flip the branch for inputs equal to the rounded
 * threshold, which is what broke parity on ties like a midpoint of 13.4 and 13.6.
 */
export function float32AtLeast(t: number): number {
  const f = Math.fround(t);
  if (f >= t || !Number.isFinite(t)) return f;
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, f);
  const bits = buf.getInt32(0);
  if (f === 0) buf.setInt32(0, 1);
  else buf.setInt32(0, f > 0 ? bits + 1 : bits - 1);
  return buf.getFloat32(0);
}

/**
 * Encode trees as ONNX. Semantics: at a branch, `x[feature] < threshold` goes
 * left (BRANCH_LT: the true branch), otherwise right - exactly ml-cart's rule.
 * Node ids are assigned in pre-order, so the same trees always give the same bytes.
 */
export function treeEnsembleToOnnx(trees: readonly TreeNode[], opts: EnsembleOptions): Uint8Array {
  const n = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    values: [] as number[],
    modes: [] as string[],
    trueIds: [] as number[],
    falseIds: [] as number[],
  };
  const t = { treeIds: [] as number[], nodeIds: [] as number[], ids: [] as number[], weights: [] as number[] };

  trees.forEach((root, treeId) => {
    let next = 0;
    const visit = (node: TreeNode): number => {
      const id = next++;
      const at = n.nodeIds.length;
      n.treeIds.push(treeId);
      n.nodeIds.push(id);
      if (node.leaf) {
        n.featureIds.push(0);
        n.values.push(0);
        n.modes.push("LEAF");
        n.trueIds.push(0);
        n.falseIds.push(0);
        t.treeIds.push(treeId);
        t.nodeIds.push(id);
        t.ids.push(0);
        t.weights.push(node.value);
      } else {
        if (!Number.isInteger(node.feature) || node.feature < 0 || node.feature >= opts.nFeatures) {
          throw new Error(`tree ${treeId}: feature index ${node.feature} out of range`);
        }
        n.featureIds.push(node.feature);
        n.values.push(float32AtLeast(node.threshold));
        n.modes.push("BRANCH_LT");
        n.trueIds.push(-1);
        n.falseIds.push(-1);
        const left = visit(node.left);
        const right = visit(node.right);
        n.trueIds[at] = left;
        n.falseIds[at] = right;
      }
      return id;
    };
    visit(root);
  });

  const inputName = opts.inputName ?? "float_input";
  const outputName = opts.outputName ?? "variable";
  const attrs = [
    { name: "aggregate_function", type: A.STRING, s: Buffer.from(opts.aggregate) },
    floats("base_values", [opts.baseValue ?? 0]),
    { name: "n_targets", type: A.INT, i: 1 },
    ints("nodes_falsenodeids", n.falseIds),
    ints("nodes_featureids", n.featureIds),
    ints(
      "nodes_missing_value_tracks_true",
      n.nodeIds.map(() => 0),
    ),
    strings("nodes_modes", n.modes),
    ints("nodes_nodeids", n.nodeIds),
    ints("nodes_treeids", n.treeIds),
    ints("nodes_truenodeids", n.trueIds),
    floats("nodes_values", n.values),
    { name: "post_transform", type: A.STRING, s: Buffer.from("NONE") },
    ints("target_ids", t.ids),
    ints("target_nodeids", t.nodeIds),
    ints("target_treeids", t.treeIds),
    floats("target_weights", t.weights),
  ];

  const tensorType = (dims: (number | string)[]) => ({
    tensorType: {
      elemType: onnx.TensorProto.DataType.FLOAT,
      shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
    },
  });

  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [
      { domain: "", version: 17 },
      { domain: "ai.onnx.ml", version: 3 },
    ],
    producerName: "ml-codedeploy-pipeline",
    producerVersion: opts.producerVersion ?? "1",
    docString: opts.docString ?? "",
    graph: {
      name: "tree_ensemble",
      node: [
        {
          name: "TreeEnsembleRegressor",
          opType: "TreeEnsembleRegressor",
          domain: "ai.onnx.ml",
          input: [inputName],
          output: [outputName],
          attribute: attrs,
        },
      ],
      input: [{ name: inputName, type: tensorType(["N", opts.nFeatures]) }],
      output: [{ name: outputName, type: tensorType(["N", 1]) }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
