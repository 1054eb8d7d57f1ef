// Source of node.cjs (bundled to CommonJS at build time): Node.js require().
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { webcrypto } from "node:crypto";
import { initSync } from "./avito_auth.js";
import { ready } from "./api.js";

initSync({ module: readFileSync(join(__dirname, "avito_auth_bg.wasm")) });
ready(globalThis.crypto ?? webcrypto);

export * from "./api.js";
