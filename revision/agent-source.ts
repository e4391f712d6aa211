/**
 * Where the real CodeDeploy agent (1.8.1) and docopt.rb (the one gem its codedeploy-local needs
 * that Debian does not package) come from, in this order:
 *
 * 1. a configured directory (CODEDEPLOY_AGENT_DIR, read by the CLIs and test setup, passed here);
 * 2. `../shared/vendor/` beside the repository (our machines and CI);
 * 3. the pinned GitHub archives, downloaded once into the cache and checked file by file against
 *    the pinned tree hashes below, which were computed from the v1.8.1 tag and docopt.rb's commit
 *    (the vendored copies are those trees minus their tests). The hash covers the files the
 *    agent runs (bin, lib, vendor, conf), not the gzip bytes, which GitHub does not promise.
 */
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface PinnedTree {
  readonly name: string;
  readonly url: string;
  /** Folders of the archive that are hashed (and used). */
  readonly parts: readonly string[];
  readonly treeSha256: string;
}

export const AGENT_RELEASE: PinnedTree = {
  name: "aws-codedeploy-agent 1.8.1",
  url: "https://github.com/aws/aws-codedeploy-agent/archive/refs/tags/v1.8.1.tar.gz",
  parts: ["bin", "lib", "vendor", "conf", "certs"],
  treeSha256: "082d624cb30933126e5f2d3f7febe0cca0097b7f2b60f2852eaca17015deeb03",
};

/** docopt.rb at commit 794c47d7cb62ca71d65086623a55881449bc2f9e (the vendored copy's tree). */
export const DOCOPT_RELEASE: PinnedTree = {
  name: "docopt.rb 794c47d",
  url: "https://github.com/docopt/docopt.rb/archive/794c47d7cb62ca71d65086623a55881449bc2f9e.tar.gz",
  parts: ["lib"],
  treeSha256: "373167637460ae61621926bf47e861acfa17daf8e51bcdf212a4ce2ea373c497",
};

export interface AgentLocation {
  readonly agentDir: string;
  readonly docoptDir: string;
  readonly source: "configured" | "vendored" | "downloaded";
}

export class AgentUnavailableError extends Error {
  override readonly name = "AgentUnavailableError";
}

export interface AgentSourceOptions {
  readonly repoDir: string;
  readonly cacheDir: string;
  /** CODEDEPLOY_AGENT_DIR, when set: an agent checkout; docopt.rb is looked up beside it. */
  readonly configuredDir?: string;
  /** Default true: fetch the pinned archives when nothing local is found. */
  readonly download?: boolean;
}

/** The agent to run, or one clear error naming what is missing and how to get it. */
export async function locateAgent(options: AgentSourceOptions): Promise<AgentLocation> {
  if (options.configuredDir) {
    const agentDir = resolve(options.configuredDir);
    if (!isAgent(agentDir)) throw new AgentUnavailableError(`CODEDEPLOY_AGENT_DIR=${agentDir} holds no CodeDeploy agent (no bin/codedeploy-local): point it at an aws-codedeploy-agent 1.8.1 checkout`);
    const docoptDir = [join(dirname(agentDir), "docopt.rb"), join(agentDir, "vendor/docopt.rb")].find(isDocopt) ?? (await fetchPinned(DOCOPT_RELEASE, options.cacheDir, options.download));
    return { agentDir, docoptDir, source: "configured" };
  }
  const vendor = resolve(options.repoDir, "../shared/vendor");
  if (isAgent(join(vendor, "aws-codedeploy-agent")) && isDocopt(join(vendor, "docopt.rb"))) {
    return { agentDir: join(vendor, "aws-codedeploy-agent"), docoptDir: join(vendor, "docopt.rb"), source: "vendored" };
  }
  const agentDir = await fetchPinned(AGENT_RELEASE, options.cacheDir, options.download);
  const docoptDir = await fetchPinned(DOCOPT_RELEASE, options.cacheDir, options.download);
  return { agentDir, docoptDir, source: "downloaded" };
}

/** RUBYLIB for codedeploy-local: docopt.rb, the agent, and the agent's vendored gems. */
export function agentRubyLib(agentDir: string, docoptDir: string): string[] {
  const gems = join(agentDir, "vendor/gems");
  const vendored = existsSync(gems)
    ? readdirSync(gems)
        .sort()
        .map((g) => join(gems, g, "lib"))
        .filter((lib) => existsSync(lib))
    : [];
  return [join(docoptDir, "lib"), join(agentDir, "lib"), ...vendored];
}

/** sha256 over "path NUL sha256(content)" lines of every file under `parts`, sorted. */
export function treeSha256(root: string, parts: readonly string[]): string {
  const lines: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else lines.push(`${relative(root, path)}\0${createHash("sha256").update(readFileSync(path)).digest("hex")}`);
    }
  };
  for (const part of parts) if (existsSync(join(root, part))) walk(join(root, part));
  return createHash("sha256").update(lines.sort().join("\n")).digest("hex");
}

function isAgent(dir: string): boolean {
  return existsSync(join(dir, "bin/codedeploy-local")) && existsSync(join(dir, "lib/instance_agent.rb"));
}

function isDocopt(dir: string): boolean {
  return existsSync(join(dir, "lib/docopt.rb"));
}

/**
 * The pinned tree from the cache, or downloaded from `pin.url`, unpacked, and accepted only if
 * its files hash to `pin.treeSha256` (then cached, marked .verified).
 */
export async function fetchPinned(pin: PinnedTree, cacheDir: string, download = true): Promise<string> {
  const target = join(cacheDir, "agent", pin.treeSha256.slice(0, 16));
  const looksRight = (dir: string) => pin.parts.every((part) => existsSync(join(dir, part)));
  if (existsSync(join(target, ".verified"))) return target;
  const hint = "set CODEDEPLOY_AGENT_DIR to an aws-codedeploy-agent 1.8.1 checkout (with docopt.rb beside it), or put both in ../shared/vendor/";
  if (!download) throw new AgentUnavailableError(`the CodeDeploy agent is not available: ${hint}`);
  mkdirSync(dirname(target), { recursive: true });
  const scratch = mkdtempSync(`${target}.download-`);
  try {
    const response = await fetch(pin.url).catch((e: Error) => {
      throw new AgentUnavailableError(`the CodeDeploy agent is not available and ${pin.url} cannot be downloaded (${e.cause instanceof Error ? e.cause.message : e.message}): ${hint}`);
    });
    if (!response.ok) throw new AgentUnavailableError(`the CodeDeploy agent is not available: ${pin.url} answered ${response.status}; ${hint}`);
    writeFileSync(join(scratch, "archive.tar.gz"), Buffer.from(await response.arrayBuffer()));
    mkdirSync(join(scratch, "tree"));
    await run("tar", ["-xzf", join(scratch, "archive.tar.gz"), "-C", join(scratch, "tree"), "--strip-components=1", "--no-same-owner"]);
    const actual = treeSha256(join(scratch, "tree"), pin.parts);
    if (actual !== pin.treeSha256) throw new AgentUnavailableError(`${pin.url} does not hold ${pin.name}: its files hash to ${actual}, pinned ${pin.treeSha256}; refusing it`);
    if (!looksRight(join(scratch, "tree"))) throw new AgentUnavailableError(`${pin.url} unpacked into an unexpected layout`);
    writeFileSync(join(scratch, "tree/.verified"), `${pin.url}\n${actual}\n`);
    rmSync(target, { recursive: true, force: true });
    renameSync(join(scratch, "tree"), target);
    return target;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
