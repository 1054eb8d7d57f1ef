//! Random identifiers: `randomState` (an authorization's `state`), renewal marks and lease ids.
//! 256 bits from WebCrypto's `getRandomValues`, base64url.

use super::exception::EdgeError;
use super::js::{self, absent};
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

/// A fresh URL-safe random state: 256 bits from `crypto.getRandomValues`, base64url (43 chars).
#[wasm_bindgen(js_name = randomState)]
pub fn random_state() -> Result<String, EdgeError> {
    let given = CRYPTO.with(|c| {
        let given = c.take();
        c.set(given.clone());
        given
    });
    let crypto = given
        .filter(|c| !absent(c))
        .unwrap_or_else(|| js::get(&js_sys::global(), "crypto"));
    let unavailable = || {
        EdgeError::invalid(&["no crypto.getRandomValues in this runtime: pass an explicit state"])
    };
    if !js::get(&crypto, "getRandomValues").is_function() {
        return Err(unavailable());
    }
    let mut bytes = [0u8; 32];
    crypto
        .unchecked_into::<web_sys::Crypto>()
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(|_| unavailable())?;
    Ok(base64url(&bytes))
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}
