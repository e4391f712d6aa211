import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import {
  CONFIG_PATH,
  REPO,
  RELEASE_PREREQUISITES,
  checkArtifacts,
  checkCache,
  checkJobsExist,
  checkModelReport,
  checkNoSecrets,
  checkNodeVersion,
  checkNpmScripts,
  checkOidcJobsHaveContext,
  checkPinned,
  checkProfiles,
  checkReleaseChain,
  checkReleaseGates,
  jobCommands,
  parseConfig,
  productionOf,
  releaseJobs,
  repositoryChain,
  repositoryRuntimes,
  satisfies,
  schemaErrors,
  upstream,
  type Config,
} from "./config-checks.js";
import { applyReleaseChain, CHAIN_MARKER, type ChainEnvironment } from "./release-chain.js";

const TEXT = readFileSync(CONFIG_PATH, "utf8");
const PACKAGE = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string>; engines: { node: string } };
const SHIPPED = repositoryRuntimes();
const CHAIN = repositoryChain();
const PRODUCTION = productionOf(CHAIN);

/** The real config with one edit applied through the YAML document model (so the rest stays as written). */
function mutated(edit: (doc: ReturnType<typeof parseDocument>) => void): Config {
  const doc = parseDocument(TEXT);
  edit(doc);
  return parseConfig(doc.toString());
}
function mutatedText(edit: (text: string) => string): Config {
  const text = edit(TEXT);
  expect(text).not.toBe(TEXT);
  return parseConfig(text);
}

describe(".circleci/config.yml", () => {
  let config: Config;
  beforeAll(() => {
    config = parseConfig(TEXT);
  });

  it("is a version 2.1 config with one workflow that releases from main", () => {
    expect(config.raw.version).toBe(2.1);
    expect(Object.keys(config.workflows)).toEqual(["build-test-release"]);
    expect(releaseJobs(config).sort()).toEqual(["promote-prod", "promote-staging", "upload-dev"]);
  });

  it("runs only jobs it defines, and requires only jobs of the same workflow", () => {
    expect(checkJobsExist(config)).toEqual([]);
    const broken = mutated((doc) => doc.setIn(["workflows", "build-test-release", "jobs", 1, "lint-typecheck", "requires"], ["install", "compile"]));
    expect(checkJobsExist(broken)).toEqual(["build-test-release: lint-typecheck requires compile, which is not in the workflow"]);
    const undefinedJob = mutated((doc) => doc.deleteIn(["jobs", "shellcheck"]));
    expect(checkJobsExist(undefinedJob)).toEqual(["build-test-release: job shellcheck is not defined under jobs"]);
  });

  it("calls only npm scripts that package.json defines", () => {
    // Fails while a script the pipeline needs (model:gate, plan:review, lint, ...) is missing from package.json.
    expect(checkNpmScripts(config, PACKAGE.scripts)).toEqual([]);
    const { lint: _lint, ...withoutLint } = { ...PACKAGE.scripts, lint: "" };
    expect(checkNpmScripts(config, withoutLint)).toContain("lint-typecheck: npm run lint is not a script in package.json");
    expect(
      checkNpmScripts(
        mutatedText((t) => t.replace("npm run bundle", "npm run bundel")),
        PACKAGE.scripts,
      ),
    ).toContain("bundle: npm run bundel is not a script in package.json");
    const { test: _test, ...withoutTest } = PACKAGE.scripts;
    expect(checkNpmScripts(config, withoutTest)).toContain("unit-tests: npm run test is not a script in package.json");
  });

  it("releases only from main, after the tests, the model gate, the plan review and the other checks", () => {
    expect(checkReleaseGates(config, RELEASE_PREREQUISITES, PRODUCTION)).toEqual([]);
    const list = config.workflows["build-test-release"]!;
    for (const job of ["upload-dev", "promote-staging", "promote-prod"]) {
      for (const prerequisite of ["unit-tests", "model-gate", "plan-review"]) expect(upstream(list, job).has(prerequisite), `${job} after ${prerequisite}`).toBe(true);
    }
  });

  it("catches a release job that runs on every branch or skips the plan review", () => {
    const anyBranch = mutated((doc) => doc.deleteIn(["workflows", "build-test-release", "jobs", 8, "upload", "filters"]));
    expect(checkReleaseGates(anyBranch, RELEASE_PREREQUISITES, PRODUCTION)).toEqual(["build-test-release/upload-dev must be filtered to branches: only: main"]);
    const noPlan = mutated((doc) =>
      doc.setIn(["workflows", "build-test-release", "jobs", 8, "upload", "requires"], ["lint-typecheck", "unit-tests", "shellcheck", "model-gate", "synth-validate", "bundle"]),
    );
    // Every later release job waited for the plan only through upload-dev.
    expect(checkReleaseGates(noPlan, RELEASE_PREREQUISITES, PRODUCTION)).toEqual([
      "build-test-release/upload-dev does not wait for plan-review",
      "build-test-release/promote-staging does not wait for plan-review",
      "build-test-release/promote-prod does not wait for plan-review",
    ]);
  });

  it("promotes to prod only after the approval job", () => {
    const list = config.workflows["build-test-release"]!;
    expect(list.find((e) => e.name === "approve-prod")).toMatchObject({ type: "approval", branchesOnly: ["main"] });
    expect(list.find((e) => e.name === "promote-prod")!.requires).toEqual(["approve-prod"]);
    const skipApproval = mutated((doc) => doc.setIn(["workflows", "build-test-release", "jobs", 11, "promote", "requires"], ["promote-staging"]));
    expect(checkReleaseGates(skipApproval, RELEASE_PREREQUISITES, PRODUCTION)).toEqual(["build-test-release/promote-prod releases to prod (production) without an approval job before it"]);
  });

  it("releases along environments/declared.ts: upload to the first, one parameterised promote job per later one, an approval before production", () => {
    expect(CHAIN).toEqual([
      { name: "dev", tier: "development" },
      { name: "staging", tier: "pre-production" },
      { name: "prod", tier: "production" },
    ]);
    expect(checkReleaseChain(config, CHAIN)).toEqual([]);
    // config.yml is exactly what the generator writes: regenerating changes no byte.
    expect(applyReleaseChain(TEXT, CHAIN)).toBe(TEXT);
    const chain = config.workflows["build-test-release"]!.filter((e) => ["upload", "promote"].includes(e.job) || e.type === "approval");
    expect(chain.map((e) => [e.name, e.parameters, e.requires, e.context])).toEqual([
      ["upload-dev", { env: "dev" }, [...RELEASE_PREREQUISITES], ["mpg-model-release"]],
      ["promote-staging", { from: "dev", to: "staging" }, ["upload-dev"], ["mpg-model-release"]],
      ["approve-prod", {}, ["promote-staging"], []],
      ["promote-prod", { from: "staging", to: "prod" }, ["approve-prod"], ["mpg-model-release", "mpg-model-prod"]],
    ]);
  });

  it("fails while the pipeline does not follow the list of environments, until ci:generate rewrites it", () => {
    const withQa: ChainEnvironment[] = [...CHAIN.slice(0, 2), { name: "qa", tier: "pre-production" }, CHAIN[2]!];
    expect(checkReleaseChain(config, withQa)).toEqual([
      "the release chain does not follow environments/declared.ts (dev: development, staging: pre-production, qa: pre-production, prod: production): expected upload-dev -> promote-staging -> promote-qa -> approve-prod -> promote-prod, found upload-dev -> promote-staging -> approve-prod -> promote-prod (or different settings); run npm run ci:generate",
    ]);
    const generated = parseConfig(applyReleaseChain(TEXT, withQa));
    expect(checkReleaseChain(generated, withQa)).toEqual([]);
    expect(checkJobsExist(generated)).toEqual([]);
    expect(checkReleaseGates(generated, RELEASE_PREREQUISITES, PRODUCTION)).toEqual([]);
    expect(checkProfiles(generated)).toEqual([]);
    expect(jobCommands(generated, "plan-review").join("\n")).toContain("plan-qa=PLAN_ROLE_ARN_QA");
    // Only the chain and the plan profiles line change (lines new to the file listed); every other line stays as written.
    const changed = applyReleaseChain(TEXT, withQa)
      .split("\n")
      .filter((line) => !TEXT.split("\n").includes(line));
    expect(changed).toEqual([
      "          profiles: plan-dev=PLAN_ROLE_ARN_DEV plan-staging=PLAN_ROLE_ARN_STAGING plan-qa=PLAN_ROLE_ARN_QA plan-prod=PLAN_ROLE_ARN_PROD",
      "          name: promote-qa",
      "          to: qa",
      "          requires: [promote-qa]",
      "          from: qa",
    ]);
    // A second production environment gets its own approval and its own restricted context.
    const twoProd = parseConfig(applyReleaseChain(TEXT, [...CHAIN, { name: "produs", tier: "production" }]));
    const last = twoProd.workflows["build-test-release"]!.slice(-2);
    expect(last.map((e) => [e.name, e.requires, e.context])).toEqual([
      ["approve-produs", ["promote-prod"], []],
      ["promote-produs", ["approve-produs"], ["mpg-model-release", "mpg-model-produs"]],
    ]);
  });

  it("refuses to regenerate over a hand-written entry in the generated part", () => {
    const handWritten = `${TEXT}      - shellcheck:\n          name: late-check\n`;
    expect(() => applyReleaseChain(handWritten, CHAIN)).toThrow('config.yml: workflow entry "shellcheck" is below the release-chain line, which npm run ci:generate owns; move it above');
    expect(() => applyReleaseChain(TEXT.replace(CHAIN_MARKER, "      # release"), CHAIN)).toThrow(/has no line "# The release chain/);
  });

  it("gives every job that assumes an AWS role a context (no context, no OIDC token)", () => {
    expect(checkOidcJobsHaveContext(config)).toEqual([]);
    const noContext = mutated((doc) => doc.deleteIn(["workflows", "build-test-release", "jobs", 7, "plan-review", "context"]));
    expect(checkOidcJobsHaveContext(noContext)).toEqual(["build-test-release/plan-review assumes AWS roles but has no context, so it gets no OIDC token"]);
  });

  it("passes the release CLI only AWS profiles the same job configured", () => {
    expect(checkProfiles(config)).toEqual([]);
    // The promote job is one definition run per environment: a typo in it breaks every promotion.
    const typo = mutatedText((t) => t.replace("--to-profile << parameters.to >>-promote", "--to-profile << parameters.to >>-promot"));
    expect(checkProfiles(typo)).toEqual(["promote-staging: profile staging-promot is not configured in the job", "promote-prod: profile prod-promot is not configured in the job"]);
    const promoteProd = jobCommands(config, "promote", { from: "staging", to: "prod" }).join("\n");
    expect(promoteProd).toContain("[profile %s]\\nrole_arn = %s\\nweb_identity_token_file");
    expect(promoteProd).toContain("for pair in staging-source=PROMOTION_SOURCE_ROLE_ARN_staging prod-promote=PROMOTE_ROLE_ARN_prod; do");
    expect(promoteProd).toContain("npm run --silent release -- promote --from staging --to prod --from-profile staging-source --to-profile prod-promote --json");
  });

  it("holds no AWS keys, tokens or role ARNs inline", () => {
    expect(checkNoSecrets(config)).toEqual([]);
    const key = mutated((doc) => doc.setIn(["executors", "node", "environment", "AWS_ACCESS_KEY_ID"], "AKIAABCDEFGHIJKLMNOP"));
    expect(checkNoSecrets(key)).toEqual([
      "config contains an AWS access key id",
      "config contains AWS key variables (use OIDC)",
      "environment variable AWS_ACCESS_KEY_ID is set inline; secrets belong in a context",
    ]);
    const token = mutated((doc) => doc.setIn(["jobs", "plan-review", "environment"], { GITHUB_TOKEN: "not-a-real-token" }));
    expect(checkNoSecrets(token)).toEqual(["environment variable GITHUB_TOKEN is set inline; secrets belong in a context"]);
    const arn = mutatedText((t) => t.replace("plan-dev=PLAN_ROLE_ARN_DEV", "plan-dev=arn:aws:iam::111111111111:role/mpg-model-dev-circleci-plan"));
    expect(checkNoSecrets(arn)).toEqual(["config contains a role ARN (put it in a context)"]);
  });

  it("pins images and orbs to exact versions", () => {
    expect(checkPinned(config)).toEqual([]);
    expect(checkPinned(mutatedText((t) => t.replace(/cimg\/node:[\d.]+/, "cimg/node:lts")))).toEqual(["image cimg/node:lts is not pinned to an exact version"]);
    expect(checkPinned(mutated((doc) => doc.set("orbs", { aws: "circleci/aws-cli@5" })))).toEqual(["orb aws is not pinned to an exact version"]);
    expect(checkPinned(mutated((doc) => doc.set("orbs", { aws: "circleci/aws-cli@5.1.1" })))).toEqual([]);
  });

  it("tests on the fleet's Node.js, at .nvmrc's exact version, inside engines, never older than the Lambda runtime", () => {
    expect(SHIPPED).toEqual({ fleetMajors: [24, 24, 24], lambdaRuntime: "nodejs22.x", nvmrc: "24.22.3" });
    expect(checkNodeVersion(config, PACKAGE.engines.node, SHIPPED)).toEqual([]);
    const node22 = mutatedText((t) => t.replace(/cimg\/node:24\.[\d.]+/, "cimg/node:22.12.0"));
    expect(checkNodeVersion(node22, PACKAGE.engines.node, SHIPPED)).toEqual([
      "cimg/node:22.12.0 runs Node.js 22, the fleet runs 24 (fleet.nodeMajorVersion)",
      "cimg/node:22.12.0: CI runs 22.12.0, .nvmrc says 24.22.3",
    ]);
    const node20 = mutatedText((t) => t.replace(/cimg\/node:24\.[\d.]+/, "cimg/node:20.18.1"));
    expect(checkNodeVersion(node20, PACKAGE.engines.node, SHIPPED)).toEqual([
      "cimg/node:20.18.1 runs Node.js 20, the fleet runs 24 (fleet.nodeMajorVersion)",
      "cimg/node:20.18.1: CI runs 20.18.1, .nvmrc says 24.22.3",
      `cimg/node:20.18.1: 20.18.1 does not satisfy engines.node "${PACKAGE.engines.node}"`,
      "cimg/node:20.18.1 runs Node.js 20, older than the trigger's Lambda runtime nodejs22.x",
    ]);
    expect(checkNodeVersion(config, PACKAGE.engines.node, { ...SHIPPED, fleetMajors: [24, 22] })).toEqual(["cimg/node:24.22.3 runs Node.js 24, the fleet runs 22 (fleet.nodeMajorVersion)"]);
    expect(checkNodeVersion(config, PACKAGE.engines.node, { ...SHIPPED, nvmrc: "24.1.0" })).toEqual(["cimg/node:24.22.3: CI runs 24.22.3, .nvmrc says 24.1.0"]);
  });

  it("keys the dependency cache on package-lock.json", () => {
    expect(checkCache(config)).toEqual([]);
    const byBranch = mutatedText((t) => t.replaceAll('npm-v1-{{ arch }}-{{ checksum "package-lock.json" }}', "npm-v1-{{ .Branch }}"));
    expect(checkCache(byBranch)).toEqual(["cache key npm-v1-{{ .Branch }} is not keyed on package-lock.json", "cache key npm-v1-{{ .Branch }} is not keyed on package-lock.json"]);
  });

  it("stores junit test results and keeps the bundle, the plans and the model report", () => {
    expect(checkArtifacts(config)).toEqual([]);
    const noJunit = mutatedText((t) => t.replace(" --reporter=default --reporter=junit --outputFile.junit=test-results/vitest/junit.xml", ""));
    expect(checkArtifacts(noJunit)).toEqual(["npm test does not write a junit report for store_test_results"]);
    const noBundle = mutatedText((t) => t.replace("path: dist\n", "path: build\n"));
    expect(checkArtifacts(noBundle)).toEqual(["the bundle (dist) is not stored as an artifact"]);
    const noReport = mutatedText((t) => t.replace("path: dist/model-report\n", "path: dist/elsewhere\n"));
    expect(checkArtifacts(noReport)).toEqual(["the model report (dist/model-report) is not stored as an artifact"]);
  });

  it("writes the model report before the gate can fail, and puts it in the plan review's comment", () => {
    expect(checkModelReport(config)).toEqual([]);
    const late = mutated((doc) => {
      const steps = doc.getIn(["jobs", "model-gate", "steps"]) as { items: unknown[] };
      steps.items.push(steps.items.splice(1, 1)[0]);
    });
    expect(checkModelReport(late)).toEqual(["the model-gate job writes the model report after the gate, so a failing gate leaves no report"]);
    const noModelInReview = mutatedText((t) => t.replace(" --model-report dist/model-report", ""));
    expect(checkModelReport(noModelInReview)).toEqual(["the plan-review job does not put the model report in its comment (npm run model:report, then plan:review --model-report)"]);
  });
});

describe("schemaErrors", () => {
  const schema = {
    type: "object",
    required: ["version"],
    properties: { version: { enum: [2, 2.1] }, orbs: { type: "object", additionalProperties: { type: "string", format: "uri" } } },
  };

  it("accepts a document the schema allows", () => {
    expect(schemaErrors(schema, { version: 2.1 })).toEqual([]);
    expect(schemaErrors(schema, { version: 2.1, orbs: { x: "https://example.com/orb.yml" } })).toEqual([]);
  });

  it("names the path and the reason of every violation, including formats", () => {
    expect(schemaErrors(schema, { orbs: { x: "not a uri" } })).toEqual([`/ must have required property 'version' {"missingProperty":"version"}`, `/orbs/x must match format "uri" {"format":"uri"}`]);
    expect(schemaErrors(schema, { version: 3 })).toEqual([`/version must be equal to one of the allowed values {"allowedValues":[2,2.1]}`]);
  });
});

describe("engines helpers", () => {
  it("compares versions like npm, ranges of any form included", () => {
    expect(satisfies("20.19.0", ">=20.19 <21 || >=22.12")).toBe(true);
    expect(satisfies("20.20.2", ">=20.19 <21 || >=22.12")).toBe(true);
    expect(satisfies("21.0.0", ">=20.19 <21 || >=22.12")).toBe(false);
    expect(satisfies("22.11.9", ">=20.19 <21 || >=22.12")).toBe(false);
    expect(satisfies("24.1.0", ">=20.19 <21 || >=22.12")).toBe(true);
    expect(satisfies("20.3.0", "^20")).toBe(true);
    expect(satisfies("24.0.0-pre", ">=20")).toBe(false);
    expect(() => satisfies("20.0.0", "twenty or later")).toThrow(/engines range "twenty or later" is not a semver range/);
  });
});
