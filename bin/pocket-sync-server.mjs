#!/usr/bin/env node
// The installed command: runs the TypeScript CLI through tsx's loader.
import { register } from "tsx/esm/api";

register();
await import("../server/src/serve/cli.ts");
