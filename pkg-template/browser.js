// Browsers and bundlers (Vite, webpack 5, Rollup): the .wasm is an asset next to this module.
import init from "./avito_auth.js";

await init({ module_or_path: new URL("./avito_auth_bg.wasm", import.meta.url) });

export * from "./api.js";
