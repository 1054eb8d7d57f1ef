//! The request, sent: through gloo-net with the global fetch, or as `fetch(url, init)` with a
//! caller's.

use super::settings::{Call, Settings};
use crate::edge::js;
use crate::edge::timing::Cancel;
use js_sys::{Object, Promise};
use wasm_bindgen::prelude::*;

/// The request, through gloo-net (global fetch) or as `fetch(url, init)` (a caller's fetch).
/// Every JS step that can throw is a `Result`: the headers are built with web-sys (reqwest's wasm
/// client does the same), not gloo-net's `Headers`, whose methods throw through wasm on a bad value.
/// What was sent: the fetch's promise, and the `Request` it was given, which must stay alive until
/// the answer is read — undici follows a Request's signal through a weak reference, so a
/// collected Request no longer aborts its fetch on timeout (nodejs/undici#4068): the connection
/// would stay open while the renewal protocol presents the token again.
pub struct Sent {
    pub promise: Promise,
    _request: Option<web_sys::Request>,
}

pub fn send(settings: &Settings, call: &Call, cancel: &Cancel) -> Result<Sent, JsValue> {
    let signal = cancel.signal();
    if let Some(custom) = &settings.fetch {
        let headers = Object::new();
        for (name, value) in &settings.headers {
            js::set(&headers, name, &JsValue::from_str(value));
        }
        let init = Object::new();
        js::set(&init, "method", &JsValue::from_str("POST"));
        js::set(&init, "headers", &headers);
        js::set(&init, "body", &JsValue::from_str(&call.body));
        js::set(&init, "redirect", &JsValue::from_str("manual"));
        if let Some(s) = &signal {
            js::set(&init, "signal", s);
        }
        // Whatever it returns (a Response, a promise, a thenable, garbage) is awaited as a promise.
        let returned = custom.call2(
            &JsValue::UNDEFINED,
            &JsValue::from_str(&settings.token_url),
            &init,
        )?;
        return Ok(Sent {
            promise: Promise::resolve(&returned),
            _request: None,
        });
    }
    // `new Headers()` succeeding here also makes the throwaway one gloo-net's builder creates
    // (which would throw through wasm) safe.
    let headers = web_sys::Headers::new()?;
    for (name, value) in &settings.headers {
        headers.append(name, value)?;
    }
    // gloo-net builds the Request without its body; the body goes in `fetch(request, { body })`.
    // A Request that holds a body is piped through an identity TransformStream when fetch copies
    // it (undici, per the Fetch standard's "new Request(input, init)"): +300–400 µs per request
    // in Node, measured; a body in `init` is taken as it is (README "Performance").
    let request = gloo_net::http::Request::post(&settings.token_url)
        .headers(gloo_net::http::Headers::from_raw(headers))
        .redirect(web_sys::RequestRedirect::Manual)
        .abort_signal(signal.as_ref())
        .build()
        .map_err(|e| JsValue::from(js_sys::Error::new(&e.to_string())))?;
    let request = web_sys::Request::from(request);
    let init = Object::new();
    js::set(&init, "body", &JsValue::from_str(&call.body));
    // Whatever a replaced global fetch returns is awaited as a promise, as for a caller's fetch.
    let returned = js::global_fetch_with(&request, &init)?;
    Ok(Sent {
        promise: Promise::resolve(&returned),
        _request: Some(request),
    })
}
