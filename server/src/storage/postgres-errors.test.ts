// Which failures of PostgreSQL mean "retry later", and which must keep their
// identity (a defect is never disguised as an outage).
import { describe, expect, it } from "vitest";
import { StorageUnavailableError } from "./errors.js";
import { classify, isUnavailable } from "./postgres-errors.js";

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code });

describe("classifying PostgreSQL errors", () => {
  it.each([
    ["a terminated backend (57P01)", pgError("57P01", "terminating connection due to administrator command")],
    ["a database starting up (57P03)", pgError("57P03", "the database system is starting up")],
    ["a database shutting down (57P03)", pgError("57P03", "the database system is shutting down")],
    ["a crash (57P02)", pgError("57P02", "terminating connection because of crash of another server process")],
    ["a connection failure (class 08)", pgError("08006", "connection failure")],
    ["a refused connection", socketError("ECONNREFUSED")],
    ["a reset connection", socketError("ECONNRESET")],
    ["every address refused (AggregateError)", Object.assign(new AggregateError([socketError("ECONNREFUSED"), socketError("ECONNREFUSED")]), { code: "ECONNREFUSED" })],
    ["a connection lost mid-query", new Error("Connection terminated unexpectedly")],
    ["a pool out of connections", new Error("timeout exceeded when trying to connect")],
    ["a statement timeout (57014)", pgError("57014", "canceling statement due to statement timeout")],
    ["too many connections (53300)", pgError("53300", "sorry, too many clients already")],
    ["a cause deep down", new Error("query failed", { cause: pgError("57P01", "terminating connection") })],
  ])("%s is unavailable", (_what, error) => {
    expect(isUnavailable(error)).toBe(true);
    const classified = classify(error);
    expect(classified).toBeInstanceOf(StorageUnavailableError);
    expect((classified as Error).message).toMatch(/^the PostgreSQL database is unavailable: /);
    expect((classified as Error).cause).toBe(error);
  });

  it.each([
    ["a unique violation (23505)", pgError("23505", "duplicate key value violates unique constraint")],
    ["a missing table (42P01)", pgError("42P01", 'relation "x" does not exist')],
    ["bad text (22021)", pgError("22021", "invalid byte sequence for encoding UTF8: 0x00")],
    ["a wrong password (28P01)", pgError("28P01", "password authentication failed for user")],
    ["a plain bug", new TypeError("cannot read properties of undefined")],
  ])("%s keeps its identity", (_what, error) => {
    expect(isUnavailable(error)).toBe(false);
    expect(classify(error)).toBe(error);
  });
});
