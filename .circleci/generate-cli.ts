/**
 * `npm run ci:generate`: rewrites the release chain of .circleci/config.yml (and the plan review's
 * role profiles) from environments/declared.ts. Run it after adding, removing or reordering an
 * environment; `npm test` and `npm run ci:validate` fail until it has been run.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { CONFIG_PATH, repositoryChain } from "./config-checks.js";
import { applyReleaseChain } from "./release-chain.js";

const before = readFileSync(CONFIG_PATH, "utf8");
const after = applyReleaseChain(before, repositoryChain());
if (after === before) console.log(`${CONFIG_PATH}: the release chain already follows environments/declared.ts`);
else {
  writeFileSync(CONFIG_PATH, after);
  console.log(
    `${CONFIG_PATH}: release chain rewritten (${repositoryChain()
      .map((e) => e.name)
      .join(" -> ")})`,
  );
}
