// JSON values and the walks over them that server and client share. Each walk
// keeps its own stack instead of recursing: a document is client input, and a
// recursive walk over one nested a few thousand levels deep throws "Maximum
// call stack size exceeded" (JSON.stringify included), which failed whole
// pushes. JSON.parse itself is iterative in V8.
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

const hasOwn = (object: object, key: string) => Object.prototype.hasOwnProperty.call(object, key);

/** Structural equality of JSON values; object key order does not matter. */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  const pending: Array<[JsonValue | undefined, JsonValue | undefined]> = [[a, b]];
  while (pending.length) {
    const [x, y] = pending.pop()!;
    if (x === y) continue;
    if (x === null || y === null || x === undefined || y === undefined || typeof x !== "object" || typeof y !== "object") return false;
    if (Array.isArray(x) !== Array.isArray(y)) return false;
    if (Array.isArray(x)) {
      const ys = y as JsonValue[];
      if (x.length !== ys.length) return false;
      for (let i = 0; i < x.length; i++) pending.push([x[i], ys[i]]);
      continue;
    }
    const xo = x as JsonObject;
    const yo = y as JsonObject;
    const keys = Object.keys(xo);
    if (keys.length !== Object.keys(yo).length) return false;
    for (const key of keys) {
      if (!hasOwn(yo, key)) return false;
      pending.push([xo[key], yo[key]]);
    }
  }
  return true;
}

/** Plain arrays and objects are walked here; anything else is a leaf for JSON.stringify. */
function isContainer(value: unknown): value is object {
  if (value === null || typeof value !== "object" || typeof (value as { toJSON?: unknown }).toJSON === "function") return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * JSON text of a value: the same text as JSON.stringify for JSON values, at any
 * depth. Non-plain objects (a Date, anything with toJSON) are handed to
 * JSON.stringify whole, as a custom resolver's output may contain them.
 */
export function stringifyJson(value: JsonValue): string {
  const parts: string[] = [];
  type Frame = { readonly node: object; readonly keys: readonly string[] | undefined; readonly length: number; next: number; written: number };
  const stack: Frame[] = [];
  const onPath = new Set<object>();
  const open = (node: object) => {
    if (onPath.has(node)) throw new TypeError("cannot convert a circular structure to JSON");
    onPath.add(node);
    const keys = Array.isArray(node) ? undefined : Object.keys(node);
    stack.push({ node, keys, length: keys ? keys.length : (node as unknown[]).length, next: 0, written: 0 });
    parts.push(keys ? "{" : "[");
  };
  if (isContainer(value)) open(value);
  else {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`${typeof value} is not a JSON value`);
    return text;
  }
  while (stack.length) {
    const frame = stack[stack.length - 1]!;
    if (frame.next === frame.length) {
      parts.push(frame.keys ? "}" : "]");
      onPath.delete(frame.node);
      stack.pop();
      continue;
    }
    const i = frame.next++;
    const separator = frame.written++ ? "," : "";
    if (frame.keys) {
      const key = frame.keys[i]!;
      const child = (frame.node as Record<string, unknown>)[key];
      const prefix = `${separator}${JSON.stringify(key)}:`;
      if (isContainer(child)) {
        parts.push(prefix);
        open(child);
      } else {
        const text = JSON.stringify(child);
        if (text === undefined) frame.written--; // JSON leaves out undefined, functions and symbols
        else parts.push(prefix, text);
      }
    } else {
      const child = (frame.node as unknown[])[i];
      parts.push(separator);
      if (isContainer(child)) open(child);
      else parts.push(JSON.stringify(child) ?? "null");
    }
  }
  return parts.join("");
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Whether JSON text nests objects and arrays more than `limit` levels deep
 * (`{}` is one level, `{"a":[]}` two). One pass over the text, before any
 * parse: the check itself cannot overflow, and refuses a hostile document
 * before it is built in memory. On text that is not JSON the answer is
 * meaningless but safe.
 */
export function nestingExceeds(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = closingQuote(text, i);
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/** Index of the quote closing the string opened at `start`, or the text's end. */
function closingQuote(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}
