import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AppSpecError, bundleProblems, parseAppSpec, validateAppSpec } from "./appspec.js";
import { REPO_DIR } from "./test-helpers.js";

const VALID = `version: 0.0
os: linux
files:
  - source: app
    destination: /opt/x/app
hooks:
  ApplicationStart:
    - location: hooks/start.sh
      timeout: 30
      runas: root
`;

function errorOf(text: string): string {
  try {
    parseAppSpec(text, "test.yml");
  } catch (e) {
    expect(e).toBeInstanceOf(AppSpecError);
    return (e as Error).message;
  }
  throw new Error("expected the AppSpec to be rejected");
}

describe("the project's appspec.yml", () => {
  const text = readFileSync(join(REPO_DIR, "appspec.yml"), "utf8");
  const spec = parseAppSpec(text);

  it("is version 0.0 for linux and installs everything under one application directory", () => {
    expect(spec.os).toBe("linux");
    expect(spec.files.map((f) => f.destination).every((d) => d.startsWith("/opt/mpg-model/"))).toBe(true);
    expect(spec.file_exists_behavior).toBe("OVERWRITE");
  });

  it("scripts the in-place hooks and the blue/green traffic hooks, each with a short explicit timeout and runas", () => {
    expect(Object.keys(spec.hooks).sort()).toEqual(["AfterAllowTraffic", "AfterInstall", "ApplicationStart", "ApplicationStop", "BeforeAllowTraffic", "BeforeInstall", "ValidateService"].sort());
    for (const scripts of Object.values(spec.hooks)) {
      for (const s of scripts ?? []) {
        expect(s.timeout).toBeLessThanOrEqual(120);
        expect(s.runas).toBe("root");
      }
    }
    expect(text).not.toMatch(/timeout:\s*3600/);
  });

  it("names hook scripts that exist in hooks/", () => {
    // The bundle adds config/ and app/ at build time; the hooks are in the repository as they ship.
    const problems = bundleProblems(spec, REPO_DIR).filter((p) => p.startsWith("hooks."));
    expect(problems).toEqual([]);
  });
});

describe("AppSpec validation rejects, naming the field and the reason", () => {
  it("accepts a minimal valid AppSpec and fills the agent's defaults", () => {
    const spec = parseAppSpec(VALID);
    expect(spec.file_exists_behavior).toBe("DISALLOW");
    expect(spec.permissions).toEqual([]);
    expect(parseAppSpec(VALID.replace("      timeout: 30\n", "")).hooks.ApplicationStart?.[0]?.timeout).toBe(3600);
  });

  it("a version other than 0.0", () => {
    expect(errorOf(VALID.replace("version: 0.0", "version: 1.0"))).toMatch(/version[\s\S]*must be 0\.0/);
  });

  it("an os other than linux", () => {
    expect(errorOf(VALID.replace("os: linux", "os: windows"))).toMatch(/os[\s\S]*must be "linux"/);
  });

  it("an unknown hook name", () => {
    expect(errorOf(VALID.replace("ApplicationStart:", "ApplicationStartt:"))).toMatch(/hooks\.ApplicationStartt[\s\S]*unknown lifecycle event "ApplicationStartt"/);
  });

  it("a hook on an event the agent reserves for itself", () => {
    expect(errorOf(VALID.replace("ApplicationStart:", "Install:"))).toMatch(/hooks\.Install[\s\S]*run by the CodeDeploy agent itself/);
    expect(errorOf(VALID.replace("ApplicationStart:", "AllowTraffic:"))).toMatch(/AllowTraffic[\s\S]*cannot have scripts/);
  });

  it("a timeout over 3600 s, and timeouts of one event that add up to more", () => {
    expect(errorOf(VALID.replace("timeout: 30", "timeout: 3601"))).toMatch(/hooks\.ApplicationStart\[0\]\.timeout[\s\S]*at most 3600/);
    const two = VALID.replace("      runas: root\n", "      runas: root\n    - location: hooks/again.sh\n      timeout: 3590\n");
    expect(errorOf(two)).toMatch(/hooks\.ApplicationStart[\s\S]*add up to 3620 s/);
    expect(errorOf(VALID.replace("timeout: 30", "timeout: soon"))).toMatch(/timeout[\s\S]*number of seconds/);
  });

  it("a relative destination, a bad mode, a bad file_exists_behavior, an unknown key", () => {
    expect(errorOf(VALID.replace("destination: /opt/x/app", "destination: opt/x"))).toMatch(/files\[0\]\.destination[\s\S]*absolute path/);
    expect(errorOf(`${VALID}permissions:\n  - object: /opt/x\n    mode: "0789"\n`)).toMatch(/permissions\[0\]\.mode[\s\S]*octal/);
    expect(errorOf(`${VALID}file_exists_behavior: REPLACE\n`)).toMatch(/file_exists_behavior[\s\S]*DISALLOW, OVERWRITE or RETAIN/);
    expect(errorOf(`${VALID}hook:\n  x: 1\n`)).toMatch(/hook/);
  });

  it("an unquoted mode with a leading zero (YAML 1.1 octal: the agent would chmod 0420), and a quoted version", () => {
    expect(errorOf(`${VALID}permissions:\n  - object: /opt/x\n    mode: 0644\n`)).toMatch(
      /permissions\[0\]\.mode: 0644 is unquoted: YAML 1\.1 reads a leading zero as octal, so the agent would apply chmod 0420; write mode: "0644"/,
    );
    expect(parseAppSpec(`${VALID}permissions:\n  - object: /opt/x\n    mode: 644\n`).permissions[0]?.mode).toBe("644");
    expect(errorOf(VALID.replace("version: 0.0", 'version: "0.0"'))).toMatch(/version[\s\S]*unquoted/);
  });

  it("text that is not YAML, or not a mapping", () => {
    expect(errorOf("version: 0.0\n  os: [linux")).toMatch(/test\.yml is not valid YAML/);
    expect(errorOf("- just\n- a list\n")).toMatch(/must be a mapping/);
    expect(errorOf("version: 0.0\nversion: 0.0\nos: linux\n")).toMatch(/not valid YAML/);
  });

  it("a files source or hook script missing from the bundle", () => {
    expect(() => validateAppSpec(VALID, join(REPO_DIR, "revision"))).toThrow(
      /files\[0\]\.source: "app" does not exist in the bundle[\s\S]*hooks\.ApplicationStart\[0\]\.location: script "hooks\/start\.sh" does not exist/,
    );
  });
});
