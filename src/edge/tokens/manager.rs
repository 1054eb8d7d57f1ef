//! The renewal: performs each step the core's protocol ([`crate::oauth::renewal`]) asks for —
//! store reads, the lease, compare-and-sets, the token request, sleeps — and hands back a valid
//! token set. One renewal at a time per manager: concurrent callers share one JS promise (so a
//! failure reaches them all as the same `ApiException`).

use super::super::auth::AuthInner;
use super::super::exception::exception;
use super::super::js::{self, CallerSignal};
use super::super::random::random_state;
use super::super::timing::{self, Cancel, Fired};
use super::super::transport::request_outcome;
use super::store::{copy_of, mark_id, peek, with_mark, HeldTokens, Store, StoreFailure};
use crate::oauth::failure::{Delivery, Failure};
use crate::oauth::renewal::{
    self, answer_of, Answer, Ending, Event, Expected, Renewal, RenewalConfig, RenewalGrant, SignIn,
    Step, Why,
};
use crate::oauth::request::Grant;
use js_sys::{Function, Promise};
use std::cell::{Cell, OnceCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// The token set in use here, read once: the cached path compares two numbers.
pub struct Current {
    pub access_token: String,
    pub expires_at: Option<f64>,
    /// `{ headers: { authorization: "Bearer …" } }`, frozen: the `init` of every cached-token
    /// `tm.fetch` that has none of its own, built once per token.
    pub bearer_init: js_sys::Object,
    /// `access_token` as a JS string, built once per token: what a cached-token `tm.fetch`
    /// hands its refusal check (api_fetch.rs).
    pub access_token_value: JsValue,
}

/// What a manager is made of: fixed at construction.
pub struct Setup {
    pub auth: Rc<AuthInner>,
    pub cfg: RenewalConfig,
    pub refusal_interval_ms: f64,
    pub store: Store,
    /// The constructor's `tokens`, written to an empty store.
    pub seed: Option<JsValue>,
    pub on_tokens: Option<Function>,
    pub fetch: Option<Function>,
}

pub struct Manager {
    pub setup: Setup,
    current: Cell<Option<Rc<Current>>>,
    /// The renewal in progress, shared by every caller waiting for it.
    inflight: Cell<Option<Promise>>,
    /// An access token an API refused: never handed out again.
    refused: Cell<Option<Rc<str>>>,
    /// When an API refusal last set off a recovery (`tm.fetch`).
    pub last_recovery: Cell<Option<f64>>,
    /// The access token the token endpoint last delivered to this manager (not one read from
    /// the store): a refusal of it is not about expiry.
    delivered: Cell<Option<Rc<str>>>,
    /// The cached-token `tm.fetch`'s answer handler, made once (api_fetch.rs).
    pub refusal_check: OnceCell<js_sys::Function>,
}

impl Manager {
    pub fn new(setup: Setup) -> Manager {
        Manager {
            setup,
            current: Cell::new(None),
            inflight: Cell::new(None),
            refused: Cell::new(None),
            last_recovery: Cell::new(None),
            delivered: Cell::new(None),
            refusal_check: OnceCell::new(),
        }
    }

    /// The cached token set, if its access token can be handed out now.
    pub fn usable_current(&self) -> Option<Rc<Current>> {
        let current = peek(&self.current)?;
        let refused = peek(&self.refused);
        let usable = Some(current.access_token.as_str()) != refused.as_deref()
            && current.expires_at.map_or(true, |exp| {
                exp - self.setup.cfg.skew_ms > js_sys::Date::now()
            });
        usable.then_some(current)
    }

    pub fn current_access_token(&self) -> Option<String> {
        peek(&self.current).map(|c| c.access_token.clone())
    }

    /// Never hand out `token` again (an API refused it).
    pub fn refuse(&self, token: &str) {
        self.refused.set(Some(Rc::from(token)));
    }

    /// Makes `set` the one in use here.
    fn keep(&self, set: &JsValue) {
        let held = HeldTokens::of(set).unwrap_or_default();
        let current = held.access_token().map(|at| {
            let headers = js_sys::Object::new();
            js::set(
                &headers,
                "authorization",
                &JsValue::from_str(&format!("Bearer {at}")),
            );
            let bearer_init = js_sys::Object::new();
            js::set(&bearer_init, "headers", &js_sys::Object::freeze(&headers));
            Current {
                access_token: at.to_owned(),
                expires_at: held.expires_at(),
                bearer_init: js_sys::Object::freeze(&bearer_init),
                access_token_value: JsValue::from_str(at),
            }
        });
        self.current.set(current.map(Rc::new));
    }

    /// Adopts a set read from the store if it is usable and not the refused one.
    pub fn adopt_if_usable(&self, set: &JsValue) -> bool {
        let Ok(held) = HeldTokens::of(set) else {
            return false;
        };
        let refused = peek(&self.refused);
        if renewal::is_usable(
            &held.view(),
            refused.as_deref(),
            js_sys::Date::now(),
            self.setup.cfg.skew_ms,
        ) {
            self.keep(set);
            return true;
        }
        false
    }
}

/// A valid access token: the cached one, or the shared renewal's; with whether the token
/// endpoint delivered it during this call. `signal` abandons only this caller's wait.
pub async fn access_token(
    m: Rc<Manager>,
    signal: Option<CallerSignal>,
) -> Result<(String, bool), JsValue> {
    if let Some(current) = m.usable_current() {
        return Ok((current.access_token.clone(), false));
    }
    let renewal = match peek(&m.inflight) {
        Some(p) => p,
        None => {
            let p = super::super::promise(renew(m.clone()));
            m.inflight.set(Some(p.clone()));
            p
        }
    };
    let tokens = match signal {
        None => JsFuture::from(renewal).await?,
        Some(signal) => {
            let cancel = Cancel::for_wait(None, Some(&signal));
            match cancel.race(JsFuture::from(renewal)).await {
                Ok(outcome) => outcome?,
                Err(_) => {
                    return Err(exception(&Failure::aborted(
                        "the caller's AbortSignal fired while waiting for the token",
                        Delivery::MayHaveArrived,
                    )))
                }
            }
        }
    };
    let token = js::get(&tokens, "access_token")
        .as_string()
        .ok_or_else(|| {
            exception(&Failure::invalid_response(
                "the renewed set has no access_token",
            ))
        })?;
    let delivered = peek(&m.delivered).is_some_and(|d| *d == *token);
    Ok((token, delivered))
}

/// Runs one renewal; clears the in-flight slot when done, whatever happened.
async fn renew(m: Rc<Manager>) -> Result<JsValue, JsValue> {
    let outcome = Renewing::new(&m).run().await;
    m.inflight.set(None);
    outcome
}

/// How the token request failed, as the caller will see it.
enum RequestFailure {
    /// A core failure (already redacted).
    Core(Failure),
    /// An `ApiException` built before anything was sent (a refused argument).
    Refused(JsValue),
}

/// One renewal's state on the edge: the JS values the protocol's steps name.
struct Renewing<'m> {
    m: &'m Manager,
    machine: Renewal,
    last_read: JsValue,
    held: HeldTokens,
    marked: JsValue,
    tokens: JsValue,
    lease: Option<JsValue>,
    request_failure: Option<RequestFailure>,
    store_failure: Option<StoreFailure>,
}

impl<'m> Renewing<'m> {
    fn new(m: &'m Manager) -> Renewing<'m> {
        let refused = peek(&m.refused);
        Renewing {
            m,
            machine: Renewal::new(m.setup.cfg, js_sys::Date::now(), refused.as_deref()),
            last_read: JsValue::UNDEFINED,
            held: HeldTokens::default(),
            marked: JsValue::UNDEFINED,
            tokens: JsValue::UNDEFINED,
            lease: None,
            request_failure: None,
            store_failure: None,
        }
    }

    async fn run(mut self) -> Result<JsValue, JsValue> {
        let mut step = self.machine.start();
        loop {
            let event = match step {
                Step::Read => self.read().await,
                Step::AcquireLease { ttl_ms } => {
                    match self.m.setup.store.acquire_lease(ttl_ms).await {
                        Ok(lease) => {
                            let granted = lease.is_some();
                            self.lease = lease;
                            Event::Lease(granted)
                        }
                        Err(f) => self.store_failed(f),
                    }
                }
                Step::Mark { mark, over } => {
                    let id = random_state()?;
                    let next = with_mark(&self.last_read, Some((&id, mark)));
                    let expected = self.expected(over);
                    let swapped = self.m.setup.store.compare_and_set(&expected, &next).await;
                    let won = match swapped {
                        Ok(true) => Ok(true),
                        // The reply may have been lost after the write: the store holding our
                        // mark means the write won (else our own mark, with nothing sent, would
                        // hold every renewer off until its answer_by).
                        lost => match self.m.setup.store.get().await {
                            Ok(now) if mark_id(&now).as_deref() == Some(id.as_str()) => Ok(true),
                            _ => lost,
                        },
                    };
                    match won {
                        Ok(won) => {
                            if won {
                                self.marked = next;
                            }
                            Event::Swapped(won)
                        }
                        Err(f) => self.store_failed(f),
                    }
                }
                Step::Request { abandon_at } => Event::Answered(self.request(abandon_at).await),
                Step::StoreTokens(expected) => {
                    let expected = self.expected(expected);
                    let next = self.tokens.clone();
                    self.swap(&expected, &next).await
                }
                Step::Unmark => {
                    let next = with_mark(&self.last_read, None);
                    let marked = self.marked.clone();
                    self.swap(&marked, &next).await
                }
                Step::RecordRefused { at } => {
                    let next = with_mark(&self.last_read, None);
                    let record: &js_sys::Object = next.unchecked_ref();
                    let _ = js_sys::Reflect::delete_property(
                        record,
                        &JsValue::from_str("refresh_token"),
                    );
                    js::set(record, renewal::REFRESH_REFUSED_AT, &JsValue::from_f64(at));
                    let marked = self.marked.clone();
                    self.swap(&marked, &next).await
                }
                Step::RecordUncertain(mark) => {
                    let id = mark_id(&self.marked).unwrap_or_default();
                    let next = with_mark(&self.marked, Some((&id, mark)));
                    let marked = self.marked.clone();
                    self.swap(&marked, &next).await
                }
                Step::Release => match self.lease.take() {
                    Some(id) => match self.m.setup.store.release_lease(&id).await {
                        Ok(()) => Event::Released,
                        Err(_) => Event::StoreFailed, // harmless: the lease expires by itself
                    },
                    None => Event::Released,
                },
                Step::Sleep { ms } => {
                    timing::sleep(ms, None).await;
                    Event::Slept
                }
                Step::Finish(ending) => return self.finish(ending).await,
            };
            let event = match event {
                Event::Read(Some(_)) => Event::Read(Some(self.held.view())),
                other => other,
            };
            step = self.machine.on(event, js_sys::Date::now());
        }
    }

    fn expected(&self, which: Expected) -> JsValue {
        match which {
            Expected::LastRead => self.last_read.clone(),
            Expected::Marked => self.marked.clone(),
        }
    }

    fn store_failed(&mut self, f: StoreFailure) -> Event<'static> {
        self.store_failure = Some(f);
        Event::StoreFailed
    }

    async fn swap(&mut self, expected: &JsValue, next: &JsValue) -> Event<'static> {
        match self.m.setup.store.compare_and_set(expected, next).await {
            Ok(won) => Event::Swapped(won),
            Err(f) => self.store_failed(f),
        }
    }

    /// Reads the store (seeding an empty one with the constructor's `tokens`). The event is
    /// completed with the parsed view by `run`.
    async fn read(&mut self) -> Event<'static> {
        let mut stored = match self.m.setup.store.get().await {
            Ok(v) => v,
            Err(f) => return self.store_failed(f),
        };
        if let (true, Some(seed)) = (js::absent(&stored), &self.m.setup.seed) {
            if let Err(f) = self
                .m
                .setup
                .store
                .compare_and_set(&JsValue::UNDEFINED, seed)
                .await
            {
                return self.store_failed(f);
            }
            stored = match self.m.setup.store.get().await {
                Ok(v) => v,
                Err(f) => return self.store_failed(f),
            };
        }
        match HeldTokens::of(&stored) {
            Ok(held) => {
                self.held = held;
                let empty = js::absent(&stored);
                self.last_read = stored;
                // The view borrows `self.held`: `run` fills it in.
                Event::Read((!empty).then_some(renewal::StoredSet::default()))
            }
            Err(_) => self.store_failed(StoreFailure {
                call: "get",
                detail: "it returned something that is not a TokenSet (a `renewal` member that is not { id, presented_at, answer_by }?)".to_owned(),
            }),
        }
    }

    /// The token request the protocol asked for, abandoned at `abandon_at`.
    async fn request(&mut self, abandon_at: f64) -> Answer {
        let now = js_sys::Date::now();
        if now >= abandon_at {
            self.request_failure = Some(RequestFailure::Core(not_sent_in_time()));
            return Answer::NotSent;
        }
        let (grant, secret) = match self.m.setup.cfg.grant {
            RenewalGrant::RefreshToken => (
                Grant::RefreshToken,
                JsValue::from(self.held.refresh_token().unwrap_or_default()),
            ),
            RenewalGrant::ClientCredentials => (Grant::ClientCredentials, JsValue::UNDEFINED),
        };
        let mut call = match self.m.setup.auth.call(grant, &secret, &JsValue::UNDEFINED) {
            Ok(call) => call,
            Err(refused) => {
                self.request_failure = Some(RequestFailure::Refused(refused.into()));
                return Answer::NotSent;
            }
        };
        // The mark says when this request's answer can no longer come: abandon it then.
        let abandon = Cancel::for_request(Some(abandon_at - now), None);
        call.signal = abandon
            .signal()
            .map(|s| JsValue::from(s).unchecked_into::<CallerSignal>());
        match request_outcome(&self.m.setup.auth.settings, &call).await {
            Ok(tokens) => {
                self.tokens = self.keeping_refresh_token(tokens);
                Answer::Tokens
            }
            Err(mut failure) => {
                let answer = answer_of(&failure);
                if abandon.fired() == Some(Fired::Timer) {
                    failure = Failure::timeout(
                        "no answer from the token endpoint before the renewal's deadline",
                        failure.delivery(),
                    );
                }
                self.request_failure = Some(RequestFailure::Core(failure));
                answer
            }
        }
    }

    /// A server that does not rotate keeps the old refresh token valid: keep it with the set.
    fn keeping_refresh_token(&self, tokens: JsValue) -> JsValue {
        let delivered = HeldTokens::of(&tokens).unwrap_or_default();
        match (delivered.refresh_token(), self.held.refresh_token()) {
            (None, Some(old)) => {
                let copy = copy_of(&tokens);
                js::set(&copy, "refresh_token", &JsValue::from_str(old));
                copy.into()
            }
            _ => tokens,
        }
    }

    /// Every secret this renewal has seen: a store's words are redacted with them.
    fn secrets(&self) -> Vec<String> {
        let delivered = HeldTokens::of(&self.tokens).unwrap_or_default();
        [
            self.held.access_token(),
            self.held.refresh_token(),
            delivered.access_token(),
            delivered.refresh_token(),
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .collect()
    }

    async fn finish(self, ending: Ending) -> Result<JsValue, JsValue> {
        match ending {
            Ending::UseLastRead => {
                self.m.keep(&self.last_read);
                Ok(self.last_read)
            }
            Ending::UseTokens => {
                self.m.keep(&self.tokens);
                self.m.refused.set(None);
                self.m.delivered.set(
                    js::get(&self.tokens, "access_token")
                        .as_string()
                        .map(Rc::from),
                );
                if let Some(on_tokens) = &self.m.setup.on_tokens {
                    let called = on_tokens.call1(&JsValue::UNDEFINED, &self.tokens);
                    JsFuture::from(Promise::resolve(&called?)).await?;
                }
                Ok(self.tokens)
            }
            Ending::Fail(why) => Err(self.failure(why)),
        }
    }

    fn failure(self, why: Why) -> JsValue {
        let secrets = self.secrets();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        match why {
            Why::SignIn(SignIn::Refused) | Why::Answer => match self.request_failure {
                Some(RequestFailure::Core(f)) => exception(&f),
                Some(RequestFailure::Refused(e)) => e,
                None => exception(&Failure::store(
                    "the renewal ended without an answer",
                )),
            },
            Why::SignIn(SignIn::NoRefreshToken) if self.held.refused_earlier() => sign_in_again(
                "the server refused this account's refresh token earlier (invalid_grant): sign in again",
            ),
            Why::SignIn(SignIn::NoRefreshToken) => {
                sign_in_again("no refresh token is stored: sign in again")
            }
            Why::SignIn(SignIn::LostAnswer) => sign_in_again(
                "an earlier renewal presented this refresh token and its answer was lost; with strictRotation it is not presented again: sign in again",
            ),
            Why::Timeout => {
                let mut f = Failure::timeout(
                    format!(
                        "another renewal of this account did not finish within {} ms",
                        self.m.setup.cfg.renewal_bound_ms()
                    ),
                    Delivery::MayHaveArrived,
                );
                f.set_retryable(true);
                exception(&f)
            }
            Why::Store => {
                let (call, detail) = match &self.store_failure {
                    Some(f) => (f.call, f.detail.as_str()),
                    None => ("get", "it failed"),
                };
                let mut f = Failure::store(
                    format!("the token store's {call}() failed: {detail}"),
                )
                .redacted(&secrets);
                f.set_retryable(true);
                exception(&f)
            }
            Why::StoreNeverMatched => exception(&Failure::store(
                "the token store's compareAndSet() kept refusing the set its get() returned: it must compare access_token, refresh_token and renewal.id, not identity",
            )),
        }
    }
}

fn not_sent_in_time() -> Failure {
    Failure::timeout(
        "the renewal's deadline passed before the refresh could be sent",
        Delivery::NotSent,
    )
}

/// `signInRequired` (kind `invalid_argument`, error `invalid_grant`): nothing is sent.
fn sign_in_again(detail: &str) -> JsValue {
    exception(&Failure::InvalidArgument {
        detail: detail.into(),
        error: Some("invalid_grant".into()),
    })
}
