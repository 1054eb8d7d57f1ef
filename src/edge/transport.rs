//! One token request, issued from Rust: gloo-net builds the `Request` (method, form body,
//! redirect policy, abort signal) around headers built with web-sys (every step a `Result`), the
//! platform's `fetch` (or the caller's) sends it, the body is read as a stream and abandoned past
//! 1 MiB, `JSON.parse` + serde-wasm-bindgen read it into the core's wire types, and the core
//! decides what it means and whether to try again.
//!
//! Whatever the fetch resolved to is read structurally, through `catch` bindings (`js.rs`): the
//! platform's `Response`, npm undici's, one from another realm (all with a `getReader()` body),
//! node-fetch's (a Node stream body, read by its chunks) go through the one bounded reader; only
//! a look-alike with no body stream is read with its `text()`, which has no bound (README).

use super::client::Results;
use super::exception::exception;
use super::js::{
    self, BodyStream, CallerSignal, ChunkIterator, LooseHeaders, LooseResponse, StreamReader,
};
use super::timing::{self, Cancel, Fired};
use crate::oauth::classify::{classify, MAX_BODY};
use crate::oauth::rejection::{classify_rejection, Rejection};
use crate::oauth::retry::{next_delay, retry_after_seconds, retryable, RetryPolicy};
use crate::oauth::scope::parse_scopes;
use crate::oauth::wire::{BodyShape, WireBody};
use crate::oauth::{Delivery, Failure, Grant, Kind, Token};
use js_sys::{Function, Object, Promise, Uint8Array};
use serde::Serialize;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// How much of an oversized body is kept for the error's `body` (before redaction and the final
/// 2 KiB bound).
const OVERSIZED_HEAD: usize = 16 * 1024;

/// A validated configuration: what every request of a client reuses.
pub struct Settings {
    /// `{host}` normalised (no trailing slash).
    pub host: String,
    pub token_url: String,
    /// A caller's `fetch`, called as `fetch(url, init)`; `None` means the global one.
    pub fetch: Option<Function>,
    pub timeout_ms: f64,
    pub policy: RetryPolicy,
    /// Request headers, lowercase names, ours last (they win).
    pub headers: Vec<(String, String)>,
}

/// One call: the grant, its form body, the secret values to redact, the caller's signal.
pub struct Call {
    pub grant: Grant,
    pub body: String,
    pub secrets: Vec<String>,
    pub signal: Option<CallerSignal>,
    pub results: Results,
}

/// The result object: wire names, in this order, absent members left out.
#[derive(Serialize)]
struct TokenSet<'a> {
    access_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<f64>,
    /// `scope` as a list, on `AvitoAuth` results only (the seed-shaped layer keeps wire names).
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<&'a str>>,
}

/// The token as the JS result object; a serializer failure is an `invalid_response` failure,
/// never a grant that resolves to `undefined`.
fn token_to_js(t: &Token, results: Results) -> Result<JsValue, Failure> {
    let expires_at = match (results, t.expires_in) {
        (Results::WithExpiry, Some(seconds)) => Some(js_sys::Date::now() + seconds as f64 * 1000.0),
        _ => None,
    };
    let set = TokenSet {
        access_token: &t.access_token,
        expires_in: t.expires_in,
        token_type: t.token_type.as_deref(),
        refresh_token: t.refresh_token.as_deref(),
        scope: t.scope.as_deref(),
        expires_at,
        scopes: (results == Results::WithExpiry)
            .then(|| t.scope.as_deref().map(parse_scopes).unwrap_or_default()),
    };
    serde_wasm_bindgen::to_value(&set).map_err(|_| {
        Failure::new(
            Kind::InvalidResponse,
            "the token response could not be converted to a JavaScript value",
        )
    })
}

/// Runs a call to the end: attempts, retry delays, and the typed result or `ApiException`.
pub async fn request(settings: Rc<Settings>, call: Call) -> Result<JsValue, JsValue> {
    request_outcome(&settings, &call)
        .await
        .map_err(|failure| exception(&failure))
}

/// The same, with the final failure (already redacted, its `retryable` verdict set) as the core
/// sees it, for callers that decide on it (a `TokenManager` asks whether a refresh may have spent
/// its token).
pub async fn request_outcome(settings: &Settings, call: &Call) -> Result<JsValue, Failure> {
    let secrets: Vec<&str> = call.secrets.iter().map(String::as_str).collect();
    let mut attempt = 1;
    loop {
        let mut failure = match attempt_once(settings, call).await {
            Ok(token) => return token_to_js(&token, call.results),
            Err(f) => f.redacted(&secrets),
        };
        failure.retryable = retryable(call.grant, &failure);
        let delay = match failure.kind {
            Kind::Aborted => None,
            _ => next_delay(
                &settings.policy,
                attempt,
                failure.retryable,
                failure.retry_after_ms,
                js_sys::Math::random(),
            ),
        };
        match delay {
            None => return Err(failure),
            Some(ms) => {
                if timing::sleep(ms as f64, call.signal.as_ref()).await {
                    // The aborted retry never sent anything; the failure before it stands for
                    // what may have happened to a single-use credential.
                    return Err(caller_aborted(Delivery::NotSent));
                }
            }
        }
        attempt += 1;
    }
}

fn caller_aborted(delivery: Delivery) -> Failure {
    let mut f = Failure::new(
        Kind::Aborted,
        "the request was aborted by the caller's AbortSignal",
    );
    f.delivery = delivery;
    f
}

/// How far an attempt got when it broke.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// No response yet: sending, or waiting for the status line.
    BeforeResponse,
    /// The response arrived; its body was being read.
    ReadingBody,
}

/// What went wrong before a response could be classified.
enum Broken {
    /// The fetch (or the body read) rejected or threw this value.
    Rejected { error: JsValue, stage: Stage },
    /// The timer or the caller's signal fired.
    Fired { why: Fired, stage: Stage },
    /// The fetch resolved to something that is not a response (or its body is not bytes).
    NotAResponse,
    /// Reading the response object threw (a getter, `getReader()`, `read()` itself): it is
    /// broken, not the network.
    Unreadable,
}

impl Broken {
    fn rejected(stage: Stage) -> impl Fn(JsValue) -> Broken {
        move |error| Broken::Rejected { error, stage }
    }
}

async fn attempt_once(settings: &Settings, call: &Call) -> Result<Token, Failure> {
    if timing::is_aborted(call.signal.as_ref()) {
        return Err(caller_aborted(Delivery::NotSent));
    }
    let cancel = Cancel::for_request(Some(settings.timeout_ms), call.signal.as_ref());
    match exchange(settings, call, &cancel).await {
        Ok((answer, shape)) => {
            let mut outcome = classify(answer.status, &answer.text, &shape, answer.too_large);
            if let Err(f) = &mut outcome {
                f.retry_after_ms = answer.retry_after.as_deref().and_then(retry_after_ms);
            }
            outcome
        }
        Err(Broken::NotAResponse) => Err(Failure::new(
            Kind::InvalidResponse,
            "fetch did not resolve to a Response",
        )),
        Err(Broken::Unreadable) => Err(Failure::new(
            Kind::InvalidResponse,
            "the Response threw when it was read",
        )),
        Err(Broken::Fired { why, stage }) => Err(rejection(
            settings,
            call,
            &JsValue::UNDEFINED,
            Some(why),
            stage,
        )),
        Err(Broken::Rejected { error, stage }) => {
            Err(rejection(settings, call, &error, cancel.fired(), stage))
        }
    }
}

fn rejection(
    settings: &Settings,
    call: &Call,
    error: &JsValue,
    fired: Option<Fired>,
    stage: Stage,
) -> Failure {
    let (message, code) = error_info(error);
    classify_rejection(&Rejection {
        caller_aborted: fired == Some(Fired::Caller) || timing::is_aborted(call.signal.as_ref()),
        timed_out: fired == Some(Fired::Timer),
        timeout_ms: settings.timeout_ms as u64,
        message: &message,
        code: code.as_deref(),
        before_response: stage == Stage::BeforeResponse,
    })
}

/// What the core needs of a rejection: its message (with its cause's) and code, read through
/// catching getters (a rejection may be any value). A string over 16 KiB is left out whole rather
/// than cut: a cut before redaction could leave half a secret (the detail is bounded after it).
fn error_info(error: &JsValue) -> (String, Option<String>) {
    let pick = |v: &JsValue, key: &str| {
        js::get(v, key)
            .dyn_into::<js_sys::JsString>()
            .ok()
            .filter(|s| s.length() <= 16 * 1024)
            .map(String::from)
    };
    let cause = js::get(error, "cause");
    let message = [pick(error, "message"), pick(&cause, "message")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ");
    (
        message,
        pick(error, "code").or_else(|| pick(&cause, "code")),
    )
}

/// What `promise` settled to, or why it did not: it rejected, or `cancel` fired first.
async fn settled(cancel: &Cancel, promise: Promise, stage: Stage) -> Result<JsValue, Broken> {
    match cancel.race(JsFuture::from(promise)).await {
        Err(why) => Err(Broken::Fired { why, stage }),
        Ok(Err(error)) => Err(Broken::Rejected { error, stage }),
        Ok(Ok(value)) => Ok(value),
    }
}

/// Sends the request and reads the answer, with what parsing its body gave.
async fn exchange(
    settings: &Settings,
    call: &Call,
    cancel: &Cancel,
) -> Result<(Answer, BodyShape), Broken> {
    let sent = send(settings, call, cancel).map_err(Broken::rejected(Stage::BeforeResponse))?;
    let resolved = settled(cancel, sent.promise.clone(), Stage::BeforeResponse).await?;
    let answer = read_answer(resolved.unchecked_into(), cancel).await?;
    // The Request lived until here (see `Sent`).
    drop(sent);
    let shape = if answer.too_large {
        BodyShape::NotJson
    } else {
        parse(&answer.text)
    };
    Ok((answer, shape))
}

/// A response as read: its status, its body text (at most 1 MiB, or the head of a larger body),
/// whether the body was larger, and `Retry-After` (read only on failures, where it counts).
struct Answer {
    status: u16,
    text: String,
    too_large: bool,
    retry_after: Option<String>,
}

/// The request, through gloo-net (global fetch) or as `fetch(url, init)` (a caller's fetch).
/// Every JS step that can throw is a `Result`: the headers are built with web-sys (reqwest's wasm
/// client does the same), not gloo-net's `Headers`, whose methods throw through wasm on a bad value.
/// What was sent: the fetch's promise, and the `Request` it was given, which must stay alive until
/// the answer is read — undici follows a Request's signal through a weak reference, so a
/// collected Request no longer aborts its fetch on timeout (nodejs/undici#4068): the connection
/// would stay open while the renewal protocol presents the token again.
struct Sent {
    promise: Promise,
    _request: Option<web_sys::Request>,
}

fn send(settings: &Settings, call: &Call, cancel: &Cancel) -> Result<Sent, JsValue> {
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

/// Lets a promise go without waiting, and without an unhandled rejection if it rejects.
fn abandon(promise: Result<JsValue, JsValue>) {
    if let Ok(value) = promise {
        let promise = Promise::resolve(&value);
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(promise).await;
        });
    }
}

/// Where a body's bytes come from, one chunk at a time.
enum Chunks {
    /// A WHATWG stream's reader (the platform's Response, undici's, another realm's).
    Reader(StreamReader),
    /// A Node stream's async iterator (node-fetch).
    NodeStream(ChunkIterator),
}

impl Chunks {
    /// The body's chunk source: `Ok(None)` when the body is no stream at all.
    fn of(body: &JsValue) -> Result<Option<Chunks>, JsValue> {
        if !(body.is_object() || body.is_function()) {
            return Ok(None);
        }
        if js::get(body, "getReader").is_function() {
            let reader = body.unchecked_ref::<BodyStream>().get_reader()?;
            if !reader.is_object() {
                return Err(js_sys::Error::new("getReader() returned no reader").into());
            }
            return Ok(Some(Chunks::Reader(reader.unchecked_into())));
        }
        let iterate = js_sys::Reflect::get(body, &js_sys::Symbol::async_iterator())?;
        match iterate.dyn_ref::<Function>() {
            Some(iterate) => {
                let iterator = iterate.call0(body)?;
                if !iterator.is_object() {
                    return Err(js_sys::Error::new("the body's iterator is not an object").into());
                }
                Ok(Some(Chunks::NodeStream(iterator.unchecked_into())))
            }
            None => Ok(None),
        }
    }

    /// The next `{ done, value }`, as a promise.
    fn next(&self) -> Result<Promise, JsValue> {
        let next = match self {
            Chunks::Reader(r) => r.read()?,
            Chunks::NodeStream(i) => i.next()?,
        };
        Ok(Promise::resolve(&next))
    }

    /// Stops the source without waiting: cancels the stream (undici then drops the
    /// connection), or destroys the Node stream.
    fn stop(&self) {
        abandon(match self {
            Chunks::Reader(r) => r.cancel(),
            Chunks::NodeStream(i) => i.stop(),
        });
    }
}

/// The bytes of a chunk (a `Uint8Array` or a `Buffer`, of any realm), as a plain view made here:
/// the chunk's own `length`, `subarray` or species may be a subclass's and throw, so only its
/// `buffer`, `byteOffset` and `byteLength` are read (through catching getters), and the view
/// constructor checks them against the real buffer.
fn chunk_bytes(value: &JsValue) -> Option<Uint8Array> {
    if !js_sys::ArrayBuffer::is_view(value) {
        return None;
    }
    let tag = js_sys::Reflect::get(value, &js_sys::Symbol::to_string_tag()).ok()?;
    if tag.as_string().as_deref() != Some("Uint8Array") {
        return None;
    }
    let number = |key: &str| js::get(value, key).as_f64();
    let view = js::ByteView::new(
        &js::get(value, "buffer"),
        number("byteOffset")?,
        number("byteLength")?,
    )
    .ok()?;
    Some(view.unchecked_into())
}

/// Reads whatever the fetch resolved to: status, `Content-Length`, `Retry-After`, and the body
/// through the one bounded reader (or `text()` for a look-alike with no body stream).
async fn read_answer(res: LooseResponse, cancel: &Cancel) -> Result<Answer, Broken> {
    let value: &JsValue = res.as_ref();
    if !value.is_object() {
        return Err(Broken::NotAResponse);
    }
    let reading = |_: JsValue| Broken::Unreadable;
    let status = match res.status().map_err(reading)?.as_f64() {
        Some(s) if (0.0..=999.0).contains(&s) && s.fract() == 0.0 => s as u16,
        _ => return Err(Broken::NotAResponse),
    };
    let headers = res.headers().map_err(reading)?;
    let headers: Option<&LooseHeaders> = headers.is_object().then(|| headers.unchecked_ref());
    let header = |name: &str| -> Result<Option<String>, Broken> {
        match headers {
            Some(h) => Ok(h.get(name).map_err(reading)?.as_string()),
            None => Ok(None),
        }
    };
    let retry_after = if (200..300).contains(&status) {
        None
    } else {
        header("retry-after")?
    };
    let declared = header("content-length")?.and_then(|l| l.trim().parse::<u64>().ok());
    let body = res.body().map_err(reading)?;
    let answer = |text: String, too_large: bool| Answer {
        status,
        text,
        too_large,
        retry_after: retry_after.clone(),
    };
    let chunks = Chunks::of(&body).map_err(reading)?;
    if declared.is_some_and(|l| l > MAX_BODY as u64) {
        if let Some(chunks) = &chunks {
            chunks.stop();
        }
        return Ok(answer(String::new(), true));
    }
    match chunks {
        Some(chunks) => {
            let (text, too_large) = read_chunks(&chunks, declared, cancel).await?;
            Ok(answer(text, too_large))
        }
        // No body stream: a look-alike is read with its text(); without one it is no response.
        None if js::get(value, "text").is_function() => {
            let (text, too_large) = read_text(&res, cancel).await?;
            Ok(answer(text, too_large))
        }
        None => Err(Broken::NotAResponse),
    }
}

/// The one bounded reader: chunk by chunk into at most 1 MiB of decoded bytes, whatever
/// `Content-Length` or `Content-Encoding` say; past that the source is stopped and the head kept.
async fn read_chunks(
    chunks: &Chunks,
    declared: Option<u64>,
    cancel: &Cancel,
) -> Result<(String, bool), Broken> {
    if let Chunks::Reader(reader) = chunks {
        // `closed` rejects when the stream errors or is cancelled; workerd reports that as an
        // unhandled rejection unless someone observes it.
        abandon(reader.closed());
    }
    // A declared length sizes the buffer once (no growth by doubling, no copies); an undeclared
    // one grows as it comes, never past 1 MiB.
    let mut bytes: Vec<u8> = Vec::with_capacity(declared.map_or(0, |l| l as usize).min(MAX_BODY));
    let mut too_large = false;
    loop {
        let Ok(next) = chunks.next() else {
            chunks.stop();
            return Err(Broken::Unreadable);
        };
        let chunk = match settled(cancel, next, Stage::ReadingBody).await {
            Ok(chunk) => chunk,
            Err(broken) => {
                if matches!(broken, Broken::Fired { .. }) {
                    chunks.stop();
                }
                return Err(broken);
            }
        };
        if js::get(&chunk, "done").as_bool() == Some(true) {
            break;
        }
        let Some(part) = chunk_bytes(&js::get(&chunk, "value")) else {
            chunks.stop();
            return Err(Broken::NotAResponse);
        };
        let room = MAX_BODY - bytes.len();
        let take = (part.length() as usize).min(room);
        let start = bytes.len();
        if bytes.capacity() < start + take {
            // The first chunk is taken as it is (a token response is one small chunk); past it
            // the buffer goes straight to the cap: one reallocation, and wasm memory (which
            // never shrinks) grows by 1 MiB once instead of by a doubling chain.
            bytes.reserve_exact(if start == 0 { take } else { MAX_BODY - start });
        }
        bytes.resize(start + take, 0);
        part.subarray(0, take as u32).copy_to(&mut bytes[start..]);
        if part.length() as usize > room {
            // Over 1 MiB of decoded bytes: stop reading; keep the head for the error body.
            too_large = true;
            // On a character boundary: a character cut in half would decode to U+FFFD, and the
            // piece of a secret before it would no longer be seen as one (redaction treats the end
            // of a head as a cut, see `TextEnd::Cut`).
            let mut end = OVERSIZED_HEAD.min(bytes.len());
            while end > 0 && bytes.get(end).is_some_and(|b| b & 0xC0 == 0x80) {
                end -= 1;
            }
            bytes.truncate(end);
            chunks.stop();
            break;
        }
    }
    // Valid UTF-8 (the usual case) becomes the String without a copy.
    let text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let text = match text.strip_prefix('\u{FEFF}') {
        Some(rest) => rest.to_owned(),
        None => text,
    };
    Ok((text, too_large))
}

/// A look-alike with no body stream: its `text()`, whole (README: this path has no bound; only
/// what crosses into wasm is bounded).
async fn read_text(res: &LooseResponse, cancel: &Cancel) -> Result<(String, bool), Broken> {
    let promise = res
        .text()
        .map(|p| Promise::resolve(&p))
        .map_err(|_| Broken::Unreadable)?;
    let text = settled(cancel, promise, Stage::ReadingBody).await?;
    let Some(js_text) = text.dyn_ref::<js_sys::JsString>() else {
        return Ok((String::new(), false));
    };
    if js_text.length() as usize > MAX_BODY {
        // Only the head crosses into wasm, for the error body; not ending in half a surrogate
        // pair (it would decode to U+FFFD, see above).
        let mut end = OVERSIZED_HEAD as u32;
        if (55296.0..56320.0).contains(&js_text.char_code_at(end - 1)) {
            end -= 1;
        }
        return Ok((String::from(js_text.slice(0, end)), true));
    }
    Ok((String::from(js_text), false))
}

/// The platform parses; serde-wasm-bindgen reads the parsed value into the core's types.
fn parse(text: &str) -> BodyShape {
    if text.trim().is_empty() {
        return BodyShape::NotJson;
    }
    match js::json_parse(text) {
        Err(_) => BodyShape::NotJson,
        Ok(value) if value.is_object() && !js_sys::Array::is_array(&value) => {
            match serde_wasm_bindgen::from_value::<WireBody>(value) {
                Ok(body) => BodyShape::Object(body),
                Err(_) => BodyShape::NotJson,
            }
        }
        Ok(_) => BodyShape::OtherJson,
    }
}

/// `Retry-After` in ms: delta-seconds, or an HTTP date relative to now.
fn retry_after_ms(value: &str) -> Option<u64> {
    retry_after_seconds(value).or_else(|| {
        let at = js_sys::Date::parse(value);
        at.is_finite()
            .then(|| (at - js_sys::Date::now()).max(0.0) as u64)
    })
}
