//! avito-auth: a client for Avito's authorization API (`POST /token`), compiled to WebAssembly.
//!
//! - [`oauth`] is plain Rust with no JS types, tested natively: what to send (form bodies,
//!   URLs, argument rules), what an answer or a failure means (classification of serde-read
//!   bodies, rejected fetches), whether to try again (retry policy), what may be shown
//!   (redaction), when a token is fresh, what an authorization callback says.
//! - `edge` (wasm32 only) drives it from JavaScript: the exported classes, options read with
//!   serde-wasm-bindgen, the request issued through gloo-net and awaited with
//!   wasm-bindgen-futures, results and `ApiException`s handed back as JS values.

pub mod oauth;

#[cfg(target_arch = "wasm32")]
mod edge;
