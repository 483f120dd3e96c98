// The sync checkpoint: opaque bytes from the engine, stored as base64 text.
import { META, type BatchOp } from "./records.js";
import type { LevelLike } from "./storage.js";

export async function readCheckpoint(level: LevelLike): Promise<Uint8Array | undefined> {
  const text = await level.get(META.checkpoint);
  return text === undefined || text === null ? undefined : base64ToBytes(text);
}

/** Stores the checkpoint; goes in the same batch as the changes it follows (PROTOCOL §9.4). */
export function checkpointOp(checkpoint: Uint8Array): BatchOp {
  return { type: "put", key: META.checkpoint, value: bytesToBase64(checkpoint) };
}

function bytesToBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function base64ToBytes(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
