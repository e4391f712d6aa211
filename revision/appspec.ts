/**
 * AppSpec (EC2/on-premises) validation with the CodeDeploy agent's rules, read as the agent reads
 * it (YAML 1.1, like Ruby's Psych): version the number 0.0, os linux, scriptable hook names only,
 * at most 3600 s per lifecycle event, absolute destinations, modes of 1 to 4 octal digits and
 * never an unquoted one with a leading zero (YAML 1.1 reads 0644 as the number 420, which the
 * agent applies as chmod 0420), and, given a bundle directory, every files source and hook
 * script present. Overlapping permission rules are checked against the installed paths in
 * appspec-permissions.ts. Every error names the file, the path inside it and the reason.
 */
import { existsSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { isMap, isScalar, isSeq, parseDocument, YAMLParseError } from "yaml";
import { z } from "zod";

/** Lifecycle events a revision may script, in the agent's in-place order. */
export const SCRIPTABLE_EVENTS = [
  "BeforeBlockTraffic",
  "AfterBlockTraffic",
  "ApplicationStop",
  "BeforeInstall",
  "AfterInstall",
  "ApplicationStart",
  "ValidateService",
  "BeforeAllowTraffic",
  "AfterAllowTraffic",
] as const;
export type LifecycleEvent = (typeof SCRIPTABLE_EVENTS)[number];
/** Events the agent performs itself; an AppSpec cannot hook them. */
export const RESERVED_EVENTS = ["DownloadBundle", "Install", "BlockTraffic", "AllowTraffic"] as const;
/** The longest a lifecycle event may take, summed over its scripts. */
export const MAX_EVENT_SECONDS = 3600;
/** What the agent uses when a script names no timeout. */
export const DEFAULT_SCRIPT_TIMEOUT_SECONDS = 3600;

const AbsolutePath = z
  .string()
  .min(1)
  .refine((p) => p.startsWith("/"), { message: "must be an absolute path (start with /)" });

const Script = z.strictObject({
  location: z
    .string()
    .min(1)
    .refine((l) => !posix.normalize(l).startsWith(".."), { message: "must stay inside the bundle" }),
  timeout: z
    .number({ error: "must be a number of seconds" })
    .int("must be a whole number of seconds")
    .min(1, "must be at least 1 second")
    .max(MAX_EVENT_SECONDS, `must be at most ${MAX_EVENT_SECONDS} seconds (the CodeDeploy limit per lifecycle event)`)
    .default(DEFAULT_SCRIPT_TIMEOUT_SECONDS),
  runas: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*$/, "must be a user name")
    .optional(),
});
export type AppSpecScript = z.infer<typeof Script>;

// The agent: mode.to_s, padded to 3 digits, at most 4, each 0-7.
const Mode = z
  .union([z.string(), z.number()])
  .transform((m) => String(m))
  .refine((m) => /^[0-7]{1,4}$/.test(m), { message: 'must be 1 to 4 octal digits, quoted (e.g. "0644")' });

const Permission = z.strictObject({
  object: AbsolutePath,
  pattern: z.string().min(1).default("**"),
  except: z.array(z.string().min(1)).default([]),
  owner: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
  mode: Mode.optional(),
  type: z
    .array(z.enum(["file", "directory"], { error: 'must be "file" or "directory"' }))
    .min(1)
    .default(["file", "directory"]),
});
export type AppSpecPermission = z.infer<typeof Permission>;

export const AppSpecSchema = z.strictObject({
  // The agent checks [0.0].include?(version): the number, so a quoted "0.0" is refused.
  version: z.number({ error: 'must be 0.0, unquoted (the agent compares the number 0.0; a quoted "0.0" is refused)' }).refine((v) => v === 0, {
    message: "must be 0.0 (the only AppSpec version for EC2/on-premises)",
  }),
  os: z.literal("linux", { error: 'must be "linux" (this revision only supports Linux instances)' }),
  files: z.array(z.strictObject({ source: z.string().min(1), destination: AbsolutePath })).default([]),
  file_exists_behavior: z.enum(["DISALLOW", "OVERWRITE", "RETAIN"], { error: "must be DISALLOW, OVERWRITE or RETAIN" }).default("DISALLOW"),
  permissions: z.array(Permission).default([]),
  hooks: z
    .record(z.string(), z.array(Script, { error: "must be a list of scripts" }).min(1, "needs at least one script"))
    .default({})
    .superRefine((hooks, ctx) => {
      for (const [event, scripts] of Object.entries(hooks)) {
        if ((RESERVED_EVENTS as readonly string[]).includes(event)) {
          ctx.addIssue({ code: "custom", path: [event], message: `${event} is run by the CodeDeploy agent itself and cannot have scripts` });
        } else if (!(SCRIPTABLE_EVENTS as readonly string[]).includes(event)) {
          ctx.addIssue({ code: "custom", path: [event], message: `unknown lifecycle event "${event}"; scriptable events are ${SCRIPTABLE_EVENTS.join(", ")}` });
        }
        const total = scripts.reduce((sum, s) => sum + s.timeout, 0);
        if (total > MAX_EVENT_SECONDS) {
          ctx.addIssue({ code: "custom", path: [event], message: `timeouts add up to ${total} s; one lifecycle event may take at most ${MAX_EVENT_SECONDS} s` });
        }
      }
    }),
});

export type AppSpec = Omit<z.infer<typeof AppSpecSchema>, "hooks"> & {
  readonly hooks: Partial<Record<LifecycleEvent, AppSpecScript[]>>;
};

export class AppSpecError extends Error {
  override readonly name = "AppSpecError";
}

/** Parses and validates AppSpec text. `where` names the file in messages. */
export function parseAppSpec(text: string, where = "appspec.yml"): AppSpec {
  let raw: unknown;
  const unquotedModes: string[] = [];
  try {
    // YAML 1.1, as the agent's Psych reads it: an unquoted 0644 is octal, yes/no are booleans.
    const doc = parseDocument(text, { version: "1.1", uniqueKeys: true });
    if (doc.errors.length) throw doc.errors[0]!;
    raw = doc.toJS();
    const permissions = isMap(doc.contents) ? doc.contents.get("permissions", true) : undefined;
    if (isSeq(permissions)) {
      permissions.items.forEach((item, i) => {
        const mode = isMap(item) ? item.get("mode", true) : undefined;
        if (isScalar(mode) && mode.type === "PLAIN" && typeof mode.source === "string" && /^0\d/.test(mode.source)) {
          unquotedModes.push(
            `✖ permissions[${i}].mode: ${mode.source} is unquoted: YAML 1.1 reads a leading zero as octal, so the agent would apply chmod ${String(mode.toJSON()).padStart(4, "0")}; write mode: "${mode.source}"`,
          );
        }
      });
    }
  } catch (e) {
    const detail = e instanceof YAMLParseError ? e.message : String(e);
    throw new AppSpecError(`${where} is not valid YAML: ${detail}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new AppSpecError(`${where} is invalid: the document must be a mapping with version, os, files and hooks`);
  }
  const result = AppSpecSchema.safeParse(raw);
  const problems = [...unquotedModes, ...(result.success ? [] : [formatIssues(result.error)])];
  if (problems.length || !result.success) throw new AppSpecError(`${where} is invalid:\n${problems.join("\n")}`);
  return result.data as AppSpec;
}

/**
 * Checks what the agent checks against the unpacked revision: every files source exists and
 * every hook script is a file. Returns the problems (empty when the bundle is complete).
 */
export function bundleProblems(spec: AppSpec, bundleDir: string): string[] {
  const problems: string[] = [];
  spec.files.forEach((f, i) => {
    if (!existsSync(join(bundleDir, f.source))) problems.push(`files[${i}].source: "${f.source}" does not exist in the bundle`);
  });
  for (const [event, scripts] of Object.entries(spec.hooks)) {
    scripts?.forEach((s, i) => {
      const path = join(bundleDir, s.location);
      if (!existsSync(path)) problems.push(`hooks.${event}[${i}].location: script "${s.location}" does not exist in the bundle`);
      else if (!statSync(path).isFile()) problems.push(`hooks.${event}[${i}].location: "${s.location}" is not a file`);
    });
  }
  return problems;
}

/** Parses, validates and checks an AppSpec against its bundle directory, throwing on any problem. */
export function validateAppSpec(text: string, bundleDir: string, where = "appspec.yml"): AppSpec {
  const spec = parseAppSpec(text, where);
  const problems = bundleProblems(spec, bundleDir);
  if (problems.length) throw new AppSpecError(`${where} does not match its bundle:\n${problems.map((p) => `✖ ${p}`).join("\n")}`);
  return spec;
}

/** One line per problem: "✖ hooks.ApplicationStart[0].timeout: must be at most 3600 seconds ...". */
function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.reduce<string>((acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), "");
      const message = issue.code === "unrecognized_keys" ? `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}` : issue.message;
      return `✖ ${path || "(document)"}: ${message}`;
    })
    .join("\n");
}
