import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/** `repeated FileDescriptorProto file = 1;` in google.protobuf.FileDescriptorSet. */
const FILE_FIELD_NUMBER = 1;

/**
 * The encoded FileDescriptorProto of each file in a FileDescriptorSet, byte for byte as the set holds them,
 * in the set's order.
 *
 * Why not re-encode the decoded files: strict clients (grpcurl, the C++, Python and Go descriptor pools) check
 * the descriptors that reflection serves, and a decode/encode round trip can drop or reorder what it does not
 * understand. The set's own bytes are the only ones sure to be what the compiler produced.
 */
export function sliceFileDescriptorBytes(setBytes: Uint8Array): Buffer[] {
  const reader = new BinaryReader(setBytes);
  const files: Buffer[] = [];
  while (reader.pos < reader.len) {
    const [fieldNumber, wireType] = reader.tag();
    if (fieldNumber === FILE_FIELD_NUMBER && wireType === WireType.LengthDelimited) {
      // A copy, so that the catalog does not pin (or see later changes to) the caller's buffer.
      files.push(Buffer.from(reader.bytes()));
    } else {
      reader.skip(wireType, fieldNumber);
    }
  }
  return files;
}
