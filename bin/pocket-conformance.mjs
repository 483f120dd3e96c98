#!/usr/bin/env node
// The installed command: runs the TypeScript conformance runner through tsx's loader.
import { register } from "tsx/esm/api";

register();
await import("../conformance/src/cli.ts");
