/**
 * `npm run ci:validate -- <circleci-config.schema.json> [config.yml]`: validates the CircleCI config
 * against CircleCI's official JSON schema (passed in, never stored in the project), then runs the
 * project's own pipeline rules (config-checks.ts). Exit 0 when both pass, 1 otherwise, 2 on usage.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { CONFIG_PATH, REPO, projectProblems, repositoryChain, repositoryRuntimes, schemaErrors } from "./config-checks.js";

async function main(argv: string[]): Promise<number> {
  const [schemaPath, configPath = CONFIG_PATH] = argv;
  if (!schemaPath) {
    console.error("usage: npm run ci:validate -- <path/to/circleci-config.schema.json> [path/to/config.yml]");
    return 2;
  }
  const text = readFileSync(resolve(configPath), "utf8");
  const schema = JSON.parse(readFileSync(resolve(schemaPath), "utf8")) as object;
  const errors = schemaErrors(schema, parse(text));
  for (const e of errors) console.error(`schema: ${e}`);
  const packageJson = JSON.parse(readFileSync(resolve(REPO, "package.json"), "utf8")) as Parameters<typeof projectProblems>[1];
  const problems = projectProblems(text, packageJson, repositoryRuntimes(), repositoryChain());
  for (const p of problems) console.error(`rule: ${p}`);
  const ok = errors.length === 0 && problems.length === 0;
  console.log(ok ? `${configPath}: valid against ${schemaPath} and the project's pipeline rules` : `${configPath}: ${errors.length} schema error(s), ${problems.length} rule violation(s)`);
  return ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
