import { defineConfig } from "vitest/config";

// Specs that boot instances (systemd-nspawn) and deploy through the real CodeDeploy agent.
const INSTANCE_SPECS = "**/*.instance.spec.ts";
const EXCLUDE = ["node_modules/**", "cdktf.out/**", "dist/**", ".tmp/**"];

export default defineConfig({
  test: {
    // Real terraform plans, real HTTP servers and real child processes: give them room,
    // but keep each test bounded so a hang fails instead of stalling CI.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // vitest leaves one core free by default; on a 2-core machine that means one file at a time.
    // Most suites wait on child processes (terraform, the service, hooks), so two run well side by side.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: "unit", include: ["**/*.spec.ts"], exclude: [...EXCLUDE, INSTANCE_SPECS] } },
      {
        extends: true,
        test: {
          name: "instance",
          include: [INSTANCE_SPECS],
          exclude: EXCLUDE,
          // Builds (or finds in the cache) the machine image and one revision, once for every file.
          globalSetup: ["revision/instance.global-setup.ts"],
          // A deployment through the agent takes seconds; a failing one waits for a hook's timeout.
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
