// Why documents travel as JSON text rather than google.protobuf.Struct:
// encodes and decodes a realistic document both ways, in the same run, and
// reports size and speed as ratios against the JSON-text baseline.
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
function asText() {
  return toBinary(ChangeEventSchema, create(ChangeEventSchema, {
    operation: Operation.UPDATE, collection: "todos", documentId: "d1", document: JSON.stringify(document),
  }));
}
function fromText(bytes: Uint8Array) {
  return JSON.parse(fromBinary(ChangeEventSchema, bytes).document) as JsonObject;
}
function asStruct() {
  return toBinary(StructSchema, fromJson(StructSchema, document));
}
function fromStruct(bytes: Uint8Array) {
  return toJson(StructSchema, fromBinary(StructSchema, bytes)) as JsonObject;
}

function opsPerSecond(fn: () => void, ms = 400): number {
  for (let i = 0; i < 200; i++) fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
  }
  return (n * 1000) / (performance.now() - start);
}

export function run(): Record<string, number> {
  const textBytes = asText();
  const structBytes = asStruct();
  const textEncode = opsPerSecond(asText);
  const structEncode = opsPerSecond(asStruct);
  const textDecode = opsPerSecond(() => fromText(textBytes));
  const structDecode = opsPerSecond(() => fromStruct(structBytes));
  return {
    "document: struct size / json-text size": structBytes.length / textBytes.length,
    "document: json-text encode speed / struct": textEncode / structEncode,
    "document: json-text decode speed / struct": textDecode / structDecode,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(run());
