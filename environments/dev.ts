import { defineEnvironment } from "./define.js";
import { REPOSITORY } from "./repository.js";

/** Developers' sandbox: one small instance, in-place deployments, cheapest network. */
export const dev = defineEnvironment({
  name: "dev",
  tier: "development",
  project: REPOSITORY.project,
  accountId: "111111111111",
  region: "eu-west-1",
  network: {
    vpcCidr: "10.10.0.0/16",
    subnets: [
      { availabilityZone: "eu-west-1a", publicCidr: "10.10.0.0/24", privateCidr: "10.10.10.0/24" },
      { availabilityZone: "eu-west-1b", publicCidr: "10.10.1.0/24", privateCidr: "10.10.11.0/24" },
    ],
    natGateways: "single",
    flowLogRetentionDays: 14,
  },
  fleet: {
    instanceType: "t3.small",
    // Ubuntu 24.04 LTS amd64 (Canonical) in eu-west-1: replace with the current id for your region.
    amiId: "ami-0a422d70f727fe93e",
    amiHasRuntime: false,
    nodeMajorVersion: 24,
    instancesPerSlot: 1,
    rootVolumeGiB: 16,
  },
  deployment: { strategy: "in-place", deploymentConfig: "CodeDeployDefault.AllAtOnce" },
  access: {
    loadBalancerCidrs: ["10.0.0.0/8"],
  },
  service: { port: 8080, metricsPort: 9464, healthCheckPath: "/ready", logLevel: "debug", maxBatchRows: 1000 },
  loadBalancer: {
    healthCheck: { intervalSeconds: 10, timeoutSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 2 },
    idleTimeoutSeconds: 60,
    connectionDrainingSeconds: 30,
    accessLogIntervalMinutes: 60,
  },
  alarms: { http5xxPerMinute: 10, unhealthyHosts: 1, evaluationMinutes: 2 },
  revisions: { noncurrentVersionDays: 30 },
  ci: {
    ...REPOSITORY.ci,
    createOidcProvider: true,
  },
  logRetentionDays: 14,
  tags: { ...REPOSITORY.tags, Environment: "dev" },
  backend: { type: "local" },
});
