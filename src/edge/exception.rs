//! `ApiException` (the class in `js/exception.js`), built from a core [`Failure`].

use crate::oauth::Failure;
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/exception.js")]
extern "C" {
    #[wasm_bindgen(extends = js_sys::Error)]
    pub type ApiException;
    /// `new ApiException(…)` inside the snippet, so that the top frame of the error (the source
    /// line Node prints above an uncaught error) is a readable line of `exception.js`, not the
    /// minified glue.
    #[wasm_bindgen(js_name = apiException)]
    fn api_exception(kind: &str, message: &str, fields: &JsValue) -> ApiException;
    /// Where the caller is, captured when an async method is called (frames only; formatted
    /// only if the call fails).
    #[wasm_bindgen(js_name = callSite)]
    pub fn call_site() -> JsValue;
    /// Gives an `ApiException` the caller's frames captured by `call_site` (other values pass).
    #[wasm_bindgen(js_name = withCallSite)]
    pub fn with_call_site(error: JsValue, site: &JsValue) -> JsValue;
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
pub fn exception(f: &Failure, retryable: bool) -> JsValue {
    exception_with(f, retryable, f.sign_in_required())
}

pub fn exception_with(f: &Failure, retryable: bool, sign_in_required: bool) -> JsValue {
    let fields = ExceptionFields {
        status: f.status,
        error: f.error.as_deref(),
        error_description: f.error_description.as_deref(),
        retryable,
        retry_after_ms: f.retry_after_ms,
        body: f.body.as_deref(),
        sign_in_required,
    };
    let fields = serde_wasm_bindgen::to_value(&fields).unwrap_or(JsValue::UNDEFINED);
    api_exception(f.kind.as_str(), &f.message(), &fields).into()
}

/// `invalid_argument` with a message.
pub fn invalid(detail: impl Into<String>) -> JsValue {
    exception(&Failure::invalid_argument(detail), false)
}

/// A rejected promise holding `invalid_argument` (async methods reject, never throw).
pub fn rejected(error: JsValue) -> js_sys::Promise {
    js_sys::Promise::reject(&error)
}
