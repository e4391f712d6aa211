import { defineEnvironment } from "./define.js";
import { REPOSITORY } from "./repository.js";

/** A production rehearsal: same shape as prod (blue/green, two AZs), smaller and cheaper. */
export const staging = defineEnvironment({
  name: "staging",
  tier: "pre-production",
  project: REPOSITORY.project,
  accountId: "111111111111",
  region: "eu-west-1",
  network: {
    vpcCidr: "10.20.0.0/16",
    subnets: [
      { availabilityZone: "eu-west-1a", publicCidr: "10.20.0.0/24", privateCidr: "10.20.10.0/24" },
      { availabilityZone: "eu-west-1b", publicCidr: "10.20.1.0/24", privateCidr: "10.20.11.0/24" },
    ],
    natGateways: "single",
    flowLogRetentionDays: 30,
  },
  fleet: {
    instanceType: "t3.small",
    // Ubuntu 24.04 LTS amd64 (Canonical) in eu-west-1: replace with the current id for your region.
    amiId: "ami-0a422d70f727fe93e",
    amiHasRuntime: false,
    nodeMajorVersion: 24,
    instancesPerSlot: 2,
    rootVolumeGiB: 16,
  },
  deployment: {
    strategy: "blue-green",
    deploymentConfig: "CodeDeployDefault.HalfAtATime",
    trafficReroute: "automatic",
    manualApprovalMinutes: 60,
  },
  access: {
    loadBalancerCidrs: ["10.0.0.0/8"],
  },
  service: { port: 8080, metricsPort: 9464, healthCheckPath: "/ready", logLevel: "info", maxBatchRows: 1000 },
  loadBalancer: {
    healthCheck: { intervalSeconds: 10, timeoutSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 2 },
    idleTimeoutSeconds: 60,
    connectionDrainingSeconds: 60,
    accessLogIntervalMinutes: 60,
  },
  alarms: { http5xxPerMinute: 5, unhealthyHosts: 1, evaluationMinutes: 2 },
  revisions: { noncurrentVersionDays: 60 },
  ci: {
    ...REPOSITORY.ci,
    createOidcProvider: false,
  },
  logRetentionDays: 30,
  tags: { ...REPOSITORY.tags, Environment: "staging" },
  backend: { type: "local" },
});
