//! The store protocol as a renewal uses it (every call bounded in time, every failure typed), the
//! stored set as the protocol reads it, and the default `MemoryTokenStore`.

use super::super::exception::rejected;
use super::super::js::{self, TokenStore};
use super::super::random::random_state;
use super::super::timing::Cancel;
use crate::oauth::renewal::{self, Mark, StoreFault, StoredSet};
use crate::oauth::wire::Scalar;
use js_sys::{Object, Promise};
use serde::Deserialize;
use std::cell::Cell;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// A copy of what a `Cell<Option<T>>` holds, left in place (cells are never borrowed, so no
/// borrow can fail: the workers-rs `Delay` style).
pub fn peek<T: Clone>(cell: &Cell<Option<T>>) -> Option<T> {
    let value = cell.take();
    cell.set(value.clone());
    value
}

/// A store's error text is kept up to this many bytes: enough that the redaction (in the core,
/// before the message is cut to [`renewal::STORE_DETAIL_LIMIT`]) sees any token that starts
/// inside what is shown, and bounded so that redacting it costs little.
const STORE_TEXT_LIMIT: usize = 4096;

fn store_failure(call: &'static str, error: &JsValue) -> StoreFault {
    let message = js::get(error, "message")
        .as_string()
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "it failed without an Error".to_owned());
    // An ApiException of kind `store` or `invalid_argument` that is not retryable is a refusal
    // waiting will not mend (a sealed record that does not open, a refused argument); anything
    // else a store throws may be an outage that passes.
    let kind = js::get(error, "kind").as_string();
    let lasting = matches!(kind.as_deref(), Some("store" | "invalid_argument"))
        && js::get(error, "retryable").as_bool() == Some(false);
    StoreFault {
        call,
        detail: crate::oauth::redact::truncate(&message, STORE_TEXT_LIMIT),
        lasting,
    }
}

/// The caller's store with a deadline on every call.
pub struct Store {
    js: TokenStore,
    call_timeout_ms: f64,
}

impl Store {
    pub fn new(js: TokenStore, call_timeout_ms: f64) -> Store {
        Store {
            js,
            call_timeout_ms,
        }
    }

    /// Awaits what a store method returned (a promise or a plain value) within the deadline.
    async fn settle(
        &self,
        call: &'static str,
        called: Result<JsValue, JsValue>,
    ) -> Result<JsValue, StoreFault> {
        let returned = called.map_err(|e| store_failure(call, &e))?;
        let cancel = Cancel::for_wait(Some(self.call_timeout_ms), None);
        match cancel
            .race(JsFuture::from(Promise::resolve(&returned)))
            .await
        {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(store_failure(call, &error)),
            Err(_) => Err(StoreFault {
                call,
                detail: format!("it did not settle within {} ms", self.call_timeout_ms),
                lasting: false,
            }),
        }
    }

    pub async fn get(&self) -> Result<JsValue, StoreFault> {
        self.settle("get", self.js.stored()).await
    }

    pub async fn compare_and_set(
        &self,
        expected: &JsValue,
        next: &JsValue,
    ) -> Result<bool, StoreFault> {
        let won = self
            .settle("compareAndSet", self.js.compare_and_set(expected, next))
            .await?;
        Ok(won.is_truthy())
    }

    /// The lease id, or `None` when another renewer holds the lease.
    pub async fn acquire_lease(&self, ttl_ms: f64) -> Result<Option<JsValue>, StoreFault> {
        let id = self
            .settle("acquireLease", self.js.acquire_lease(ttl_ms))
            .await?;
        Ok((!js::absent(&id)).then_some(id))
    }

    pub async fn release_lease(&self, id: &JsValue) -> Result<(), StoreFault> {
        self.settle("releaseLease", self.js.release_lease(id))
            .await
            .map(drop)
    }
}

/// The members of a TokenSet the protocol reads. A member of the wrong type reads as absent
/// (a set is the server's answer as stored); a `renewal` mark that is not one is refused: it is
/// ours, and a broken one must not be guessed at.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct HeldTokens {
    access_token: Option<Scalar>,
    refresh_token: Option<Scalar>,
    expires_at: Option<Scalar>,
    renewal: Option<HeldMark>,
    refresh_refused_at: Option<Scalar>,
    signed_out_at: Option<Scalar>,
}

#[derive(Deserialize, Clone)]
struct HeldMark {
    id: Option<Scalar>,
    presented_at: f64,
    answer_by: f64,
}

/// Why a stored value cannot be read as a TokenSet.
pub struct NotATokenSet;

/// A set as a manager reads it from its store: a sealed record (one with a `sealed` envelope,
/// README "Tokens at rest") read without its keys is refused for good, never taken as tokens —
/// its fingerprints presented as a refresh token would be refused by Avito and sign the seller
/// out. `shape`: what a value that is no TokenSet at all is called.
pub fn read_set(set: &JsValue, shape: &str) -> Result<HeldTokens, StoreFault> {
    let fault = |detail: &str, lasting| StoreFault {
        call: "get",
        detail: detail.to_owned(),
        lasting,
    };
    if js::get(set, crate::oauth::seal::SEALED).is_object() {
        return Err(fault(
            "it holds a sealed record and this manager has no keys: wrap the store in sealedStore(), or give AccountTokens its seal option",
            true,
        ));
    }
    HeldTokens::of(set).map_err(|_| fault(shape, false))
}

impl HeldTokens {
    /// What a TokenSet holds; `undefined`/`null` hold nothing.
    pub fn of(set: &JsValue) -> Result<HeldTokens, NotATokenSet> {
        if js::absent(set) {
            return Ok(HeldTokens::default());
        }
        let plain = js::snapshot(set, &[renewal::RENEWAL]).ok_or(NotATokenSet)?;
        serde_wasm_bindgen::from_value(plain.into()).map_err(|_| NotATokenSet)
    }

    pub fn access_token(&self) -> Option<&str> {
        self.access_token
            .as_ref()
            .and_then(Scalar::as_str)
            .filter(|t| !t.is_empty())
    }

    pub fn refresh_token(&self) -> Option<&str> {
        self.refresh_token
            .as_ref()
            .and_then(Scalar::as_str)
            .filter(|t| !t.is_empty())
    }

    pub fn expires_at(&self) -> Option<f64> {
        match self.expires_at {
            Some(Scalar::Num(n)) => Some(n),
            _ => None,
        }
    }

    fn refused_earlier(&self) -> bool {
        matches!(self.refresh_refused_at, Some(Scalar::Num(_)))
    }

    fn renewal_id(&self) -> Option<&str> {
        self.renewal
            .as_ref()
            .and_then(|m| m.id.as_ref())
            .and_then(Scalar::as_str)
    }

    pub fn view(&self) -> StoredSet<'_> {
        StoredSet {
            access_token: self.access_token(),
            expires_at: self.expires_at(),
            refresh_token: self.refresh_token(),
            renewal: self.renewal.as_ref().map(|m| Mark {
                presented_at: m.presented_at,
                answer_by: m.answer_by,
            }),
            renewal_id: self.renewal_id(),
            refused_earlier: self.refused_earlier(),
            signed_out_at: match self.signed_out_at {
                Some(Scalar::Num(at)) => Some(at),
                _ => None,
            },
        }
    }

    /// What a store compares: the access token, the refresh token, the renewal mark's id.
    fn compared(&self) -> (Option<&str>, Option<&str>, Option<&str>) {
        (self.access_token(), self.refresh_token(), self.renewal_id())
    }
}

/// A plain copy of a TokenSet's members (the stored set is never changed in place).
pub fn copy_of(set: &JsValue) -> Object {
    js::snapshot(set, &[]).unwrap_or_default()
}

/// `set` with its renewal mark replaced by `mark` (with `id`), or removed.
pub fn with_mark(set: &JsValue, mark: Option<(&str, Mark)>) -> JsValue {
    let copy = copy_of(set);
    let _ = js_sys::Reflect::delete_property(&copy, &JsValue::from_str(renewal::RENEWAL));
    if let Some((id, mark)) = mark {
        let value = Object::new();
        js::set(&value, "id", &JsValue::from_str(id));
        js::set(
            &value,
            "presented_at",
            &JsValue::from_f64(mark.presented_at),
        );
        js::set(&value, "answer_by", &JsValue::from_f64(mark.answer_by));
        js::set(&copy, renewal::RENEWAL, &value);
    }
    copy.into()
}

/// The default store: one process. Implements the TokenStore protocol (get, CAS, lease).
#[wasm_bindgen]
pub struct MemoryTokenStore {
    tokens: Cell<Option<JsValue>>,
    lease: Cell<Option<(String, f64)>>,
}

#[wasm_bindgen]
impl MemoryTokenStore {
    /// `initial`: a TokenSet to start with (optional).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "TokenSet")] initial: JsValue,
    ) -> MemoryTokenStore {
        MemoryTokenStore {
            tokens: Cell::new((!js::absent(&initial)).then_some(initial)),
            lease: Cell::new(None),
        }
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<TokenSet | undefined>")]
    pub fn get(&self) -> Promise {
        Promise::resolve(&peek(&self.tokens).unwrap_or(JsValue::UNDEFINED))
    }

    /// Writes `next` if the stored set's access token, refresh token and renewal id are
    /// `expected`'s (an empty store matches only `undefined`).
    #[wasm_bindgen(js_name = compareAndSet, unchecked_return_type = "Promise<boolean>")]
    pub fn compare_and_set(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TokenSet | undefined")] expected: JsValue,
        #[wasm_bindgen(unchecked_param_type = "TokenSet")] next: JsValue,
    ) -> Promise {
        let stored = peek(&self.tokens);
        let matches = match (&stored, js::absent(&expected)) {
            (None, true) => true,
            (Some(stored), false) => match (HeldTokens::of(stored), HeldTokens::of(&expected)) {
                (Ok(a), Ok(b)) => a.compared() == b.compared(),
                _ => false,
            },
            _ => false,
        };
        if matches {
            self.tokens.set(Some(next));
        }
        Promise::resolve(&JsValue::from_bool(matches))
    }

    /// A lease id, or `undefined` while another lease is live.
    #[wasm_bindgen(js_name = acquireLease, unchecked_return_type = "Promise<string | undefined>")]
    pub fn acquire_lease(&self, #[wasm_bindgen(js_name = ttlMs)] ttl_ms: f64) -> Promise {
        let now = js_sys::Date::now();
        if peek(&self.lease).is_some_and(|(_, until)| until > now) {
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        let id = match random_state() {
            Ok(id) => id,
            Err(e) => return rejected(e),
        };
        self.lease.set(Some((id.clone(), now + ttl_ms)));
        Promise::resolve(&JsValue::from_str(&id))
    }

    #[wasm_bindgen(js_name = releaseLease, unchecked_return_type = "Promise<void>")]
    pub fn release_lease(
        &self,
        #[wasm_bindgen(js_name = leaseId, unchecked_param_type = "string")] id: JsValue,
    ) -> Promise {
        let held = self.lease.take();
        match held {
            Some((held, _)) if Some(&held) == id.as_string().as_ref() => {}
            other => self.lease.set(other),
        }
        Promise::resolve(&JsValue::UNDEFINED)
    }
}
