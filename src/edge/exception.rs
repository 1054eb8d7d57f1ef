//! `ApiException` (the class in `js/exception.js`, bound in `js.rs`), built from a core
//! [`Failure`].

use super::js;
use crate::oauth::{Failure, Kind};
use serde::Serialize;
use wasm_bindgen::prelude::*;

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
    let fields = ExceptionFields {
        status: f.status,
        error: f.error.as_deref(),
        error_description: f.error_description.as_deref(),
        retryable: f.retryable,
        retry_after_ms: f.retry_after_ms,
        body: f.body.as_deref(),
        sign_in_required: f.sign_in_required(),
    };
    let fields = match serde_wasm_bindgen::to_value(&fields) {
        Ok(fields) => fields,
        // Plain data cannot fail to serialize today; if it ever does, the caller still gets an
        // ApiException, with the kind and message, never `undefined` or a bare JS error.
        Err(_) => JsValue::UNDEFINED,
    };
    construct(f.kind, &f.message(), &fields)
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
pub fn unserializable(what: &str) -> JsValue {
    exception(&Failure::new(
        Kind::InvalidResponse,
        format!("the {what} could not be converted to a JavaScript value"),
    ))
}

/// `invalid_argument` with a message.
pub fn invalid(detail: impl Into<String>) -> JsValue {
    exception(&Failure::invalid_argument(detail))
}

/// A rejected promise holding `invalid_argument` (async methods reject, never throw).
pub fn rejected(error: JsValue) -> js_sys::Promise {
    js_sys::Promise::reject(&error)
}

/// `promise`, with the awaiting caller's frames on the `ApiException` it may reject with; a
/// snippet that throws leaves the promise as it is.
pub fn with_caller_stack(promise: js_sys::Promise) -> js_sys::Promise {
    js::with_caller_stack(&promise).unwrap_or(promise)
}
