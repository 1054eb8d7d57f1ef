// Cloudflare Workers (workerd) and other hosts whose bundlers import .wasm as a compiled
// WebAssembly.Module (wrangler's default CompiledWasm rule).
import wasmModule from "./avito_auth_bg.wasm";
import { initSync } from "./avito_auth.js";

initSync({ module: wasmModule });

export * from "./api.js";
