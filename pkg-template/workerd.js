// Cloudflare Workers (workerd) and other hosts whose bundlers import .wasm as a compiled
// WebAssembly.Module (wrangler's default CompiledWasm rule).
import wasmModule from "./avito_auth_bg.wasm";
import { initSync, __setDiagnostics } from "./avito_auth.js";

initSync({ module: wasmModule });
// With the nodejs_compat flag, node:diagnostics_channel is there without an import (an import
// would not build without the flag): events are published on it then.
const diagnostics = globalThis.process?.getBuiltinModule?.("node:diagnostics_channel");
if (diagnostics) __setDiagnostics(diagnostics);

export * from "./api.js";
