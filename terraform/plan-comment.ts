/**
 * The pull request comment of the plan review: what each stack's plan does, in a form a reviewer
 * reads in ten seconds. Counts per stack first, then every replaced or destroyed stateful resource
 * called out, then per-stack details (by resource type, then each address) folded away; then the
 * monthly cost estimate per stack (terraform/cost-format.ts) and the model section (the model
 * report's metrics change and gate verdict, rendered by the caller).
 * Pure: takes summaries and changes (from `terraform show -json`), returns markdown.
 */
import { costSection } from "./cost-format.js";
import type { StackCost } from "./cost-plan.js";
import type { PlanAction, PlanSummary, ResourceChange } from "./plan-summary.js";

/** Hidden marker that identifies our comment, so a new push updates it instead of adding another. */
export const COMMENT_MARKER = "<!-- plan-review:terraform -->";

/** GitHub rejects comment bodies over 65,536 characters; stay under it with room for the footer. */
export const GITHUB_COMMENT_LIMIT = 65_536;

export interface StackReview {
  readonly stack: string;
  /** Present when the plan succeeded. */
  readonly summary?: PlanSummary;
  readonly changes?: readonly ResourceChange[];
  /** The monthly cost estimate from the plan, when it succeeded. */
  readonly cost?: StackCost;
  /** Why the plan failed (terraform's message), when it did. */
  readonly error?: string;
}

export interface CommentContext {
  /** Commit the plans were made from. */
  readonly commit?: string | undefined;
  /** Link to the CI job, where the full plans are stored as artifacts. */
  readonly buildUrl?: string | undefined;
  /** Maximum length of the whole body; details are cut (with a note) to fit. */
  readonly maxLength?: number;
  /** The model section at a level of detail (service/report/markdown.ts's modelSection); absent: no model section. */
  readonly modelSection?: (detail: ModelDetail) => string;
}

export type ModelDetail = "full" | "compact" | "minimal";

const ACTIONS: readonly PlanAction[] = ["create", "update", "replace", "delete"];

/** Inline code that survives any content: a fence longer than the longest run of backticks inside. */
export function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : "";
  return `${fence}${pad}${text.replace(/\r?\n/g, " ")}${pad}${fence}`;
}

/** A table cell: pipes escaped, newlines flattened. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

function totalChanges(summary: PlanSummary): number {
  return ACTIONS.reduce((sum, action) => sum + summary.counts[action], 0);
}

function headline(review: StackReview): string {
  if (review.error !== undefined) return "plan failed";
  const { counts } = review.summary!;
  if (totalChanges(review.summary!) === 0) return "no changes";
  return `${counts.create} to add, ${counts.update} to change, ${counts.replace} to replace, ${counts.delete} to destroy`;
}

function countsTable(reviews: readonly StackReview[]): string[] {
  const rows = reviews.map((r) => {
    if (r.error !== undefined) return `| ${cell(r.stack)} | ❌ plan failed | | | |`;
    const c = r.summary!.counts;
    const danger = r.summary!.dangerous.length > 0 ? " ⚠️" : "";
    return `| ${cell(r.stack)}${danger} | ${c.create} | ${c.update} | ${c.replace} | ${c.delete} |`;
  });
  return ["| Stack | Add | Change | Replace | Destroy |", "| --- | ---: | ---: | ---: | ---: |", ...rows];
}

function dangerSection(reviews: readonly StackReview[]): string[] {
  const dangerous = reviews.flatMap((r) => (r.summary?.dangerous ?? []).map((d) => ({ stack: r.stack, ...d })));
  if (dangerous.length === 0) return [];
  return [
    "> [!CAUTION]",
    `> This change **replaces or destroys ${dangerous.length} stateful resource${dangerous.length === 1 ? "" : "s"}** (data, traffic or identity is lost or interrupted):`,
    ...dangerous.map((d) => `> - **${d.action === "replace" ? "REPLACE" : "DESTROY"}** ${code(d.address)} in ${cell(d.stack)}`),
  ];
}

function stackDetails(review: StackReview, addressBudget: number): { lines: string[]; omitted: number } {
  const lines = [`<details><summary><b>${escapeHtml(review.stack)}</b>: ${headline(review)}</summary>`, ""];
  let omitted = 0;
  if (review.error !== undefined) {
    lines.push("```text", review.error.replace(/```/g, "'''").trim(), "```");
  } else if (totalChanges(review.summary!) === 0) {
    lines.push("The plan matches the real infrastructure.");
  } else {
    lines.push("| Resource type | Add | Change | Replace | Destroy |", "| --- | ---: | ---: | ---: | ---: |");
    for (const [type, actions] of Object.entries(review.summary!.byType).sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`| ${code(type)} | ${ACTIONS.map((a) => actions[a] ?? 0).join(" | ")} |`);
    }
    const changes = [...(review.changes ?? [])].sort((a, b) => ACTIONS.indexOf(b.action) - ACTIONS.indexOf(a.action) || a.address.localeCompare(b.address));
    const shown = changes.slice(0, Math.max(0, addressBudget));
    omitted = changes.length - shown.length;
    if (shown.length > 0) {
      lines.push("", "```diff", ...shown.map((c) => `${diffPrefix(c.action)} ${c.address.replace(/\r?\n/g, " ")}`), "```");
    }
    if (omitted > 0) lines.push(`${omitted} more change${omitted === 1 ? "" : "s"} not listed here: see the full plan in the build artifacts.`);
  }
  lines.push("", "</details>");
  return { lines, omitted };
}

/** `diff` highlighting: additions green, destructions red, replacements flagged with "!". */
const DIFF_PREFIX: Record<PlanAction, string> = { create: "+", update: "~", replace: "!", delete: "-" };
function diffPrefix(action: PlanAction): string {
  return DIFF_PREFIX[action];
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** What is given up, in this order, when the comment is too long (after the address lists). */
const SHRINK: ReadonlyArray<{ readonly model: ModelDetail | "omitted"; readonly breakdown: boolean }> = [
  { model: "full", breakdown: true },
  { model: "full", breakdown: false },
  { model: "compact", breakdown: false },
  { model: "minimal", breakdown: false },
  { model: "omitted", breakdown: false },
];

/**
 * The comment body. Fits in `maxLength` (GitHub's limit by default) by listing fewer addresses per
 * stack, then by folding the cost breakdowns away, then by shortening the model section down to
 * its verdict (or a note): the counts, the stateful-resource warnings and any plan errors are
 * never cut.
 */
export function renderPlanComment(reviews: readonly StackReview[], context: CommentContext = {}): string {
  const maxLength = context.maxLength ?? GITHUB_COMMENT_LIMIT - 1_000;
  const failed = reviews.filter((r) => r.error !== undefined).map((r) => r.stack);
  const source = [context.commit ? `commit ${code(context.commit.slice(0, 12))}` : undefined, context.buildUrl ? `[full plans in the build artifacts](${context.buildUrl})` : undefined].filter(
    Boolean,
  );
  const head = [
    COMMENT_MARKER,
    "## Terraform plan review",
    "",
    ...(source.length ? [`Planned against the real state from ${source.join(" · ")}.`, ""] : []),
    ...countsTable(reviews),
    "",
    ...(failed.length ? [`> [!WARNING]`, `> The plan failed for ${failed.map(cell).join(", ")}: the counts above are incomplete.`, ""] : []),
    ...dangerSection(reviews),
  ];
  const legend = "`+` add · `~` change · `!` replace · `-` destroy";
  const costs = reviews.flatMap((r) => (r.cost ? [r.cost] : []));
  const render = (budget: number, level: (typeof SHRINK)[number]) => {
    const details = reviews.map((r) => stackDetails(r, budget));
    const model = !context.modelSection
      ? []
      : level.model === "omitted"
        ? ["## Model", "", "The model section was left out to fit GitHub's comment size limit: see the model report in the build artifacts.", ""]
        : [context.modelSection(level.model).trimEnd(), ""];
    return [...head, "", ...details.flatMap((d) => [...d.lines, ""]), legend, "", ...costSection(costs, { breakdown: level.breakdown }), ...model].join("\n");
  };
  // Largest per-stack address budget that fits at the first level where anything fits.
  const most = Math.max(0, ...reviews.map((r) => r.changes?.length ?? 0));
  for (const level of SHRINK) {
    const whole = render(most, level);
    if (whole.length <= maxLength) return whole;
    if (render(0, level).length > maxLength) continue;
    let low = 0;
    let high = most;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (render(mid, level).length <= maxLength) low = mid;
      else high = mid - 1;
    }
    return render(low, level);
  }
  return render(0, SHRINK[SHRINK.length - 1]!);
}
