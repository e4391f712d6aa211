import { defineConfig } from "vitest/config";

/**
 * The specs that boot local instances (systemd-nspawn, root) and deploy through the real CodeDeploy
 * agent: `npm run test:instance`, a named stage of .ci/run. They fail, never skip, where an
 * instance cannot boot.
 */
export default defineConfig({
  test: {
    include: ["**/*.instance.spec.ts"],
    exclude: ["node_modules/**", "cdktf.out/**", "dist/**", ".tmp/**"],
    // Builds (or finds in the cache) the machine image and one revision, once for every file.
    // The temp-folder guard first (its TMPDIR holds the image build's and the revision's scratch too), then the instance setup.
    globalSetup: ["scripts/tmp-guard.global-setup.ts", "revision/instance.global-setup.ts"],
    // A deployment through the agent takes seconds; a failing one waits for a hook's timeout.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
