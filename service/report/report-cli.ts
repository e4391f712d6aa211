/**
 * `npm run model:report -- [--base REF] [--model-dir DIR] [--out DIR] [--report-url URL]`
 *
 * Writes the model report (index.html, report.md, metrics.json) for the model in DIR (default
 * service/model), compared with the model committed at REF (default: origin/main, else main).
 * Exit 0 when the report is written, whatever the gate says (the model-gate job decides about
 * shipping); 1 when it cannot be written.
 */
import { parseArgs } from "node:util";
import { DEFAULT_MODEL_DIR } from "../training/paths.js";
import { verdictLine } from "./markdown.js";
import { DEFAULT_REPORT_DIR, REPO_ROOT, writeModelReport } from "./write-report.js";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      base: { type: "string" },
      "model-dir": { type: "string" },
      out: { type: "string" },
      "report-url": { type: "string" },
    },
  });
  const start = performance.now();
  const { report, files } = await writeModelReport({
    modelDir: values["model-dir"] ?? DEFAULT_MODEL_DIR,
    outDir: values.out ?? DEFAULT_REPORT_DIR,
    repo: REPO_ROOT,
    baseRef: values.base,
    reportUrl: values["report-url"],
  });
  console.log(verdictLine(report).replace(/\*\*/g, ""));
  for (const m of report.metrics) console.log(`  ${m.label.padEnd(24)} ${m.before === null ? "—" : m.before} -> ${m.after}`);
  console.log(`model report in ${((performance.now() - start) / 1000).toFixed(1)} s: ${files.html}, ${files.markdown}, ${files.json}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`model report: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
