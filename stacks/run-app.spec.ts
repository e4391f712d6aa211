import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const RUN_APP = join(ROOT, "stacks/run-app.mjs");

// A copy of the environments with a program that loads them, run by the real runner: the same
// esbuild compile and import that `cdktf synth` does, on files this test may break.
const work = mkdtempSync(join(tmpdir(), "mpg14b-run-app-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function program(name: string, change: (staging: string) => string): string {
  const dir = join(work, name);
  cpSync(join(ROOT, "environments"), join(dir, "environments"), { recursive: true, filter: (src) => !src.endsWith(".spec.ts") });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  writeFileSync(join(dir, "environments/staging.ts"), change(readFileSync(join(ROOT, "environments/staging.ts"), "utf8")));
  writeFileSync(join(dir, "main.ts"), 'import { loadEnvironments } from "./environments/index.js";\nconsole.log(Object.keys(loadEnvironments()).join(","));\n');
  return dir;
}

const runApp = (dir: string) => spawnSync(process.execPath, [RUN_APP, join(dir, "main.ts")], { cwd: dir, encoding: "utf8", timeout: 60_000 });

describe("stacks/run-app.mjs", () => {
  it("compiles and runs the program, and leaves no compiled file behind", () => {
    const dir = program("valid", (text) => text);
    const run = runApp(dir);
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe("dev,staging,prod");
    expect(run.status).toBe(0);
    expect(readdirSync(dir).filter((name) => name.endsWith(".app.mjs"))).toEqual([]);
  });

  it("ends on a syntax error in an environment file with one line naming the file, the line and the error", () => {
    const dir = program("syntax-error", (text) => text.replace(/(natGateways: "[a-z-]+"),/, "$1"));
    const staging = readFileSync(join(dir, "environments/staging.ts"), "utf8").split("\n");
    const line = staging.findIndex((l) => l.includes("flowLogRetentionDays")) + 1;
    const column = staging[line - 1]!.indexOf("flowLogRetentionDays") + 1;
    const run = runApp(dir);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(`cannot compile the CDKTF program: environments/staging.ts:${line}:${column}: Expected "}" but found "flowLogRetentionDays"\n`);
    expect(readdirSync(dir).filter((name) => name.endsWith(".app.mjs"))).toEqual([]);
  });
});
