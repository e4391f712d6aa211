/**
 * Two instance-like hosts on one machine: a network namespace per slot, joined to the host by
 * a veth pair, each with its own address from a private block nobody on the machine uses. The
 * host end is the gateway (HAProxy on the host reaches the instances through it). Everything
 * is named with the rehearsal's prefix and removed by `remove()` (deleting a namespace deletes
 * the veth end inside it, and with it the pair).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { SLOTS, type Slot } from "../environments/names.js";

const run = promisify(execFile);

export const PREFIX = "mpg11-";

export class NetworkError extends Error {
  override readonly name = "NetworkError";
}

export interface SlotNetwork {
  readonly slot: Slot;
  /** `ip netns` name (the instance joins /run/netns/<name>). */
  readonly namespace: string;
  /** The instance's address inside its namespace. */
  readonly address: string;
  /** The host end's address: the instance's gateway. */
  readonly gateway: string;
  readonly hostInterface: string;
  readonly prefixLength: number;
}

export interface Networks {
  readonly id: string;
  readonly slots: Record<Slot, SlotNetwork>;
  remove(): Promise<void>;
}

async function ip(args: string[]): Promise<string> {
  try {
    return (await run("ip", args, { encoding: "utf8" })).stdout;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") throw new NetworkError("the ip command is missing: install the Debian package iproute2 (npm run setup)");
    throw new NetworkError(`ip ${args.join(" ")} failed: ${(e.stderr ?? e.message).trim()}${/Operation not permitted|permission/i.test(e.stderr ?? "") ? " (network namespaces need root)" : ""}`);
  }
}

const toInt = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const toAddress = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");

/** Every IPv4 network the host knows (addresses and routes), to pick a block that overlaps none. */
async function usedNetworks(): Promise<[number, number][]> {
  const ranges: [number, number][] = [];
  const add = (cidr: string) => {
    const [address, bits = "32"] = cidr.split("/");
    if (!address || !/^\d+\.\d+\.\d+\.\d+$/.test(address)) return;
    const size = 2 ** (32 - Number(bits));
    const start = toInt(address) - (toInt(address) % size);
    ranges.push([start, start + size - 1]);
  };
  for (const line of (await ip(["-4", "-o", "addr", "show"])).split("\n")) {
    const cidr = /inet (\S+)/.exec(line)?.[1];
    if (cidr) add(cidr);
  }
  for (const line of (await ip(["-4", "route", "show", "table", "all"])).split("\n")) {
    const dest = line.split(" ").find((w) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(w));
    if (dest && !line.startsWith("default") && !line.startsWith("local") && !line.startsWith("broadcast")) add(dest);
  }
  return ranges;
}

/** Base of a free /29 in 10.111.0.0/16 (blue: .1/.2, green: .5/.6), picked at random to avoid parallel runs. */
async function pickBlock(): Promise<number> {
  const used = await usedNetworks();
  const base = toInt("10.111.0.0");
  for (let attempt = 0; attempt < 64; attempt++) {
    const start = base + (randomBytes(2).readUInt16BE(0) % 8192) * 8;
    if (!used.some(([a, b]) => a <= start + 7 && start <= b)) return start;
  }
  throw new NetworkError("no free /29 in 10.111.0.0/16 after 64 tries: remove stale mpg11- namespaces (ip netns list)");
}

/** Creates the two slots' namespaces, veth pairs and addresses. Removes what it made if any step fails. */
export async function createNetworks(options: { id?: string; prefix?: string; onEvent?: (line: string) => void } = {}): Promise<Networks> {
  const id = options.id ?? randomBytes(2).toString("hex");
  const prefix = options.prefix ?? PREFIX;
  if (!/^[a-z0-9]{1,4}$/.test(id)) throw new NetworkError(`network id ${id} must be 1-4 lowercase letters or digits (interface names have 15 characters)`);
  if (!/^[a-z0-9-]{1,8}$/.test(prefix)) throw new NetworkError(`name prefix ${prefix} must be 1-8 lowercase letters, digits or dashes (interface names have 15 characters)`);
  const block = await pickBlock();
  const created: string[] = [];
  const remove = async () => {
    const problems: string[] = [];
    for (const namespace of created.splice(0).reverse()) {
      await ip(["netns", "del", namespace]).catch((e: Error) => problems.push(e.message));
    }
    if (problems.length) throw new NetworkError(problems.join("; "));
  };
  const slots = {} as Record<Slot, SlotNetwork>;
  try {
    for (const [i, slot] of SLOTS.entries()) {
      const namespace = `${prefix}${id}-${slot}`;
      const hostInterface = `${prefix}${id}-${slot[0]}`;
      const gateway = toAddress(block + i * 4 + 1);
      const address = toAddress(block + i * 4 + 2);
      await ip(["netns", "add", namespace]);
      created.push(namespace);
      await ip(["link", "add", hostInterface, "type", "veth", "peer", "name", "eth0", "netns", namespace]);
      await ip(["addr", "add", `${gateway}/30`, "dev", hostInterface]);
      await ip(["link", "set", hostInterface, "up"]);
      await ip(["-n", namespace, "addr", "add", `${address}/30`, "dev", "eth0"]);
      await ip(["-n", namespace, "link", "set", "eth0", "up"]);
      await ip(["-n", namespace, "link", "set", "lo", "up"]);
      await ip(["-n", namespace, "route", "add", "default", "via", gateway]);
      slots[slot] = { slot, namespace, address, gateway, hostInterface, prefixLength: 30 };
      options.onEvent?.(`${slot}: namespace ${namespace}, address ${address}/30 (host end ${hostInterface} ${gateway})`);
    }
  } catch (error) {
    await remove().catch(() => {});
    throw error;
  }
  return { id, slots, remove };
}

/** Namespaces with the rehearsal's prefix that exist right now (for tests and stale-run checks). */
export async function listNamespaces(prefix = PREFIX): Promise<string[]> {
  return (await ip(["netns", "list"]))
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(prefix));
}
