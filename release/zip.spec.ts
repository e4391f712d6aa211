import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import yazl from "yazl";
import { readZip } from "./zip.js";

function build(entries: { name: string; data: string; compress: boolean }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) zip.addBuffer(Buffer.from(e.data), e.name, { compress: e.compress, mtime: new Date("2026-01-01T00:00:00Z") });
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve) => zip.outputStream.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve(Buffer.concat(chunks))));
}

describe("readZip", () => {
  it("reads stored and deflated entries by name", async () => {
    const zip = await build([
      { name: "stored.txt", data: "plain bytes", compress: false },
      { name: "dir/deflated.txt", data: "squeezed ".repeat(100), compress: true },
    ]);
    const entries = readZip(zip);
    expect(entries.map((e) => e.name)).toEqual(["stored.txt", "dir/deflated.txt"]);
    expect(entries[0]!.read().toString()).toBe("plain bytes");
    expect(entries[1]!.read().toString()).toBe("squeezed ".repeat(100));
  });

  it("refuses text, truncated archives and corrupt entries with a reason", async () => {
    expect(() => readZip(Buffer.from("hello, not a zip file at all"))).toThrow(/not a zip file \(no local file header/);
    const zip = await build([{ name: "a.txt", data: "x".repeat(1000), compress: true }]);
    expect(() => readZip(zip.subarray(0, zip.length - 10))).toThrow(/no end of central directory record/);
    const corrupt = Buffer.from(zip);
    const data = deflateRawSync(Buffer.from("x".repeat(1000)));
    corrupt.fill(0, 30 + "a.txt".length, 30 + "a.txt".length + data.length);
    expect(() => readZip(corrupt)[0]!.read()).toThrow();
  });
});
