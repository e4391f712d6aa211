/**
 * A small reader for the zip files the bundler writes (stored or deflated entries, Unix modes,
 * no zip64): enough for the tests and the release tools to look inside a bundle, without an
 * unzip binary. Not fflate's unzipSync: it reports neither the entries' Unix modes (the hooks'
 * executable bits are checked from them) nor a CRC-32 mismatch, and its errors carry no entry
 * name; inflating is Node's zlib either way.
 */
import { crc32, inflateRawSync } from "node:zlib";

export interface ZipEntry {
  readonly name: string;
  /** Unix permission bits from the entry's external attributes (0 when the zip has none). */
  readonly mode: number;
  readonly isDirectory: boolean;
  readonly data: Buffer;
}

export class ZipFormatError extends Error {
  override readonly name = "ZipFormatError";
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

/**
 * Every entry of `zip`. Damage of any kind (a cut file, an offset or size past the end, data that
 * does not inflate, a CRC-32 or size that does not match) is a ZipFormatError of one line that
 * names `where`, the entry and what is wrong: never a RangeError or a zlib stack.
 */
export function readZip(zip: Buffer, where = "zip"): ZipEntry[] {
  const eocd = findEndOfCentralDirectory(zip, where);
  const count = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (offset + 46 > zip.length || zip.readUInt32LE(offset) !== CENTRAL_SIGNATURE) {
      throw new ZipFormatError(`${where}: central directory entry ${i} is damaged`);
    }
    const method = zip.readUInt16LE(offset + 10);
    const crc = zip.readUInt32LE(offset + 16);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const size = zip.readUInt32LE(offset + 24);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const externalAttributes = zip.readUInt32LE(offset + 38);
    const localOffset = zip.readUInt32LE(offset + 42);
    if (offset + 46 + nameLength > zip.length) throw new ZipFormatError(`${where}: central directory entry ${i} is damaged`);
    const name = zip.toString("utf8", offset + 46, offset + 46 + nameLength);
    offset += 46 + nameLength + extraLength + commentLength;

    if (name.startsWith("/") || name.split("/").includes("..")) {
      throw new ZipFormatError(`${where}: entry "${name}" would be written outside the target directory`);
    }
    const damaged = (what: string) => new ZipFormatError(`${where}: entry "${name}" ${what}`);
    if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) throw damaged("needs zip64, which is not supported");
    if (localOffset + 30 > zip.length) throw damaged("points past the end of the file (the zip is cut short or damaged)");
    if (zip.readUInt32LE(localOffset) !== LOCAL_SIGNATURE) throw new ZipFormatError(`${where}: local header of "${name}" is damaged`);
    const dataStart = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    if (dataStart + compressedSize > zip.length) throw damaged("points past the end of the file (the zip is cut short or damaged)");
    const raw = zip.subarray(dataStart, dataStart + compressedSize);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) {
      try {
        // maxOutputLength: a lying size cannot make a small entry inflate into all of memory.
        data = inflateRawSync(raw, { maxOutputLength: Math.max(size, 1) });
      } catch (error) {
        const reason =
          (error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE"
            ? `inflates to more than the ${size} bytes the directory says`
            : `its deflated data does not inflate (${(error as Error).message})`;
        throw damaged(`is damaged: ${reason}`);
      }
    } else throw damaged(`uses compression method ${method}; only stored and deflated are supported`);
    if (data.length !== size) throw damaged(`is damaged: it ${method === 8 ? "inflates to" : "holds"} ${data.length} bytes, the directory says ${size}`);
    if (crc32(data) !== crc) throw damaged("is damaged: its CRC-32 does not match the directory");
    const isDirectory = name.endsWith("/");
    entries.push({ name: isDirectory ? name.slice(0, -1) : name, mode: (externalAttributes >>> 16) & 0o7777, isDirectory, data });
  }
  return entries;
}

function findEndOfCentralDirectory(zip: Buffer, where: string): number {
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === EOCD_SIGNATURE) return i;
  }
  throw new ZipFormatError(`${where}: not a zip file (no end of central directory record)`);
}
