//! The wasm boundary: JS values in; form bodies, plain token objects, `ApiException`s and retry
//! delays out. The awaits (fetch, body, timers) are the JS side's (pkg-template/api.js).

mod alloc;
mod engine;
mod js;

use crate::core::{url, Failure, Kind};
use js_sys::Function;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

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

thread_local! {
    static ERROR_FACTORY: RefCell<Option<ErrorFactory>> = const { RefCell::new(None) };
    static TOKEN_FACTORY: RefCell<Option<TokenFactory>> = const { RefCell::new(None) };
}

/// Registers the JS functions that build an `ApiException` from failure fields and a plain
/// token object from its fields.
#[wasm_bindgen(js_name = setFactories)]
pub fn set_factories(error: Function, token: Function) {
    ERROR_FACTORY.with(|f| {
        if let Ok(mut slot) = f.try_borrow_mut() {
            *slot = Some(error.unchecked_into());
        }
    });
    TOKEN_FACTORY.with(|f| {
        if let Ok(mut slot) = f.try_borrow_mut() {
            *slot = Some(token.unchecked_into());
        }
    });
}

pub(crate) fn make_token(access_token: &str, expires_in: f64, token_type: Option<&str>, refresh_token: Option<&str>, scope: Option<&str>, expires_at: f64) -> JsValue {
    TOKEN_FACTORY.with(|f| match f.try_borrow().ok().as_ref().and_then(|slot| slot.as_ref()) {
        Some(make) => make.make(&JsValue::UNDEFINED, access_token, expires_in, token_type, refresh_token, scope, expires_at),
        None => JsValue::UNDEFINED,
    })
}

/// The `ApiException` for a failure (through the factory the JS side registered).
pub(crate) fn to_js_error(f: &Failure, retryable: bool) -> JsValue {
    let made = ERROR_FACTORY.with(|factory| {
        factory.try_borrow().ok().and_then(|slot| {
            slot.as_ref().map(|make| {
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
            })
        })
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
