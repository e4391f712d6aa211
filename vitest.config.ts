import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.spec.ts"],
    exclude: ["node_modules/**", "cdktf.out/**", "dist/**", ".tmp/**"],
    // Real terraform plans, real HTTP servers and real child processes: give them room,
    // but keep each test bounded so a hang fails instead of stalling CI.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
