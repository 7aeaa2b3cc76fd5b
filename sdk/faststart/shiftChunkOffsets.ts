import { childBoxes } from './childBoxes.js';
import { malformed, parseBoxHeader, type BoxHeader } from './parseBoxHeader.js';

/**
 * Where a chunk offset of the old file lands in the new one, given the new moov's size (which
 * decides how far the media data moves).
 */
export type PlaceOffset = (offset: number, newMoovSize: number) => number;

/** The containers from moov down to the chunk offset tables (ISO 14496-12 §8.7.5). */
const PATH = ['moov', 'trak', 'mdia', 'minf', 'stbl'] as const;
const STBL_DEPTH = PATH.length - 1;
const FIRST_64_BIT = 2 ** 32;
/** A full box's version and flags, then its entry count. */
const TABLE_PREAMBLE = 8;

interface OffsetTable {
  header: BoxHeader;
  /** The full box's version and flags, copied as they are. */
  versionAndFlags: number;
  wide: boolean;
  offsets: number[];
}

/**
 * A new moov, the same as `moov` but for every chunk offset (stco, co64) of every track placed
 * by `place`. A 32-bit table (stco) with an offset that lands past 4 GiB becomes a 64-bit one
 * (co64); since that grows moov, which moves the media data further, the sizes are worked out
 * again until they stop changing (they only grow, so this ends).
 */
export function shiftChunkOffsets(moov: Uint8Array, place: PlaceOffset): Uint8Array {
  const root = parseBoxHeader(moov, 0, 0, moov.byteLength);
  const tables = chunkOffsetTables(moov, root, 0);
  let size = moov.byteLength;
  let widened = new Set<OffsetTable>();
  for (;;) {
    widened = new Set(tables.filter((table) => !table.wide && needsWide(table, size, place)));
    const next = tables.reduce(
      (total, table) => total + tableSize(table, widened.has(table)) - table.header.size,
      moov.byteLength,
    );
    if (next === size) break;
    size = next;
  }
  const rewrite = (table: OffsetTable) =>
    writeTable(table, table.wide || widened.has(table), (offset) => place(offset, size));
  const byOffset = new Map(tables.map((table) => [table.header.offset, rewrite(table)]));
  const out = concat(rebuild(moov, root, 0, byOffset));
  if (out.byteLength !== size) throw new Error(`moov came out ${out.byteLength}, not ${size}`);
  return out;
}

/** The stco and co64 boxes under `box` (at `depth` on PATH), nowhere else. */
function chunkOffsetTables(moov: Uint8Array, box: BoxHeader, depth: number): OffsetTable[] {
  return childBoxes(moov, box).flatMap((child) => {
    if (depth === STBL_DEPTH) {
      return child.type === 'stco' || child.type === 'co64' ? [readTable(moov, child)] : [];
    }
    return child.type === PATH[depth + 1] ? chunkOffsetTables(moov, child, depth + 1) : [];
  });
}

function readTable(moov: Uint8Array, header: BoxHeader): OffsetTable {
  const wide = header.type === 'co64';
  const view = new DataView(moov.buffer, moov.byteOffset, moov.byteLength);
  const start = header.offset + header.headerSize;
  if (header.size < header.headerSize + TABLE_PREAMBLE) {
    throw malformed(`the '${header.type}' box at ${header.offset} in moov is too short`);
  }
  const count = view.getUint32(start + 4);
  if (header.headerSize + TABLE_PREAMBLE + count * (wide ? 8 : 4) > header.size) {
    throw malformed(
      `the '${header.type}' box at ${header.offset} in moov holds fewer entries than it says`,
    );
  }
  const offsets = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const at = start + TABLE_PREAMBLE + i * (wide ? 8 : 4);
    offsets[i] = wide ? Number(view.getBigUint64(at)) : view.getUint32(at);
  }
  if (!offsets.every(Number.isSafeInteger)) {
    throw malformed(`a chunk offset in the '${header.type}' box at ${header.offset} is past 2^53`);
  }
  return { header, versionAndFlags: view.getUint32(start), wide, offsets };
}

function needsWide(table: OffsetTable, moovSize: number, place: PlaceOffset): boolean {
  return table.offsets.some((offset) => place(offset, moovSize) >= FIRST_64_BIT);
}

function tableSize(table: OffsetTable, widen: boolean): number {
  const width = table.wide || widen ? 8 : 4;
  return table.header.headerSize + TABLE_PREAMBLE + table.offsets.length * width;
}

function writeTable(table: OffsetTable, wide: boolean, place: (offset: number) => number) {
  const { header, offsets } = table;
  const out = new Uint8Array(tableSize(table, wide));
  const view = new DataView(out.buffer);
  writeHeader(view, header, out.byteLength, wide ? 'co64' : 'stco');
  view.setUint32(header.headerSize, table.versionAndFlags);
  view.setUint32(header.headerSize + 4, offsets.length);
  let at = header.headerSize + TABLE_PREAMBLE;
  for (const offset of offsets) {
    const placed = place(offset);
    if (wide) view.setBigUint64(at, BigInt(placed));
    else view.setUint32(at, placed);
    at += wide ? 8 : 4;
  }
  return out;
}

/** `box` with its header sized anew and the tables under it replaced; all else copied. */
function rebuild(
  moov: Uint8Array,
  box: BoxHeader,
  depth: number,
  tables: Map<number, Uint8Array>,
): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let copiedTo = box.offset + box.headerSize;
  for (const child of childBoxes(moov, box)) {
    const table = tables.get(child.offset);
    if (table) parts.push(table);
    else if (depth < STBL_DEPTH && child.type === PATH[depth + 1])
      parts.push(...rebuild(moov, child, depth + 1, tables));
    else parts.push(moov.subarray(child.offset, child.offset + child.size));
    copiedTo = child.offset + child.size;
  }
  parts.push(moov.subarray(copiedTo, box.offset + box.size));
  const header = new Uint8Array(box.headerSize);
  const size = parts.reduce((total, part) => total + part.byteLength, box.headerSize);
  writeHeader(new DataView(header.buffer), box, size, box.type);
  return [header, ...parts];
}

/** The header's form (8 bytes, or 16 with a largesize) is kept; size 0 becomes explicit. */
function writeHeader(view: DataView, old: BoxHeader, size: number, type: string): void {
  if (old.headerSize === 16) {
    view.setUint32(0, 1);
    view.setBigUint64(8, BigInt(size));
  } else {
    if (size >= FIRST_64_BIT) throw new Error(`a '${type}' box of ${size} bytes needs a largesize`);
    view.setUint32(0, size);
  }
  for (let i = 0; i < 4; i++) view.setUint8(4 + i, type.charCodeAt(i));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
