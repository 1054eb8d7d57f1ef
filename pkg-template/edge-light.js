// Vercel Edge Functions and the Next.js edge runtime ("edge-light" condition): their bundler
// imports WebAssembly as a compiled module with the `?module` suffix.
import wasmModule from "./avito_auth_bg.wasm?module";
import { initSync } from "./avito_auth.js";
import { ready } from "./api.js";

initSync({ module: wasmModule });
ready();

export * from "./api.js";
