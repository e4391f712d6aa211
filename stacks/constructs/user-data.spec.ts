import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CODEDEPLOY_AGENT_PACKAGE, renderUserData } from "./user-data.js";

/** shellcheck reads the script from stdin; exit 0 means no finding at all. */
function shellcheck(script: string): { status: number | null; output: string } {
  const result = spawnSync("shellcheck", ["--shell=bash", "-"], { input: script, encoding: "utf8" });
  if (result.error) throw new Error(`shellcheck is needed for this test (npm run setup installs it): ${result.error.message}`);
  return { status: result.status, output: result.stdout + result.stderr };
}

describe("instance user data", () => {
  it.each([false, true])("is a bash script shellcheck accepts (runtime baked into the AMI: %s)", (amiHasRuntime) => {
    const script = renderUserData({ region: "eu-west-1", nodeMajorVersion: 24, amiHasRuntime });
    expect(script.startsWith("#!/bin/bash\n")).toBe(true);
    expect(shellcheck(script)).toEqual({ status: 0, output: "" });
  });

  it("installs the pinned CodeDeploy agent package, never whatever is latest, and checks the installed version", () => {
    const script = renderUserData({ region: "eu-west-1", nodeMajorVersion: 24, amiHasRuntime: false });
    expect(CODEDEPLOY_AGENT_PACKAGE).toBe("releases/codedeploy-agent_1.8.1-26_all.deb");
    expect(script).toContain(`/tmp/codedeploy-install auto -v ${CODEDEPLOY_AGENT_PACKAGE}`);
    expect(script).toMatch(/\[\[ "\$agent_version" == 1\.8\.1-\* \]\]/);
    expect(script).toContain("https://nodejs.org/dist/latest-v24.x");
    expect(script).toMatch(/\[\[ "\$node_major" == "24" \]\]/);
  });

  it("fails the boot when a baked AMI carries another agent or Node.js", () => {
    const script = renderUserData({ region: "eu-west-1", nodeMajorVersion: 24, amiHasRuntime: true });
    for (const [agent, node, ok] of [
      ["1.8.1-26", "v24.22.3", true],
      ["1.6.0-49", "v24.22.3", false],
      ["1.8.1-26", "v20.20.2", false],
    ] as const) {
      // Stand-ins for the instance's commands: report the versions under test, succeed otherwise.
      const stubs = `node() { echo ${node}; }; dpkg-query() { printf "codedeploy-agent\\t%s\\n" ${agent}; }; systemctl() { :; }; export -f node dpkg-query systemctl`;
      const run = spawnSync("bash", ["-c", `${stubs}; bash -s`], { input: script, encoding: "utf8" });
      expect({ agent, node, ok: run.status === 0 }).toEqual({ agent, node, ok });
    }
  });
});
