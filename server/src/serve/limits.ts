// Defaults of the limits that keep clients from exhausting the server (flags
// in cli.ts, documented in the README's "Limits and timeouts").

export const DEFAULT_MAX_DISCARD_BYTES = 64 * 1024 * 1024;
