//! avito-auth: a client for Avito's authorization API (`POST /token`), compiled to WebAssembly.
//!
//! `core` is plain Rust (form encoding, URL validation, response classification, retry
//! decisions, redaction) and is tested natively. `wasm` is the thin boundary that talks to
//! `fetch` and converts values to and from JS; it only exists on `wasm32`.

pub mod core;

#[cfg(target_arch = "wasm32")]
mod wasm;
