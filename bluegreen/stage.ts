/**
 * The staging stage of `npm start`: the blue/green rehearsal of a staging release, after dev's
 * deployment, with the revision the dev stages built. Skipped, saying why, on a host that cannot
 * boot containers or has no HAProxy (as the plan stage is without terraform).
 */
import type { AgentLocation } from "../revision/agent-source.js";
import type { ImageNode, ImageSettings } from "../revision/image.js";
import { blueGreenPrerequisites, containerInstances } from "./instances.js";
import { rehearseBlueGreen } from "./rehearsal.js";
import { SCENARIOS } from "./scenarios.js";

export interface StagingStageOptions {
  readonly bundleZip: string | undefined;
  readonly instance: { readonly agent: AgentLocation; readonly cacheDir: string; readonly node: ImageNode; readonly imageSettings?: ImageSettings | undefined };
  readonly out: (line: string) => void;
}

export async function stagingStage(o: StagingStageOptions): Promise<string | { skipped: string }> {
  const missing = blueGreenPrerequisites();
  if (missing.length) return { skipped: `skipped: the blue/green rehearsal needs ${missing.join("; ")} (npm run rehearse:blue-green says the same)` };
  if (!o.bundleZip) throw new Error("no bundle to release (the bundle stage was skipped)");
  const result = await rehearseBlueGreen({ environment: "staging", bundleZip: o.bundleZip, bootHost: containerInstances(o.instance), scenarios: SCENARIOS, out: o.out, handleSignals: true });
  if (!result.ok) {
    const failed = result.scenarios.filter((s) => !s.ok);
    throw new Error(result.error ?? `scenario ${failed.map((s) => `${s.id} (${s.verdict})`).join("; ")}`);
  }
  const clean = result.scenarios.filter((s) => s.id !== 5).reduce((sum, s) => sum + (s.traffic?.requests ?? 0), 0);
  const five = result.scenarios.find((s) => s.id === 5);
  return `${result.scenarios.length} scenarios ok in ${(result.totalMs / 1000).toFixed(0)} s: ${clean} requests through the switches with 0 failed${five?.incidentMs !== undefined ? `; alarm rollback ${(five.incidentMs / 1000).toFixed(1)} s after the first 5xx` : ""}`;
}
