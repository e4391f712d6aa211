import { describe, expect, it } from "vitest";
import yazl from "yazl";
import { readZip, ZipFormatError } from "./zip.js";

const TEXT = "#!/usr/bin/env bash\n" + "echo a line that deflate can shrink\n".repeat(50);

/** A real zip from yazl (the bundler's writer): a deflated entry, then a stored one. */
function zipOf(): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(TEXT), "hooks/start.sh", { mtime: new Date("2026-01-01T00:00:00Z"), compress: true, mode: 0o100755 });
  zip.addBuffer(Buffer.from("stored bytes\n"), "app/plain.txt", { mtime: new Date("2026-01-01T00:00:00Z"), compress: false });
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream
      .on("data", (c: Buffer) => chunks.push(c))
      .on("end", () => resolve(Buffer.concat(chunks)))
      .on("error", reject);
  });
}

/** Offsets of the n-th central directory entry and of its local header. */
function layout(zip: Buffer, n: number): { central: number; local: number; data: number } {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let central = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < n; i++) central += 46 + zip.readUInt16LE(central + 28) + zip.readUInt16LE(central + 30) + zip.readUInt16LE(central + 32);
  const local = zip.readUInt32LE(central + 42);
  return { central, local, data: local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28) };
}

function errorOf(zip: Buffer): Error {
  try {
    readZip(zip, "dist/revision-1.0.0.zip");
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the zip to be refused");
}

describe("readZip", () => {
  it("reads the entries, modes and bytes yazl wrote", async () => {
    const entries = readZip(await zipOf());
    expect(entries.map((e) => [e.name, e.mode, e.data.toString()])).toEqual([
      ["hooks/start.sh", 0o755, TEXT],
      ["app/plain.txt", 0o664, "stored bytes\n"],
    ]);
  });

  const damage: Array<[string, (zip: Buffer) => void, RegExp]> = [
    ["deflated data that does not inflate", (zip) => zip.fill(0xff, layout(zip, 0).data, layout(zip, 0).data + 8), /entry "hooks\/start\.sh" is damaged: its deflated data does not inflate \(.+\)/],
    ["a local header offset past the end", (zip) => zip.writeUInt32LE(zip.length + 1000, layout(zip, 1).central + 42), /entry "app\/plain\.txt" points past the end of the file/],
    ["a local header offset into the middle of other data", (zip) => zip.writeUInt32LE(7, layout(zip, 1).central + 42), /local header of "app\/plain\.txt" is damaged/],
    ["a size past the end", (zip) => zip.writeUInt32LE(zip.length, layout(zip, 1).central + 20), /entry "app\/plain\.txt" points past the end of the file/],
    ["a stored entry with a changed byte", (zip) => void zip.writeUInt8(zip.readUInt8(layout(zip, 1).data) ^ 1, layout(zip, 1).data), /entry "app\/plain\.txt" is damaged: its CRC-32 does not match/],
    [
      "a deflated entry that inflates to more than its size",
      (zip) => zip.writeUInt32LE(3, layout(zip, 0).central + 24),
      /entry "hooks\/start\.sh" is damaged: inflates to more than the 3 bytes the directory says/,
    ],
    [
      "a deflated entry that inflates to less than its size",
      (zip) => zip.writeUInt32LE(100_000, layout(zip, 0).central + 24),
      new RegExp(`entry "hooks/start\\.sh" is damaged: it inflates to ${TEXT.length} bytes, the directory says 100000`),
    ],
  ];
  it.each(damage)("refuses %s with one line naming the file, the entry and the damage", async (_what, corrupt, expected) => {
    const zip = await zipOf();
    corrupt(zip);
    const error = errorOf(zip);
    expect(error).toBeInstanceOf(ZipFormatError);
    expect(error.message).toMatch(/^dist\/revision-1\.0\.0\.zip: /);
    expect(error.message).toMatch(expected);
    expect(error.message).not.toContain("\n");
  });

  it("refuses a zip cut short", async () => {
    const zip = await zipOf();
    const eocd = zip.subarray(zip.length - 22);
    const error = errorOf(Buffer.concat([zip.subarray(0, 40), eocd]));
    expect(error).toBeInstanceOf(ZipFormatError);
    expect(error.message).toMatch(/^dist\/revision-1\.0\.0\.zip: central directory entry 0 is damaged$/);
  });
});
