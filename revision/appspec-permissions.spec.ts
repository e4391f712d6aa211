import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAppSpec } from "./appspec.js";
import { installedPaths, matchingRules, permissionProblems, simpleGlob } from "./appspec-permissions.js";
import { REPO_DIR } from "./test-helpers.js";

const FILES = ["appspec.yml", "hooks/lib.sh", "app/server.mjs", "app/bin/run.sh", "app/model/model.onnx", "config/dev.env"];
const HEAD = `version: 0.0
os: linux
files:
  - source: app
    destination: /opt/x/app
  - source: config
    destination: /opt/x/config
permissions:
`;
const rule = (object: string, pattern: string, mode: string, type: string, except?: string[]) =>
  `  - object: ${object}\n    pattern: "${pattern}"\n    mode: "${mode}"\n${except ? `    except: [${except.map((e) => `"${e}"`).join(", ")}]\n` : ""}    type: [${type}]\n`;
const problems = (rules: string) => {
  const spec = parseAppSpec(HEAD + rules);
  return permissionProblems(spec, installedPaths(spec, FILES));
};
const NON_OVERLAPPING =
  rule("/opt/x", "**", "0755", "directory") +
  rule("/opt/x/config", "**", "0644", "file") +
  rule("/opt/x/app", "*.mjs", "0644", "file") +
  rule("/opt/x/app/model", "**", "0644", "file") +
  rule("/opt/x/app/bin", "*.sh", "0755", "file");

describe("the AppSpec permission check (the agent's matching)", () => {
  it("maps files sources to the paths the agent installs", () => {
    const spec = parseAppSpec(HEAD + NON_OVERLAPPING);
    const installed = installedPaths(spec, FILES);
    expect([...installed.files].sort()).toEqual(["/opt/x/app/bin/run.sh", "/opt/x/app/model/model.onnx", "/opt/x/app/server.mjs", "/opt/x/config/dev.env"]);
    expect([...installed.directories].sort()).toEqual(["/opt/x/app", "/opt/x/app/bin", "/opt/x/app/model", "/opt/x/config"]);
  });

  it("accepts rules that give every installed path exactly one owner and mode", () => {
    expect(problems(NON_OVERLAPPING)).toEqual([]);
  });

  it("rejects two rules matching one file, naming the path, both rules and the agent's message", () => {
    const overlapping = NON_OVERLAPPING + rule("/opt/x", "**", "0644", "file");
    expect(problems(overlapping).join("\n")).toMatch(
      /\/opt\/x\/app\/bin\/run\.sh is matched by permissions\[4\] and permissions\[5\]: .*"the permissions setting for \(\/opt\/x\/app\/bin\/run\.sh\) is specified more than once"/,
    );
  });

  it("treats a pattern other than ** as matching direct children only, and except as removing direct children", () => {
    expect(simpleGlob("run.sh", "*.sh")).toBe(true);
    expect(simpleGlob("bin/run.sh", "*.sh")).toBe(false);
    expect(simpleGlob("a.b.sh", "a*sh")).toBe(true);
    expect(simpleGlob("run.shx", "*.sh")).toBe(false);
    // /opt/x/app "*" matches server.mjs, not bin/run.sh: no overlap with the bin rule.
    const viaStar = NON_OVERLAPPING.replace('object: /opt/x/app\n    pattern: "*.mjs"', 'object: /opt/x/app\n    pattern: "*"');
    expect(problems(viaStar)).toEqual([]);
    const excepted = NON_OVERLAPPING.replace(rule("/opt/x/app/bin", "*.sh", "0755", "file"), rule("/opt/x/app/bin", "*", "0755", "file", ["*.sh"]));
    expect(problems(excepted).join("\n")).toMatch(
      /permissions\[4\] \(object \/opt\/x\/app\/bin, pattern "\*"\) matches nothing[\s\S]*no permissions rule sets the owner and mode of \/opt\/x\/app\/bin\/run\.sh/,
    );
  });

  it("rejects a file object with a pattern or except, as the agent does", () => {
    const onFile = NON_OVERLAPPING.replace(rule("/opt/x/app/bin", "*.sh", "0755", "file"), rule("/opt/x/app/bin/run.sh", "*.sh", "0755", "file"));
    expect(problems(onFile).join("\n")).toMatch(/permissions\[4\]: object \/opt\/x\/app\/bin\/run\.sh is a file, so pattern must be "\*\*"/);
  });

  it("reports installed paths no rule covers (they would keep the zip's modes) and rules that match nothing", () => {
    const missing = NON_OVERLAPPING.replace(rule("/opt/x/app/model", "**", "0644", "file"), rule("/opt/y", "**", "0644", "file"));
    const found = problems(missing).join("\n");
    expect(found).toMatch(/permissions\[3\] \(object \/opt\/y, pattern "\*\*"\) matches nothing this revision installs/);
    expect(found).toMatch(/no permissions rule sets the owner and mode of \/opt\/x\/app\/model\/model\.onnx/);
  });

  it("the project's appspec.yml gives each file of a real revision layout exactly one rule", () => {
    const spec = parseAppSpec(readFileSync(join(REPO_DIR, "appspec.yml"), "utf8"));
    const layout = ["app/server.mjs", "app/revision.json", "app/bin/make_prediction.sh", "app/model/model.onnx", "app/node_modules/onnxruntime-node/dist/index.js", "config/dev.env"];
    const installed = installedPaths(spec, layout);
    expect(permissionProblems(spec, installed)).toEqual([]);
    const modeOf = (path: string) => spec.permissions[matchingRules(spec, installed).get(path)![0]!]!.mode;
    expect(modeOf("/opt/mpg-model/app/bin/make_prediction.sh")).toBe("0755");
    expect(modeOf("/opt/mpg-model/app/server.mjs")).toBe("0644");
    expect(modeOf("/opt/mpg-model/app/node_modules/onnxruntime-node/dist")).toBe("0755");
  });
});
