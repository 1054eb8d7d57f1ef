//! The wasm edge: the exported classes and functions, driving the pure core in `crate::oauth`.
//!
//! - `client`: `Configuration`, `ApiClient`, `ApplicationAccessApi`, `AccessApi`;
//! - `auth`: `AvitoAuth`, `parseCallback`;
//! - `random`: `randomState`, and the ids of renewal marks and leases;
//! - `seal`: `sealedStore` (a TokenStore whose records hold no token), its keys;
//! - `scopes`: `requiredScopes`, and the scope facts of a call `tm.fetch` saw refused;
//! - `tokens`: `TokenManager`, `MemoryTokenStore`;
//! - `accounts`: `AccountTokens` (one TokenManager per account, in a bounded cache);
//! - `transport`: one token request to the end (the retry loop), its settings, sending it, its
//!   answer read through one bounded reader, the token as a JS object;
//! - `events`: `onEvent` and the `node:diagnostics_channel` channels (README "Watching your
//!   sellers");
//! - `timing`: the owner of each attempt's AbortController, timer and caller-signal listener;
//! - `options`: option objects read with serde-wasm-bindgen, arguments checked;
//! - `exception`: `EdgeError` (a core failure or a thrown JS value), and the `ApiException` (a
//!   JS class in `js/exception.js`) a failure becomes;
//! - `js`: the JavaScript this crate calls, through `catch` bindings;
//! - `types`: the TypeScript declarations that are not a Rust signature.
//!
//! Every exported method validates its arguments synchronously (async ones return a rejected
//! promise) before a future exists, and no JS exception can unwind through wasm frames. Inside,
//! functions fail with a core `Failure` or an `EdgeError`; it becomes a JS value once, where it
//! leaves: an exported method's `Err` (wasm-bindgen converts it) or the error of the future
//! handed to [`promise`].

use std::future::Future;
use std::pin::Pin;
use wasm_bindgen::JsValue;

mod accounts;
mod auth;
mod client;
mod events;
mod exception;
mod js;
mod options;
mod random;
mod scopes;
mod seal;
mod timing;
mod tokens;
mod transport;
mod types;

/// talc instead of the default dlmalloc: a maintained allocator for wasm, measured 3 KB (gzip)
/// smaller in this build (README "Performance"); it returns freed neighbours to one block, so
/// memory stays flat over a million calls (bench/memory.mjs).
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Every exported async method's future, behind one type: `future_to_promise` is generic over the
/// future, and one instantiation instead of one per method is measurably smaller (README).
type Task = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// The promise an async export returns: the export boundary of a future, whose error is the JS
/// value it rejects with (an `EdgeError` converts by `?`, a core `Failure` by `exception`). Its
/// `ApiException` carries the awaiting caller's frames (the stack it is built on holds only the
/// executor's: wasm frames and glue run from a microtask), found when it fails rather than
/// captured at every call (README "Readable errors").
fn promise(task: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> js_sys::Promise {
    exception::with_caller_stack(wasm_bindgen_futures::future_to_promise(
        Box::pin(task) as Task
    ))
}
