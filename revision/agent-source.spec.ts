import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AGENT_RELEASE, AgentUnavailableError, DOCOPT_RELEASE, agentRubyLib, fetchPinned, locateAgent, treeSha256, type PinnedTree } from "./agent-source.js";
import { cleanupTargets, REPO_DIR, tempDir } from "./test-helpers.js";

const VENDOR = join(REPO_DIR, "../shared/vendor");
const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) s.close();
  await cleanupTargets();
});

/** A loopback server answering every request with `body` (stands in for github.com). */
async function serve(body: Buffer, status = 200): Promise<string> {
  const server = createServer((_, res) => res.writeHead(status).end(body));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/archive.tar.gz`;
}

/** A GitHub-style archive (one top folder) of a directory. */
function tarOf(dir: string): Buffer {
  return execFileSync("tar", ["-czf", "-", "--transform", "s,^\\.,repo-1.8.1,", "-C", dir, "."]);
}

describe("where the CodeDeploy agent comes from", () => {
  it("the vendored agent and docopt.rb are exactly the pinned release trees", () => {
    expect(treeSha256(join(VENDOR, "aws-codedeploy-agent"), AGENT_RELEASE.parts)).toBe(AGENT_RELEASE.treeSha256);
    expect(treeSha256(join(VENDOR, "docopt.rb"), DOCOPT_RELEASE.parts)).toBe(DOCOPT_RELEASE.treeSha256);
  });

  it("uses ../shared/vendor by default, and a configured directory when given", async () => {
    const cacheDir = tempDir("mpg10-agent-cache");
    const vendored = await locateAgent({ repoDir: REPO_DIR, cacheDir, download: false });
    expect(vendored).toMatchObject({ agentDir: join(VENDOR, "aws-codedeploy-agent"), source: "vendored" });
    const configured = await locateAgent({ repoDir: REPO_DIR, cacheDir, configuredDir: join(VENDOR, "aws-codedeploy-agent"), download: false });
    expect(configured).toMatchObject({ docoptDir: join(VENDOR, "docopt.rb"), source: "configured" });
    expect(agentRubyLib(configured.agentDir, configured.docoptDir).map((p) => p.split("/").slice(-2).join("/"))).toEqual([
      "docopt.rb/lib",
      "aws-codedeploy-agent/lib",
      "codedeploy-commands-1.0.0/lib",
      "process_manager-0.0.13/lib",
      "simple_pid-0.2.1/lib",
    ]);
  });

  it("says in one line what is missing and how to get it", async () => {
    const nowhere = tempDir("mpg10-no-agent");
    await expect(locateAgent({ repoDir: join(nowhere, "repo"), cacheDir: nowhere, configuredDir: nowhere, download: false })).rejects.toThrow(
      /^CODEDEPLOY_AGENT_DIR=.* holds no CodeDeploy agent \(no bin\/codedeploy-local\): point it at an aws-codedeploy-agent 1\.8\.1 checkout$/,
    );
    await expect(locateAgent({ repoDir: join(nowhere, "repo"), cacheDir: nowhere, download: false })).rejects.toThrow(
      /^the CodeDeploy agent is not available: set CODEDEPLOY_AGENT_DIR to an aws-codedeploy-agent 1\.8\.1 checkout \(with docopt\.rb beside it\), or put both in \.\.\/shared\/vendor\/$/,
    );
  });

  it("downloads the pinned archive once, refusing one whose files differ from the pinned tree", async () => {
    // The pinned docopt.rb tree, served from loopback as GitHub would; then the same with one file changed.
    const repo = join(tempDir("mpg10-fake-github"), "docopt");
    mkdirSync(repo);
    execFileSync("cp", ["-r", join(VENDOR, "docopt.rb/lib"), repo]);
    const pin = (url: string): PinnedTree => ({ ...DOCOPT_RELEASE, url });
    const cacheDir = tempDir("mpg10-agent-cache");
    const good = await fetchPinned(pin(await serve(tarOf(repo))), cacheDir);
    expect(readFileSync(join(good, "lib/docopt.rb"))).toEqual(readFileSync(join(VENDOR, "docopt.rb/lib/docopt.rb")));
    expect(existsSync(join(good, ".verified"))).toBe(true);
    // Cached: the server is not asked again.
    expect(await fetchPinned(pin("http://127.0.0.1:9/unreachable"), cacheDir)).toBe(good);

    execFileSync("bash", ["-c", `echo '# changed' >> "${repo}/lib/docopt.rb"`]);
    await expect(fetchPinned(pin(await serve(tarOf(repo))), tempDir("mpg10-agent-cache"))).rejects.toThrow(
      /does not hold docopt\.rb 794c47d: its files hash to [0-9a-f]{64}, pinned 3731676.*; refusing it/,
    );
    await expect(fetchPinned(pin(await serve(Buffer.from("gone"), 404)), tempDir("mpg10-agent-cache"))).rejects.toThrow(/answered 404/);
    await expect(fetchPinned(pin("http://127.0.0.1:9/unreachable"), tempDir("mpg10-agent-cache"))).rejects.toThrow(AgentUnavailableError);
  });
});
