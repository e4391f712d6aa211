import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** service/model, where the committed artifacts live. */
export const DEFAULT_MODEL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "model");
