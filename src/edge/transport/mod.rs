//! One token request, issued from Rust, to the end: attempts, retry delays, and the typed result
//! or failure. Each attempt sends the request (`send`), reads whatever the fetch resolved to
//! through one bounded reader (`body`), and hands status and body to the core, which decides
//! what they mean and whether to try again.
//!
//! - `settings`: a validated configuration and one call's inputs;
//! - `send`: the request, through gloo-net (global fetch) or as `fetch(url, init)` (a caller's);
//! - `body`: the answer read structurally, its body at most 1 MiB, parsed with `JSON.parse`;
//! - `token_set`: a token as the JS result object.

mod body;
mod send;
pub mod settings;
pub mod token_set;

use super::timing::{self, Cancel, Fired};
use crate::oauth::classify::{classify, Token};
use crate::oauth::failure::{Delivery, Failure};
use crate::oauth::rejection::{classify_rejection, Rejection};
use crate::oauth::retry::{next_delay, retry_after_seconds, retryable};
use crate::oauth::text::join_str;
use crate::oauth::wire::BodyShape;
use body::{read_answer, Answer};
use js_sys::Promise;
use send::send;
use settings::{Call, Settings};
use token_set::token_to_js;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Runs a call to the end: its token as the JS result object, or the final failure (already
/// redacted, its `retryable` verdict set) as the core sees it, for callers that decide on it (a
/// `TokenManager` asks whether a refresh may have spent its token).
pub async fn request_outcome(settings: &Settings, call: &Call) -> Result<JsValue, Failure> {
    let secrets: Vec<&str> = call.secrets.iter().map(String::as_str).collect();
    let mut attempt = 1;
    loop {
        let mut failure = match attempt_once(settings, call).await {
            Ok(token) => return token_to_js(&token, call.results),
            Err(f) => f.redacted(&secrets),
        };
        failure.set_retryable(retryable(call.grant, &failure));
        let delay = match failure {
            Failure::Aborted { .. } => None,
            _ => next_delay(
                &settings.policy,
                attempt,
                failure.retryable(),
                failure.retry_after_ms(),
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
    Failure::aborted(
        "the request was aborted by the caller's AbortSignal",
        delivery,
    )
}

/// How far an attempt got when it broke.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// No response yet: sending, or waiting for the status line.
    BeforeResponse,
    /// The response arrived; its body was being read.
    ReadingBody,
}

/// What went wrong before a response could be classified.
pub enum Broken {
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
            if let Err(
                Failure::OAuth {
                    response: Some(response),
                    ..
                }
                | Failure::Http { response, .. }
                | Failure::InvalidResponse {
                    response: Some(response),
                    ..
                },
            ) = &mut outcome
            {
                response.retry_after_ms = answer.retry_after.as_deref().and_then(retry_after_ms);
            }
            outcome
        }
        Err(Broken::NotAResponse) => Err(Failure::invalid_response(
            "fetch did not resolve to a Response",
        )),
        Err(Broken::Unreadable) => Err(Failure::invalid_response(
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
        super::js::get(v, key)
            .dyn_into::<js_sys::JsString>()
            .ok()
            .filter(|s| s.length() <= 16 * 1024)
            .map(String::from)
    };
    let cause = super::js::get(error, "cause");
    let parts: Vec<String> = [pick(error, "message"), pick(&cause, "message")]
        .into_iter()
        .flatten()
        .collect();
    let message = join_str(&parts, ": ");
    (
        message,
        pick(error, "code").or_else(|| pick(&cause, "code")),
    )
}

/// What `promise` settled to, or why it did not: it rejected, or `cancel` fired first.
pub async fn settled(cancel: &Cancel, promise: Promise, stage: Stage) -> Result<JsValue, Broken> {
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
        body::parse(&answer.text)
    };
    Ok((answer, shape))
}

/// `Retry-After` in ms: delta-seconds, or an HTTP date relative to now.
fn retry_after_ms(value: &str) -> Option<u64> {
    retry_after_seconds(value).or_else(|| {
        let at = js_sys::Date::parse(value);
        at.is_finite()
            .then(|| (at - js_sys::Date::now()).max(0.0) as u64)
    })
}
