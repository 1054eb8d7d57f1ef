// Source of node.cjs (bundled to CommonJS at build time): Node.js require().
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { webcrypto } from "node:crypto";
import * as diagnostics from "node:diagnostics_channel";
import { initSync, __setCrypto, __setDiagnostics } from "./avito_auth.js";

initSync({ module: readFileSync(join(__dirname, "avito_auth_bg.wasm")) });
__setCrypto(globalThis.crypto ?? webcrypto);
__setDiagnostics(diagnostics);

export * from "./api.js";
