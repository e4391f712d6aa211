/** The rehearsal's stages, in pipeline order (kept apart so that the CLI can check its arguments before loading anything heavy). */
export const STAGES = ["environments", "model-gate", "synth-plan", "bundle", "instance", "deploy", "predict", "staging", "stop"] as const;
export type StageId = (typeof STAGES)[number];
export const TITLES: Record<StageId, string> = {
  environments: "validate environments",
  "model-gate": "test and gate the model",
  "synth-plan": "synth and plan every stack",
  bundle: "build the bundle",
  instance: "boot a local instance",
  deploy: "deploy with the real CodeDeploy agent",
  predict: "ssh in, sh make_prediction.sh on the instance",
  staging: "staging: blue/green under live traffic",
  stop: "stop the instance",
};
