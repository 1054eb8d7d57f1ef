//! Keeping tokens fresh: `TokenManager` and the default `MemoryTokenStore`.
//!
//! A renewal is one JS promise shared by every concurrent caller (so a failure reaches them all
//! as the same `ApiException`); across processes the store's lease makes one renewer run while
//! the others wait and re-read, and compare-and-set keeps a late renewer from overwriting a newer
//! rotation. Stores stay JavaScript objects (`get`, `compareAndSet`, `acquireLease`,
//! `releaseLease`, all async): a Durable Object, Redis, or anything else.

use super::auth::{auth_of, random_state, AuthInner};
use super::exception::{exception, exception_with, invalid, rejected};
use super::js::{self, absent, CallerSignal, LooseResponse};
use super::options;
use super::timing::{self, Cancel};
use super::transport::{request, request_outcome};
use crate::oauth::lifecycle::{self, Held};
use crate::oauth::wire::Scalar;
use crate::oauth::{Failure, Grant, Kind};
use js_sys::{Function, Promise};
use serde::Deserialize;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// The store protocol, called structurally on whatever object the caller gave.
    pub type TokenStore;
    #[wasm_bindgen(catch, method, structural)]
    fn get(this: &TokenStore) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, structural, js_name = compareAndSet)]
    fn compare_and_set(
        this: &TokenStore,
        expected: &JsValue,
        next: &JsValue,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, structural, js_name = acquireLease)]
    fn acquire_lease(this: &TokenStore, ttl_ms: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, structural, js_name = releaseLease)]
    fn release_lease(this: &TokenStore, id: &JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch_with(input: &JsValue, init: &JsValue) -> Result<JsValue, JsValue>;
    /// `new Headers(init)`, which throws for invalid names or values.
    #[wasm_bindgen(js_name = Headers)]
    type HeadersCtor;
    #[wasm_bindgen(catch, constructor, js_class = Headers)]
    fn new(init: &JsValue) -> Result<HeadersCtor, JsValue>;
}

/// A copy of a cell's value. Cells are never borrowed while JavaScript runs (a getter could
/// re-enter), and never with a panicking borrow: the fallback is the default.
fn read<T: Clone + Default>(cell: &RefCell<T>) -> T {
    cell.try_borrow().map(|v| v.clone()).unwrap_or_default()
}

fn write<T>(cell: &RefCell<T>, value: T) {
    if let Ok(mut slot) = cell.try_borrow_mut() {
        *slot = value;
    }
}

/// Awaits what a JS call returned (a promise or a plain value); a throw is a rejection.
async fn settle(called: Result<JsValue, JsValue>) -> Result<JsValue, JsValue> {
    JsFuture::from(Promise::resolve(&called?)).await
}

/// The members of a TokenSet the lifecycle reads.
#[derive(Deserialize, Default)]
#[serde(default)]
struct HeldTokens {
    access_token: Option<Scalar>,
    refresh_token: Option<Scalar>,
    expires_at: Option<Scalar>,
}

fn held_of(tokens: &JsValue) -> HeldTokens {
    js::snapshot(tokens, &[])
        .and_then(|s| serde_wasm_bindgen::from_value(s.into()).ok())
        .unwrap_or_default()
}

impl HeldTokens {
    fn access_token(&self) -> Option<&str> {
        self.access_token.as_ref().and_then(Scalar::as_str)
    }
    fn refresh_token(&self) -> Option<&str> {
        self.refresh_token
            .as_ref()
            .and_then(Scalar::as_str)
            .filter(|r| !r.is_empty())
    }
    fn held(&self) -> Held<'_> {
        let expires_at = match self.expires_at {
            Some(Scalar::Num(n)) => Some(n),
            _ => None,
        };
        Held {
            access_token: self.access_token(),
            expires_at,
        }
    }
}

struct Manager {
    auth: Rc<AuthInner>,
    grant: Grant,
    skew_ms: f64,
    lease_ms: f64,
    store: TokenStore,
    seed: Option<JsValue>,
    on_tokens: Option<Function>,
    fetch: Option<Function>,
    /// The TokenSet in use here (the store's, once read).
    current: RefCell<JsValue>,
    /// The renewal in progress, shared by every caller waiting for it.
    inflight: RefCell<Option<Promise>>,
    /// An access token an API refused: never handed out again.
    refused: RefCell<Option<String>>,
}

impl Manager {
    fn fresh(&self, tokens: &JsValue) -> bool {
        let held = held_of(tokens);
        let refused = read(&self.refused);
        lifecycle::is_fresh(
            held.held(),
            refused.as_deref(),
            js_sys::Date::now(),
            self.skew_ms,
        )
    }

    fn keep(&self, tokens: &JsValue) -> JsValue {
        write(&self.current, tokens.clone());
        tokens.clone()
    }

    /// The stored set, seeding the store with the constructor's `tokens` when it holds none.
    async fn read(&self) -> Result<JsValue, JsValue> {
        let stored = settle(self.store.get()).await?;
        match &self.seed {
            Some(seed) if stored.is_undefined() => {
                settle(self.store.compare_and_set(&JsValue::UNDEFINED, seed)).await?;
                settle(self.store.get()).await
            }
            _ => Ok(stored),
        }
    }
}

/// Runs the renewal (one at a time per manager); clears the in-flight slot when done.
async fn renew(m: Rc<Manager>) -> Result<JsValue, JsValue> {
    let outcome = renew_under_lease(&m).await;
    write(&m.inflight, None);
    outcome
}

async fn renew_under_lease(m: &Manager) -> Result<JsValue, JsValue> {
    let give_up_at = js_sys::Date::now() + lifecycle::lease_wait_ms(m.lease_ms);
    loop {
        let stored = m.read().await?;
        if m.fresh(&stored) {
            return Ok(m.keep(&stored)); // someone else renewed already
        }
        let lease = settle(m.store.acquire_lease(m.lease_ms)).await?;
        if !lease.is_undefined() {
            let renewed = renew_holding_lease(m).await;
            let released = settle(m.store.release_lease(&lease)).await;
            // A renewal that failed reports its own failure; a release that failed after a good
            // renewal is reported (as before: the store may be unhealthy).
            match (renewed, released) {
                (Ok(Some(_)), Err(e)) => return Err(e),
                (Ok(Some(tokens)), Ok(_)) => return Ok(tokens),
                (Err(e), _) => return Err(e),
                // The store changed under us before anything was sent: read it again.
                (Ok(None), _) => continue,
            }
        }
        if js_sys::Date::now() > give_up_at {
            return Err(exception(
                &Failure::new(
                    Kind::Timeout,
                    "another process holds the token renewal lease and did not finish in time",
                ),
                false,
            ));
        }
        timing::sleep(lifecycle::lease_poll_ms(m.lease_ms), None).await;
    }
}

/// `signInRequired` (kind `invalid_argument`, error `invalid_grant`): nothing is sent.
fn sign_in_again(detail: &str) -> JsValue {
    let mut f = Failure::invalid_argument(detail);
    f.error = Some("invalid_grant".into());
    exception_with(&f, false, true)
}

/// Renews under the lease: the new set, or `None` when the store changed before anything was sent.
async fn renew_holding_lease(m: &Manager) -> Result<Option<JsValue>, JsValue> {
    let base = m.read().await?; // re-read under the lease
    if m.fresh(&base) {
        return Ok(Some(m.keep(&base)));
    }
    let next = match m.grant {
        Grant::RefreshToken => match refresh(m, &base).await? {
            Some(next) => next,
            None => return Ok(None),
        },
        _ => {
            let call = m.auth.call(
                Grant::ClientCredentials,
                &JsValue::UNDEFINED,
                &JsValue::UNDEFINED,
            )?;
            request(m.auth.settings.clone(), call).await?
        }
    };
    let swapped = settle(m.store.compare_and_set(&base, &next)).await?;
    if !swapped.is_truthy() {
        // The store moved on without us (our lease had expired): trust what it holds.
        let now = settle(m.store.get()).await?;
        if m.fresh(&now) {
            return Ok(Some(m.keep(&now)));
        }
    }
    m.keep(&next);
    write(&m.refused, None);
    if let Some(on_tokens) = &m.on_tokens {
        settle(on_tokens.call1(&JsValue::UNDEFINED, &next)).await?;
    }
    Ok(Some(next))
}

/// The refresh_token grant with the stored refresh token, presented at most once whenever the
/// server may have spent it: the stored set is marked `refreshing` before the request, and the
/// mark is taken back only when the core says the outcome is known
/// ([`lifecycle::refresh_outcome_known`]). A set still marked — its renewer's answer was lost, or
/// the renewer died — is never sent again: the user must sign in (README "Keeping tokens fresh").
/// `None`: the store changed before anything was sent.
async fn refresh(m: &Manager, base: &JsValue) -> Result<Option<JsValue>, JsValue> {
    let held = held_of(base);
    let Some(refresh_token) = held.refresh_token().map(str::to_owned) else {
        return Err(sign_in_again("no refresh token is stored: sign in again"));
    };
    if !js::absent(&js::get(base, lifecycle::REFRESHING)) {
        return Err(sign_in_again(
            "an earlier renewal sent this refresh token and its answer was lost (it may be spent): sign in again",
        ));
    }
    let call = m.auth.call(
        Grant::RefreshToken,
        &JsValue::from_str(&refresh_token),
        &JsValue::UNDEFINED,
    )?;
    let marked = js::snapshot(base, &[]).unwrap_or_default();
    js::set(
        &marked,
        lifecycle::REFRESHING,
        &JsValue::from_f64(js_sys::Date::now()),
    );
    let marked: JsValue = marked.into();
    if !settle(m.store.compare_and_set(base, &marked))
        .await?
        .is_truthy()
    {
        return Ok(None);
    }
    let next = match request_outcome(&m.auth.settings, &call).await {
        Ok(next) => next,
        Err((failure, retryable)) => {
            if lifecycle::refresh_outcome_known(&failure) {
                // Nothing sent, or a definite answer: the store goes back to what it was.
                settle(m.store.compare_and_set(&marked, base)).await?;
            }
            return Err(exception(&failure, retryable));
        }
    };
    // A server that does not rotate keeps the old refresh token valid: keep it with the set.
    if held_of(&next).refresh_token().is_some() {
        return Ok(Some(next));
    }
    let plain = js::snapshot(&next, &[]).unwrap_or_default();
    js::set(&plain, "refresh_token", &JsValue::from_str(&refresh_token));
    Ok(Some(plain.into()))
}

/// A valid access token: the cached one, or the shared renewal's. `signal` abandons only this
/// caller's wait.
async fn access_token(m: Rc<Manager>, signal: Option<CallerSignal>) -> Result<JsValue, JsValue> {
    let current = read(&m.current);
    if m.fresh(&current) {
        return Ok(js::get(&current, "access_token"));
    }
    let existing = read(&m.inflight);
    let renewal = match existing {
        Some(p) => p,
        None => {
            let p = super::promise(renew(m.clone()));
            write(&m.inflight, Some(p.clone()));
            p
        }
    };
    let tokens = match signal {
        None => JsFuture::from(renewal).await?,
        Some(signal) => {
            let cancel = Cancel::new(None, Some(&signal), false);
            match cancel.race(JsFuture::from(renewal)).await {
                Ok(outcome) => outcome?,
                Err(_) => {
                    return Err(exception(
                        &Failure::new(
                            Kind::Aborted,
                            "the caller's AbortSignal fired while waiting for the token",
                        ),
                        false,
                    ))
                }
            }
        }
    };
    Ok(js::get(&tokens, "access_token"))
}

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
    #[serde(with = "serde_wasm_bindgen::preserve")]
    on_tokens: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    fetch: JsValue,
}

/// Keeps a valid access token: renews `refreshSkewMs` before expiry, one renewal at a time (in
/// this process through a shared promise, across processes through the store's lease), and hands
/// every rotated TokenSet to the store and to `onTokens`.
#[wasm_bindgen]
pub struct TokenManager {
    inner: Rc<Manager>,
}

#[wasm_bindgen]
impl TokenManager {
    /// `{ auth, grant?, tokens?, store?, refreshSkewMs?, leaseMs?, onTokens?, fetch? }`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "TokenManagerOptions")] options: JsValue,
    ) -> Result<TokenManager, JsValue> {
        let o: ManagerOptions = options::read(&options, "TokenManager options", &[])?;
        let auth =
            auth_of(&o.auth).ok_or_else(|| invalid("TokenManager needs auth: an AvitoAuth"))?;
        let grant_name = match &o.grant {
            None | Some(Scalar::Null) => None,
            Some(Scalar::Str(s)) => Some(s.as_str()),
            Some(_) => Some(""),
        };
        let (grant, seed) = if !absent(&o.tokens) {
            if held_of(&o.tokens).refresh_token().is_none() {
                return Err(invalid("tokens must be a TokenSet with a refresh_token"));
            }
            if grant_name.is_some_and(|g| g != "refresh_token") {
                return Err(invalid(
                    "with tokens, grant must be \"refresh_token\" (or omitted)",
                ));
            }
            (Grant::RefreshToken, Some(o.tokens.clone()))
        } else {
            match grant_name {
                None | Some("client_credentials") => (Grant::ClientCredentials, None),
                Some("refresh_token") if o.store.is_undefined() => {
                    return Err(invalid(
                        "grant \"refresh_token\" needs tokens (or a store that holds them)",
                    ))
                }
                Some("refresh_token") => (Grant::RefreshToken, None),
                Some(_) => {
                    return Err(invalid(
                        "grant must be \"client_credentials\" or \"refresh_token\"",
                    ))
                }
            }
        };
        let skew_ms =
            match options::number(&o.refresh_skew_ms, "refreshSkewMs", 0.0, f64::MAX, false) {
                Ok(n) => n.unwrap_or(lifecycle::DEFAULT_SKEW_MS),
                Err(_) => return Err(invalid("refreshSkewMs must be a non-negative number")),
            };
        let lease_ms =
            match options::number(&o.lease_ms, "leaseMs", f64::MIN_POSITIVE, f64::MAX, false) {
                Ok(n) => n.unwrap_or(lifecycle::DEFAULT_LEASE_MS),
                Err(_) => return Err(invalid("leaseMs must be a positive number")),
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
        let inner = Manager {
            auth,
            grant,
            skew_ms,
            lease_ms,
            store,
            seed,
            on_tokens,
            fetch,
            current: RefCell::new(JsValue::UNDEFINED),
            inflight: RefCell::new(None),
            refused: RefCell::new(None),
        };
        Ok(TokenManager {
            inner: Rc::new(inner),
        })
    }

    /// A valid access token. Concurrent callers share one renewal; each caller's `signal` only
    /// abandons that caller's wait (the renewal goes on for the others, and is stored).
    #[wasm_bindgen(js_name = getAccessToken, unchecked_return_type = "Promise<string>")]
    pub fn get_access_token(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: JsValue,
    ) -> Promise {
        match call_signal(&options) {
            Ok(signal) => super::promise(access_token(self.inner.clone(), signal)),
            Err(e) => rejected(e),
        }
    }

    /// `"Bearer …"`.
    #[wasm_bindgen(js_name = authorizationHeader, unchecked_return_type = "Promise<string>")]
    pub fn authorization_header(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: JsValue,
    ) -> Promise {
        let signal = match call_signal(&options) {
            Ok(signal) => signal,
            Err(e) => return rejected(e),
        };
        let m = self.inner.clone();
        super::promise(async move {
            let token = access_token(m, signal).await?;
            Ok(JsValue::from_str(&format!(
                "Bearer {}",
                token.as_string().unwrap_or_default()
            )))
        })
    }

    /// Forces a renewal on next use (e.g. after an API refused the token).
    pub fn invalidate(&self) {
        let current = held_of(&read(&self.inner.current));
        if let Some(at) = current.access_token() {
            write(&self.inner.refused, Some(at.to_owned()));
        }
    }

    /// `fetch` with `Authorization: Bearer …`; on 401/403 renews once and retries once when the
    /// body can be replayed (not a stream, not a consumed Request).
    #[wasm_bindgen(unchecked_return_type = "Promise<Response>")]
    pub fn fetch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RequestInfo | URL")] input: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "RequestInit")] init: JsValue,
    ) -> Promise {
        super::promise(api_fetch(self.inner.clone(), input, init))
    }
}

fn call_signal(options: &JsValue) -> Result<Option<CallerSignal>, JsValue> {
    let o: options::CallOptions = options::read(options, "options", &[])?;
    options::signal(&o.signal)
}

/// One API request with the current token, as `fetch(target, { ...init, headers })`.
async fn send_with_token(
    m: &Rc<Manager>,
    target: &JsValue,
    init: &JsValue,
    fallback_headers: &JsValue,
    signal: Option<CallerSignal>,
) -> Result<(JsValue, JsValue), JsValue> {
    let token = access_token(m.clone(), signal).await?;
    let given = js::get(init, "headers");
    let headers: web_sys::Headers = HeadersCtor::new(if absent(&given) {
        fallback_headers
    } else {
        &given
    })?
    .unchecked_into();
    headers.set(
        "authorization",
        &format!("Bearer {}", token.as_string().unwrap_or_default()),
    )?;
    let request_init = js::snapshot(init, &[]).unwrap_or_default();
    js::set(&request_init, "headers", &headers);
    let called = match &m.fetch {
        Some(f) => f.call2(&JsValue::UNDEFINED, target, &request_init),
        None => global_fetch_with(target, &request_init),
    };
    Ok((settle(called).await?, token))
}

async fn api_fetch(m: Rc<Manager>, input: JsValue, init: JsValue) -> Result<JsValue, JsValue> {
    let request = input.dyn_ref::<web_sys::Request>().cloned();
    let body = js::get(&init, "body");
    let stream_body = body.is_instance_of::<web_sys::ReadableStream>();
    let used_request = request
        .as_ref()
        .is_some_and(|r| body.is_undefined() && r.body().is_some() && r.body_used());
    let replayable = !stream_body && !used_request;
    let spare: Option<JsValue> = match (&request, replayable) {
        (Some(r), true) => r.clone().ok().map(JsValue::from),
        _ => None,
    };
    let signal_value = match js::get(&init, "signal") {
        s if absent(&s) => request
            .as_ref()
            .map_or(JsValue::UNDEFINED, |r| r.signal().into()),
        s => s,
    };
    let signal = options::signal(&signal_value)?;
    let fallback_headers = request
        .as_ref()
        .map_or(JsValue::UNDEFINED, |r| r.headers().into());
    let (response, used) =
        send_with_token(&m, &input, &init, &fallback_headers, signal.clone()).await?;
    let status = response
        .unchecked_ref::<LooseResponse>()
        .status()
        .ok()
        .and_then(|s| s.as_f64())
        .unwrap_or(0.0);
    if !lifecycle::token_refused(status as u16) || !replayable {
        return Ok(response);
    }
    if held_of(&read(&m.current)).access_token() == used.as_string().as_deref() {
        write(&m.refused, used.as_string());
    }
    // Nobody will read the refused answer's body: let it go.
    let body = js::get(&response, "body");
    if let Ok(cancel) = js::get(&body, "cancel").dyn_into::<Function>() {
        let _ = settle(cancel.call0(&body)).await;
    }
    let target = spare.unwrap_or(input);
    Ok(
        send_with_token(&m, &target, &init, &fallback_headers, signal)
            .await?
            .0,
    )
}

/// The default store: one process. Implements the TokenStore protocol (get, CAS, lease).
#[wasm_bindgen]
pub struct MemoryTokenStore {
    tokens: RefCell<JsValue>,
    lease: RefCell<Option<(String, f64)>>,
}

/// Two sets are the same when their access and refresh tokens are (absent ones included).
fn same_tokens(a: &JsValue, b: &JsValue) -> bool {
    let (a, b) = (held_of(a), held_of(b));
    a.access_token() == b.access_token()
        && a.refresh_token.as_ref().and_then(Scalar::as_str)
            == b.refresh_token.as_ref().and_then(Scalar::as_str)
}

#[wasm_bindgen]
impl MemoryTokenStore {
    /// `initial`: a TokenSet to start with (optional).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "TokenSet")] initial: JsValue,
    ) -> MemoryTokenStore {
        MemoryTokenStore {
            tokens: RefCell::new(initial),
            lease: RefCell::new(None),
        }
    }
    #[wasm_bindgen(unchecked_return_type = "Promise<TokenSet | undefined>")]
    pub fn get(&self) -> Promise {
        Promise::resolve(&read(&self.tokens))
    }
    #[wasm_bindgen(js_name = compareAndSet, unchecked_return_type = "Promise<boolean>")]
    pub fn compare_and_set(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TokenSet | undefined")] expected: JsValue,
        #[wasm_bindgen(unchecked_param_type = "TokenSet")] next: JsValue,
    ) -> Promise {
        if !same_tokens(&read(&self.tokens), &expected) {
            return Promise::resolve(&JsValue::FALSE);
        }
        write(&self.tokens, next);
        Promise::resolve(&JsValue::TRUE)
    }
    /// A lease id, or `undefined` while another lease is live.
    #[wasm_bindgen(js_name = acquireLease, unchecked_return_type = "Promise<string | undefined>")]
    pub fn acquire_lease(&self, #[wasm_bindgen(js_name = ttlMs)] ttl_ms: f64) -> Promise {
        let now = js_sys::Date::now();
        if read(&self.lease).is_some_and(|(_, until)| until > now) {
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        let id = match random_state() {
            Ok(id) => id,
            Err(e) => return rejected(e),
        };
        write(&self.lease, Some((id.clone(), now + ttl_ms)));
        Promise::resolve(&JsValue::from_str(&id))
    }
    #[wasm_bindgen(js_name = releaseLease, unchecked_return_type = "Promise<void>")]
    pub fn release_lease(
        &self,
        #[wasm_bindgen(js_name = leaseId, unchecked_param_type = "string")] id: JsValue,
    ) -> Promise {
        let held = read(&self.lease);
        if held.is_some_and(|(held, _)| Some(held) == id.as_string()) {
            write(&self.lease, None);
        }
        Promise::resolve(&JsValue::UNDEFINED)
    }
}

impl TokenManager {
    pub(crate) fn share(&self) -> TokenManager {
        TokenManager {
            inner: self.inner.clone(),
        }
    }
}
