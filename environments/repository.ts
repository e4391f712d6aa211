/**
 * Facts about the repository and its CI that every environment shares, written once and spread into each
 * environment file (the schema still checks them per environment, and the bundler that they agree).
 */
export const REPOSITORY = {
  /** Prefix of every resource name (3-16 characters: the load balancer name allows 32). */
  project: "mpg-model",
  ci: {
    circleciOrganizationId: "7d0c3f52-1a6e-4f1b-9a55-2f8d7c1e4b90",
    circleciProjectId: "c5b1e0a4-8f2d-4c3b-b7e6-91a0d2f3e845",
    vcsOrigin: "github.com/acme/mpg-model",
  },
  tags: { Project: "mpg-model", Owner: "ml-platform" },
} as const;
