// The measurement behind PROTOCOL §3.4 (documents as JSON text, not Struct),
// kept reproducible: both representations in interleaved rounds in a worker
// process. A micro-benchmark of protobuf-es, not of the server.
import type { EncodingFigures } from "../document-encoding.js";
import { startWorker } from "../harness/processes.js";
import { interleave } from "../harness/rounds.js";
import { figure, ratio } from "./metrics.js";
import type { Workload } from "./types.js";

export const documentEncoding: Workload = {
  id: "document-encoding",
  title: "Document encoding (PROTOCOL §3.4)",
  async run(context) {
    const { windowMs } = context.config.encoding;
    const worker = await startWorker("document-encoding.ts", "encoding");
    let rounds: Record<string, EncodingFigures[]>;
    try {
      rounds = await interleave<EncodingFigures>(
        context.config,
        {
          "json-text": () => worker.call("measure", "json-text", windowMs),
          struct: () => worker.call("measure", "struct", windowMs),
        },
        (line) => context.log(`document encoding: ${line}`),
      );
    } finally {
      await worker.stop();
    }
    const text = rounds["json-text"]!;
    const struct = rounds.struct!;
    const textSize = figure("JSON text in ChangeEvent", "bytes", text.map((r) => r.bytes));
    const structSize = figure("google.protobuf.Struct", "bytes", struct.map((r) => r.bytes));
    const textEncode = figure("JSON text encode", "documents/s", text.map((r) => r.encodePerSecond));
    const structEncode = figure("Struct encode", "documents/s", struct.map((r) => r.encodePerSecond));
    const textDecode = figure("JSON text decode", "documents/s", text.map((r) => r.decodePerSecond));
    const structDecode = figure("Struct decode", "documents/s", struct.map((r) => r.decodePerSecond));
    return {
      id: "document-encoding",
      title: "Document encoding (PROTOCOL §3.4)",
      method:
        "A 1 KB to-do document (nested objects, arrays, non-ASCII text) encoded and decoded as JSON text inside ChangeEvent.document " +
        `versus as google.protobuf.Struct, with protobuf-es, each for ${windowMs} ms per round in one worker process.`,
      metrics: [
        { id: "encoding.size", label: "size on the wire", subject: structSize, baseline: textSize, ratio: ratio(structSize, textSize, "Struct / JSON text") },
        { id: "encoding.encode", label: "encode speed", subject: textEncode, baseline: structEncode, ratio: ratio(textEncode, structEncode, "JSON text / Struct") },
        { id: "encoding.decode", label: "decode speed", subject: textDecode, baseline: structDecode, ratio: ratio(textDecode, structDecode, "JSON text / Struct") },
      ],
      context: {},
      profiles: [],
    };
  },
};
