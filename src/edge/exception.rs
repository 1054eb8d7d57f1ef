//! The edge's one error type, [`EdgeError`], and the `ApiException` (the class in
//! `js/exception.js`, bound in `js.rs`) it becomes at the export boundary: an exported method's
//! `Result`, or the promise of `super::promise`.

use super::js;
use crate::oauth::failure::{Failure, Kind};
use crate::oauth::text::concat_str;
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// What an edge function fails with.
pub enum EdgeError {
    /// A core failure (redacted where it holds outside text): an `ApiException` once it leaves.
    /// Boxed: a `Result` that carries it stays two words wide, so the many `?` between an
    /// argument check and the export move and drop a pointer, not the failure (wasm size).
    Core(Box<Failure>),
    /// A JavaScript value, thrown as it is: what a caller's fetch, store or callback threw, or an
    /// `ApiException` built already.
    Thrown(JsValue),
}

impl EdgeError {
    /// `invalid_argument` with a message, given in parts (joined without the `format!`
    /// machinery: these refusals are many, and each `format!` costs wasm).
    pub fn invalid(parts: &[&str]) -> EdgeError {
        Failure::invalid_argument(concat_str(parts)).into()
    }
}

impl From<Failure> for EdgeError {
    fn from(f: Failure) -> EdgeError {
        EdgeError::Core(Box::new(f))
    }
}

impl From<JsValue> for EdgeError {
    fn from(thrown: JsValue) -> EdgeError {
        EdgeError::Thrown(thrown)
    }
}

/// The one conversion into what JavaScript sees (wasm-bindgen applies it to an exported method's
/// `Err`).
impl From<EdgeError> for JsValue {
    // Called, not copied, at every export that can fail.
    #[inline(never)]
    fn from(e: EdgeError) -> JsValue {
        match e {
            EdgeError::Core(f) => exception(&f),
            EdgeError::Thrown(thrown) => thrown,
        }
    }
}

/// The fields of an `ApiException` beside `kind` and `message`, with their JS names.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct ExceptionFields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
    retryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    sign_in_required: bool,
}

/// The `ApiException` for a failure that is already free of secrets.
pub fn exception(f: &Failure) -> JsValue {
    let shown = f.shown();
    let fields = ExceptionFields {
        status: shown.status,
        error: shown.error,
        error_description: shown.error_description,
        retryable: shown.retryable,
        retry_after_ms: shown.retry_after_ms,
        body: shown.body,
        sign_in_required: f.sign_in_required(),
    };
    let fields = match serde_wasm_bindgen::to_value(&fields) {
        Ok(fields) => fields,
        // Plain data cannot fail to serialize today; if it ever does, the caller still gets an
        // ApiException, with the kind and message, never `undefined` or a bare JS error.
        Err(_) => JsValue::UNDEFINED,
    };
    construct(f.kind(), &f.message(), &fields)
}

fn construct(kind: Kind, message: &str, fields: &JsValue) -> JsValue {
    match js::api_exception(kind.as_str(), message, fields) {
        Ok(e) => e.into(),
        // Our own class's constructor does not throw; should the module be broken, a plain
        // Error with the same words is still an Error, not a throw through wasm.
        Err(_) => js_sys::Error::new(message).into(),
    }
}

/// A result value serde-wasm-bindgen could not build: the call fails as `invalid_response`
/// instead of resolving to `undefined`.
pub fn unserializable(what: &str) -> EdgeError {
    Failure::invalid_response(concat_str(&[
        "the ",
        what,
        " could not be converted to a JavaScript value",
    ]))
    .into()
}

/// `invalid_argument` with a message, as an `ApiException`, for the code that still hands
/// `JsValue` errors around (`tokens`, `accounts`); the rest returns [`EdgeError`]s.
pub fn invalid(detail: impl Into<String>) -> JsValue {
    exception(&Failure::invalid_argument(detail))
}

/// A rejected promise (async methods reject, never throw).
pub fn rejected(error: impl Into<JsValue>) -> js_sys::Promise {
    js_sys::Promise::reject(&error.into())
}

/// `promise`, with the awaiting caller's frames on the `ApiException` it may reject with; a
/// snippet that throws leaves the promise as it is.
pub fn with_caller_stack(promise: js_sys::Promise) -> js_sys::Promise {
    js::with_caller_stack(&promise).unwrap_or(promise)
}
