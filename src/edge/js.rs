//! The JavaScript this crate calls, all of it through `catch` bindings: a user's object may be a
//! Proxy, a getter may throw, a "fetch" may be anything. A JS exception must never unwind through
//! wasm frames (inside wasm-bindgen-futures' executor it would leave the task queue stuck), so
//! every call that can throw returns a `Result` here. This is the edge's `extern` home, but for
//! the two store methods `AccountTokens` calls on a sign-in (`accounts.rs`); web-sys and js-sys
//! methods used elsewhere are their `catch` ones (`Result`) or cannot throw.

use js_sys::{Array, Function, JsString, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// `setTimeout` can throw: a runtime may lack it, or refuse a handler.
    #[wasm_bindgen(catch, js_name = setTimeout)]
    pub fn set_timeout(handler: &Function, ms: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue) -> Result<(), JsValue>;

    #[wasm_bindgen(catch, js_namespace = Array, js_name = from)]
    pub fn array_from(iterable: &JsValue) -> Result<Array, JsValue>;

    /// An AbortSignal-like object as a caller hands it to us, called structurally.
    #[derive(Clone)]
    pub type CallerSignal;
    #[wasm_bindgen(catch, method, getter, structural)]
    pub fn aborted(this: &CallerSignal) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, structural, js_name = addEventListener)]
    pub fn add_event_listener(
        this: &CallerSignal,
        kind: &str,
        listener: &Function,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, method, structural, js_name = removeEventListener)]
    pub fn remove_event_listener(
        this: &CallerSignal,
        kind: &str,
        listener: &Function,
    ) -> Result<(), JsValue>;

    /// Whatever a `fetch` resolved to, read structurally: the platform's `Response`, npm undici's,
    /// node-fetch's, one from another realm, or anything at all (every getter may throw).
    pub type LooseResponse;
    #[wasm_bindgen(catch, method, getter, structural)]
    pub fn status(this: &LooseResponse) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, getter, structural)]
    pub fn headers(this: &LooseResponse) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, getter, structural)]
    pub fn body(this: &LooseResponse) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, structural)]
    pub fn text(this: &LooseResponse) -> Result<JsValue, JsValue>;

    pub type LooseHeaders;
    #[wasm_bindgen(catch, method, structural)]
    pub fn get(this: &LooseHeaders, name: &str) -> Result<JsValue, JsValue>;

    /// A WHATWG body stream, of any realm or library (`getReader` throws on a locked stream).
    pub type BodyStream;
    #[wasm_bindgen(catch, method, structural, js_name = getReader)]
    pub fn get_reader(this: &BodyStream) -> Result<JsValue, JsValue>;
    /// Its reader: `read()` and `cancel()` return promises (or anything: they are resolved).
    pub type StreamReader;
    #[wasm_bindgen(catch, method, structural)]
    pub fn read(this: &StreamReader) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, structural)]
    pub fn cancel(this: &StreamReader) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, getter, structural)]
    pub fn closed(this: &StreamReader) -> Result<JsValue, JsValue>;

    /// A fresh `Uint8Array` view over a chunk's buffer (no copy): the chunk itself may be a
    /// subclass whose `length` or `subarray` throws, or a view of a detached buffer (then this
    /// throws, caught).
    #[wasm_bindgen(js_name = Uint8Array)]
    pub type ByteView;
    #[wasm_bindgen(catch, constructor, js_class = Uint8Array)]
    pub fn new(buffer: &JsValue, byte_offset: f64, length: f64) -> Result<ByteView, JsValue>;

    /// A Node stream's async iterator (node-fetch bodies): `next()` reads a chunk, `return()`
    /// stops and destroys the stream.
    pub type ChunkIterator;
    #[wasm_bindgen(catch, method, structural)]
    pub fn next(this: &ChunkIterator) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, structural, js_name = return)]
    pub fn stop(this: &ChunkIterator) -> Result<JsValue, JsValue>;

    /// Throws (URIError) on unpaired surrogates: one native pass over the original JS string.
    #[wasm_bindgen(catch, js_name = encodeURIComponent)]
    fn encode_uri_component(text: &JsString) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_namespace = JSON, js_name = parse)]
    pub fn json_parse(text: &str) -> Result<JsValue, JsValue>;

    /// A `TokenManager`'s store, called structurally on whatever object the caller gave.
    pub type TokenStore;
    #[wasm_bindgen(catch, method, structural, js_name = get)]
    pub fn stored(this: &TokenStore) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, structural, js_name = compareAndSet)]
    pub fn compare_and_set(
        this: &TokenStore,
        expected: &JsValue,
        next: &JsValue,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, structural, js_name = acquireLease)]
    pub fn acquire_lease(this: &TokenStore, ttl_ms: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, structural, js_name = releaseLease)]
    pub fn release_lease(this: &TokenStore, id: &JsValue) -> Result<JsValue, JsValue>;

    /// A promise seen as a thenable: `then(onFulfilled, onRejected)` with callbacks whose return
    /// value settles the result (a value or another promise), which js-sys's `then` does not offer.
    pub type Thenable;
    #[wasm_bindgen(catch, method, js_name = then)]
    pub fn then_or(
        this: &Thenable,
        on_fulfilled: &JsValue,
        on_rejected: &JsValue,
    ) -> Result<Promise, JsValue>;

    /// The global `fetch` as `fetch(input, init)`, looked up at call time (a test may replace
    /// it): the token request and `tm.fetch`.
    #[wasm_bindgen(catch, js_name = fetch)]
    pub fn global_fetch_with(input: &JsValue, init: &JsValue) -> Result<JsValue, JsValue>;
}

/// `new Headers(init)` for any `HeadersInit` (a Headers, pairs, a record); it throws for invalid
/// names or values, which comes back as `Err`. (web-sys's binding names one of the shapes, but
/// passes the value as it is.)
pub fn new_headers(init: &JsValue) -> Result<web_sys::Headers, JsValue> {
    if absent(init) {
        return web_sys::Headers::new();
    }
    web_sys::Headers::new_with_str_sequence_sequence(init)
}

#[wasm_bindgen(module = "/js/exception.js")]
extern "C" {
    /// `ApiException`, the one error class (a JS class, so that it is a real `Error`).
    #[wasm_bindgen(extends = js_sys::Error)]
    pub type ApiException;
    /// `new ApiException(…)` inside the snippet, so that the top frame of the error (the source
    /// line Node prints above an uncaught error) is a readable line of `exception.js`, not the
    /// minified glue.
    #[wasm_bindgen(catch, js_name = apiException)]
    pub fn api_exception(
        kind: &str,
        message: &str,
        fields: &JsValue,
    ) -> Result<ApiException, JsValue>;
    /// The promise an async method returns, settling as `promise` does; an `ApiException` it
    /// rejects with gets the awaiting caller's frames (an async function, so that the engine's
    /// async stack trace leads to the caller's `await`).
    #[wasm_bindgen(catch, js_name = withCallerStack)]
    pub fn with_caller_stack(promise: &js_sys::Promise) -> Result<js_sys::Promise, JsValue>;
}

#[wasm_bindgen(module = "/js/events.js")]
extern "C" {
    /// The `health` a renewal's write records over `recorded`: `failures` in a row, and the
    /// renewal's time or `failure`'s (an ApiException's) kind, status and error.
    #[wasm_bindgen(catch, js_name = healthAfter)]
    pub fn health_after(
        recorded: &JsValue,
        failures: f64,
        failure: &JsValue,
    ) -> Result<JsValue, JsValue>;
    /// `recorded` with `missing` (an array) added to `missing_scopes`, or `undefined` when it
    /// lists them all.
    #[wasm_bindgen(catch, js_name = withMissingScopes)]
    pub fn with_missing_scopes(recorded: &JsValue, missing: &JsValue) -> Result<JsValue, JsValue>;
    /// The object `status()` returns.
    #[wasm_bindgen(catch, js_name = statusOf)]
    pub fn status_of(
        state: &str,
        recorded: &JsValue,
        failures: f64,
        expires_at: Option<f64>,
        granted: &JsValue,
        served_from_memory: f64,
        served_from_store: f64,
    ) -> Result<JsValue, JsValue>;
}

#[wasm_bindgen(module = "/js/events.js")]
extern "C" {
    /// Keeps the channels of `node:diagnostics_channel` (`dc`); whether it could.
    #[wasm_bindgen(catch, js_name = setDiagnostics)]
    pub fn set_diagnostics(dc: &JsValue) -> Result<bool, JsValue>;
    #[wasm_bindgen(catch, js_name = channelListening)]
    pub fn channel_listening() -> Result<bool, JsValue>;
    /// Builds the event `{ type, at, accountId?, … }` from the member values and delivers it to
    /// `listener` (a function or undefined) and the channel; `trace`: a renewal's TracingChannel
    /// context (from `traceStart`), which gets the same members and ends.
    #[wasm_bindgen(catch)]
    #[allow(clippy::too_many_arguments)]
    pub fn deliver(
        listener: &JsValue,
        kind: &str,
        account_id: &JsValue,
        trace: &JsValue,
        a: JsValue,
        b: JsValue,
        c: JsValue,
        d: JsValue,
        e: JsValue,
        f: JsValue,
        g: JsValue,
        h: JsValue,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = traceStart)]
    pub fn trace_start(renewal_id: &str, account_id: &JsValue) -> Result<JsValue, JsValue>;
}

/// `target[key]` for any value: `undefined` for non-objects and for getters or proxies that throw.
pub fn get(target: &JsValue, key: &str) -> JsValue {
    if target.is_object() || target.is_function() {
        Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// Sets a property on an object this crate created (cannot throw).
pub fn set(target: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

pub fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

/// A plain copy of an object's own enumerable string-keyed properties, read once with catching
/// getters, so that serde-wasm-bindgen (whose property reads do not catch) only ever reads plain
/// data. `nested` names members that are plain option objects themselves and are copied the same
/// way; every other member is kept as it is (functions, AbortSignals, stores, Headers…).
/// `None` when `value` is not an object (or its keys cannot be listed).
pub fn snapshot(value: &JsValue, nested: &[&str]) -> Option<Object> {
    if !value.is_object() || Array::is_array(value) {
        return None;
    }
    let keys = Reflect::own_keys(value).ok()?;
    let copy = Object::new();
    for key in keys.iter() {
        let Some(name) = key.as_string() else {
            continue;
        };
        let member = Reflect::get(value, &key).unwrap_or(JsValue::UNDEFINED);
        let member = match nested.contains(&name.as_str()) {
            true => snapshot(&member, &[]).map_or(member, JsValue::from),
            false => member,
        };
        set(&copy, &name, &member);
    }
    Some(copy)
}

/// Longest string argument accepted (ids, secrets, codes, tokens, scopes, URLs): bounded memory.
pub const MAX_ARG: u32 = 65_536;

/// Why a JS value is not usable as a string argument.
pub enum NotText {
    NotAString,
    TooLong,
    /// Unpaired UTF-16 surrogates: encoding would silently change the value.
    IllFormed,
}

/// A JS string argument as Rust text, refusing what cannot cross unchanged.
pub fn rust_string(value: &JsValue) -> Result<String, NotText> {
    let Some(js) = value.dyn_ref::<JsString>() else {
        return Err(NotText::NotAString);
    };
    if js.length() > MAX_ARG {
        return Err(NotText::TooLong);
    }
    let text = String::from(js);
    // A lone surrogate becomes U+FFFD on the way in. Only then ask the platform (one native
    // call: encodeURIComponent refuses lone surrogates) whether the original was well formed.
    // U+FFFD's UTF-8 bytes, scanned for: `str::contains` of a char brings a 2 KB memchr.
    if text
        .as_bytes()
        .windows(3)
        .any(|w| w == "\u{FFFD}".as_bytes())
        && encode_uri_component(js).is_err()
    {
        return Err(NotText::IllFormed);
    }
    Ok(text)
}
