// Explicit initialisation, for hosts that load the .wasm themselves:
//   import { init, AvitoAuth } from "avito-auth/init";
//   await init(wasmModuleOrBytesOrUrlOrResponse);
import wasmInit, { initSync as wasmInitSync } from "./avito_auth.js";

export async function init(source) {
  await wasmInit(source === undefined ? undefined : { module_or_path: source });
}

export function initSync(source) {
  wasmInitSync({ module: source });
}

export * from "./api.js";
