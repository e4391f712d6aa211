/**
 * `npm run release -- <command>`: upload, promote, watch, status, rollback, ssh, predict.
 * Exit codes: 0 success, 1 failure (AWS error, failed deployment), 2 usage error,
 * 124 watch timed out (the deployment goes on in AWS); ssh and predict exit with the remote
 * command's code (make_prediction.sh: 3 unreachable, 4 refused input, 5 service error) or 255
 * when ssh could not connect.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ENVIRONMENT_NAMES } from "../environments/index.js";
import { createClients, ReleaseError, UsageError } from "./aws.js";
import { environment, promote, rollback, status, upload, watch, type CommandContext } from "./commands.js";
import { predict, ssh, type ProcessContext } from "./ssh.js";

export const USAGE = `usage: npm run release -- <command> [options]

  upload   --env <env> <bundle.zip> [--git-commit <sha>] [--model-version <v>] [--profile <p>]
           put the revision under the environment's release prefix (this triggers the deployment)
  promote  --from <env> --to <env> [--from-profile <p>] [--to-profile <p>]
           copy the exact object that last succeeded in --from into --to's bucket
  watch    --env <env> [--deployment <id> | --version-id <s3 version>] [--timeout 30m] [--interval 10s] [--profile <p>]
           follow a deployment until it succeeds, fails or times out; --version-id (printed by
           upload/promote) waits for the trigger's deployment of exactly that object;
           default: the newest deployment
  status   --env <env> [--profile <p>]
           live slot, current revision and model version, last deployments
  rollback --env <env> [--profile <p>]
           redeploy the previous successful revision
  ssh      --env <env> [--slot live|standby | --instance i-…] [--profile <p>] [-- COMMAND...]
           a shell (or COMMAND) on an instance, as ubuntu, through the environment's EC2
           Instance Connect Endpoint with a one-time key; default: an InService instance behind
           the load balancer. Needs AWS CLI v2 >= 2.12 and OpenSSH, and the stack's
           ssh_operators_policy_arn attached to your role
  predict  --env <env> [--via ssh|lb] [--car FILE|-] [--human] [--slot …|--instance …] [--profile <p>]
           a prediction from the live model: --via ssh (default) runs "sh make_prediction.sh" in
           the application folder of an instance; --via lb sends it through the load balancer;
           --car: a car as JSON (default: the model's example car)

--json (every command but ssh): one JSON document on stdout, the progress lines on stderr;
predict prints the service's JSON reply anyway, so there --json only rules out --human.

environments: ${ENVIRONMENT_NAMES.join(", ")} (in promotion order). Credentials: the default AWS chain, or --profile.`;

/** "90s", "30m", "2h" or plain seconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+)(s|m|h)?$/.exec(text.trim());
  if (!match) throw new UsageError(`${flag} ${text} is not a duration: use e.g. 90s, 30m or 2h`);
  const value = Number(match[1]);
  const unit = match[2] === "h" ? 3_600_000 : match[2] === "m" ? 60_000 : 1000;
  if (value <= 0) throw new UsageError(`${flag} must be positive`);
  return value * unit;
}

const OPTIONS = {
  env: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  profile: { type: "string" },
  "from-profile": { type: "string" },
  "to-profile": { type: "string" },
  deployment: { type: "string" },
  "version-id": { type: "string" },
  timeout: { type: "string" },
  interval: { type: "string" },
  "git-commit": { type: "string" },
  "model-version": { type: "string" },
  slot: { type: "string" },
  instance: { type: "string" },
  via: { type: "string" },
  car: { type: "string" },
  human: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

// ssh takes no --json: its output is the remote command's own, or an interactive shell.
const ALLOWED: Record<string, readonly string[]> = {
  upload: ["env", "profile", "git-commit", "model-version", "json"],
  promote: ["from", "to", "from-profile", "to-profile", "json"],
  watch: ["env", "profile", "deployment", "version-id", "timeout", "interval", "json"],
  status: ["env", "profile", "json"],
  rollback: ["env", "profile", "json"],
  ssh: ["env", "profile", "slot", "instance"],
  predict: ["env", "profile", "via", "car", "human", "slot", "instance", "json"],
};

/**
 * --json: every human line goes to stderr, and stdout gets exactly one JSON document,
 * {"command", "ok", "exitCode", ...the command's fields} or, on failure, {"command", "ok": false,
 * "exitCode", "error"}. predict already prints the service's JSON reply, so there --json only
 * rules out --human.
 */
async function runJson(command: string, ctx: CommandContext, err: (line: string) => void, body: (ctx: CommandContext) => Promise<number>): Promise<number> {
  const fields: Record<string, unknown> = {};
  const quiet: CommandContext = { ...ctx, out: err, report: (more) => Object.assign(fields, more) };
  let exitCode: number;
  let error: string | undefined;
  try {
    exitCode = await body(quiet);
  } catch (caught) {
    exitCode = caught instanceof UsageError ? 2 : 1;
    error = caught instanceof ReleaseError ? caught.message : `unexpected error: ${(caught as Error).message ?? String(caught)}`;
    ctx.out(JSON.stringify({ command, ok: false, exitCode, error }));
    throw caught;
  }
  ctx.out(JSON.stringify({ command, ok: exitCode === 0, exitCode, ...fields }));
  return exitCode;
}

export async function run(argv: readonly string[], ctx: CommandContext & { processes?: ProcessContext }, err: (line: string) => void = console.error): Promise<number> {
  try {
    // Everything after the first "--" is ssh's remote command, passed on untouched.
    const terminator = argv.indexOf("--");
    const remoteCommand = terminator === -1 ? [] : argv.slice(terminator + 1);
    let parsed;
    try {
      parsed = parseArgs({ args: [...(terminator === -1 ? argv : argv.slice(0, terminator))], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const { values, positionals } = parsed;
    const [command, ...rest] = positionals;
    if (values.help || command === "help") {
      ctx.out(USAGE);
      return 0;
    }
    if (!command) throw new UsageError("no command given");
    const allowed = ALLOWED[command];
    if (!allowed) throw new UsageError(`unknown command "${command}": expected one of ${Object.keys(ALLOWED).join(", ")}`);
    const extra = Object.keys(values).filter((name) => !allowed.includes(name));
    if (extra.length > 0) throw new UsageError(`${command} does not take ${extra.map((n) => `--${n}`).join(", ")}`);
    if (command !== "upload" && rest.length > 0) throw new UsageError(`${command} takes no positional arguments, got: ${rest.join(" ")}`);
    if (command === "upload" && rest.length > 1) throw new UsageError(`upload takes one bundle, got ${rest.length}: ${rest.join(" ")}`);
    if (terminator !== -1 && command !== "ssh") throw new UsageError(`${command} takes no command after --: only ssh runs one`);
    if (terminator !== -1 && remoteCommand.length === 0) throw new UsageError("nothing after --: give the command to run, or leave -- out for a shell");
    if (values.json && values.human) throw new UsageError("--json and --human ask for two different outputs: give one");
    if (values.json && command !== "predict") return await runJson(command, ctx, err, (quiet) => dispatch(command, values, rest, remoteCommand, { ...ctx, ...quiet }));
    return await dispatch(command, values, rest, remoteCommand, ctx);
  } catch (error) {
    if (error instanceof UsageError) {
      err(`release: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof ReleaseError) {
      err(`release: ${error.message}`);
      return 1;
    }
    err(`release: unexpected error: ${(error as Error).stack ?? String(error)}`);
    return 1;
  }
}

type Values = ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true; strict: true }>>["values"];

async function dispatch(command: string, values: Values, rest: string[], remoteCommand: string[], ctx: CommandContext & { processes?: ProcessContext }): Promise<number> {
  switch (command) {
    case "upload":
      return await upload({ env: values.env, file: rest[0], gitCommit: values["git-commit"], modelVersion: values["model-version"], profile: values.profile }, ctx);
    case "promote":
      return await promote({ from: values.from, to: values.to, fromProfile: values["from-profile"], toProfile: values["to-profile"] }, ctx);
    case "watch":
      return await watch(
        {
          env: values.env,
          deployment: values.deployment,
          versionId: values["version-id"],
          profile: values.profile,
          timeoutMs: values.timeout ? parseDuration(values.timeout, "--timeout") : undefined,
          intervalMs: values.interval ? parseDuration(values.interval, "--interval") : undefined,
        },
        ctx,
      );
    case "status":
      return await status({ env: values.env, profile: values.profile }, ctx);
    case "ssh":
      return await ssh(
        environment(values.env, "--env"),
        { slot: values.slot, instance: values.instance, profile: values.profile, command: remoteCommand },
        { ...ctx, processes: ctx.processes ?? realProcesses() },
      );
    case "predict":
      return await predict(
        environment(values.env, "--env"),
        { via: values.via, car: values.car, human: values.human, slot: values.slot, instance: values.instance, profile: values.profile },
        { ...ctx, processes: ctx.processes ?? realProcesses() },
      );
    default:
      return await rollback({ env: values.env, profile: values.profile }, ctx);
  }
}

/** This process's environment and terminal: what ssh and predict hand to ssh, aws and sh. */
function realProcesses(): ProcessContext {
  return { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY) };
}

export const realContext: CommandContext = {
  clientsFor: (config, profile) => createClients({ region: config.region, profile }),
  out: (line) => console.log(line),
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invokedDirectly) {
  process.exitCode = await run(process.argv.slice(2), realContext);
}
