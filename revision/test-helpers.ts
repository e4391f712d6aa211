/**
 * Test helpers shared by the revision specs: variants of a REAL bundle (repacked with one file
 * changed, stored uncompressed so that repacking takes milliseconds), broken model directories,
 * and a throwaway target per test outside the repository.
 */
import { createHash } from "node:crypto";
import { cpSync, createWriteStream, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import yazl from "yazl";
import { scratchDir } from "../scripts/scratch-dir.js";
import { readZip } from "./zip.js";

export const REPO_DIR = join(import.meta.dirname, "..");

const created: string[] = [];

/**
 * A fresh directory under the temp folder (never inside the repository: see rehearsal.ts),
 * removed when the spec file ends by the tests' one temp-folder fixture (scripts/scratch-dir.ts).
 */
export function tempDir(prefix: string): string {
  const dir = scratchDir(`${prefix}-`);
  created.push(dir);
  return dir;
}

/**
 * Test cleanup: stops any service a local target still runs (a failed deployment leaves its
 * service running, as on a real instance); the folders themselves go with scratchDir's.
 */
export async function cleanupTargets(): Promise<void> {
  const stops = created.map(async (dir) => {
    const pidFile = join(dir, "var/lib/mpg-model/service.pid");
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, "utf8"));
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      return; // already gone
    }
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid, "SIGKILL");
  });
  await Promise.all(stops);
  created.length = 0;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Writes a copy of `zipPath` in which `changes` replace (Buffer/string), add, or delete (null) entries. */
export async function repack(zipPath: string, outPath: string, changes: Record<string, Buffer | string | null | { data: string; mode: number }>): Promise<string> {
  const zip = new yazl.ZipFile();
  const mtime = new Date("2000-01-01T00:00:00Z");
  const seen = new Set<string>();
  for (const entry of readZip(readFileSync(zipPath))) {
    seen.add(entry.name);
    const change = changes[entry.name];
    if (change === null) continue;
    const data = change === undefined ? entry.data : Buffer.from(typeof change === "object" && !Buffer.isBuffer(change) ? change.data : change);
    const mode = change && typeof change === "object" && !Buffer.isBuffer(change) ? change.mode : entry.mode;
    zip.addBuffer(data, entry.name, { mtime, mode: 0o100000 | mode, compress: false });
  }
  for (const [name, change] of Object.entries(changes)) {
    if (seen.has(name) || change === null) continue;
    const data = typeof change === "object" && !Buffer.isBuffer(change) ? change.data : change;
    const mode = typeof change === "object" && !Buffer.isBuffer(change) ? change.mode : 0o644;
    zip.addBuffer(Buffer.from(data), name, { mtime, mode: 0o100000 | mode, compress: false });
  }
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(outPath);
    zip.outputStream.pipe(out).on("error", reject);
    out.on("close", () => resolve());
  });
  return outPath;
}

/** The contents of one entry of a zip. */
export function zipEntry(zipPath: string, name: string): Buffer {
  const entry = readZip(readFileSync(zipPath)).find((e) => e.name === name);
  if (!entry) throw new Error(`${zipPath} has no ${name}`);
  return entry.data;
}

/**
 * A copy of service/model whose ONNX file is garbage with a manifest hash that matches it: the
 * service passes its hash check and then fails to load the model, so it never becomes ready.
 */
export function corruptModelDir(): string {
  const dir = tempDir("broken-model");
  cpSync(join(REPO_DIR, "service/model"), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { model_file: string; model_sha256: string };
  const garbage = Buffer.from("this is not an ONNX model\n".repeat(100));
  writeFileSync(join(dir, manifest.model_file), garbage);
  manifest.model_sha256 = createHash("sha256").update(garbage).digest("hex");
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest, null, 2));
  return dir;
}
