/**
 * How an instance runs the real agent's `codedeploy-local`: the arguments, the environment a
 * systemd service would give it, and the deployment group id. Shared by the container instance
 * and the mount-namespace fallback, so both run the agent the same way.
 */
import { createHash } from "node:crypto";

export interface DeployOptions {
  /** APPLICATION_NAME for the hooks, e.g. "mpg-model-dev". */
  readonly applicationName: string;
  /** DEPLOYMENT_GROUP_NAME for the hooks, e.g. "mpg-model-dev": AfterInstall picks its settings by it. */
  readonly deploymentGroupName: string;
  /**
   * The lifecycle events to run, in order (codedeploy-local --events). Default: every event of an
   * in-place deployment. The agent always adds DownloadBundle and Install.
   */
  readonly events?: readonly string[];
  /** Bound on the whole codedeploy-local run (default 10 minutes); the agent bounds each script itself. */
  readonly timeoutMs?: number;
}

/** The events codedeploy-local accepts (its DEFAULT_ORDERED_LIFECYCLE_EVENTS). */
export const AGENT_EVENTS = [
  "BeforeBlockTraffic",
  "AfterBlockTraffic",
  "ApplicationStop",
  "DownloadBundle",
  "BeforeInstall",
  "Install",
  "AfterInstall",
  "ApplicationStart",
  "ValidateService",
  "BeforeAllowTraffic",
  "AfterAllowTraffic",
] as const;

/**
 * CodeDeploy names a group's folder on the instance by its id (a UUID); this one is stable per
 * application and group, so that "last successful install" carries over between deployments.
 */
export function deploymentGroupId(applicationName: string, deploymentGroupName: string): string {
  const h = createHash("sha256").update(`${applicationName}/${deploymentGroupName}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export class DeployOptionsError extends Error {
  override readonly name = "DeployOptionsError";
}

/** codedeploy-local's arguments for one deployment of `bundlePath` (a path the agent can read). */
export function codedeployLocalArgs(bundlePath: string, options: DeployOptions, configPath?: string): string[] {
  const unknown = (options.events ?? []).filter((e) => !(AGENT_EVENTS as readonly string[]).includes(e));
  if (unknown.length) throw new DeployOptionsError(`unknown lifecycle event(s) ${unknown.join(", ")}; codedeploy-local knows ${AGENT_EVENTS.join(", ")}`);
  for (const [key, value] of [
    ["applicationName", options.applicationName],
    ["deploymentGroupName", options.deploymentGroupName],
  ] as const) {
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(value)) throw new DeployOptionsError(`${key} "${value}" is not a CodeDeploy name (letters, digits, _ . -)`);
  }
  return [
    ...(configPath ? ["--agent-configuration-file", configPath] : []),
    "--bundle-location",
    bundlePath,
    "--type",
    "zip",
    "--application-name",
    options.applicationName,
    "--deployment-group-name",
    options.deploymentGroupName,
    "--deployment-group",
    deploymentGroupId(options.applicationName, options.deploymentGroupName),
    ...(options.events?.length ? ["--events", options.events.join(",")] : []),
  ];
}

/** The environment of the agent's service on an instance (no caller environment leaks in). */
export function agentEnv(rubyLib: readonly string[], extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    LANG: "C.UTF-8",
    // The agent writes local times without a zone; UTC makes them unambiguous (agent-log.ts).
    TZ: "UTC",
    HOME: "/root",
    RUBYLIB: rubyLib.join(":"),
    ...extra,
  };
}
