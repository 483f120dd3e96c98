// The runner's side of the control protocol (proto/pocket/conformance/v1):
// starts a client under test and sends it length-prefixed ClientRequests.
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { spawn, type ChildProcess } from "node:child_process";
import {
  ClientRequestSchema,
  ClientResponseSchema,
  ConflictStrategy,
  CrashPoint,
  SyncMode,
  type ClientResponse,
  type ConfigureResult,
  type Document,
  type GetStatusResult,
  type SyncNowResult,
} from "../../gen/ts/pocket/conformance/v1/control_pb.js";
import { CheckFailure, Skip } from "./wire.js";

export { ConflictStrategy, CrashPoint, SyncMode };

type Command = MessageInitShape<typeof ClientRequestSchema>["command"];

/** Encodes one frame: 4-byte big-endian length, then the message. */
export function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + bytes.length);
  out.writeUInt32BE(bytes.length, 0);
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).copy(out, 4);
  return out;
}

/** Splits a byte stream into frames. */
export class FrameReader {
  private buffer = Buffer.alloc(0);
  push(chunk: Buffer): Uint8Array[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const frames: Uint8Array[] = [];
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0);
      if (this.buffer.length < 4 + length) break;
      frames.push(new Uint8Array(this.buffer.subarray(4, 4 + length)));
      this.buffer = this.buffer.subarray(4 + length);
    }
    return frames;
  }
}

/** A failed command of the client under test (ClientResponse.error). */
export class CommandError extends Error {
  override name = "CommandError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export class ControlledClient {
  private readonly child: ChildProcess;
  private nextId = 1n;
  private readonly waiting = new Map<bigint, { resolve: (r: ClientResponse) => void; reject: (e: Error) => void }>();
  private exited: string | undefined;
  stderr = "";
  info: ConfigureResult | undefined;

  constructor(
    readonly name: string,
    command: readonly string[],
    private readonly log?: (line: string) => void,
  ) {
    const [program, ...args] = command;
    this.child = spawn(program!, args, { stdio: ["pipe", "pipe", "pipe"] });
    const reader = new FrameReader();
    this.child.stdout!.on("data", (chunk: Buffer) => {
      for (const bytes of reader.push(chunk)) {
        let response: ClientResponse;
        try {
          response = fromBinary(ClientResponseSchema, bytes);
        } catch (error) {
          this.failAll(`the client wrote a frame that is not a ClientResponse: ${String(error)}`);
          continue;
        }
        const w = this.waiting.get(response.requestId);
        this.waiting.delete(response.requestId);
        w?.resolve(response);
      }
    });
    this.child.stderr!.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      this.stderr = (this.stderr + text).slice(-20_000);
      if (log) for (const line of text.split("\n").filter(Boolean)) log(`[${name}] ${line}`);
    });
    this.child.stdin!.on("error", () => {});
    this.child.once("error", (error) => this.failAll(`the client could not start: ${error.message}`));
    this.child.once("exit", (code, signal) => this.failAll(`the client exited (${code ?? signal})`));
  }

  private failAll(reason: string): void {
    this.exited ??= reason;
    for (const w of this.waiting.values()) w.reject(new CheckFailure(`${this.name}: ${reason}\n${this.stderr.slice(-2000)}`));
    this.waiting.clear();
  }

  async send(command: Command, timeoutMs = 30_000): Promise<ClientResponse> {
    if (this.exited) throw new CheckFailure(`${this.name}: ${this.exited}\n${this.stderr.slice(-2000)}`);
    const requestId = this.nextId++;
    const request = create(ClientRequestSchema, { requestId, command });
    const response = new Promise<ClientResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(requestId);
        reject(new CheckFailure(`${this.name}: no answer to ${command?.case} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(requestId, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
    this.child.stdin!.write(frame(toBinary(ClientRequestSchema, request)));
    return response;
  }

  private async expect<T>(command: Command, kind: NonNullable<ClientResponse["result"]["case"]>, timeoutMs?: number): Promise<T> {
    const response = await this.send(command, timeoutMs);
    if (response.result.case === "error") throw new CommandError(response.result.value.code, response.result.value.message);
    if (response.result.case !== kind) throw new CheckFailure(`${this.name}: answered ${command?.case} with ${response.result.case ?? "nothing"}`);
    return response.result.value as T;
  }

  async configure(init: MessageInitShape<typeof ClientRequestSchema>["command"] & { case: "configure" }): Promise<ConfigureResult> {
    this.info = await this.expect<ConfigureResult>(init, "configure");
    return this.info;
  }

  async write(collection: string, documentId: string, document: unknown): Promise<void> {
    const text = typeof document === "string" ? document : JSON.stringify(document);
    await this.expect({ case: "writeDocument", value: { collection, documentId, document: text } }, "writeDocument");
  }

  async delete(collection: string, documentId: string): Promise<void> {
    await this.expect({ case: "deleteDocument", value: { collection, documentId } }, "deleteDocument");
  }

  async read(collection: string, documentId = ""): Promise<Document[]> {
    return (await this.expect<{ documents: Document[] }>({ case: "readDocuments", value: { collection, documentId } }, "readDocuments")).documents;
  }

  async readOne(collection: string, documentId: string): Promise<Document | undefined> {
    return (await this.read(collection, documentId)).find((d) => !d.deleted);
  }

  async syncNow(timeoutMs = 30_000): Promise<SyncNowResult> {
    return this.expect<SyncNowResult>({ case: "syncNow", value: {} }, "syncNow", timeoutMs);
  }

  /** SyncNow until it succeeds (a client may report injected faults as errors). */
  async syncUntilOk(attempts = 10): Promise<SyncNowResult> {
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        return await this.syncNow();
      } catch (error) {
        if (!(error instanceof CommandError)) throw error;
        last = error;
        await new Promise((r) => setTimeout(r, 100 * (i + 1)));
      }
    }
    throw new CheckFailure(`${this.name}: sync_now still failing after ${attempts} attempts: ${String(last)}`);
  }

  async setOnline(online: boolean): Promise<void> {
    await this.expect({ case: "setOnline", value: { online } }, "setOnline");
  }

  /** Arms a crash at `point` of a later sync (Crash); `unimplemented` skips the case. */
  async armCrash(point: CrashPoint): Promise<void> {
    try {
      await this.expect({ case: "crash", value: { point } }, "crash");
    } catch (error) {
      if (error instanceof CommandError && error.code === "unimplemented") throw new Skip(`the client does not implement Crash: ${error.message}`);
      throw error;
    }
  }

  /** Why the process ended, once it has (undefined while it runs). */
  get exitReason(): string | undefined {
    return this.exited;
  }

  async status(): Promise<GetStatusResult> {
    return this.expect<GetStatusResult>({ case: "getStatus", value: {} }, "getStatus");
  }

  /** Asks the client to exit; kills it if it does not. */
  async shutdown(): Promise<void> {
    if (!this.exited) {
      const exited = new Promise((r) => this.child.once("exit", r));
      try {
        await this.expect({ case: "shutdown", value: {} }, "shutdown", 10_000);
      } catch {
        // fall through to the kill below
      }
      this.child.stdin!.end();
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
      if (this.child.exitCode === null && this.child.signalCode === null) await exited;
      clearTimeout(timer);
    }
  }

  /** kill -9, as in a crash. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGKILL");
    await exited;
  }
}
