//! Option objects and arguments as they arrive from JavaScript: copied once into plain data
//! ([`snapshot`]: every getter runs exactly once per call), read with serde-wasm-bindgen into
//! Rust structs, then checked with the messages the README documents. Everything here is
//! synchronous: it runs before any future exists.

use super::exception::invalid;
use super::js::{self, rust_string, CallerSignal, NotText, MAX_ARG};
use super::transport::Settings;
use crate::oauth::retry::RetryPolicy;
use crate::oauth::wire::Scalar;
use crate::oauth::{extra_header, header_value_ok, url};
use js_sys::{Function, Object, Reflect};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub const DEFAULT_HOST: &str = "https://api.avito.ru";
pub const DEFAULT_TIMEOUT_MS: f64 = 30_000.0;
/// setTimeout's largest delay.
const MAX_TIMEOUT_MS: f64 = 2_147_483_647.0;

/// `Configuration` options (and the transport half of `AvitoAuth`'s).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ConfigurationOptions {
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub host: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub fetch: JsValue,
    pub timeout_ms: Option<Scalar>,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub retries: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub user_agent: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub headers: JsValue,
}

/// `retries` when it is an object.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RetryOptions {
    max_attempts: Option<Scalar>,
    base_delay_ms: Option<Scalar>,
    max_delay_ms: Option<Scalar>,
}

/// The options every async method takes last.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct CallOptions {
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub signal: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub redirect_uri: JsValue,
}

/// Copies an options object once (each own property read once, through catching getters):
/// `undefined`/`null` is `None`, anything else but an object is refused with "`what` must be an
/// object". Read it with [`from_snapshot`], as many structs as the options hold.
pub fn snapshot(value: &JsValue, what: &str) -> Result<Option<Object>, JsValue> {
    if js::absent(value) {
        return Ok(None);
    }
    js::snapshot(value, &[])
        .map(Some)
        .ok_or_else(|| invalid(format!("{what} must be an object")))
}

/// Reads a snapshot into an options struct (the defaults when there is none). serde-wasm-bindgen
/// refuses values it cannot represent (a Symbol, a BigInt past 64 bits, …) without saying where:
/// the first such member is found and named (`{prefix}{key}`), never replaced by a default.
pub fn from_snapshot<T: DeserializeOwned + Default>(
    snapshot: Option<&Object>,
    prefix: &str,
) -> Result<T, JsValue> {
    let Some(snapshot) = snapshot else {
        return Ok(T::default());
    };
    serde_wasm_bindgen::from_value(snapshot.into()).map_err(|_| {
        let unreadable = Object::keys(snapshot).iter().find(|key| {
            let member = Reflect::get(snapshot, key).unwrap_or(JsValue::UNDEFINED);
            serde_wasm_bindgen::from_value::<Scalar>(member).is_err()
        });
        match unreadable.and_then(|k| k.as_string()) {
            Some(key) => invalid(format!("{prefix}{key} is not a value this option accepts")),
            None => invalid(format!("{prefix}options cannot be read")),
        }
    })
}

/// An options object read once into `T` (see [`snapshot`] and [`from_snapshot`]).
pub fn from_object<T: DeserializeOwned + Default>(
    value: &JsValue,
    what: &str,
) -> Result<T, JsValue> {
    from_snapshot(snapshot(value, what)?.as_ref(), "")
}

/// A string argument that may be absent; `Err` names the argument.
pub fn optional_string(value: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    if js::absent(value) {
        return Ok(None);
    }
    required_string(value, name).map(Some)
}

/// A required non-empty string argument.
pub fn required_string(value: &JsValue, name: &str) -> Result<String, JsValue> {
    match rust_string(value) {
        Ok(s) if !s.is_empty() => Ok(s),
        Ok(_) | Err(NotText::NotAString) => {
            Err(invalid(format!("{name} must be a non-empty string")))
        }
        Err(issue) => Err(not_text(issue, name)),
    }
}

/// A string argument as the core's `require_arg` expects it: `None` when it is not a string
/// (the core words the refusal), but unpaired surrogates and excess length refused here.
pub fn string_or_none(value: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    match rust_string(value) {
        Ok(s) => Ok(Some(s)),
        Err(NotText::NotAString) => Ok(None),
        Err(issue) => Err(not_text(issue, name)),
    }
}

fn not_text(issue: NotText, name: &str) -> JsValue {
    match issue {
        NotText::TooLong => invalid(format!("{name} is longer than {MAX_ARG} characters")),
        NotText::IllFormed => invalid(format!("{name} contains unpaired UTF-16 surrogates")),
        NotText::NotAString => invalid(format!("{name} must be a string")),
    }
}

/// A caller's `signal`: absent, or an object with `addEventListener`.
pub fn signal(value: &JsValue) -> Result<Option<CallerSignal>, JsValue> {
    if js::absent(value) {
        return Ok(None);
    }
    if !value.is_object() || !js::get(value, "addEventListener").is_function() {
        return Err(invalid("signal must be an AbortSignal"));
    }
    Ok(Some(value.clone().unchecked_into()))
}

/// A function option (`fetch`, `onTokens`).
pub fn function(value: &JsValue, name: &str) -> Result<Option<Function>, JsValue> {
    if js::absent(value) {
        return Ok(None);
    }
    value
        .dyn_ref::<Function>()
        .cloned()
        .map(Some)
        .ok_or_else(|| invalid(format!("{name} must be a function")))
}

/// A number option within `[min, max]` (`whole`: an integer).
pub fn number(
    value: &Option<Scalar>,
    name: &str,
    min: f64,
    max: f64,
    whole: bool,
) -> Result<Option<f64>, JsValue> {
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Num(n))
            if n.is_finite() && *n >= min && *n <= max && (!whole || n.fract() == 0.0) =>
        {
            Ok(Some(*n))
        }
        Some(_) => Err(invalid(format!("{name} is out of range"))),
    }
}

/// Validates a base URL (`host`, `authorizeUrl`); returns it normalised.
pub fn base_url(value: &JsValue, name: &str) -> Result<String, JsValue> {
    let bad = || invalid(format!("{name} {}", url::BAD_URL));
    let s = match rust_string(value) {
        Ok(s) => s,
        Err(NotText::NotAString) => return Err(bad()),
        Err(issue) => return Err(not_text(issue, name)),
    };
    url::normalize_base(&s).map_err(|_| bad())
}

fn retry_policy(value: &JsValue) -> Result<RetryPolicy, JsValue> {
    if js::absent(value) || value.as_bool() == Some(true) {
        return Ok(RetryPolicy::default());
    }
    if value.as_bool() == Some(false) {
        return Ok(RetryPolicy::OFF);
    }
    let o: RetryOptions = match js::snapshot(value, &[]) {
        Some(s) => from_snapshot(Some(&s), "retries.")?,
        None => {
            return Err(invalid(
                "retries must be false or { maxAttempts, baseDelayMs, maxDelayMs }",
            ))
        }
    };
    let d = RetryPolicy::default();
    let max_attempts = number(&o.max_attempts, "retries.maxAttempts", 1.0, 10.0, true)?
        .map_or(d.max_attempts, |n| n as u32);
    let base = number(
        &o.base_delay_ms,
        "retries.baseDelayMs",
        0.0,
        3_600_000.0,
        false,
    )?
    .map_or(d.base_delay_ms, |n| n as u64);
    let max = number(
        &o.max_delay_ms,
        "retries.maxDelayMs",
        0.0,
        3_600_000.0,
        false,
    )?
    .map_or(d.max_delay_ms.max(base), |n| n as u64);
    Ok(RetryPolicy {
        max_attempts,
        base_delay_ms: base,
        max_delay_ms: max,
    })
}

const BAD_HEADERS: &str =
    "headers must map valid header names to string values without line breaks";

/// `headers` as `[name, value]` pairs: a plain object, a `Headers`, a `Map`, or pairs.
fn header_pairs(value: &JsValue) -> Result<Vec<(String, String)>, JsValue> {
    if js::absent(value) {
        return Ok(Vec::new());
    }
    if !value.is_object() {
        return Err(invalid(
            "headers must be an object of header names to string values",
        ));
    }
    let iterator = Reflect::get(value, &js_sys::Symbol::iterator()).unwrap_or(JsValue::UNDEFINED);
    let entries: Vec<(JsValue, JsValue)> = if iterator.is_function() {
        let list = js::array_from(value).map_err(|_| invalid(BAD_HEADERS))?;
        list.iter()
            .map(|pair| (js::get(&pair, "0"), js::get(&pair, "1")))
            .collect()
    } else {
        let plain = js::snapshot(value, &[]).ok_or_else(|| invalid(BAD_HEADERS))?;
        Object::entries(&plain)
            .iter()
            .map(|pair| (js::get(&pair, "0"), js::get(&pair, "1")))
            .collect()
    };
    let mut pairs = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        let name = string_or_none(&name, "a header name")?.ok_or_else(|| invalid(BAD_HEADERS))?;
        let value =
            string_or_none(&value, "a header value")?.ok_or_else(|| invalid(BAD_HEADERS))?;
        match extra_header(&name, &value) {
            Ok(Some(lower)) => pairs.push((lower, value)),
            Ok(None) => {}
            Err(f) => return Err(super::exception::exception(&f)),
        }
    }
    Ok(pairs)
}

impl Settings {
    /// Validates a configuration once; every request of the client reuses it.
    pub fn from_options(o: &ConfigurationOptions) -> Result<Settings, JsValue> {
        let host = if js::absent(&o.host) {
            DEFAULT_HOST.to_owned()
        } else {
            base_url(&o.host, "host")?
        };
        let fetch = function(&o.fetch, "fetch")?;
        let timeout_ms = number(&o.timeout_ms, "timeoutMs", 1.0, MAX_TIMEOUT_MS, false)?
            .unwrap_or(DEFAULT_TIMEOUT_MS);
        let policy = retry_policy(&o.retries)?;
        let mut headers = header_pairs(&o.headers)?;
        if !js::absent(&o.user_agent) {
            match string_or_none(&o.user_agent, "userAgent")? {
                Some(ua) if !ua.is_empty() && header_value_ok(&ua) => {
                    headers.retain(|(n, _)| n != "user-agent");
                    headers.push(("user-agent".into(), ua));
                }
                _ => {
                    return Err(invalid(
                        "userAgent must be a non-empty string without line breaks",
                    ))
                }
            }
        }
        headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        headers.push(("accept".into(), "application/json".into()));
        let token_url = format!("{host}/token");
        Ok(Settings {
            host,
            token_url,
            fetch,
            timeout_ms,
            policy,
            headers,
        })
    }
}
