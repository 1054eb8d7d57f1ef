// Explicit initialisation, for hosts that load the .wasm themselves:
//   import { init, AvitoAuth } from "avito-auth/init";
//   await init(wasmModuleOrBytesOrUrlOrResponse);
import wasmInit, { initSync as wasmInitSync } from "./avito_auth.js";
import { ready } from "./api.js";

export async function init(source) {
  await wasmInit(source === undefined ? undefined : { module_or_path: source });
  ready();
}

export function initSync(source) {
  wasmInitSync({ module: source });
  ready();
}

export * from "./api.js";
