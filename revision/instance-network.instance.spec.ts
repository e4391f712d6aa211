/**
 * An instance in a network namespace of its own (what the blue/green rehearsal gives each of its
 * instances): the service the agent deployed answers at the namespace's address from the host.
 */
import { execFileSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { afterAll, describe, expect, inject, it } from "vitest";
import { LocalInstance } from "./instance.js";

const suffix = randomBytes(2).toString("hex");
const netns = `mpg10-net-${suffix}`;
const hostIf = `mpg10h${suffix}`;
const nsIf = `mpg10n${suffix}`;
const subnet = `10.210.${randomInt(0, 256)}`;
let instance: LocalInstance | undefined;

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] });

afterAll(async () => {
  await instance?.stop();
  try {
    ip("link", "del", hostIf);
  } catch {
    /* gone with the namespace */
  }
  try {
    ip("netns", "del", netns);
  } catch {
    /* never made */
  }
});

describe("an instance in its own network namespace", () => {
  it("boots in an ip netns, and the deployed service answers at the namespace's address", async () => {
    ip("netns", "add", netns);
    ip("link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
    ip("link", "set", nsIf, "netns", netns);
    ip("addr", "add", `${subnet}.1/30`, "dev", hostIf);
    ip("link", "set", hostIf, "up");
    ip("netns", "exec", netns, "ip", "addr", "add", `${subnet}.2/30`, "dev", nsIf);
    ip("netns", "exec", netns, "ip", "link", "set", nsIf, "up");
    ip("netns", "exec", netns, "ip", "link", "set", "lo", "up");

    await expect(LocalInstance.boot({ name: `mpg10-net-${suffix}`, image: inject("instanceImage"), agent: inject("agent"), networkNamespace: "mpg10-no-such-netns" })).rejects.toThrow(
      /network namespace "mpg10-no-such-netns" does not exist .*ip netns add mpg10-no-such-netns/,
    );

    instance = await LocalInstance.boot({ name: `mpg10-net-${suffix}`, image: inject("instanceImage"), agent: inject("agent"), networkNamespace: netns });
    const d = await instance.deploy(inject("bundleZip"), { applicationName: "mpg-model-dev", deploymentGroupName: "mpg-model-dev" });
    expect(d.status, d.failure?.reason).toBe("Succeeded");
    expect((await instance.exec(["cat", "/proc/net/dev"])).stdout).toContain(`${nsIf}:`);
    const res = await fetch(`http://${subnet}.2:8080/ready`);
    expect(res.status).toBe(200);
  });
});
