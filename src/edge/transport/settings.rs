//! A client's validated configuration, and what one call adds to it.

use super::token_set::Results;
use crate::edge::exception::EdgeError;
use crate::edge::js::{self, CallerSignal};
use crate::edge::options::{base_url, from_snapshot, function, number, string_or_none};
use crate::oauth::request::{extra_header, header_value_ok, Grant};
use crate::oauth::retry::RetryPolicy;
use crate::oauth::text::concat_str;
use crate::oauth::wire::Scalar;
use js_sys::{Function, Object, Reflect};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

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

fn retry_policy(value: &JsValue) -> Result<RetryPolicy, EdgeError> {
    if js::absent(value) || value.as_bool() == Some(true) {
        return Ok(RetryPolicy::default());
    }
    if value.as_bool() == Some(false) {
        return Ok(RetryPolicy::OFF);
    }
    let o: RetryOptions = match js::snapshot(value, &[]) {
        Some(s) => from_snapshot(Some(&s), "retries.")?,
        None => {
            return Err(EdgeError::invalid(&[
                "retries must be false or { maxAttempts, baseDelayMs, maxDelayMs }",
            ]))
        }
    };
    let d = RetryPolicy::default();
    let max_attempts = number(&o.max_attempts, "retries.maxAttempts", 1.0, 10.0, true)?
        .map_or(d.max_attempts, |n| n as u32);
    // Both delays: whole or fractional milliseconds up to an hour.
    let delay = |value, name| number(value, name, 0.0, 3_600_000.0, false);
    let base =
        delay(&o.base_delay_ms, "retries.baseDelayMs")?.map_or(d.base_delay_ms, |n| n as u64);
    let max = delay(&o.max_delay_ms, "retries.maxDelayMs")?
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
fn header_pairs(value: &JsValue) -> Result<Vec<(String, String)>, EdgeError> {
    if js::absent(value) {
        return Ok(Vec::new());
    }
    if !value.is_object() {
        return Err(EdgeError::invalid(&[
            "headers must be an object of header names to string values",
        ]));
    }
    let iterator = Reflect::get(value, &js_sys::Symbol::iterator()).unwrap_or(JsValue::UNDEFINED);
    let entries: Vec<(JsValue, JsValue)> = if iterator.is_function() {
        let list = js::array_from(value).map_err(|_| EdgeError::invalid(&[BAD_HEADERS]))?;
        list.iter()
            .map(|pair| (js::get(&pair, "0"), js::get(&pair, "1")))
            .collect()
    } else {
        let plain = js::snapshot(value, &[]).ok_or_else(|| EdgeError::invalid(&[BAD_HEADERS]))?;
        Object::entries(&plain)
            .iter()
            .map(|pair| (js::get(&pair, "0"), js::get(&pair, "1")))
            .collect()
    };
    let mut pairs = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        let name = string_or_none(&name, "a header name")?
            .ok_or_else(|| EdgeError::invalid(&[BAD_HEADERS]))?;
        let value = string_or_none(&value, "a header value")?
            .ok_or_else(|| EdgeError::invalid(&[BAD_HEADERS]))?;
        match extra_header(&name, &value) {
            Ok(Some(lower)) => pairs.push((lower, value)),
            Ok(None) => {}
            Err(f) => return Err(f.into()),
        }
    }
    Ok(pairs)
}

impl Settings {
    /// Validates a configuration once; every request of the client reuses it.
    pub fn from_options(o: &ConfigurationOptions) -> Result<Settings, EdgeError> {
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
                    return Err(EdgeError::invalid(&[
                        "userAgent must be a non-empty string without line breaks",
                    ]))
                }
            }
        }
        headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        headers.push(("accept".into(), "application/json".into()));
        let token_url = concat_str(&[&host, "/token"]);
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
