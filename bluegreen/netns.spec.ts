import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { createNetworks, listNamespaces, type Networks } from "./netns.js";

let networks: Networks | undefined;
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) c.kill();
  await networks?.remove();
});

describe("createNetworks", () => {
  it("gives blue and green their own namespace and address, reachable from the host at that address only", async () => {
    networks = await createNetworks();
    const { blue, green } = networks.slots;
    expect(blue.address).not.toBe(green.address);
    expect(await listNamespaces(`mpg11-${networks.id}-`)).toEqual(expect.arrayContaining([blue.namespace, green.namespace]));
    // A server inside blue's namespace on 127.0.0.1 is not the host's loopback: only blue's address reaches it.
    const child = spawn("ip", ["netns", "exec", blue.namespace, process.execPath, "-e", `require("http").createServer((q,s)=>s.end("blue")).listen(18080,"0.0.0.0")`], { stdio: "ignore" });
    children.push(child);
    let body = "";
    for (let i = 0; i < 50 && !body; i++) {
      body = await fetch(`http://${blue.address}:18080/`).then(
        (r) => r.text(),
        () => "",
      );
      if (!body) await new Promise((r) => setTimeout(r, 100));
    }
    expect(body).toBe("blue");
    await expect(fetch(`http://${green.address}:18080/`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });

  it("removes both namespaces and the host ends of the veth pairs", async () => {
    const id = networks!.id;
    for (const c of children.splice(0)) c.kill();
    await networks!.remove();
    networks = undefined;
    expect(await listNamespaces(`mpg11-${id}-`)).toEqual([]);
  });

  it("refuses an id that would overflow an interface name", async () => {
    await expect(createNetworks({ id: "toolong" })).rejects.toThrow(/must be 1-4 lowercase letters or digits/);
  });
});
