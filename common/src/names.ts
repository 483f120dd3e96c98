// The schema's name rules (docs/PROTOCOL.md §14), for code that checks names
// outside a request: the client at write time, the server's token parsers.
export const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
export const DOCUMENT_ID = /^[A-Za-z0-9._~:@+=/-]{1,256}$/;
