//! `Engine`: one validated configuration, and the token request loop (fetch, timeout,
//! caller's AbortSignal, retries). No Rust closures are handed to JS, so nothing is leaked
//! per call: timers and listeners use bound platform functions and are removed every time.

use super::js::{self, get, is_aborted, set, with_keys};
use super::{invalid, to_js_error};
use crate::core::classify::{classify, is_success, MAX_BODY};
use crate::core::retry::{next_delay, retry_after_seconds, retryable, RetryPolicy};
use crate::core::{check_grant_type, concat_str, require_arg, token_body, Failure, Grant, Kind, Token};
use js_sys::{Array, Function, JsString, Object, Promise, Reflect};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

const DEFAULT_TIMEOUT_MS: f64 = 30_000.0;
const MAX_TIMEOUT_MS: f64 = 2_147_483_647.0;
const DEFAULT_HOST: &str = "https://api.avito.ru";

struct Inner {
    token_url: JsValue,
    fetch: Option<Function>,
    timeout_ms: f64,
    policy: RetryPolicy,
    headers: JsValue,
}

#[wasm_bindgen]
pub struct Engine {
    inner: Rc<Inner>,
}

/// A JS string argument as Rust text: `None` when absent or not a string; an error when it holds
/// unpaired surrogates (they cannot be sent without silently changing the value).
fn js_text(name: &str, v: &JsValue) -> Result<Option<String>, Failure> {
    match v.dyn_ref::<JsString>() {
        Some(s) if !s.is_valid_utf16() => Err(Failure::invalid_argument(concat_str(&[name, " contains unpaired UTF-16 surrogates"]))),
        Some(_) => Ok(v.as_string()),
        None => Ok(None),
    }
}

fn number_in(v: &JsValue, name: &str, min: f64, max: f64, whole: bool) -> Result<Option<f64>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.is_finite() && n >= min && n <= max && (!whole || n.fract() == 0.0) => Ok(Some(n)),
        _ => Err(invalid(&concat_str(&[name, " is out of range"]))),
    }
}

fn header_name_ok(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn header_value_ok(value: &str) -> bool {
    !value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

fn retry_policy(v: &JsValue) -> Result<RetryPolicy, JsValue> {
    if v.is_undefined() || v.is_null() || *v == JsValue::TRUE {
        return Ok(RetryPolicy::default());
    }
    if *v == JsValue::FALSE {
        return Ok(RetryPolicy::OFF);
    }
    if !v.is_object() {
        return Err(invalid("retries must be false or { maxAttempts, baseDelayMs, maxDelayMs }"));
    }
    let d = RetryPolicy::default();
    let field = |name: &str| get(v, &JsValue::from_str(name));
    let max_attempts = number_in(&field("maxAttempts"), "retries.maxAttempts", 1.0, 10.0, true)?.map_or(d.max_attempts, |n| n as u32);
    let base = number_in(&field("baseDelayMs"), "retries.baseDelayMs", 0.0, 3_600_000.0, false)?.map_or(d.base_delay_ms, |n| n as u64);
    let max = number_in(&field("maxDelayMs"), "retries.maxDelayMs", 0.0, 3_600_000.0, false)?.map_or(d.max_delay_ms.max(base), |n| n as u64);
    Ok(RetryPolicy { max_attempts, base_delay_ms: base, max_delay_ms: max })
}

/// The request headers, built once: the caller's extras, then ours (which win).
fn build_headers(user_agent: &JsValue, extra: &JsValue) -> Result<JsValue, JsValue> {
    let out = Object::new();
    if !(extra.is_undefined() || extra.is_null()) {
        if !extra.is_object() {
            return Err(invalid("headers must be an object of header names to string values"));
        }
        // A plain object, or anything iterable as [name, value] pairs (Headers, Map, arrays).
        let entries: Array = match js_sys::try_iter(extra) {
            Ok(Some(it)) => it.filter_map(Result::ok).collect(),
            _ => Object::entries(extra.unchecked_ref()),
        };
        for pair in entries.iter() {
            let name = Reflect::get_u32(&pair, 0).ok().and_then(|n| n.as_string());
            let value = Reflect::get_u32(&pair, 1).ok().and_then(|v| v.as_string());
            match (name, value) {
                (Some(n), Some(v)) if header_name_ok(&n) && header_value_ok(&v) => {
                    let lower = n.to_ascii_lowercase();
                    if lower != "content-type" && lower != "accept" && lower != "content-length" {
                        set(&out, &JsValue::from_str(&lower), &JsValue::from_str(&v));
                    }
                }
                _ => return Err(invalid("headers must map valid header names to string values without line breaks")),
            }
        }
    }
    if !(user_agent.is_undefined() || user_agent.is_null()) {
        match user_agent.as_string() {
            Some(ua) if !ua.is_empty() && header_value_ok(&ua) => set(&out, &JsValue::from_str("user-agent"), &JsValue::from_str(&ua)),
            _ => return Err(invalid("userAgent must be a non-empty string without line breaks")),
        }
    }
    set(&out, &JsValue::from_str("content-type"), &JsValue::from_str("application/x-www-form-urlencoded"));
    set(&out, &JsValue::from_str("accept"), &JsValue::from_str("application/json"));
    Ok(out.into())
}

#[wasm_bindgen]
impl Engine {
    /// Validates the configuration; throws an `ApiException` (`invalid_argument`) when it is bad.
    #[wasm_bindgen(constructor)]
    pub fn new(host: JsValue, fetch: JsValue, timeout_ms: JsValue, retries: JsValue, user_agent: JsValue, headers: JsValue) -> Result<Engine, JsValue> {
        let base = if host.is_undefined() || host.is_null() { DEFAULT_HOST.to_owned() } else { super::normalize_base_url(host, "host")? };
        let fetch = if fetch.is_undefined() || fetch.is_null() {
            None
        } else {
            Some(fetch.dyn_into::<Function>().map_err(|_| invalid("fetch must be a function"))?)
        };
        let timeout_ms = number_in(&timeout_ms, "timeoutMs", 1.0, MAX_TIMEOUT_MS, false)?.unwrap_or(DEFAULT_TIMEOUT_MS);
        let policy = retry_policy(&retries)?;
        let headers = build_headers(&user_agent, &headers)?;
        let token_url = JsValue::from_str(&concat_str(&[&base, "/token"]));
        Ok(Engine { inner: Rc::new(Inner { token_url, fetch, timeout_ms, policy, headers }) })
    }

    /// The normalised `{host}/token` URL.
    #[wasm_bindgen(getter, js_name = tokenUrl)]
    pub fn token_url(&self) -> JsValue {
        self.inner.token_url.clone()
    }

    /// `grant`: 0 authorization_code, 1 refresh_token, 2 client_credentials. Resolves to a plain
    /// token object (with `expires_at` when `with_expiry`), rejects with an `ApiException`.
    #[allow(clippy::too_many_arguments)]
    pub fn token(
        &self,
        grant: u32,
        client_id: JsValue,
        client_secret: JsValue,
        grant_secret: JsValue,
        grant_type: JsValue,
        redirect_uri: JsValue,
        signal: JsValue,
        with_expiry: bool,
    ) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let req = match Request::new(grant, &client_id, &client_secret, &grant_secret, &grant_type, &redirect_uri, &signal) {
                Ok(r) => r,
                Err(f) => return Err(to_js_error(&f, false)),
            };
            run(&inner, &req, with_expiry).await
        })
    }
}

struct Request {
    grant: Grant,
    body: JsValue,
    secrets: Vec<String>,
    signal: Option<JsValue>,
}

impl Request {
    fn new(grant: u32, client_id: &JsValue, client_secret: &JsValue, grant_secret: &JsValue, grant_type: &JsValue, redirect_uri: &JsValue, signal: &JsValue) -> Result<Request, Failure> {
        let grant = Grant::from_index(grant).ok_or_else(|| Failure::invalid_argument("unknown grant"))?;
        let client_id = require_arg("clientId", js_text("clientId", client_id)?)?;
        let client_secret = require_arg("clientSecret", js_text("clientSecret", client_secret)?)?;
        let grant_secret = match grant {
            Grant::AuthorizationCode => Some(require_arg("code", js_text("code", grant_secret)?)?),
            Grant::RefreshToken => Some(require_arg("refreshToken", js_text("refreshToken", grant_secret)?)?),
            Grant::ClientCredentials => None,
        };
        if !(grant_type.is_undefined() || grant_type.is_null()) {
            let given = grant_type.as_string();
            check_grant_type(grant, Some(given.as_deref().unwrap_or("")))?;
        }
        let redirect_uri = if redirect_uri.is_undefined() || redirect_uri.is_null() {
            None
        } else {
            Some(require_arg("redirectUri", js_text("redirectUri", redirect_uri)?)?)
        };
        let signal = if signal.is_undefined() || signal.is_null() {
            None
        } else if signal.is_object() && with_keys(|k| get(signal, &k.add).is_function()) {
            Some(signal.clone())
        } else {
            return Err(Failure::invalid_argument("signal must be an AbortSignal"));
        };
        let body = JsValue::from_str(&token_body(grant, &client_id, &client_secret, grant_secret.as_deref(), redirect_uri.as_deref()));
        let mut secrets = vec![client_secret];
        secrets.extend(grant_secret);
        Ok(Request { grant, body, secrets, signal })
    }

    fn aborted(&self) -> bool {
        self.signal.as_ref().map_or(false, is_aborted)
    }
}

fn aborted_failure() -> Failure {
    Failure::new(Kind::Aborted, "the request was aborted by the caller's AbortSignal")
}

async fn run(inner: &Inner, req: &Request, with_expiry: bool) -> Result<JsValue, JsValue> {
    let fetch = match &inner.fetch {
        Some(f) => f.clone(),
        None => match with_keys(|k| get(&js_sys::global(), &k.fetch)).dyn_into::<Function>() {
            Ok(f) => f,
            Err(_) => return Err(invalid("no global fetch in this runtime: pass Configuration({ fetch })")),
        },
    };
    let mut attempt = 1u32;
    loop {
        let failure = if req.aborted() {
            aborted_failure()
        } else {
            match attempt_once(inner, req, &fetch).await {
                Ok(token) => return Ok(token_to_js(&token, with_expiry)),
                Err(f) => f,
            }
        };
        if failure.kind == Kind::Aborted {
            return Err(to_js_error(&failure, false));
        }
        match next_delay(&inner.policy, req.grant, attempt, &failure, js_sys::Math::random()) {
            Some(delay) => {
                sleep(delay as f64, req.signal.as_ref()).await;
                attempt += 1;
            }
            None => return Err(to_js_error(&failure, retryable(req.grant, &failure))),
        }
    }
}

/// Clears the attempt's timer and listener on every exit path.
struct AttemptGuard<'a> {
    timer: JsValue,
    abort: Function,
    user_signal: Option<&'a JsValue>,
}

impl Drop for AttemptGuard<'_> {
    fn drop(&mut self) {
        js::clear_timeout(&self.timer);
        if let Some(sig) = self.user_signal {
            with_keys(|k| {
                let _ = js::call_method(sig, &k.remove, &[&k.abort, &self.abort]);
            });
        }
    }
}

async fn attempt_once(inner: &Inner, req: &Request, fetch: &Function) -> Result<Token, Failure> {
    let controller = with_keys(|k| get(&js_sys::global(), &k.abort_controller))
        .dyn_into::<Function>()
        .ok()
        .and_then(|c| Reflect::construct(&c, &Array::new()).ok())
        .ok_or_else(|| Failure::invalid_argument("this runtime has no AbortController"))?;
    let ctl_signal = with_keys(|k| get(&controller, &k.signal));
    let abort: Function = with_keys(|k| get(&controller, &k.abort))
        .dyn_into::<Function>()
        .map_err(|_| Failure::invalid_argument("this runtime has no AbortController"))?
        .bind0(&controller);
    let _guard = AttemptGuard { timer: js::set_timeout(&abort, inner.timeout_ms), abort: abort.clone(), user_signal: req.signal.as_ref() };
    if let Some(sig) = &req.signal {
        with_keys(|k| {
            let _ = js::call_method(sig, &k.add, &[&k.abort, &abort]);
        });
    }
    // Races every await with the abort, so a fetch that ignores its signal still times out.
    let (on_abort, _) = js::rejects_on_abort(&ctl_signal);

    let init = Object::new();
    with_keys(|k| {
        set(&init, &k.method, &k.post);
        set(&init, &k.headers, &inner.headers);
        set(&init, &k.body, &req.body);
        set(&init, &k.signal, &ctl_signal);
        set(&init, &k.redirect, &k.manual);
    });
    let response = match fetch.call2(&JsValue::UNDEFINED, &inner.token_url, &init) {
        Ok(p) => race(p, &on_abort).await,
        Err(e) => Err(e),
    }
    .map_err(|e| transport_failure(inner, req, &ctl_signal, &e, true))?;

    let status = with_keys(|k| get(&response, &k.status)).as_f64();
    let status = match status {
        Some(s) if (100.0..=999.0).contains(&s) => s as u16,
        // Browsers report a manual redirect as an opaque response with status 0.
        Some(s) if s == 0.0 => 0,
        _ => return Err(Failure::new(Kind::InvalidResponse, "fetch did not resolve to a Response")),
    };
    let header = |name: &JsValue| with_keys(|k| js::call_method(&get(&response, &k.headers), &k.get, &[name]).ok().and_then(|v| v.as_string()));
    let retry_after = header(&with_keys(|k| k.retry_after.clone()));
    let declared_len = header(&with_keys(|k| k.content_length.clone())).and_then(|v| v.trim().parse::<u64>().ok());

    let text = if declared_len.map_or(false, |n| n > MAX_BODY as u64) {
        with_keys(|k| {
            let _ = js::call_method(&get(&response, &k.body), &JsValue::from_str("cancel"), &[]);
        });
        if is_success(status) {
            let mut f = Failure::new(Kind::InvalidResponse, "response body is larger than 1 MiB");
            f.status = Some(status);
            return Err(f);
        }
        String::new()
    } else {
        let read = with_keys(|k| js::call_method(&response, &k.text, &[]));
        let value = match read {
            Ok(p) => race(p, &on_abort).await.map_err(|e| transport_failure(inner, req, &ctl_signal, &e, false))?,
            Err(_) => return Err(Failure::new(Kind::InvalidResponse, "fetch did not resolve to a Response")),
        };
        value.as_string().unwrap_or_default()
    };
    let secrets: Vec<&str> = req.secrets.iter().map(String::as_str).collect();
    classify(status, &text, &secrets).map_err(|mut f| {
        f.retry_after_ms = retry_after.as_deref().and_then(retry_after_ms);
        f
    })
}

async fn race(p: JsValue, on_abort: &Promise) -> Result<JsValue, JsValue> {
    let both = Array::of2(&p, on_abort);
    JsFuture::from(Promise::race(&both)).await
}

/// `Retry-After` in ms: delta-seconds, or an HTTP date relative to now.
fn retry_after_ms(value: &str) -> Option<u64> {
    retry_after_seconds(value).or_else(|| {
        let at = js_sys::Date::parse(value);
        at.is_finite().then(|| (at - js_sys::Date::now()).max(0.0) as u64)
    })
}

const CONNECT_CODES: [&str; 8] =
    ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT", "ConnectionRefused", "ECONNRESET_BEFORE_SEND"];

/// A rejected fetch or body read: the caller's abort, our timeout, or a network failure.
fn transport_failure(inner: &Inner, req: &Request, ctl_signal: &JsValue, e: &JsValue, before_response: bool) -> Failure {
    if req.aborted() {
        return aborted_failure();
    }
    if is_aborted(ctl_signal) {
        let mut ms = String::new();
        push_u64(&mut ms, inner.timeout_ms as u64);
        return Failure::new(Kind::Timeout, concat_str(&["no response within ", &ms, " ms"]));
    }
    let (message, code) = with_keys(|k| {
        let cause = get(e, &k.cause);
        let code = get(e, &k.code).as_string().or_else(|| get(&cause, &k.code).as_string());
        let mut msg = get(e, &k.message).as_string().unwrap_or_default();
        if let Some(m) = get(&cause, &k.message).as_string() {
            msg.push_str(": ");
            msg.push_str(&m);
        }
        (msg, code)
    });
    let secrets: Vec<&str> = req.secrets.iter().map(String::as_str).collect();
    let message = crate::core::redact::truncate(&crate::core::redact::redact(&message, &secrets), 300);
    let refused = |s: &str| CONNECT_CODES.iter().any(|c| s.contains(c)) || s.contains("onnection refused");
    let mut f = Failure::new(Kind::Network, concat_str(&["network error: ", if message.is_empty() { "fetch failed" } else { &message }]));
    f.not_sent = before_response && (code.as_deref().map_or(false, refused) || refused(&message));
    if let Some(c) = code.filter(|c| c.len() < 40 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')) {
        f.error = Some(c);
    }
    f
}

fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(core::str::from_utf8(&buf[i..]).unwrap_or("0"));
}

async fn sleep(ms: f64, signal: Option<&JsValue>) {
    let mut wake = JsValue::UNDEFINED;
    let mut timer = JsValue::UNDEFINED;
    let p = Promise::new(&mut |resolve, _| {
        timer = js::set_timeout(&resolve, ms);
        if let Some(sig) = signal {
            with_keys(|k| {
                let _ = js::call_method(sig, &k.add, &[&k.abort, &resolve]);
            });
        }
        wake = resolve.into();
    });
    let _ = JsFuture::from(p).await;
    js::clear_timeout(&timer);
    if let Some(sig) = signal {
        with_keys(|k| {
            let _ = js::call_method(sig, &k.remove, &[&k.abort, &wake]);
        });
    }
}

fn token_to_js(t: &Token, with_expiry: bool) -> JsValue {
    let o = Object::new();
    with_keys(|k| {
        set(&o, &k.access_token, &JsValue::from_str(&t.access_token));
        if let Some(e) = t.expires_in {
            set(&o, &k.expires_in, &JsValue::from_f64(e as f64));
        }
        for (key, v) in [(&k.token_type, &t.token_type), (&k.refresh_token, &t.refresh_token), (&k.scope, &t.scope)] {
            if let Some(s) = v {
                set(&o, key, &JsValue::from_str(s));
            }
        }
        if let (true, Some(e)) = (with_expiry, t.expires_in) {
            set(&o, &k.expires_at, &JsValue::from_f64(js_sys::Date::now() + e as f64 * 1000.0));
        }
    });
    o.into()
}

