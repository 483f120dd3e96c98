// Errors on the wire (docs/PROTOCOL.md §11): a Connect code plus
// google.rpc.ErrorInfo (domain + ErrorReason name) and, for bad input,
// google.rpc.BadRequest field violations.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  type BadRequest_FieldViolation,
} from "../../gen/ts/google/rpc/error_details_pb.js";
import { ErrorReason } from "../../gen/ts/pocket/sync/v1/sync_pb.js";

export const ERROR_DOMAIN = "sync.pocket.dev";

export function reasonName(reason: ErrorReason): string {
  return `ERROR_REASON_${ErrorReason[reason]}`;
}

export interface FieldProblem {
  readonly field: string;
  readonly description: string;
}

export function syncError(
  code: Code,
  reason: ErrorReason,
  message: string,
  options: { fields?: readonly FieldProblem[]; metadata?: Record<string, string> } = {},
): ConnectError {
  const details = [
    { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: reasonName(reason), domain: ERROR_DOMAIN, metadata: options.metadata ?? {} }) },
  ] as ConstructorParameters<typeof ConnectError>[3] & object[];
  if (options.fields?.length) {
    details.push({
      desc: BadRequestSchema,
      value: create(BadRequestSchema, {
        fieldViolations: options.fields.map((f) => ({ field: f.field, description: f.description })),
      }),
    });
  }
  return new ConnectError(message, code, undefined, details);
}

/** The ErrorInfo of a sync error, if it has one from our domain. */
export function errorInfo(error: unknown): { reason: string; metadata: Record<string, string> } | undefined {
  const connectError = ConnectError.from(error);
  for (const info of connectError.findDetails(ErrorInfoSchema)) {
    if (info.domain === ERROR_DOMAIN) return { reason: info.reason, metadata: { ...info.metadata } };
  }
  return undefined;
}

export function fieldViolations(error: unknown): BadRequest_FieldViolation[] {
  return ConnectError.from(error).findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations);
}

export function isReason(error: unknown, reason: ErrorReason): boolean {
  return errorInfo(error)?.reason === reasonName(reason);
}
