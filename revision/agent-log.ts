/**
 * Reads one codedeploy-local run back from the CodeDeploy agent's own logs: which lifecycle
 * events ran, when each started and ended, which failed and why. Sources, all written by the
 * agent 1.8.1 (config `:verbose: true`):
 *
 * - codedeploy-local.log: "Command <Event> maps to method ..." starts every event, including the
 *   agent's own DownloadBundle and Install (second precision); hook failures ("Script failed.
 *   Diagnostics=...exitstatus=>N", "... timed out", "... failed to close STDOUT");
 * - deployment-logs/codedeploy-agent-deployments.log: "[time.ms] [d-...-local]LifecycleEvent - X"
 *   for each event that has scripts (millisecond precision; an event without one is "Skipped");
 * - the deployment's logs/scripts.log: the scripts' own output, where our hooks say why they failed;
 * - codedeploy-local's stdout/stderr: the deployment id, and the error of a failed Install.
 */

export type EventStatus = "Succeeded" | "Failed" | "Skipped";

export interface LifecycleEventResult {
  readonly name: string;
  readonly status: EventStatus;
  readonly start: Date;
  readonly end: Date;
  /** Why it failed: the agent's error and the last error lines the script wrote to scripts.log. */
  readonly reason?: string;
}

export interface AgentRun {
  readonly deploymentId: string | undefined;
  readonly status: "Succeeded" | "Failed";
  readonly events: LifecycleEventResult[];
  /** The failed event's name and reason, when status is Failed. */
  readonly failure?: { readonly event: string; readonly reason: string };
}

export interface AgentLogs {
  /** What codedeploy-local.log gained during the run. */
  readonly localLog: string;
  /** What deployment-logs/codedeploy-agent-deployments.log gained during the run. */
  readonly deploymentsLog: string;
  /** The run's scripts.log ("" when the run never reached a hook). */
  readonly scriptsLog: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | null;
  /** When codedeploy-local returned (the end of the last event). */
  readonly finishedAt: Date;
}

const LOCAL_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) (\w+)\s+\[codedeploy-agent\(\d+\)\]: (.*)$/;
const DEPLOYMENT_LINE = /^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\] \[(d-[A-Z0-9]+-local)\](.*)$/;

/** The agent writes local time without a zone; instances (and our agent runs) use UTC. */
function utc(stamp: string): Date {
  return new Date(`${stamp.replace(" ", "T")}Z`);
}

export function parseAgentRun(logs: AgentLogs): AgentRun {
  const deploymentId = /(d-[A-Z0-9]{9}-local)/.exec(logs.stdout)?.[1];
  const starts: { name: string; at: Date }[] = [];
  const hookFailures: string[] = [];
  let lastLocal: Date | undefined;
  for (const line of logs.localLog.split("\n")) {
    const m = LOCAL_LINE.exec(line);
    if (!m) continue;
    lastLocal = utc(m[1]!);
    const message = m[3]!;
    const command = /CommandExecutor: Command (\w+) maps to method/.exec(message);
    // The agent logs the line twice per event (two log handlers); one start per event.
    if (command && starts.at(-1)?.name !== command[1]) starts.push({ name: command[1]!, at: lastLocal });
    const diag = /Script failed\. Diagnostics=.*:exitstatus=>(\d+|nil)/.exec(message);
    if (diag) hookFailures.push(`a script failed with exit code ${diag[1]}`);
    const timedOut = /(Script at specified location: \S+) timed out/.exec(message);
    if (timedOut) hookFailures.push(`${timedOut[1]} timed out (the agent killed its process group)`);
    const open = /(Script at specified location: \S+ failed to close STD(OUT|ERR))/.exec(message);
    if (open) hookFailures.push(`${open[1]}: a process it started kept the output open until the timeout`);
  }

  // Millisecond starts, and which events ran scripts, from the deployments log.
  const scripted = new Map<string, Date>();
  // The time of each scripted event's last line: an agent step after it cannot have started earlier.
  const lastLineOf = new Map<string, Date>();
  let current: string | undefined;
  for (const line of logs.deploymentsLog.split("\n")) {
    const m = DEPLOYMENT_LINE.exec(line);
    if (!m || (deploymentId && m[2] !== deploymentId)) continue;
    const at = utc(m[1]!);
    const event = /^LifecycleEvent - (\w+)/.exec(m[3]!);
    if (event) {
      current = event[1]!;
      if (!scripted.has(current)) scripted.set(current, at);
    }
    if (current) lastLineOf.set(current, at);
  }

  const failed = logs.exitCode !== 0;
  // Second-precision starts never go before the previous event's (millisecond) start.
  const precise: Date[] = [];
  starts.forEach((s, i) => {
    let at = scripted.get(s.name) ?? s.at;
    const before = [precise.at(-1), lastLineOf.get(starts[i - 1]?.name ?? "")].filter((d): d is Date => d !== undefined);
    for (const b of before) if (at < b) at = b;
    precise.push(at);
  });
  const events: LifecycleEventResult[] = starts.map((s, i) => {
    const start = precise[i]!;
    const end = precise[i + 1] ?? logs.finishedAt;
    const isLast = i === starts.length - 1;
    const agentStep = s.name === "DownloadBundle" || s.name === "Install";
    const status: EventStatus = failed && isLast ? "Failed" : agentStep || scripted.has(s.name) ? "Succeeded" : "Skipped";
    return { name: s.name, status, start, end: end < start ? start : end };
  });

  if (!failed) return { deploymentId, status: "Succeeded", events };
  const last = events.at(-1);
  const event = last?.name ?? "(before any lifecycle event)";
  const reason = failureReason(event, logs, hookFailures);
  if (last) events[events.length - 1] = { ...last, reason };
  return { deploymentId, status: "Failed", events, failure: { event, reason } };
}

function failureReason(event: string, logs: AgentLogs, hookFailures: string[]): string {
  const parts: string[] = [];
  // An agent step (Install) fails with a Ruby exception on stderr: its message is the reason.
  const agentError = logs.stderr.split("\n").find((l) => /The deployment failed because|Error|error/.test(l) && !/deprecated/.test(l));
  if (hookFailures.length) parts.push(hookFailures.at(-1)!);
  else if (agentError) parts.push(agentError.trim().replace(/^.*?: /, ""));
  const scriptLines = eventSection(logs.scriptsLog, event);
  const said = scriptLines.filter((l) => /ERROR|WARNING|\[stderr\]/.test(l)).slice(-6);
  if (said.length) parts.push(...said);
  else if (scriptLines.length) parts.push(...scriptLines.slice(-3));
  if (!parts.length)
    parts.push(
      `codedeploy-local exited with ${logs.exitCode}: ${
        (logs.stderr
          .trim()
          .split("\n")
          .filter((l) => !/deprecated/.test(l))
          .at(-1) ??
          logs.stdout.trim().split("\n").at(-1)) ||
        "no message"
      }`,
    );
  return parts.join("\n");
}

/** scripts.log lines after "LifecycleEvent - <event>", without their timestamps. */
function eventSection(scriptsLog: string, event: string): string[] {
  const lines = scriptsLog.split("\n").map((l) => l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, ""));
  const at = lines.lastIndexOf(`LifecycleEvent - ${event}`);
  if (at < 0) return [];
  const rest = lines.slice(at + 1);
  const end = rest.findIndex((l) => l.startsWith("LifecycleEvent - "));
  return (end < 0 ? rest : rest.slice(0, end)).filter((l) => l && !l.startsWith("Script - ")).map((l) => l.replace(/^\[(stdout|stderr)\]/, (_, s: string) => (s === "stderr" ? "[stderr]" : "")));
}
