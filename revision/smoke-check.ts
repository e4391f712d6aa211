/**
 * ValidateService's answer check, run on the instance as `node hooks/smoke-check.mjs` (the
 * bundler compiles this file into the revision): posts the manifest's smoke-test cars to the
 * service in one batch and checks each prediction against its golden value within the
 * manifest's tolerance, the model name and version the service reports, that different cars get
 * different predictions (the seed project served one constant), and that make_prediction.sh's
 * answer is one of the golden predictions.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseManifest, type Manifest } from "../service/src/manifest.js";

export interface PredictResponse {
  predictions: number[];
  model: { name: string; version: string };
}

/** Returns the problems with the service's answers (empty when all is well). */
export function checkPredictions(manifest: Manifest, response: unknown, makePredictionAnswer?: string): string[] {
  const { cases, tolerance } = manifest.smoke_test;
  const problems: string[] = [];
  const body = response as Partial<PredictResponse> | null;
  if (!body || !Array.isArray(body.predictions) || body.predictions.length !== cases.length || !body.predictions.every((p) => typeof p === "number" && Number.isFinite(p))) {
    return [`expected {"predictions": [${cases.length} finite numbers], ...}, got ${JSON.stringify(response)?.slice(0, 200)}`];
  }
  if (body.model?.name !== manifest.name || body.model?.version !== manifest.version) {
    problems.push(`the service reports model ${body.model?.name}@${body.model?.version}, the revision ships ${manifest.name}@${manifest.version}`);
  }
  cases.forEach((c, i) => {
    const got = body.predictions![i]!;
    if (Math.abs(got - c.expected) > tolerance) {
      problems.push(`${c.name}: predicted ${got}, golden ${c.expected} ± ${tolerance}`);
    }
  });
  if (new Set(body.predictions).size < 2) {
    problems.push(`${cases.length} different cars all got the prediction ${body.predictions[0]}: the model is not looking at its input`);
  }
  if (makePredictionAnswer !== undefined) {
    const numbers = predictionsIn(makePredictionAnswer);
    if (!numbers.some((n) => cases.some((c) => Math.abs(n - c.expected) <= tolerance))) {
      problems.push(`make_prediction.sh answered "${makePredictionAnswer.slice(0, 200)}", which contains none of the golden predictions ${cases.map((c) => c.expected).join(", ")}`);
    }
  }
  return problems;
}

/** The predictions in make_prediction.sh's output: its JSON body, else any numbers in the text. */
function predictionsIn(answer: string): number[] {
  try {
    const body = JSON.parse(answer) as Partial<PredictResponse>;
    if (Array.isArray(body.predictions)) return body.predictions.filter((p): p is number => typeof p === "number");
  } catch {
    /* not JSON: fall back to the numbers in the text */
  }
  return (answer.match(/-?\d+(?:\.\d+)?(?:e-?\d+)?/gi) ?? []).map(Number);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { url: { type: "string" }, manifest: { type: "string" }, answer: { type: "string" } },
    strict: true,
  });
  if (!values.url || !values.manifest) {
    console.error("usage: smoke-check --url http://127.0.0.1:PORT --manifest path/to/manifest.json [--answer 'make_prediction.sh output']");
    return 2;
  }
  const manifest = parseManifest(readFileSync(values.manifest, "utf8"), values.manifest);
  const response = await fetch(`${values.url}/predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ instances: manifest.smoke_test.cases.map((c) => c.instance) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status !== 200) {
    console.error(`POST ${values.url}/predict answered ${response.status}: ${text.slice(0, 300)}`);
    return 1;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    console.error(`POST ${values.url}/predict answered non-JSON: ${text.slice(0, 300)}`);
    return 1;
  }
  const problems = checkPredictions(manifest, body, values.answer);
  for (const p of problems) console.error(`✖ ${p}`);
  if (problems.length) return 1;
  const predictions = (body as PredictResponse).predictions;
  manifest.smoke_test.cases.forEach((c, i) => console.log(`✔ ${c.name}: ${predictions[i]} (golden ${c.expected} ± ${manifest.smoke_test.tolerance})`));
  return 0;
}

// Only when run as the hook's checker, never on import (tests import checkPredictions).
if (process.argv[1] && /smoke-check\.(mjs|ts)$/.test(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`smoke check failed: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
