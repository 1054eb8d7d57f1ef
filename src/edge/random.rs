//! Random identifiers: `randomState` (an authorization's `state`), renewal marks and lease ids.
//! 256 bits from WebCrypto's `getRandomValues`, base64url; and the WebCrypto object itself
//! (`crypto()`, for the sealed store's `crypto.subtle`).

use super::exception::EdgeError;
use super::js::{self, absent};
use crate::oauth::base64::base64url;
use std::cell::Cell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

thread_local! {
    /// The WebCrypto to draw from: the global one, or what the runtime entry handed over
    /// (Node 18 has no global `crypto` in every mode).
    /// A `Cell`, taken and put back whole: no borrow that could fail.
    static CRYPTO: Cell<Option<JsValue>> = const { Cell::new(None) };
}

/// Called by the Node entries with `node:crypto`'s `webcrypto`.
#[wasm_bindgen(js_name = __setCrypto, skip_typescript)]
pub fn set_crypto(crypto: JsValue) {
    CRYPTO.with(|c| c.set(Some(crypto)));
}

/// The WebCrypto object: what the runtime entry handed over, else the global `crypto`
/// (`undefined` where there is none).
pub fn crypto() -> JsValue {
    let given = CRYPTO.with(|c| {
        let given = c.take();
        c.set(given.clone());
        given
    });
    given
        .filter(|c| !absent(c))
        .unwrap_or_else(|| js::get(&js_sys::global(), "crypto"))
}

/// Fills `bytes` from `crypto.getRandomValues`; `Err` where the runtime has none.
pub fn fill_random(bytes: &mut [u8]) -> Result<(), ()> {
    let crypto = crypto();
    if !js::get(&crypto, "getRandomValues").is_function() {
        return Err(());
    }
    crypto
        .unchecked_into::<web_sys::Crypto>()
        .get_random_values_with_u8_array(bytes)
        .map(drop)
        .map_err(drop)
}

/// A fresh URL-safe random state: 256 bits from `crypto.getRandomValues`, base64url (43 chars).
#[wasm_bindgen(js_name = randomState)]
pub fn random_state() -> Result<String, EdgeError> {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes).map_err(|()| {
        EdgeError::invalid(&["no crypto.getRandomValues in this runtime: pass an explicit state"])
    })?;
    Ok(base64url(&bytes))
}
