//! The wasm boundary: JS values in; form bodies, plain token objects, `ApiException`s and retry
//! delays out. The awaits (fetch, body, timers) are the JS side's (pkg-template/api.js).

mod allocator;
mod engine;
mod js;

use crate::core::{url, Failure, Kind};
use alloc::{string::String, vec};
use core::cell::RefCell;
use js_sys::Function;
use wasm_bindgen::prelude::*;

/// A panic traps at once, without building its message: nothing calls `core::fmt`, so it is not
/// in the binary. (The instance is unusable after a trap, as after any wasm panic; no panic is
/// reachable from JS — `tests/rust/no_panic.rs` and the JS tests exercise that.)
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// A value for this single-threaded module (wasm32-unknown-unknown has no threads here).
struct Slot<T>(RefCell<Option<T>>);
// SAFETY: the module runs on one thread; JS values never cross threads.
unsafe impl<T> Sync for Slot<T> {}

impl<T> Slot<T> {
    const fn empty() -> Self {
        Slot(RefCell::new(None))
    }
    fn put(&self, value: T) {
        if let Ok(mut slot) = self.0.try_borrow_mut() {
            *slot = Some(value);
        }
    }
    fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.0.try_borrow().ok().and_then(|slot| slot.as_ref().map(f))
    }
}

#[wasm_bindgen]
extern "C" {
    /// `(access_token, expires_in | -1, token_type?, refresh_token?, scope?, expires_at | -1) => TokenSet`,
    /// called through `Function.prototype.call` with typed arguments: one crossing per result.
    pub type TokenFactory;
    #[wasm_bindgen(method, js_name = call)]
    fn make(this: &TokenFactory, ctx: &JsValue, access_token: &str, expires_in: f64, token_type: Option<&str>, refresh_token: Option<&str>, scope: Option<&str>, expires_at: f64) -> JsValue;

    /// `(kind, detail, status | -1, error?, errorDescription?, retryable, retryAfterMs | -1, body?) => ApiException`.
    pub type ErrorFactory;
    #[wasm_bindgen(method, js_name = call)]
    #[allow(clippy::too_many_arguments)]
    fn make(this: &ErrorFactory, ctx: &JsValue, kind: &str, detail: &str, status: f64, error: Option<&str>, description: Option<&str>, retryable: bool, retry_after_ms: f64, body: Option<&str>) -> JsValue;
}

static ERROR_FACTORY: Slot<ErrorFactory> = Slot::empty();
static TOKEN_FACTORY: Slot<TokenFactory> = Slot::empty();

/// Registers the JS functions that build an `ApiException` from failure fields and a plain
/// token object from its fields.
#[wasm_bindgen(js_name = setFactories)]
pub fn set_factories(error: Function, token: Function) {
    ERROR_FACTORY.put(error.unchecked_into());
    TOKEN_FACTORY.put(token.unchecked_into());
}

pub(crate) fn make_token(access_token: &str, expires_in: f64, token_type: Option<&str>, refresh_token: Option<&str>, scope: Option<&str>, expires_at: f64) -> JsValue {
    TOKEN_FACTORY
        .with(|make| make.make(&JsValue::UNDEFINED, access_token, expires_in, token_type, refresh_token, scope, expires_at))
        .unwrap_or(JsValue::UNDEFINED)
}

/// The `ApiException` for a failure (through the factory the JS side registered).
pub(crate) fn to_js_error(f: &Failure, retryable: bool) -> JsValue {
    let made = ERROR_FACTORY.with(|make| {
        make.make(
            &JsValue::UNDEFINED,
            f.kind.as_str(),
            &f.detail,
            f.status.map_or(-1.0, |s| s as f64),
            f.error.as_deref(),
            f.error_description.as_deref(),
            retryable,
            f.retry_after_ms.map_or(-1.0, |ms| ms as f64),
            f.body.as_deref(),
        )
    });
    made.unwrap_or_else(|| js_sys::Error::new(&f.detail).into())
}

pub(crate) fn invalid(detail: &str) -> JsValue {
    to_js_error(&Failure::new(Kind::InvalidArgument, detail), false)
}

/// Validates a base URL (the `host` or the authorization page); returns it normalised.
#[wasm_bindgen(js_name = normalizeBaseUrl)]
pub fn normalize_base_url(value: JsValue, name: &str) -> Result<String, JsValue> {
    let s = value.as_string().ok_or_else(|| invalid(&crate::core::concat_str(&[name, " ", url::BAD_URL])))?;
    url::normalize_base(&s).map_err(|why| invalid(&crate::core::concat_str(&[name, " ", why])))
}

/// `base?response_type=code&client_id=…&scope=…&state=…[&redirect_uri=…]`.
#[wasm_bindgen(js_name = authorizationUrl)]
pub fn authorization_url(base: &str, client_id: &str, scope: &str, state: &str, redirect_uri: Option<String>) -> String {
    let mut pairs = vec![("response_type", "code"), ("client_id", client_id), ("scope", scope), ("state", state)];
    if let Some(uri) = redirect_uri.as_deref() {
        pairs.push(("redirect_uri", uri));
    }
    crate::core::concat_str(&[base, "?", &crate::core::form::encode_query(&pairs)])
}
