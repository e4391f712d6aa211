import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.spec.ts"],
    // *.instance.spec.ts boot systemd-nspawn machines as root: their own run, vitest.instance.config.ts
    // (npm run test:instance, a stage of .ci/run).
    exclude: ["node_modules/**", "cdktf.out/**", "dist/**", ".tmp/**", "**/*.instance.spec.ts"],
    // Real terraform plans, real HTTP servers and real child processes: give them room,
    // but keep each test bounded so a hang fails instead of stalling CI.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // vitest leaves one core free by default; on a 2-core machine that means one file at a time.
    // Most suites wait on child processes (terraform, the service, hooks), so two run well side by side.
    maxWorkers: 2,
  },
});
