/** The rehearsal's scenarios (kept apart so that the CLI checks its arguments before loading anything heavy). */
export const SCENARIOS = [1, 2, 3, 4, 5] as const;
export type ScenarioId = (typeof SCENARIOS)[number];

export const SCENARIO_TITLES: Record<ScenarioId, string> = {
  1: "first release: blue live -> new revision on green",
  2: "next release flips back to blue",
  3: "broken revision (fails ValidateService)",
  4: "manual rollback (release rollback)",
  5: "alarm rollback (5xx under live traffic)",
};

/** Parses `--scenarios 1,2,4`; every problem names the value and the rule it breaks. */
export function parseScenarios(list: string): ScenarioId[] {
  const items = list.split(",").map((s) => s.trim());
  const bad = items.filter((s) => !(SCENARIOS as readonly number[]).includes(Number(s)) || !/^\d$/.test(s));
  if (bad.length) throw new Error(`--scenarios: unknown scenario ${bad.map((b) => `"${b}"`).join(", ")}; scenarios are ${SCENARIOS.join(", ")}`);
  const ids = [...new Set(items.map(Number))].sort() as ScenarioId[];
  // 2 is "the next release" after 1 (it flips traffic back); 4 rolls back the latest release.
  if (ids.includes(2) && !ids.includes(1)) throw new Error("--scenarios: 2 is the release after 1 (it flips traffic back to blue): add 1");
  if (ids.includes(4) && !ids.includes(1) && !ids.includes(2)) throw new Error("--scenarios: 4 rolls back the latest release: add 1 or 2 before it");
  return ids;
}
