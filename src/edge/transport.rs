//! One token request, issued from Rust: gloo-net builds the `Request` (method, headers, form
//! body, redirect policy, abort signal), the platform's `fetch` (or the caller's) sends it, the
//! body is read as a stream and abandoned past 1 MiB, `JSON.parse` + serde-wasm-bindgen read it
//! into the core's wire types, and the core decides what it means and whether to try again.

use super::exception::exception;
use super::js::{self, CallerSignal, LooseHeaders, LooseResponse};
use super::timing::{self, Cancel, Fired};
use crate::oauth::classify::{classify, MAX_BODY};
use crate::oauth::retry::{next_delay, retry_after_seconds, retryable, RetryPolicy};
use crate::oauth::scope::parse_scopes;
use crate::oauth::transport::{classify_rejection, Rejection};
use crate::oauth::wire::{BodyShape, WireBody};
use crate::oauth::{Failure, Grant, Kind, Token};
use gloo_net::http::{Headers, Request, Response};
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
    /// `AvitoAuth` results carry `expires_at` (Unix ms); the seed-shaped layer's do not.
    pub with_expiry: bool,
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

fn token_to_js(t: &Token, with_expiry: bool) -> JsValue {
    let expires_at = match (with_expiry, t.expires_in) {
        (true, Some(seconds)) => Some(js_sys::Date::now() + seconds as f64 * 1000.0),
        _ => None,
    };
    let set = TokenSet {
        access_token: &t.access_token,
        expires_in: t.expires_in,
        token_type: t.token_type.as_deref(),
        refresh_token: t.refresh_token.as_deref(),
        scope: t.scope.as_deref(),
        expires_at,
        scopes: with_expiry.then(|| t.scope.as_deref().map(parse_scopes).unwrap_or_default()),
    };
    serde_wasm_bindgen::to_value(&set).unwrap_or(JsValue::UNDEFINED)
}

/// Runs a call to the end: attempts, retry delays, and the typed result or `ApiException`.
pub async fn request(settings: Rc<Settings>, call: Call) -> Result<JsValue, JsValue> {
    request_outcome(&settings, &call)
        .await
        .map_err(|(failure, retryable)| exception(&failure, retryable))
}

/// The same, with the final failure (already redacted) as the core sees it, for callers that
/// decide on it (a `TokenManager` asks whether a refresh may have spent its token).
pub async fn request_outcome(settings: &Settings, call: &Call) -> Result<JsValue, (Failure, bool)> {
    let secrets: Vec<&str> = call.secrets.iter().map(String::as_str).collect();
    let mut attempt = 1;
    loop {
        let failure = match attempt_once(settings, call).await {
            Ok(token) => return Ok(token_to_js(&token, call.with_expiry)),
            Err(f) => f.redacted(&secrets),
        };
        let may_retry = retryable(call.grant, &failure);
        let delay = match failure.kind {
            Kind::Aborted => None,
            _ => next_delay(
                &settings.policy,
                attempt,
                may_retry,
                failure.retry_after_ms,
                js_sys::Math::random(),
            ),
        };
        match delay {
            None => return Err((failure, may_retry)),
            Some(ms) => {
                if timing::sleep(ms as f64, call.signal.as_ref()).await {
                    // The aborted retry never sent anything; the failure before it stands for
                    // what may have happened to a single-use credential.
                    let mut aborted = caller_aborted();
                    aborted.not_sent = true;
                    return Err((aborted, false));
                }
            }
        }
        attempt += 1;
    }
}

fn caller_aborted() -> Failure {
    Failure::new(
        Kind::Aborted,
        "the request was aborted by the caller's AbortSignal",
    )
}

/// What went wrong before a response could be classified.
enum Broken {
    /// The fetch (or the body read) rejected with this value.
    Rejected(JsValue, bool),
    /// The timer or the caller's signal fired.
    Fired(Fired, bool),
    /// The fetch resolved to something that is not a response.
    NotAResponse,
}

async fn attempt_once(settings: &Settings, call: &Call) -> Result<Token, Failure> {
    if timing::is_aborted(call.signal.as_ref()) {
        let mut aborted = caller_aborted();
        aborted.not_sent = true;
        return Err(aborted);
    }
    let cancel = Cancel::new(Some(settings.timeout_ms), call.signal.as_ref(), true);
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
        Err(Broken::Fired(why, before_response)) => Err(rejection(
            settings,
            call,
            &JsValue::UNDEFINED,
            Some(why),
            before_response,
        )),
        Err(Broken::Rejected(error, before_response)) => Err(rejection(
            settings,
            call,
            &error,
            cancel.fired(),
            before_response,
        )),
    }
}

fn rejection(
    settings: &Settings,
    call: &Call,
    error: &JsValue,
    fired: Option<Fired>,
    before_response: bool,
) -> Failure {
    let (message, code) = error_info(error);
    classify_rejection(&Rejection {
        caller_aborted: fired == Some(Fired::Caller) || timing::is_aborted(call.signal.as_ref()),
        timed_out: fired == Some(Fired::Timer),
        timeout_ms: settings.timeout_ms as u64,
        message: &message,
        code: code.as_deref(),
        before_response,
    })
}

/// What the core needs of a rejection: its message (with its cause's) and code, bounded, read
/// through catching getters (a rejection may be any value).
fn error_info(error: &JsValue) -> (String, Option<String>) {
    let pick = |v: &JsValue, key: &str| {
        js::get(v, key)
            .as_string()
            .map(|s| s.chars().take(2000).collect::<String>())
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

/// Sends the request and reads the answer, with what parsing its body gave.
async fn exchange(
    settings: &Settings,
    call: &Call,
    cancel: &Cancel,
) -> Result<(Answer, BodyShape), Broken> {
    let sent = send(settings, call, cancel).map_err(|e| Broken::Rejected(e, true))?;
    let resolved = match cancel.race(JsFuture::from(sent)).await {
        Err(why) => return Err(Broken::Fired(why, true)),
        Ok(Err(error)) => return Err(Broken::Rejected(error, true)),
        Ok(Ok(value)) => value,
    };
    let answer = match resolved.dyn_into::<web_sys::Response>() {
        Ok(raw) => read_response(Response::from(raw), cancel).await?,
        Err(other) => read_loose(other.unchecked_into(), cancel).await?,
    };
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

impl Answer {
    fn new(
        status: u16,
        text: String,
        too_large: bool,
        retry_after: impl FnOnce() -> Option<String>,
    ) -> Answer {
        let retry_after = if (200..300).contains(&status) {
            None
        } else {
            retry_after()
        };
        Answer {
            status,
            text,
            too_large,
            retry_after,
        }
    }
}

/// The request, through gloo-net (global fetch) or as `fetch(url, init)` (a caller's fetch).
fn send(settings: &Settings, call: &Call, cancel: &Cancel) -> Result<Promise, JsValue> {
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
        return Ok(Promise::resolve(&returned));
    }
    let headers = Headers::new();
    for (name, value) in &settings.headers {
        headers.set(name, value);
    }
    let request = Request::post(&settings.token_url)
        .headers(headers)
        .redirect(web_sys::RequestRedirect::Manual)
        .abort_signal(signal.as_ref())
        .body(call.body.as_str())
        .map_err(|e| JsValue::from(js_sys::Error::new(&e.to_string())))?;
    js::global_fetch(&web_sys::Request::from(request))
}

#[wasm_bindgen]
extern "C" {
    /// A response body stream (`getReader` throws when it is locked: a consumed body).
    type BodyStream;
    #[wasm_bindgen(catch, method, js_name = getReader)]
    fn get_reader(this: &BodyStream) -> Result<StreamReader, JsValue>;
    type StreamReader;
    #[wasm_bindgen(method)]
    fn read(this: &StreamReader) -> Promise;
    #[wasm_bindgen(method)]
    fn cancel(this: &StreamReader) -> Promise;
    #[wasm_bindgen(method, getter)]
    fn closed(this: &StreamReader) -> Promise;
}

/// Lets a stream go without waiting, and without an unhandled rejection if cancelling fails.
fn abandon(promise: Promise) {
    wasm_bindgen_futures::spawn_local(async move {
        let _ = JsFuture::from(promise).await;
    });
}

/// A platform `Response` (gloo-net's wrapper): status, headers, and the body read chunk by chunk
/// into at most 1 MiB of decoded bytes, whatever `Content-Length` or `Content-Encoding` say.
async fn read_response(res: Response, cancel: &Cancel) -> Result<Answer, Broken> {
    let status = res.status();
    let headers = res.headers();
    let retry_after = || headers.get("retry-after");
    let declared = headers
        .get("content-length")
        .and_then(|l| l.trim().parse::<u64>().ok());
    let Some(stream) = res.body() else {
        return Ok(Answer::new(status, String::new(), false, retry_after));
    };
    if declared.is_some_and(|l| l > MAX_BODY as u64) {
        abandon(stream.cancel());
        return Ok(Answer::new(status, String::new(), true, retry_after));
    }
    let reader = stream
        .unchecked_ref::<BodyStream>()
        .get_reader()
        .map_err(|e| Broken::Rejected(e, false))?;
    // `closed` rejects when the stream errors or is cancelled; workerd reports that as an
    // unhandled rejection unless someone observes it.
    abandon(reader.closed());
    // A declared length sizes the buffer once (no growth by doubling, no copies); an undeclared
    // one grows as it comes, never past 1 MiB.
    let mut bytes: Vec<u8> = Vec::with_capacity(declared.map_or(0, |l| l as usize).min(MAX_BODY));
    let mut too_large = false;
    loop {
        let chunk = match cancel.race(JsFuture::from(reader.read())).await {
            Err(why) => {
                abandon(reader.cancel());
                return Err(Broken::Fired(why, false));
            }
            Ok(Err(error)) => return Err(Broken::Rejected(error, false)),
            Ok(Ok(chunk)) => chunk,
        };
        if js::get(&chunk, "done").as_bool() == Some(true) {
            break;
        }
        let Some(part) = js::get(&chunk, "value").dyn_into::<Uint8Array>().ok() else {
            abandon(reader.cancel());
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
            bytes.truncate(OVERSIZED_HEAD);
            abandon(reader.cancel());
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
    Ok(Answer::new(status, text, too_large, retry_after))
}

/// Something else a caller's fetch resolved to: a Response from another library or realm
/// (undici's own, node-fetch's) is read through its `status`, `headers.get` and `text()`.
async fn read_loose(res: LooseResponse, cancel: &Cancel) -> Result<Answer, Broken> {
    let value: &JsValue = res.as_ref();
    if !value.is_object() {
        return Err(Broken::NotAResponse);
    }
    let status = match res.status().ok().and_then(|s| s.as_f64()) {
        Some(s) if (0.0..=999.0).contains(&s) && s.fract() == 0.0 => s as u16,
        _ => return Err(Broken::NotAResponse),
    };
    if !js::get(value, "text").is_function() {
        return Err(Broken::NotAResponse);
    }
    let headers: Option<LooseHeaders> = res
        .headers()
        .ok()
        .filter(|h| h.is_object())
        .map(JsCast::unchecked_into);
    let header = |name: &str| {
        headers
            .as_ref()
            .and_then(|h| h.get(name).ok())
            .and_then(|v| v.as_string())
    };
    let retry_after = || header("retry-after");
    if header("content-length")
        .and_then(|l| l.trim().parse::<u64>().ok())
        .is_some_and(|l| l > MAX_BODY as u64)
    {
        return Ok(Answer::new(status, String::new(), true, retry_after));
    }
    let promise = res
        .text()
        .map(|p| Promise::resolve(&p))
        .map_err(|e| Broken::Rejected(e, false))?;
    let text = match cancel.race(JsFuture::from(promise)).await {
        Err(why) => return Err(Broken::Fired(why, false)),
        Ok(Err(error)) => return Err(Broken::Rejected(error, false)),
        Ok(Ok(text)) => text,
    };
    let Some(js_text) = text.dyn_ref::<js_sys::JsString>() else {
        return Ok(Answer::new(status, String::new(), false, retry_after));
    };
    if js_text.length() as usize > MAX_BODY {
        // Only the head crosses into wasm, for the error body.
        let head = String::from(js_text.slice(0, OVERSIZED_HEAD as u32));
        return Ok(Answer::new(status, head, true, retry_after));
    }
    Ok(Answer::new(
        status,
        String::from(js_text),
        false,
        retry_after,
    ))
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
