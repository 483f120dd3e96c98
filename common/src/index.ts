// Logic both the server and the client need, in one place.
export * from "./hlc.js";
export * from "./json.js";
export * from "./documents.js";
export * from "./names.js";
export * from "./conflicts.js";
export * from "./errors.js";
