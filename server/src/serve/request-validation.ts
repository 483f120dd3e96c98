// Checks a request against the schema's rules (buf.validate) and turns the
// verdict into the error PROTOCOL §11 prescribes. Two things protovalidate
// alone gets wrong for a hostile client:
//
// - It evaluates every rule even when a list already breaks its max_items, and
//   the message-level CEL rules over a list (`changes.map(...).unique()`)
//   overflow the stack from a few thousand items: a push of 5,000 changes
//   came back `internal: Maximum call stack size exceeded`. So a list longer
//   than its max_items is validated as its first max_items + 1 items: the
//   size violation is reported in protovalidate's own words, and the work is
//   bounded by the schema instead of by the request.
// - A rule that fails to evaluate on the client's input is a refusal of that
//   input (invalid_argument), not a server fault. Only rules that do not
//   compile are ours to fix (internal).
import { getOption, isFieldSet, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { CompilationError, createValidator, type Validator } from "@bufbuild/protovalidate";
import { field as fieldRules, RepeatedRulesSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { syncError } from "../../../common/src/errors.js";
import { ErrorReason } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { invalidRequest } from "./errors.js";

export type CheckRequest = <Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>) => void;

export function createRequestValidator(validator: Validator = createValidator()): CheckRequest {
  const limitsBySchema = new Map<string, ReadonlyArray<{ field: DescField; maxItems: number }>>();
  const listLimits = (schema: DescMessage) => {
    let limits = limitsBySchema.get(schema.typeName);
    if (!limits) {
      limits = schema.fields.flatMap((f) => {
        if (f.fieldKind !== "list") return [];
        const rules = getOption(f, fieldRules);
        if (rules.type.case !== "repeated" || !isFieldSet(rules.type.value, RepeatedRulesSchema.field.maxItems)) return [];
        return [{ field: f, maxItems: Number(rules.type.value.maxItems) }];
      });
      limitsBySchema.set(schema.typeName, limits);
    }
    return limits;
  };

  return (schema, message) => {
    const result = validator.validate(schema, boundedLists(message, listLimits(schema)));
    if (result.kind === "invalid") throw invalidRequest(result.violations);
    if (result.kind === "error") {
      if (result.error instanceof CompilationError) {
        throw new ConnectError(`the server's validation rules do not compile: ${result.error.message}`, Code.Internal);
      }
      throw syncError(Code.InvalidArgument, ErrorReason.INVALID_ARGUMENT, `cannot validate the request: ${result.error.message}`);
    }
  };
}

/** The message with every over-long list cut to max_items + 1 (a shallow copy, if any is cut). */
function boundedLists<T extends object>(message: T, limits: ReadonlyArray<{ field: DescField; maxItems: number }>): T {
  let bounded: T | undefined;
  for (const { field, maxItems } of limits) {
    const list = (message as Record<string, unknown>)[field.localName] as unknown[];
    if (list.length > maxItems + 1) {
      bounded ??= { ...message };
      (bounded as Record<string, unknown>)[field.localName] = list.slice(0, maxItems + 1);
    }
  }
  return bounded ?? message;
}
