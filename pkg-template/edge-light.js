// Vercel Edge Functions and the Next.js edge runtime ("edge-light" condition): their bundler
// imports WebAssembly as a compiled module with the `?module` suffix.
import wasmModule from "./avito_auth_bg.wasm?module";
import { initSync } from "./avito_auth.js";

initSync({ module: wasmModule });

export * from "./api.js";
