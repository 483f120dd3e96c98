// "A change batch is encoded once, not once per subscriber": Connect encodes
// every stream message itself and has no hook for pre-encoded payloads, but
// protobuf-es writes a message's unknown fields verbatim. So each live change
// is encoded to its length-delimited wire form once (cached on the shared
// message object) and attached to every subscriber's ChangeBatch as field 1;
// per subscriber only the small checkpoint is encoded. Binary codecs only: the
// JSON codec does not write unknown fields.
import { toBinary, type UnknownField } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { ChangeEventSchema, type ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";

const CHANGES_FIELD = 1; // ChangeBatch.changes
const framed = new WeakMap<ChangeEvent, UnknownField>();

/** The change as ChangeBatch field 1, encoded on first use and shared after. */
export function encodedChange(change: ChangeEvent): UnknownField {
  let field = framed.get(change);
  if (!field) {
    field = { no: CHANGES_FIELD, wireType: WireType.LengthDelimited, data: new BinaryWriter().bytes(toBinary(ChangeEventSchema, change)).finish() };
    framed.set(change, field);
  }
  return field;
}

/** True for a request whose responses use a binary codec (Connect, gRPC, gRPC-Web). */
export function isBinaryCodec(contentType: string | null): boolean {
  return contentType !== null && !contentType.includes("json");
}
