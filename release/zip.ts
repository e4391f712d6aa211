/**
 * Just enough of the ZIP format to read a revision bundle: the central directory, stored and
 * deflated entries. Revisions are at most 25 MB, so ZIP64 is refused rather than supported.
 */
import { inflateRawSync } from "node:zlib";

export interface ZipEntry {
  readonly name: string;
  readonly isDirectory: boolean;
  /** The entry's uncompressed bytes. */
  read(): Buffer;
}

export class ZipFormatError extends Error {
  override readonly name = "ZipFormatError";
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export function readZip(zip: Buffer): ZipEntry[] {
  if (zip.length < 22 || zip.readUInt32LE(0) !== LOCAL) throw new ZipFormatError("not a zip file (no local file header at the start)");
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipFormatError("not a zip file (no end of central directory record): truncated?");
  const count = zip.readUInt16LE(eocd + 10);
  const directoryOffset = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || directoryOffset === 0xffffffff) throw new ZipFormatError("ZIP64 archives are not supported (a revision must stay under 25 MB)");
  const entries: ZipEntry[] = [];
  let at = directoryOffset;
  for (let n = 0; n < count; n++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== CENTRAL) throw new ZipFormatError(`corrupt central directory at entry ${n}`);
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localOffset = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;
    entries.push({
      name,
      isDirectory: name.endsWith("/"),
      read: () => {
        if (zip.readUInt32LE(localOffset) !== LOCAL) throw new ZipFormatError(`corrupt local header for ${name}`);
        const start = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
        const raw = zip.subarray(start, start + compressedSize);
        const data = method === 0 ? Buffer.from(raw) : method === 8 ? inflateRawSync(raw) : undefined;
        if (!data) throw new ZipFormatError(`${name} uses compression method ${method}; only stored and deflated entries are supported`);
        if (data.length !== size) throw new ZipFormatError(`${name} is ${data.length} bytes but the directory says ${size}: corrupt archive`);
        return data;
      },
    });
  }
  return entries;
}
