//! The few platform bindings the boundary needs, and cached JS strings for hot keys.
//! Every call that can throw on user input goes through `Reflect`/`Function::call*`, which
//! return `Result`, so a JS exception never unwinds through Rust.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(f: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue);
}

macro_rules! keys {
    ($($field:ident = $text:expr),* $(,)?) => {
        pub struct Keys { $(pub $field: JsValue,)* }
        impl Keys { fn new() -> Keys { Keys { $($field: JsValue::from_str($text),)* } } }
    };
}

keys! {
    abort = "abort", aborted = "aborted", add = "addEventListener", remove = "removeEventListener",
    method = "method", post = "POST", headers = "headers", body = "body", signal = "signal",
    redirect = "redirect", manual = "manual", status = "status", get = "get", text = "text",
    retry_after = "retry-after", content_length = "content-length", fetch = "fetch",
    message = "message", code = "code", cause = "cause", abort_controller = "AbortController",
    access_token = "access_token", expires_in = "expires_in", token_type = "token_type",
    refresh_token = "refresh_token", scope = "scope", expires_at = "expires_at",
}

thread_local! {
    static KEYS: Keys = Keys::new();
}

pub fn with_keys<R>(f: impl FnOnce(&Keys) -> R) -> R {
    KEYS.with(f)
}

pub fn get(target: &JsValue, key: &JsValue) -> JsValue {
    if target.is_object() || target.is_function() {
        Reflect::get(target, key).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

pub fn set(target: &JsValue, key: &JsValue, value: &JsValue) {
    let _ = Reflect::set(target, key, value);
}

/// `target[key](args…)`, any throw or missing method as `Err`.
pub fn call_method(target: &JsValue, key: &JsValue, args: &[&JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = get(target, key).dyn_into().map_err(|_| JsValue::UNDEFINED)?;
    match args {
        [] => f.call0(target),
        [a] => f.call1(target, a),
        [a, b] => f.call2(target, a, b),
        [a, b, c] => f.call3(target, a, b, c),
        _ => Err(JsValue::UNDEFINED),
    }
}

/// A promise that rejects when `signal` fires, and its reject function (for removal).
pub fn rejects_on_abort(signal: &JsValue) -> (Promise, JsValue) {
    let mut reject = JsValue::UNDEFINED;
    let p = Promise::new(&mut |_, rej| {
        with_keys(|k| {
            let _ = call_method(signal, &k.add, &[&k.abort, &rej]);
        });
        reject = rej.into();
    });
    // Never an unhandled rejection, even when nobody races it any more.
    let _ = call_method(&p, &JsValue::from_str("catch"), &[&noop()]);
    (p, reject)
}

/// The global `Boolean`, used as a no-op rejection handler (no `new Function`: Workers forbid it).
pub fn noop() -> Function {
    thread_local! { static B: Function = get(&js_sys::global(), &JsValue::from_str("Boolean")).unchecked_into(); }
    B.with(|b| b.clone())
}

pub fn is_aborted(signal: &JsValue) -> bool {
    with_keys(|k| get(signal, &k.aborted).is_truthy())
}
