// The public API: every class and function is an export of the Rust crate (wasm-bindgen glue in
// avito_auth.js); ApiException is the crate's own JS snippet (exception.js re-exports it from
// where wasm-bindgen put it). Each runtime entry loads the one .wasm, then re-exports this list.
export { AccessApi, AccountTokens, ApiClient, ApplicationAccessApi, AvitoAuth, Configuration, MemoryTokenStore, TokenManager, parseCallback, randomState, requiredScopes, sealedStore, SealedStore } from "./avito_auth.js";
export { ApiException } from "./exception.js";
