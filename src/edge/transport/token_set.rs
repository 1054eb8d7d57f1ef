//! A token as the JS result object: wire names, and for `AvitoAuth` its expiry and scopes.

use crate::oauth::classify::Token;
use crate::oauth::failure::Failure;
use crate::oauth::scope::parse_scopes;
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// The shape of a call's results.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Results {
    /// The seed-shaped layer's: the wire members only.
    Plain,
    /// `AvitoAuth`'s: with `expires_at` (Unix ms).
    WithExpiry,
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
pub fn token_to_js(t: &Token, results: Results) -> Result<JsValue, Failure> {
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
        Failure::invalid_response("the token response could not be converted to a JavaScript value")
    })
}
