// Why documents travel as JSON text rather than google.protobuf.Struct
// (PROTOCOL §3.4): encodes and decodes a realistic 1 KB to-do document both
// ways inside the same ChangeEvent field, in a worker process of the bench
// (workloads/document-encoding.ts runs both in interleaved rounds).
import { create, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import type { JsonObject } from "@bufbuild/protobuf";
import { ChangeEventSchema, Operation } from "../gen/ts/pocket/sync/v1/sync_pb.js";

const document: JsonObject = {
  title: "Quarterly plan — Zürich office ☕",
  done: false,
  priority: 3,
  tags: ["work", "planning", "q3"],
  assignee: { id: "u_1842", name: "Zoë", teams: ["core", "sync"] },
  checklist: Array.from({ length: 12 }, (_, i) => ({ step: `step ${i}`, done: i % 2 === 0, estimateHours: i * 1.5 })),
  notes: null,
};

// Both sides encode the document inside the same ChangeEvent envelope fields,
// so the comparison is the representation alone.
function asText(): Uint8Array {
  return toBinary(ChangeEventSchema, create(ChangeEventSchema, {
    operation: Operation.UPDATE, collection: "todos", documentId: "d1", document: JSON.stringify(document),
  }));
}
function fromText(bytes: Uint8Array): JsonObject {
  return JSON.parse(fromBinary(ChangeEventSchema, bytes).document) as JsonObject;
}
function asStruct(): Uint8Array {
  return toBinary(StructSchema, fromJson(StructSchema, document));
}
function fromStruct(bytes: Uint8Array): JsonObject {
  return toJson(StructSchema, fromBinary(StructSchema, bytes)) as JsonObject;
}

function opsPerSecond(fn: () => void, ms: number): number {
  for (let i = 0; i < 200; i++) fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
  }
  return (n * 1000) / (performance.now() - start);
}

export interface EncodingFigures {
  readonly bytes: number;
  readonly encodePerSecond: number;
  readonly decodePerSecond: number;
}

export const handlers = {
  /** One representation's size and speeds, each measured for `windowMs`. */
  measure(representation: "json-text" | "struct", windowMs: number): EncodingFigures {
    const [encode, decode] = representation === "json-text" ? [asText, fromText] : [asStruct, fromStruct];
    const bytes = encode();
    return {
      bytes: bytes.length,
      encodePerSecond: opsPerSecond(encode, windowMs),
      decodePerSecond: opsPerSecond(() => decode(bytes), windowMs),
    };
  },
};
