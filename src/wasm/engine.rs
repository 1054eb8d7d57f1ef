//! `Engine`: one validated configuration, and the synchronous decisions of a token request.
//! The JS transport (pkg-template/api.js) awaits `fetch` and timers and calls these between
//! awaits: `body` before sending, `response` or `rejection` after, `retryDelay` to go on.

use super::js::{get, set};
use super::{invalid, to_js_error};
use crate::core::classify::classify;
use crate::core::retry::{next_delay, retry_after_seconds, retryable, RetryPolicy};
use crate::core::transport::{classify_rejection, Rejection};
use crate::core::{check_grant_type, concat_str, extra_header, header_value_ok, require_arg, token_body, Failure, Grant, Kind, Token};
use alloc::{borrow::ToOwned, string::String, vec::Vec};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

const DEFAULT_TIMEOUT_MS: f64 = 30_000.0;
const MAX_TIMEOUT_MS: f64 = 2_147_483_647.0;
const DEFAULT_HOST: &str = "https://api.avito.ru";

#[wasm_bindgen]
pub struct Engine {
    token_url: JsValue,
    timeout_ms: f64,
    policy: RetryPolicy,
    headers: JsValue,
}

fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

fn number_in(v: &JsValue, name: &str, min: f64, max: f64, whole: bool) -> Result<Option<f64>, JsValue> {
    if absent(v) {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.is_finite() && n >= min && n <= max && (!whole || (n as u64) as f64 == n) => Ok(Some(n)),
        _ => Err(invalid(&concat_str(&[name, " is out of range"]))),
    }
}

fn retry_policy(v: &JsValue) -> Result<RetryPolicy, JsValue> {
    if absent(v) || *v == JsValue::TRUE {
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

/// The request headers, built once: the caller's extras (`[name, value]` pairs, normalised by
/// the JS side), then ours, which win.
fn build_headers(user_agent: &JsValue, extra: &JsValue) -> Result<JsValue, JsValue> {
    let out = Object::new();
    if !absent(extra) {
        let pairs = extra.dyn_ref::<Array>().ok_or_else(|| invalid("headers must be an object of header names to string values"))?;
        for pair in pairs.iter() {
            let name = Reflect::get_u32(&pair, 0).ok().and_then(|n| n.as_string());
            let value = Reflect::get_u32(&pair, 1).ok().and_then(|v| v.as_string());
            let (Some(n), Some(v)) = (name, value) else {
                return Err(invalid("headers must map valid header names to string values without line breaks"));
            };
            match extra_header(&n, &v) {
                Ok(Some(lower)) => set(&out, &JsValue::from_str(&lower), &JsValue::from_str(&v)),
                Ok(None) => {}
                Err(f) => return Err(to_js_error(&f, false)),
            }
        }
    }
    if !absent(user_agent) {
        match user_agent.as_string() {
            Some(ua) if !ua.is_empty() && header_value_ok(&ua) => set(&out, &JsValue::from_str("user-agent"), &JsValue::from_str(&ua)),
            _ => return Err(invalid("userAgent must be a non-empty string without line breaks")),
        }
    }
    set(&out, &JsValue::from_str("content-type"), &JsValue::from_str("application/x-www-form-urlencoded"));
    set(&out, &JsValue::from_str("accept"), &JsValue::from_str("application/json"));
    Ok(out.into())
}

fn grant_of(i: u32) -> Result<Grant, Failure> {
    Grant::from_index(i).ok_or_else(|| Failure::invalid_argument("unknown grant"))
}

/// The secret values of a call, read from JS only when a failure must be redacted.
fn secrets_of(a: &JsValue, b: &JsValue) -> Vec<String> {
    [a, b].iter().filter_map(|v| v.as_string()).filter(|s| !s.is_empty()).collect()
}

fn finish(grant: Grant, f: Failure, secret_a: &JsValue, secret_b: &JsValue) -> JsValue {
    let owned = secrets_of(secret_a, secret_b);
    let secrets: Vec<&str> = owned.iter().map(String::as_str).collect();
    let f = f.redacted(&secrets);
    to_js_error(&f, retryable(grant, &f))
}

#[wasm_bindgen]
impl Engine {
    /// Validates the configuration; throws an `ApiException` (`invalid_argument`) when it is bad.
    /// `fetch` is only checked (a function or absent): the JS side keeps and calls it.
    #[wasm_bindgen(constructor)]
    pub fn new(host: JsValue, fetch: JsValue, timeout_ms: JsValue, retries: JsValue, user_agent: JsValue, headers: JsValue) -> Result<Engine, JsValue> {
        let base = if absent(&host) { DEFAULT_HOST.to_owned() } else { super::normalize_base_url(host, "host")? };
        if !absent(&fetch) && !fetch.is_function() {
            return Err(invalid("fetch must be a function"));
        }
        let timeout_ms = number_in(&timeout_ms, "timeoutMs", 1.0, MAX_TIMEOUT_MS, false)?.unwrap_or(DEFAULT_TIMEOUT_MS);
        let policy = retry_policy(&retries)?;
        let headers = build_headers(&user_agent, &headers)?;
        let token_url = JsValue::from_str(&concat_str(&[&base, "/token"]));
        Ok(Engine { token_url, timeout_ms, policy, headers })
    }

    /// The normalised `{host}/token` URL.
    #[wasm_bindgen(getter, js_name = tokenUrl)]
    pub fn token_url(&self) -> JsValue {
        self.token_url.clone()
    }
    /// The request headers (a plain object, shared by every request).
    #[wasm_bindgen(getter)]
    pub fn headers(&self) -> JsValue {
        self.headers.clone()
    }
    #[wasm_bindgen(getter, js_name = timeoutMs)]
    pub fn timeout_ms(&self) -> f64 {
        self.timeout_ms
    }

    /// Validates a call and returns its form body. `grant`: 0 authorization_code,
    /// 1 refresh_token, 2 client_credentials. String arguments arrive as `undefined` when the
    /// caller passed something else (the JS side maps them, and refuses unpaired surrogates:
    /// `isWellFormed` is one native call there, a check from here would cross per character);
    /// `grant_type`: undefined for the method's own grant, "" for a non-string.
    /// Throws `invalid_argument`.
    #[allow(clippy::too_many_arguments)]
    pub fn body(&self, grant: u32, client_id: Option<String>, client_secret: Option<String>, grant_secret: Option<String>, grant_type: Option<String>, redirect_uri: Option<String>) -> Result<String, JsValue> {
        let run = || -> Result<String, Failure> {
            let grant = grant_of(grant)?;
            let client_id = require_arg("clientId", client_id)?;
            let client_secret = require_arg("clientSecret", client_secret)?;
            let grant_secret = match grant {
                Grant::AuthorizationCode => Some(require_arg("code", grant_secret)?),
                Grant::RefreshToken => Some(require_arg("refreshToken", grant_secret)?),
                Grant::ClientCredentials => None,
            };
            check_grant_type(grant, grant_type.as_deref())?;
            let redirect_uri = match redirect_uri {
                None => None,
                some => Some(require_arg("redirectUri", some)?),
            };
            Ok(token_body(grant, &client_id, &client_secret, grant_secret.as_deref(), redirect_uri.as_deref()))
        };
        run().map_err(|f| to_js_error(&f, false))
    }

    /// Classifies a response: the token as a plain object (with `expires_at` when
    /// `with_expiry`), or an `ApiException` — returned, not thrown. `status` is NaN when the
    /// fetch did not resolve to a Response; `text` is the body (undefined when it was not read
    /// or not a string); `too_large`: the body was over 1 MiB and `text` is at most its head.
    #[allow(clippy::too_many_arguments)]
    pub fn response(&self, grant: u32, status: f64, text: Option<String>, retry_after: Option<String>, too_large: bool, with_expiry: bool, secret_a: JsValue, secret_b: JsValue) -> JsValue {
        let grant = match grant_of(grant) {
            Ok(g) => g,
            Err(f) => return to_js_error(&f, false),
        };
        let status = match status {
            s if (0.0..=999.0).contains(&s) && (s as u16) as f64 == s => s as u16,
            _ => return to_js_error(&Failure::new(Kind::InvalidResponse, "fetch did not resolve to a Response"), false),
        };
        match classify(status, text.as_deref().unwrap_or(""), too_large) {
            Ok(t) => token_to_js(&t, with_expiry),
            Err(mut f) => {
                f.retry_after_ms = retry_after.as_deref().and_then(retry_after_ms);
                finish(grant, f, &secret_a, &secret_b)
            }
        }
    }

    /// The `ApiException` for a rejected fetch or body read: `message` (with its cause's) and
    /// `code` (`err.code` or `err.cause.code`) as the JS side read them.
    #[allow(clippy::too_many_arguments)]
    pub fn rejection(&self, grant: u32, message: String, code: Option<String>, caller_aborted: bool, timed_out: bool, before_response: bool, secret_a: JsValue, secret_b: JsValue) -> JsValue {
        let grant = match grant_of(grant) {
            Ok(g) => g,
            Err(f) => return to_js_error(&f, false),
        };
        let f = classify_rejection(&Rejection {
            caller_aborted,
            timed_out,
            timeout_ms: self.timeout_ms as u64,
            message: &message,
            code: code.as_deref(),
            before_response,
        });
        finish(grant, f, &secret_a, &secret_b)
    }

    /// Milliseconds to wait before attempt `attempt + 1`, or -1 to give up.
    #[wasm_bindgen(js_name = retryDelay)]
    pub fn retry_delay(&self, attempt: u32, retryable: bool, retry_after_ms: JsValue) -> f64 {
        let ra = retry_after_ms.as_f64().filter(|n| n.is_finite() && *n >= 0.0).map(|n| n as u64);
        next_delay(&self.policy, attempt, retryable, ra, js_sys::Math::random()).map_or(-1.0, |d| d as f64)
    }
}

/// `Retry-After` in ms: delta-seconds, or an HTTP date relative to now.
fn retry_after_ms(value: &str) -> Option<u64> {
    retry_after_seconds(value).or_else(|| {
        let at = js_sys::Date::parse(value);
        at.is_finite().then(|| (at - js_sys::Date::now()).max(0.0) as u64)
    })
}

fn token_to_js(t: &Token, with_expiry: bool) -> JsValue {
    let expires_in = t.expires_in.map_or(-1.0, |e| e as f64);
    let expires_at = match (with_expiry, t.expires_in) {
        (true, Some(e)) => js_sys::Date::now() + e as f64 * 1000.0,
        _ => -1.0,
    };
    super::make_token(&t.access_token, expires_in, t.token_type.as_deref(), t.refresh_token.as_deref(), t.scope.as_deref(), expires_at)
}
