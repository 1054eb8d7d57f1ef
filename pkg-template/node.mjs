// Node.js (ESM), Deno and Bun: the .wasm next to this file, read and compiled synchronously.
import { readFileSync } from "node:fs";
import { webcrypto } from "node:crypto";
import { initSync } from "./avito_auth.js";
import { ready } from "./api.js";

initSync({ module: readFileSync(new URL("./avito_auth_bg.wasm", import.meta.url)) });
ready(globalThis.crypto ?? webcrypto);

export * from "./api.js";
