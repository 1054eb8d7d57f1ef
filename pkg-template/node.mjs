// Node.js (ESM), Deno and Bun: the .wasm next to this file, read and compiled synchronously.
import { readFileSync } from "node:fs";
import { webcrypto } from "node:crypto";
import * as diagnostics from "node:diagnostics_channel";
import { initSync, __setCrypto, __setDiagnostics } from "./avito_auth.js";

initSync({ module: readFileSync(new URL("./avito_auth_bg.wasm", import.meta.url)) });
// Node 18 has no global crypto in every mode; randomState() and lease ids need one.
__setCrypto(globalThis.crypto ?? webcrypto);
// Events go to node:diagnostics_channel too (README "Watching your sellers").
__setDiagnostics(diagnostics);

export * from "./api.js";
