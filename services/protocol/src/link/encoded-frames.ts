import { BinaryWriter } from "@bufbuild/protobuf/wire";

/** A generated message type's encoder (ts-proto's `HandlerFrame`, `GatewayFrame`). */
export interface FrameEncoder<F> {
  encode(frame: F, writer?: BinaryWriter): BinaryWriter;
}

/**
 * The link messages of one direction (`repeated Frame frames = 1`), with each frame's size exact.
 *
 * A peer's gRPC refuses a whole message one byte past its receive limit, and every call on the link is lost with it;
 * an estimate of a frame's size (a fixed allowance for the small fields, text counted in UTF-16 units) is off by
 * hundreds of bytes. So a frame is encoded when it is sized, and the message is made of those very bytes: the size
 * checked against the limit is the size sent. A frame changed after it was sized must not be sized this way: give it
 * an upper bound instead (`frameFieldBytes` of its largest encoding), and it is encoded when the message is.
 */
export class EncodedFrames<F extends object> {
  private readonly encoded = new WeakMap<F, Uint8Array>();
  /** One writer reused for every frame: a fresh one starts small and grows by doubling, copying as it goes. */
  private spare: BinaryWriter | undefined;

  constructor(private readonly encoder: FrameEncoder<F>) {}

  /** The bytes `frame` takes in a message (its field's tag and length, and the frame), exactly; it is encoded now. */
  bytesInMessage(frame: F): number {
    let bytes = this.encoded.get(frame);
    if (bytes === undefined) {
      bytes = this.encode(frame);
      this.encoded.set(frame, bytes);
    }
    return frameFieldBytes(bytes.length);
  }

  /** Lets go of what was encoded for a frame that will not be sent. */
  forget(frame: F): void {
    this.encoded.delete(frame);
  }

  /**
   * The message of `frames`, byte for byte what the generated encoder makes: each frame as encoded when it was
   * sized, the others encoded now.
   */
  serialize(frames: readonly F[]): Buffer {
    const parts: Uint8Array[] = new Array<Uint8Array>(frames.length);
    let total = 0;
    for (let index = 0; index < frames.length; index++) {
      const frame = frames[index]!;
      const bytes = this.encoded.get(frame) ?? this.encode(frame);
      this.encoded.delete(frame);
      parts[index] = bytes;
      total += frameFieldBytes(bytes.length);
    }
    const message = Buffer.allocUnsafe(total);
    let offset = 0;
    for (const bytes of parts) {
      message[offset++] = FRAMES_FIELD_TAG;
      offset = writeVarint(message, offset, bytes.length);
      message.set(bytes, offset);
      offset += bytes.length;
    }
    return message;
  }

  private encode(frame: F): Uint8Array {
    // Taken while in use: a throw mid-frame leaves it half written, and it is then simply not given back.
    const writer = this.spare ?? new BinaryWriter();
    this.spare = undefined;
    const bytes = this.encoder.encode(frame, writer).finish();
    // A writer that grew for a large frame is let go, so one large frame does not hold its memory for ever.
    if (bytes.length <= MAX_KEPT_WRITER_FRAME_BYTES) this.spare = writer;
    return bytes;
  }
}

/** Field 1, length-delimited: `frames` in ConnectRequest and ConnectResponse. */
const FRAMES_FIELD_TAG = (1 << 3) | 2;

const MAX_KEPT_WRITER_FRAME_BYTES = 256 * 1024;

/** The bytes of a frame of `length` bytes in a link message: the field's one-byte tag, its length as a varint, the frame. */
export function frameFieldBytes(length: number): number {
  return 1 + varintBytes(length) + length;
}

/** The bytes of `value` (an unsigned integer below 2^53) as a protobuf varint. */
export function varintBytes(value: number): number {
  let bytes = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) bytes += 1;
  return bytes;
}

function writeVarint(target: Buffer, offset: number, value: number): number {
  let rest = value;
  while (rest >= 0x80) {
    target[offset++] = (rest & 0x7f) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  target[offset++] = rest;
  return offset;
}
