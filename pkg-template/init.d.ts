export * from "./index.js";
/** Loads the wasm: a `WebAssembly.Module`, bytes, a URL/path, a `Response`; default: the .wasm next to init.js. */
export function init(source?: WebAssembly.Module | BufferSource | URL | string | Response | Promise<Response>): Promise<void>;
/** Synchronous variant: a `WebAssembly.Module` or bytes. */
export function initSync(source: WebAssembly.Module | BufferSource): void;
