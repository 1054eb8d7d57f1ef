//! The wasm edge: the exported classes and functions, driving the pure core in `crate::oauth`.
//!
//! - `client`: `Configuration`, `ApiClient`, `ApplicationAccessApi`, `AccessApi`;
//! - `auth`: `AvitoAuth`, `parseCallback`, `randomState`;
//! - `tokens`: `TokenManager`, `MemoryTokenStore`;
//! - `transport`: one token request through gloo-net, awaited with wasm-bindgen-futures;
//! - `timing`: the owner of each attempt's AbortController, timer and caller-signal listener;
//! - `options`: option objects read with serde-wasm-bindgen, arguments checked;
//! - `exception`: `ApiException` (a JS class in `js/exception.js`) built from a core failure;
//! - `js`: every JavaScript call this crate makes, through `catch` bindings.
//!
//! Every exported method validates its arguments synchronously (async ones return a rejected
//! promise) before a future exists, and no JS exception can unwind through wasm frames.

mod auth;
mod client;
mod exception;
mod js;
mod options;
mod timing;
mod tokens;
mod transport;
mod types;
