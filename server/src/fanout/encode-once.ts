// "A commit is encoded once per codec, not once per subscriber." The hub hands
// every subscriber of the same collections the same array of changes; the
// array's encodings are made on first use and cached on it, so a thousand
// subscribers share one protobuf encoding and one JSON encoding of a commit.
// What differs per subscriber (its checkpoint) is small and encoded apart; the
// transport writes the shared bytes and the small part side by side.
import { toJsonString } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { ChangeEventSchema, type ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { encodeEvent } from "../storage/change-codec.js";

export type Codec = "binary" | "json";

interface Encodings {
  binary?: Uint8Array;
  json?: Uint8Array;
}

const cache = new WeakMap<readonly ChangeEvent[], Encodings>();
const utf8 = new TextEncoder();

/**
 * The changes as they appear inside a ChangeBatch: for the binary codec the
 * repeated field 1 (`changes`), each entry length-delimited; for JSON the array
 * text `[{...},{...}]`. Encoded on first use, then shared.
 */
export function sharedChanges(changes: readonly ChangeEvent[], codec: Codec): Uint8Array {
  let encodings = cache.get(changes);
  if (!encodings) cache.set(changes, (encodings = {}));
  return (encodings[codec] ??= codec === "binary" ? encodeBinary(changes) : encodeJson(changes));
}

const CHANGES_FIELD = 1; // ChangeBatch.changes

function encodeBinary(changes: readonly ChangeEvent[]): Uint8Array {
  const writer = new BinaryWriter();
  // A committed change was encoded when it was stored: those bytes are reused.
  for (const change of changes) writer.tag(CHANGES_FIELD, WireType.LengthDelimited).bytes(encodeEvent(change));
  return writer.finish();
}

function encodeJson(changes: readonly ChangeEvent[]): Uint8Array {
  return utf8.encode(`[${changes.map((change) => toJsonString(ChangeEventSchema, change)).join(",")}]`);
}
