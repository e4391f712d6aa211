/**
 * The revisions a rehearsal releases, all made from ONE real bundle (npm run bundle): each
 * release gets its own revision id (config/revision.env's REVISION_VERSION, which the service
 * reports as `revision`), so the traffic report can tell who answered. The faulty revision of
 * the alarm scenario carries a fault switch that exists only here: a preload module and its
 * setting, added to the rehearsal's copy of the bundle, never to environments/ or to what
 * `npm run bundle` builds. Each copy updates app/revision.json (version, file hashes), so it
 * is as self-consistent as the bundler's own output.
 */
import { createHash } from "node:crypto";
import { createWriteStream, readFileSync } from "node:fs";
import yazl from "yazl";
import { REVISION_MANIFEST_PATH, type RevisionManifest } from "../revision/revision-manifest.js";
import { readZip } from "../revision/zip.js";

/** Where the preload goes in the bundle, and where the appspec installs it. */
export const FAULT_MODULE_ENTRY = "app/rehearsal-fault.mjs";
export const FAULT_SETTING = "REHEARSAL_FAULT_5XX_AFTER";

/**
 * After `after` prediction requests, every POST /predict answers 500 (the health check path
 * keeps answering: the service looks healthy and is not, which only the 5xx alarm can catch).
 */
export const FAULT_MODULE = `// Rehearsal-only fault switch (bluegreen/revisions.ts): never part of a production build.
import http from "node:http";
const after = Number(process.env.${FAULT_SETTING});
if (Number.isInteger(after) && after >= 0) {
  let predictions = 0;
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (event, req, res) {
    if (event === "request" && req.method === "POST" && req.url === "/predict" && ++predictions > after) {
      req.resume();
      res.writeHead(500, { "content-type": "application/json" }).end('{"error":"rehearsal fault: this revision fails every prediction"}');
      return true;
    }
    return emit.apply(this, arguments);
  };
}
`;

export interface VariantOptions {
  /** The revision id the service will report. */
  readonly revisionId: string;
  /** Answer 500 to every prediction after this many (0: from the first one). */
  readonly fail5xxAfter?: number;
  /** Where the appspec installs app/ (from the bundle's appspec: /opt/<project>/app). */
  readonly appDestination: string;
}

export class RevisionVariantError extends Error {
  override readonly name = "RevisionVariantError";
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

function setEnvLine(text: string, key: string, value: string): string {
  const line = `${key}=${value}`;
  const re = new RegExp(`^${key}=.*$`, "m");
  return re.test(text) ? text.replace(re, line) : `${text.replace(/\n?$/, "\n")}${line}\n`;
}

/** Writes a copy of `baseZip` with a new revision id (and the fault switch, when asked). */
export async function writeVariant(baseZip: string, outPath: string, options: VariantOptions): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9.+_-]*$/.test(options.revisionId)) throw new RevisionVariantError(`revision id "${options.revisionId}" must be letters, digits and . + _ -`);
  const entries = readZip(readFileSync(baseZip), baseZip);
  const changed = new Map<string, { data: Buffer; mode: number }>();
  const revisionEnv = entries.find((e) => e.name === "config/revision.env");
  if (!revisionEnv) throw new RevisionVariantError(`${baseZip} has no config/revision.env: not a bundle built by npm run bundle`);
  changed.set("config/revision.env", { data: Buffer.from(setEnvLine(revisionEnv.data.toString("utf8"), "REVISION_VERSION", options.revisionId)), mode: revisionEnv.mode });
  if (options.fail5xxAfter !== undefined) {
    changed.set(FAULT_MODULE_ENTRY, { data: Buffer.from(FAULT_MODULE), mode: 0o644 });
    // Every environment's settings, so the fault follows whichever group AfterInstall picks.
    for (const e of entries.filter((x) => /^config\/[^/]+\.env$/.test(x.name) && x.name !== "config/revision.env")) {
      let text = e.data.toString("utf8");
      text = setEnvLine(text, "NODE_OPTIONS", `--import=${options.appDestination}/${FAULT_MODULE_ENTRY.replace(/^app\//, "")}`);
      text = setEnvLine(text, FAULT_SETTING, String(options.fail5xxAfter));
      changed.set(e.name, { data: Buffer.from(text), mode: e.mode });
    }
  }
  const manifestEntry = entries.find((e) => e.name === REVISION_MANIFEST_PATH);
  if (manifestEntry) {
    const manifest = JSON.parse(manifestEntry.data.toString("utf8")) as RevisionManifest;
    manifest.version = options.revisionId;
    for (const [name, { data }] of changed) manifest.files[name] = sha256(data);
    changed.set(REVISION_MANIFEST_PATH, { data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), mode: manifestEntry.mode });
  }
  const zip = new yazl.ZipFile();
  const mtime = new Date("2000-01-01T00:00:00Z");
  for (const e of entries) {
    if (e.isDirectory) continue;
    const c = changed.get(e.name);
    zip.addBuffer(c?.data ?? e.data, e.name, { mtime, mode: 0o100000 | (c?.mode ?? e.mode ?? 0o644), compress: false });
    changed.delete(e.name);
  }
  for (const [name, c] of changed) zip.addBuffer(c.data, name, { mtime, mode: 0o100000 | c.mode, compress: false });
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(outPath);
    zip.outputStream.pipe(out).on("error", reject);
    out.on("close", () => resolve());
    out.on("error", reject);
  });
  return outPath;
}
