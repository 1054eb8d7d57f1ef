//! Keeping tokens fresh: `TokenManager` and the default `MemoryTokenStore`.
//!
//! - `manager`: the renewal, performing the steps of the core's protocol
//!   ([`crate::oauth::renewal`]);
//! - `store`: the store protocol with a deadline on every call, the stored set as the protocol
//!   reads it, `MemoryTokenStore`;
//! - `api_fetch`: `tm.fetch`, performing the core's decisions on API refusals
//!   ([`crate::oauth::refusal`]);
//! - `overwrite`: a sign-in's or sign-out's write over whatever is stored, and the background
//!   write of delivered tokens the store failed to take ([`crate::oauth::overwrite`],
//!   [`crate::oauth::persist`]).
//!
//! Stores stay JavaScript objects (`get`, `compareAndSet`, `acquireLease`, `releaseLease`, all
//! async): a Durable Object, Redis, PostgreSQL, or anything else.

mod api_fetch;
mod manager;
mod overwrite;
mod status;
mod store;

pub use overwrite::{overwrite, sign_out as write_sign_out};
pub use status::status;
pub use store::{copy_of, peek, HeldTokens, MemoryTokenStore, Store};

use super::auth::auth_of;
use super::events::Events;
use super::exception::{invalid, rejected};
use super::js::{self, absent, CallerSignal, TokenStore};
use super::options;
use crate::oauth::refusal::DEFAULT_REFUSAL_INTERVAL_MS;
use crate::oauth::renewal::{self, Ending, RenewalConfig, RenewalGrant};
use crate::oauth::wire::Scalar;
use js_sys::Promise;
use manager::{access_token, Manager, Setup};
use serde::Deserialize;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ManagerOptions {
    #[serde(with = "serde_wasm_bindgen::preserve")]
    auth: JsValue,
    grant: Option<Scalar>,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    tokens: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    store: JsValue,
    refresh_skew_ms: Option<Scalar>,
    lease_ms: Option<Scalar>,
    strict_rotation: Option<Scalar>,
    refusal_renewal_interval_ms: Option<Scalar>,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    on_tokens: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    fetch: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    on_event: JsValue,
}

/// Every TokenManager option (the members of [`ManagerOptions`]); anything else is refused.
pub const MANAGER_OPTIONS: [&str; 11] = [
    "auth",
    "grant",
    "tokens",
    "store",
    "refreshSkewMs",
    "leaseMs",
    "strictRotation",
    "refusalRenewalIntervalMs",
    "onTokens",
    "fetch",
    "onEvent",
];

/// Keeps a valid access token: renews `refreshSkewMs` before expiry, one renewal at a time (in
/// this process through one shared outcome, across processes through the store's lease and the
/// renewal mark), and hands every rotated TokenSet to the store and to `onTokens`.
#[wasm_bindgen]
pub struct TokenManager {
    inner: Rc<Manager>,
}

/// A non-negative number option, or its default.
fn number_or(value: &Option<Scalar>, name: &str, min: f64, default: f64) -> Result<f64, JsValue> {
    let what = if min > 0.0 {
        "positive"
    } else {
        "non-negative"
    };
    match options::number(value, name, min, f64::MAX, false) {
        Ok(n) => Ok(n.unwrap_or(default)),
        Err(_) => Err(invalid(format!("{name} must be a {what} number"))),
    }
}

#[wasm_bindgen]
impl TokenManager {
    /// `{ auth, grant?, tokens?, store?, refreshSkewMs?, leaseMs?, strictRotation?,
    /// refusalRenewalIntervalMs?, onTokens?, fetch?, onEvent? }`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "TokenManagerOptions")] options: JsValue,
    ) -> Result<TokenManager, JsValue> {
        TokenManager::build(&options, None)
    }

    /// The account's state and health as the stored set records them (the same answer in every
    /// process sharing the store), and how many tokens this process served from memory and
    /// from the store. Nothing secret.
    #[wasm_bindgen(unchecked_return_type = "Promise<TokenStatus>")]
    pub fn status(&self) -> Promise {
        let manager = self.share();
        super::promise(async move { manager.status_now().await })
    }

    /// A valid access token. Concurrent callers share one renewal; each caller's `signal` only
    /// abandons that caller's wait (the renewal goes on for the others, and is stored).
    #[wasm_bindgen(js_name = getAccessToken, unchecked_return_type = "Promise<string>")]
    pub fn get_access_token(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: JsValue,
    ) -> Promise {
        self.token_as(&options, "")
    }

    /// `"Bearer …"`.
    #[wasm_bindgen(js_name = authorizationHeader, unchecked_return_type = "Promise<string>")]
    pub fn authorization_header(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: JsValue,
    ) -> Promise {
        self.token_as(&options, "Bearer ")
    }

    /// Ends the seller's sign-in: a sign-out's tombstone goes over the stored set with a
    /// compare-and-set, so that no renewal in flight — in this process or any other — writes
    /// tokens back; the tokens held here are dropped, and every manager of this store answers
    /// `sign_in_required` from its next store read on. Resolves once the tombstone is stored.
    #[wasm_bindgen(js_name = signOut, unchecked_return_type = "Promise<void>")]
    pub fn sign_out(&self) -> Promise {
        let m = self.inner.clone();
        super::promise(manager::sign_out(m))
    }

    /// Forces a renewal on next use (e.g. after an API refused the token for expiry).
    pub fn invalidate(&self) {
        if let Some(token) = self.inner.current_access_token() {
            self.inner.refuse(&token);
        }
    }

    /// `fetch` with `Authorization: Bearer …`. On 401/403 it recovers (re-reads the store, else
    /// renews) and retries once when the body can be replayed, at most once per
    /// `refusalRenewalIntervalMs` and never for a token it has just renewed; otherwise the refusal
    /// is returned as it is.
    #[wasm_bindgen(unchecked_return_type = "Promise<Response>")]
    pub fn fetch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RequestInfo | URL")] input: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "RequestInit")] init: JsValue,
    ) -> Promise {
        if let Some(sent) = api_fetch::fetch_cached(&self.inner, &input, &init) {
            return sent;
        }
        super::promise(api_fetch::api_fetch(self.inner.clone(), input, init))
    }
}

fn call_signal(options: &JsValue) -> Result<Option<CallerSignal>, JsValue> {
    let o: options::PreservedOptions = options::from_object(options, "options")?;
    Ok(options::signal(&o.signal)?)
}

impl TokenManager {
    /// The constructor, for the manager of `account` (AccountTokens: its events name it).
    pub(crate) fn build(options: &JsValue, account: Option<&str>) -> Result<TokenManager, JsValue> {
        let snapshot = options::snapshot(options, "TokenManager options")?;
        options::refuse_unknown(snapshot.as_ref(), &MANAGER_OPTIONS, "TokenManager")?;
        let o: ManagerOptions = options::from_snapshot(snapshot.as_ref(), "")?;
        let auth =
            auth_of(&o.auth).ok_or_else(|| invalid("TokenManager needs auth: an AvitoAuth"))?;
        let grant_name = match &o.grant {
            None | Some(Scalar::Null) => None,
            Some(Scalar::Str(s)) => Some(s.as_str()),
            Some(_) => Some(""),
        };
        let (grant, seed) = if !absent(&o.tokens) {
            let has_refresh_token = HeldTokens::of(&o.tokens)
                .ok()
                .is_some_and(|h| h.refresh_token().is_some());
            if !has_refresh_token {
                return Err(invalid("tokens must be a TokenSet with a refresh_token"));
            }
            if grant_name.is_some_and(|g| g != "refresh_token") {
                return Err(invalid(
                    "with tokens, grant must be \"refresh_token\" (or omitted)",
                ));
            }
            (RenewalGrant::RefreshToken, Some(o.tokens.clone()))
        } else {
            match grant_name {
                None | Some("client_credentials") => (RenewalGrant::ClientCredentials, None),
                Some("refresh_token") if o.store.is_undefined() => {
                    return Err(invalid(
                        "grant \"refresh_token\" needs tokens (or a store that holds them)",
                    ))
                }
                Some("refresh_token") => (RenewalGrant::RefreshToken, None),
                Some(_) => {
                    return Err(invalid(
                        "grant must be \"client_credentials\" or \"refresh_token\"",
                    ))
                }
            }
        };
        let skew_ms = number_or(
            &o.refresh_skew_ms,
            "refreshSkewMs",
            0.0,
            renewal::DEFAULT_SKEW_MS,
        )?;
        let lease_ms = number_or(
            &o.lease_ms,
            "leaseMs",
            f64::MIN_POSITIVE,
            renewal::DEFAULT_LEASE_MS,
        )?;
        let refusal_interval_ms = number_or(
            &o.refusal_renewal_interval_ms,
            "refusalRenewalIntervalMs",
            0.0,
            DEFAULT_REFUSAL_INTERVAL_MS,
        )?;
        let strict = match &o.strict_rotation {
            None | Some(Scalar::Null) => false,
            Some(Scalar::Bool(b)) => *b,
            Some(_) => return Err(invalid("strictRotation must be a boolean")),
        };
        let store: TokenStore = if o.store.is_undefined() {
            JsValue::from(MemoryTokenStore::new(
                seed.clone().unwrap_or(JsValue::UNDEFINED),
            ))
            .unchecked_into()
        } else {
            for method in ["get", "compareAndSet", "acquireLease", "releaseLease"] {
                if !js::get(&o.store, method).is_function() {
                    return Err(invalid(format!("store must implement {method}()")));
                }
            }
            o.store.clone().unchecked_into()
        };
        let on_tokens = options::function(&o.on_tokens, "onTokens")?;
        let fetch = options::function(&o.fetch, "fetch")?;
        let on_event = options::function(&o.on_event, "onEvent")?;
        let settings = &auth.settings;
        let cfg = RenewalConfig {
            grant,
            skew_ms,
            lease_ms,
            request_budget_ms: renewal::request_budget_ms(settings.timeout_ms, &settings.policy),
            strict,
        };
        let store = Store::new(store, cfg.store_call_timeout_ms());
        let inner = Manager::new(Setup {
            auth,
            cfg,
            refusal_interval_ms,
            store,
            seed,
            on_tokens,
            fetch,
            events: Events::new(on_event, account),
        });
        Ok(TokenManager {
            inner: Rc::new(inner),
        })
    }

    /// The access token behind `prefix`, for the caller's `options` (`{ signal }`).
    fn token_as(&self, options: &JsValue, prefix: &'static str) -> Promise {
        let signal = match call_signal(options) {
            Ok(signal) => signal,
            Err(e) => return rejected(e),
        };
        let m = self.inner.clone();
        super::promise(async move {
            let (token, _) = access_token(m, signal).await?;
            Ok(JsValue::from_str(&format!("{prefix}{token}")))
        })
    }

    /// `status()` as a future (`AccountTokens.status` of a cached account).
    pub(crate) async fn status_now(&self) -> Result<JsValue, JsValue> {
        let m = &self.inner;
        status(&m.setup.store, m.setup.cfg.grant, Some(m), &m.setup.events).await
    }

    /// `signOut()` as a future (`AccountTokens.signOut` of a cached account).
    pub(crate) async fn sign_out_now(&self) -> Result<JsValue, JsValue> {
        manager::sign_out(self.inner.clone()).await
    }

    /// A renewal ahead of time of this manager's set (`AccountTokens.renewDue`).
    pub(crate) async fn renew_ahead(&self, within_ms: f64) -> Result<Ending, JsValue> {
        manager::renew_ahead(self.inner.clone(), within_ms).await
    }

    /// Another handle on the same manager (`AccountTokens` hands a cached one out more than once).
    pub(crate) fn share(&self) -> TokenManager {
        TokenManager {
            inner: self.inner.clone(),
        }
    }
}
