import { defineEnvironment } from "./define.js";
import { REPOSITORY } from "./repository.js";

/** Production: blue/green across three AZs, NAT per AZ so one zone's outage cannot cut egress. */
export const prod = defineEnvironment({
  name: "prod",
  tier: "production",
  project: REPOSITORY.project,
  accountId: "333333333333",
  region: "eu-west-1",
  network: {
    vpcCidr: "10.30.0.0/16",
    subnets: [
      { availabilityZone: "eu-west-1a", publicCidr: "10.30.0.0/24", privateCidr: "10.30.10.0/24" },
      { availabilityZone: "eu-west-1b", publicCidr: "10.30.1.0/24", privateCidr: "10.30.11.0/24" },
      { availabilityZone: "eu-west-1c", publicCidr: "10.30.2.0/24", privateCidr: "10.30.12.0/24" },
    ],
    natGateways: "per-az",
    flowLogRetentionDays: 90,
  },
  fleet: {
    instanceType: "c6i.large",
    // Ubuntu 24.04 LTS amd64 (Canonical) in eu-west-1: replace with the current id for your region.
    amiId: "ami-0a422d70f727fe93e",
    amiHasRuntime: false,
    nodeMajorVersion: 24,
    instancesPerSlot: 3,
    rootVolumeGiB: 20,
  },
  deployment: {
    strategy: "blue-green",
    deploymentConfig: "CodeDeployDefault.HalfAtATime",
    trafficReroute: "automatic",
    manualApprovalMinutes: 120,
  },
  access: {
    loadBalancerCidrs: ["0.0.0.0/0"],
  },
  service: { port: 8080, metricsPort: 9464, healthCheckPath: "/ready", logLevel: "info", maxBatchRows: 1000 },
  loadBalancer: {
    healthCheck: { intervalSeconds: 10, timeoutSeconds: 5, healthyThreshold: 3, unhealthyThreshold: 2 },
    idleTimeoutSeconds: 60,
    connectionDrainingSeconds: 120,
    accessLogIntervalMinutes: 5,
  },
  alarms: { http5xxPerMinute: 5, unhealthyHosts: 1, evaluationMinutes: 2 },
  revisions: { noncurrentVersionDays: 180 },
  ci: {
    ...REPOSITORY.ci,
    createOidcProvider: true,
  },
  logRetentionDays: 90,
  tags: { ...REPOSITORY.tags, Environment: "prod" },
  backend: { type: "local" },
});
