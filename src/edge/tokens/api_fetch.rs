//! `tm.fetch`: an Avito API call with `Authorization: Bearer …`. What an answer sets off is the
//! core's decision ([`crate::oauth::refusal`]): a 401/403 may mean an expired token, but Avito
//! also answers 403 to a missing scope or a blocked IP, so a refusal recovers (re-read the store,
//! adopt or renew, send again) at most once per `refusalRenewalIntervalMs`, never for a token
//! this call has just renewed, nor for a published Avito operation whose declared scope the
//! token's set lacks, and otherwise goes back to the caller unchanged. The cached-token fast path
//! and the general path ask the same decision.

use super::super::events::members;
use super::super::js::{self, absent, CallerSignal, LooseResponse};
use super::super::options;
use super::super::scopes::{self, Call};
use super::manager::{access_token, Manager};
use super::store::{copy_of, HeldTokens};
use crate::oauth::health::HEALTH;
use crate::oauth::refusal::{self, Answered, OnAnswer, Recovery};
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
    let start_from = if absent(&given) {
        &out.fallback_headers
    } else {
        &given
    };
    let bearer = format!("Bearer {token}");
    // A caller's fetch always gets a Headers (it may call `init.headers.get`). The global fetch,
    // for a call with no headers of its own, gets a plain object: it builds its Headers once
    // instead of copying ours (README "Performance").
    let headers: JsValue = if absent(start_from) && m.setup.fetch.is_none() {
        let plain = js_sys::Object::new();
        js::set(&plain, "authorization", &JsValue::from_str(&bearer));
        plain.into()
    } else {
        let headers = js::new_headers(start_from)?;
        headers.set("authorization", &bearer)?;
        headers.into()
    };
    let request_init = js::snapshot(&out.init, &[]).unwrap_or_default();
    js::set(&request_init, "headers", &headers);
    let called = match &m.setup.fetch {
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

/// What a refused first answer needs to be retried: where it went, how, whether its body can be
/// sent again.
struct Retry {
    first: Outgoing,
    /// A clone of a Request input, taken before the first send consumed its body.
    spare: Option<JsValue>,
    replayable: bool,
    signal: Option<CallerSignal>,
}

/// The common call — a URL, no init, the global fetch, a cached token — without a Rust future:
/// the request goes out at once, and only a 401/403 answer enters the recovery path. `None`
/// when the call is not that one.
pub fn fetch_cached(m: &Rc<Manager>, input: &JsValue, init: &JsValue) -> Option<Promise> {
    let is_url = input.is_string() || input.is_instance_of::<web_sys::Url>();
    if !absent(init) || m.setup.fetch.is_some() || !is_url {
        return None;
    }
    let current = m.usable_current()?;
    m.served_from_memory();
    let sent = match js::global_fetch_with(input, &current.bearer_init) {
        Ok(sent) => Promise::resolve(&sent),
        Err(thrown) => return Some(Promise::reject(&thrown)),
    };
    // One handler for the answer, made once per manager and bound to this call's input and
    // token: no closure per call (each one a Rust allocation, a JS function and a
    // FinalizationRegistry entry), and a rejected fetch passes through `then` untouched.
    let check = refusal_check(m).bind2(&JsValue::UNDEFINED, input, &current.access_token_value);
    let then = sent
        .unchecked_ref::<js::Thenable>()
        .then_or(&check, &JsValue::UNDEFINED);
    Some(then.unwrap_or_else(|e| Promise::reject(&e)))
}

/// `(input, usedToken, response) => response`, or the recovery's promise for a 401/403. It holds
/// the manager weakly (the manager holds it): an answer that arrives after the manager was freed
/// is handed back as it is.
fn refusal_check(m: &Rc<Manager>) -> &Function {
    m.refusal_check.get_or_init(|| {
        let manager = Rc::downgrade(m);
        let check = move |input: JsValue, used: JsValue, response: JsValue| -> JsValue {
            // The core hands every other status back as it is: checked first, so that an answer
            // that is no refusal costs nothing more than it did before the decision moved.
            if !refusal::token_refused(status_of(&response)) {
                return response;
            }
            let Some(m) = manager.upgrade() else {
                return response;
            };
            // A URL with no init can always be sent again; the token came from the cache.
            let Some(used) = used.as_string() else {
                return response;
            };
            let call = (&input, &JsValue::UNDEFINED);
            if decide(&m, &response, true, false, call, &used) == OnAnswer::HandBack {
                return response;
            }
            let retry = Retry {
                first: Outgoing {
                    target: input,
                    init: JsValue::UNDEFINED,
                    fallback_headers: JsValue::UNDEFINED,
                },
                spare: None,
                replayable: true,
                signal: None,
            };
            super::super::promise(recover(m, retry, response, used)).into()
        };
        Closure::<dyn Fn(JsValue, JsValue, JsValue) -> JsValue>::new(check)
            .into_js_value()
            .unchecked_into()
    })
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
    let retry = Retry {
        first: Outgoing {
            target: input,
            init,
            fallback_headers,
        },
        spare,
        replayable,
        signal,
    };
    let (response, used, delivered) = send(&m, &retry.first, retry.signal.clone()).await?;
    let call = (&retry.first.target, &retry.first.init);
    match decide(&m, &response, retry.replayable, delivered, call, &used) {
        OnAnswer::HandBack => Ok(response),
        OnAnswer::Recover => recover(m, retry, response, used).await,
    }
}

/// The core's decision on an API answer to the call `(target, init)` made with the token `used`,
/// with this manager's clock and last recovery. Any answer but a refusal costs nothing more; a
/// refusal handed back is reported, and the scopes it found missing go into the set's health.
fn decide(
    m: &Rc<Manager>,
    response: &JsValue,
    replayable: bool,
    just_renewed: bool,
    (target, init): (&JsValue, &JsValue),
    used: &str,
) -> OnAnswer {
    let status = status_of(response);
    let mut answered = Answered {
        status,
        replayable,
        token_just_renewed: just_renewed,
        now_ms: js_sys::Date::now(),
        last_recovery_ms: m.last_recovery.get(),
        interval_ms: m.setup.refusal_interval_ms,
        missing_scopes: false,
    };
    if !refusal::token_refused(status) {
        return refusal::on_answer(&answered);
    }
    // The scopes are known only while the set in use here is that token's.
    let call = Call::of(target, init);
    let set = m.set_of(used);
    let host = &m.setup.auth.settings.host;
    let missing = set
        .as_ref()
        .map(|set| scopes::missing_scopes(set, &call, host))
        .unwrap_or_default();
    answered.missing_scopes = !missing.is_empty();
    let decision = refusal::on_answer(&answered);
    if decision == OnAnswer::HandBack {
        let reason = refusal::hand_back_reason(&answered);
        report_refusal(m, status, &call, "handed_back", reason, &missing);
        if let Some(set) = set.filter(|_| !missing.is_empty()) {
            record_missing_scopes(m, set, &missing);
        }
    }
    decision
}

/// An `api_refused` event.
fn report_refusal(
    m: &Manager,
    status: u16,
    call: &Call,
    action: &str,
    reason: &str,
    missing: &[&str],
) {
    m.setup.events.emit("api_refused", &|| {
        let path = call.path().map_or(JsValue::UNDEFINED, JsValue::from);
        let missing = match missing.is_empty() {
            true => JsValue::UNDEFINED,
            false => scope_list(missing).into(),
        };
        members([
            status.into(),
            JsValue::from_str(&call.method),
            path,
            action.into(),
            reason.into(),
            missing,
        ])
    });
}

fn scope_list(scopes: &[&str]) -> js_sys::Array {
    scopes.iter().map(|s| JsValue::from_str(s)).collect()
}

/// Writes the scopes an API found missing into the set's `health.missing_scopes` (every process
/// sees them in `status()`), in the background, once per new scope: a compare-and-set over the
/// set in use here, which changes nothing when the store moved on (a renewal, a sign-out).
fn record_missing_scopes(m: &Rc<Manager>, set: JsValue, missing: &[&str]) {
    let health = match js::with_missing_scopes(&js::get(&set, HEALTH), &scope_list(missing)) {
        Ok(health) if !health.is_undefined() => health,
        _ => return,
    };
    let next = copy_of(&set);
    js::set(&next, HEALTH, &health);
    let next: JsValue = next.into();
    m.keep(&next);
    let m = m.clone();
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(fault) = m.setup.store.compare_and_set(&set, &next).await {
            m.setup.events.store_error(&fault, &|| m.held_secrets());
        }
    });
}

/// A 401/403 to the token `used` that the core says to recover from: adopt what another process
/// stored or renew, then send once more; if no token can be had, the refusal goes back as it was.
async fn recover(
    m: Rc<Manager>,
    retry: Retry,
    response: JsValue,
    used: String,
) -> Result<JsValue, JsValue> {
    let now = js_sys::Date::now();
    m.last_recovery.set(Some(now));
    let sign_outs = m.sign_outs();
    // A set read before a signOut() of this manager that ran meanwhile is not adopted.
    let stored = match m.setup.store.get().await {
        Ok(stored) => Some(stored).filter(|_| m.sign_outs() == sign_outs),
        Err(fault) => {
            m.setup.events.store_error(&fault, &|| m.held_secrets());
            None
        }
    };
    let held = stored.as_ref().and_then(|s| HeldTokens::of(s).ok());
    let refused = m.refused_token();
    let current = m.current_access_token();
    let recovery = refusal::after_store_read(
        held.as_ref().map(HeldTokens::view).as_ref(),
        &used,
        current.as_deref(),
        refused.as_deref(),
        now,
        m.setup.cfg.skew_ms,
    );
    match (recovery, &stored) {
        (Recovery::Adopt, Some(stored)) => m.keep(stored),
        (Recovery::Renew { refuse_used: true }, _) => m.refuse(&used),
        _ => {}
    }
    // Obtain the next token before letting the refused answer go: if that fails, the caller
    // gets the refusal as it was.
    let renewed = access_token(m.clone(), retry.signal.clone()).await;
    let (action, reason) = match (&renewed, recovery) {
        (Err(_), _) => ("handed_back", "no_token"),
        (Ok(_), Recovery::Adopt) => ("recovered", "adopted"),
        (Ok(_), Recovery::Renew { .. }) => ("recovered", "renewed"),
    };
    let call = Call::of(&retry.first.target, &retry.first.init);
    report_refusal(&m, status_of(&response), &call, action, reason, &[]);
    if renewed.is_err() {
        return Ok(response);
    }
    discard(&response).await;
    let again = Outgoing {
        target: retry.spare.unwrap_or(retry.first.target),
        ..retry.first
    };
    Ok(send(&m, &again, retry.signal).await?.0)
}
