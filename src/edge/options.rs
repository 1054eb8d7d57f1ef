//! Option objects and arguments as they arrive from JavaScript: copied once into plain data
//! ([`snapshot`]: every getter runs exactly once per call), read with serde-wasm-bindgen into
//! Rust structs, then checked with the messages the README documents. Everything here is
//! synchronous: it runs before any future exists, and a refusal is an `invalid_argument`
//! (nothing here calls code that could throw).

use super::exception::EdgeError;
use super::js::{self, rust_string, CallerSignal, NotText, MAX_ARG};
use crate::oauth::text::push_u64;
use crate::oauth::url;
use crate::oauth::wire::Scalar;
use js_sys::{Function, Object, Reflect};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The options every async method takes last, `authorizationUrl`'s (`scope`, `state`,
/// `redirectUri`) and `AvitoAuth`'s own (`clientId`, `clientSecret`, `authorizeUrl`): one struct,
/// so one deserializer in the wasm. Every member is kept as it is (reading one cannot fail), so
/// reading one that a call does not take changes nothing.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PreservedOptions {
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub signal: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub redirect_uri: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub scope: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub state: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub client_id: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub client_secret: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub authorize_url: JsValue,
}

/// Copies an options object once (each own property read once, through catching getters):
/// `undefined`/`null` is `None`, anything else but an object is refused with "`what` must be an
/// object". Read it with [`from_snapshot`], as many structs as the options hold.
pub fn snapshot(value: &JsValue, what: &str) -> Result<Option<Object>, EdgeError> {
    if js::absent(value) {
        return Ok(None);
    }
    js::snapshot(value, &[])
        .map(Some)
        .ok_or_else(|| EdgeError::invalid(&[what, " must be an object"]))
}

/// Reads a snapshot into an options struct (the defaults when there is none). serde-wasm-bindgen
/// refuses values it cannot represent (a Symbol, a BigInt past 64 bits, …) without saying where:
/// the first such member is found and named (`{prefix}{key}`), never replaced by a default.
pub fn from_snapshot<T: DeserializeOwned + Default>(
    snapshot: Option<&Object>,
    prefix: &str,
) -> Result<T, EdgeError> {
    let Some(snapshot) = snapshot else {
        return Ok(T::default());
    };
    serde_wasm_bindgen::from_value(snapshot.into()).map_err(|_| unreadable(snapshot, prefix))
}

/// Why a snapshot did not read: once, not in every `from_snapshot::<T>` (wasm size).
#[inline(never)]
fn unreadable(snapshot: &Object, prefix: &str) -> EdgeError {
    let unreadable = Object::keys(snapshot).iter().find(|key| {
        let member = Reflect::get(snapshot, key).unwrap_or(JsValue::UNDEFINED);
        serde_wasm_bindgen::from_value::<Scalar>(member).is_err()
    });
    match unreadable.and_then(|k| k.as_string()) {
        Some(key) => EdgeError::invalid(&[prefix, &key, " is not a value this option accepts"]),
        None => EdgeError::invalid(&[prefix, "options cannot be read"]),
    }
}

/// An options object read once into `T` (see [`snapshot`] and [`from_snapshot`]).
pub fn from_object<T: DeserializeOwned + Default>(
    value: &JsValue,
    what: &str,
) -> Result<T, EdgeError> {
    from_snapshot(snapshot(value, what)?.as_ref(), "")
}

/// Refuses a member that `known` does not name: a typo such as `refreshSkew` for
/// `refreshSkewMs` must not pass silently as "use the default".
pub fn refuse_unknown(
    snapshot: Option<&Object>,
    known: &[&str],
    what: &str,
) -> Result<(), EdgeError> {
    let Some(snapshot) = snapshot else {
        return Ok(());
    };
    // Through a catching call: the object may be the caller's own (a Proxy may throw).
    let keys = Reflect::own_keys(snapshot)
        .map_err(|_| EdgeError::invalid(&[what, " options cannot be read"]))?;
    for key in keys.iter() {
        // Symbol keys name no option.
        let Some(key) = key.as_string() else {
            continue;
        };
        if !known.contains(&key.as_str()) {
            // The name is the caller's text: shown, but bounded.
            let shown = crate::oauth::redact::truncate(&key, 64);
            let known = crate::oauth::text::join_str(known, ", ");
            return Err(EdgeError::invalid(&[
                what,
                ": unknown option \"",
                &shown,
                "\" (known: ",
                &known,
                ")",
            ]));
        }
    }
    Ok(())
}

/// The options of a `Configuration`, and the transport's part of `AvitoAuth`'s.
pub const CONFIGURATION_OPTIONS: [&str; 6] = [
    "host",
    "fetch",
    "timeoutMs",
    "retries",
    "userAgent",
    "headers",
];

/// A string argument that may be absent; `Err` names the argument.
pub fn optional_string(value: &JsValue, name: &str) -> Result<Option<String>, EdgeError> {
    if js::absent(value) {
        return Ok(None);
    }
    required_string(value, name).map(Some)
}

/// A required non-empty string argument.
pub fn required_string(value: &JsValue, name: &str) -> Result<String, EdgeError> {
    match rust_string(value) {
        Ok(s) if !s.is_empty() => Ok(s),
        Ok(_) | Err(NotText::NotAString) => {
            Err(EdgeError::invalid(&[name, " must be a non-empty string"]))
        }
        Err(issue) => Err(not_text(issue, name)),
    }
}

/// A string argument as the core's `require_arg` expects it: `None` when it is not a string
/// (the core words the refusal), but unpaired surrogates and excess length refused here.
pub fn string_or_none(value: &JsValue, name: &str) -> Result<Option<String>, EdgeError> {
    match rust_string(value) {
        Ok(s) => Ok(Some(s)),
        Err(NotText::NotAString) => Ok(None),
        Err(issue) => Err(not_text(issue, name)),
    }
}

fn not_text(issue: NotText, name: &str) -> EdgeError {
    match issue {
        NotText::TooLong => {
            let mut limit = String::new();
            push_u64(&mut limit, u64::from(MAX_ARG));
            EdgeError::invalid(&[name, " is longer than ", &limit, " characters"])
        }
        NotText::IllFormed => EdgeError::invalid(&[name, " contains unpaired UTF-16 surrogates"]),
        NotText::NotAString => EdgeError::invalid(&[name, " must be a string"]),
    }
}

/// A caller's `signal`: absent, or an object with `addEventListener`.
pub fn signal(value: &JsValue) -> Result<Option<CallerSignal>, EdgeError> {
    if js::absent(value) {
        return Ok(None);
    }
    if !value.is_object() || !js::get(value, "addEventListener").is_function() {
        return Err(EdgeError::invalid(&["signal must be an AbortSignal"]));
    }
    Ok(Some(value.clone().unchecked_into()))
}

/// A function option (`fetch`, `onTokens`).
pub fn function(value: &JsValue, name: &str) -> Result<Option<Function>, EdgeError> {
    if js::absent(value) {
        return Ok(None);
    }
    value
        .dyn_ref::<Function>()
        .cloned()
        .map(Some)
        .ok_or_else(|| EdgeError::invalid(&[name, " must be a function"]))
}

/// A number option within `[min, max]` (`whole`: an integer).
pub fn number(
    value: &Option<Scalar>,
    name: &str,
    min: f64,
    max: f64,
    whole: bool,
) -> Result<Option<f64>, EdgeError> {
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Num(n))
            if n.is_finite() && *n >= min && *n <= max && (!whole || n.fract() == 0.0) =>
        {
            Ok(Some(*n))
        }
        Some(_) => Err(EdgeError::invalid(&[name, " is out of range"])),
    }
}

/// Validates a base URL (`host`, `authorizeUrl`); returns it normalised.
pub fn base_url(value: &JsValue, name: &str) -> Result<String, EdgeError> {
    let bad = || EdgeError::invalid(&[name, " ", url::BAD_URL]);
    let s = match rust_string(value) {
        Ok(s) => s,
        Err(NotText::NotAString) => return Err(bad()),
        Err(issue) => return Err(not_text(issue, name)),
    };
    url::normalize_base(&s).map_err(|_| bad())
}
