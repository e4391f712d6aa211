/**
 * `npm run release -- <command>`: upload, promote, watch, status, rollback.
 * Exit codes: 0 success, 1 failure (AWS error, failed deployment), 2 usage error,
 * 124 watch timed out (the deployment goes on in AWS).
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createClients, ReleaseError, UsageError } from "./aws.js";
import { promote, rollback, status, upload, watch, type CommandContext } from "./commands.js";

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

environments: dev, staging, prod. Credentials: the default AWS chain, or --profile.`;

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
  help: { type: "boolean", short: "h" },
} as const;

const ALLOWED: Record<string, readonly string[]> = {
  upload: ["env", "profile", "git-commit", "model-version"],
  promote: ["from", "to", "from-profile", "to-profile"],
  watch: ["env", "profile", "deployment", "version-id", "timeout", "interval"],
  status: ["env", "profile"],
  rollback: ["env", "profile"],
};

export async function run(argv: readonly string[], ctx: CommandContext, err: (line: string) => void = console.error): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
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
      default:
        return await rollback({ env: values.env, profile: values.profile }, ctx);
    }
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
