import { crc32 } from "node:zlib";

/**
 * How records sit in the journal file, after the file header:
 *
 *   u32 LE  body length (bytes, > 0)
 *   u32 LE  CRC-32 of the 4 length bytes followed by the body
 *   body    the record (see journal-record-codec.ts)
 *
 * The checksum covers the length too, so a damaged length is caught like a damaged body.
 */
export const FRAME_HEADER_BYTES = 8;

/** The largest body a reader believes; anything larger is damage. Writers are held far below it by their limits. */
export const MAX_FRAME_BODY_BYTES = 1024 * 1024 * 1024;

/** A framed record, as the chunks to hand to `writev` (payload chunks are the caller's Buffers, uncopied). */
export interface EncodedRecord {
  readonly chunks: readonly Buffer[];
  /** Total bytes of all chunks, frame header included. */
  readonly byteLength: number;
}

export function frameRecord(body: { chunks: readonly Buffer[]; byteLength: number }): EncodedRecord {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32LE(body.byteLength, 0);
  let checksum = crc32(header.subarray(0, 4));
  for (const chunk of body.chunks) checksum = crc32(chunk, checksum);
  header.writeUInt32LE(checksum, 4);
  return { chunks: [header, ...body.chunks], byteLength: FRAME_HEADER_BYTES + body.byteLength };
}

/** Whether the checksum stored in `header` matches `body`. */
export function frameChecksumMatches(header: Buffer, body: Buffer): boolean {
  const expected = crc32(body, crc32(header.subarray(0, 4)));
  return expected === header.readUInt32LE(4);
}
