//! `tm.fetch`: an Avito API call with `Authorization: Bearer …`. A 401/403 may mean an expired
//! token, but Avito also answers 403 to a missing scope or a blocked IP: a refusal sets off a
//! recovery (re-read the store, else renew) at most once per `refusalRenewalIntervalMs`, never
//! for a token this call has just renewed, and otherwise goes back to the caller unchanged.

use super::super::js::{self, absent, CallerSignal, LooseResponse};
use super::super::options;
use super::manager::{access_token, Manager};
use crate::oauth::renewal::{may_recover_from_refusal, token_refused};
use js_sys::{Function, Promise};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// What one call sends: the target, the caller's init, and the headers to start from when the
/// init has none (a Request's own).
struct Outgoing {
    target: JsValue,
    init: JsValue,
    fallback_headers: JsValue,
}

/// One API request with a valid token, as `fetch(target, { ...init, headers })`; the response,
/// the token used, and whether the token endpoint delivered it during this call.
async fn send(
    m: &Rc<Manager>,
    out: &Outgoing,
    signal: Option<CallerSignal>,
) -> Result<(JsValue, String, bool), JsValue> {
    let (token, renewed) = access_token(m.clone(), signal).await?;
    let given = js::get(&out.init, "headers");
    // Always a Headers (a caller's fetch may call `init.headers.get`).
    let headers = js::new_headers(if absent(&given) {
        &out.fallback_headers
    } else {
        &given
    })?;
    headers.set("authorization", &format!("Bearer {token}"))?;
    let request_init = js::snapshot(&out.init, &[]).unwrap_or_default();
    js::set(&request_init, "headers", &headers);
    let called = match &m.fetch {
        Some(f) => f.call2(&JsValue::UNDEFINED, &out.target, &request_init),
        None => js::global_fetch_with(&out.target, &request_init),
    };
    let response = JsFuture::from(Promise::resolve(&called?)).await?;
    Ok((response, token, renewed))
}

fn status_of(response: &JsValue) -> u16 {
    response
        .unchecked_ref::<LooseResponse>()
        .status()
        .ok()
        .and_then(|s| s.as_f64())
        .filter(|s| (0.0..=999.0).contains(s))
        .map_or(0, |s| s as u16)
}

/// Lets a refused answer's body go (nobody will read it).
async fn discard(response: &JsValue) {
    let body = js::get(response, "body");
    if let Ok(cancel) = js::get(&body, "cancel").dyn_into::<Function>() {
        if let Ok(done) = cancel.call0(&body) {
            let _ = JsFuture::from(Promise::resolve(&done)).await;
        }
    }
}

pub async fn api_fetch(m: Rc<Manager>, input: JsValue, init: JsValue) -> Result<JsValue, JsValue> {
    let request = input.dyn_ref::<web_sys::Request>().cloned();
    let body = js::get(&init, "body");
    let stream_body = body.is_instance_of::<web_sys::ReadableStream>();
    let used_request = request
        .as_ref()
        .is_some_and(|r| body.is_undefined() && r.body().is_some() && r.body_used());
    let replayable = !stream_body && !used_request;
    let spare: Option<JsValue> = match (&request, replayable) {
        (Some(r), true) => r.clone().ok().map(JsValue::from),
        _ => None,
    };
    let signal_value = match js::get(&init, "signal") {
        s if absent(&s) => request
            .as_ref()
            .map_or(JsValue::UNDEFINED, |r| r.signal().into()),
        s => s,
    };
    let signal = options::signal(&signal_value)?;
    let fallback_headers = request
        .as_ref()
        .map_or(JsValue::UNDEFINED, |r| r.headers().into());
    let first = Outgoing {
        target: input.clone(),
        init: init.clone(),
        fallback_headers,
    };
    let (response, used, renewed) = send(&m, &first, signal.clone()).await?;
    if !token_refused(status_of(&response)) || !replayable {
        return Ok(response);
    }
    let now = js_sys::Date::now();
    if !may_recover_from_refusal(now, m.last_recovery.get(), m.refusal_interval_ms, renewed) {
        return Ok(response);
    }
    m.last_recovery.set(Some(now));
    // Someone else (another process of the fleet) may have renewed already: a stored token that
    // is not the refused one is tried first; otherwise this one is renewed.
    let adopted = match m.store.get().await {
        Ok(stored) => {
            js::get(&stored, "access_token").as_string().as_deref() != Some(used.as_str())
                && m.adopt_if_usable(&stored)
        }
        Err(_) => false,
    };
    if !adopted && m.current_access_token().as_deref() == Some(used.as_str()) {
        m.refuse(&used);
    }
    // Obtain the next token before letting the refused answer go: if that fails, the caller
    // gets the refusal as it was.
    if access_token(m.clone(), signal.clone()).await.is_err() {
        return Ok(response);
    }
    discard(&response).await;
    let again = Outgoing {
        target: spare.unwrap_or(input),
        ..first
    };
    Ok(send(&m, &again, signal).await?.0)
}
