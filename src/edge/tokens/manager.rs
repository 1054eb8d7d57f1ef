//! The renewal: performs each step the core's protocol ([`crate::oauth::renewal`]) asks for —
//! store reads, the lease, compare-and-sets, the token request, sleeps — and hands back a valid
//! token set. One renewal at a time per manager: concurrent callers share its outcome (so a
//! failure reaches them all as the same `ApiException`).

use super::super::auth::AuthInner;
use super::super::events::{members, Events};
use super::super::exception::exception;
use super::super::js::{self, CallerSignal};
use super::super::random::random_state;
use super::super::timing::{self, Cancel, Fired};
use super::super::transport::request_outcome;
use super::status::recorded_failures;
use super::store::{copy_of, peek, read_set, with_mark, HeldTokens, Store};
use crate::oauth::failure::{Delivery, Failure};
use crate::oauth::health::{self, Note, HEALTH};
use crate::oauth::persist::{Persist, Persisted};
use crate::oauth::renewal::{
    self, abandoned_at_mark, answer_of, Answer, Ending, Event, Expected, Renewal, RenewalConfig,
    RenewalGrant, Start, Step, StoreFault, StoredSet, Why,
};
use crate::oauth::request::Grant;
use js_sys::{Function, Promise};
use std::cell::{Cell, OnceCell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
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
    /// The set itself: its scopes are read only when an API refuses its token.
    set: JsValue,
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
    pub events: Events,
}

pub struct Manager {
    pub setup: Setup,
    current: Cell<Option<Rc<Current>>>,
    /// The renewal in progress, shared by every caller waiting for it.
    inflight: Cell<Option<Rc<Shared>>>,
    /// An access token an API refused: never handed out again.
    refused: Cell<Option<Rc<str>>>,
    /// When an API refusal last set off a recovery (`tm.fetch`).
    pub last_recovery: Cell<Option<f64>>,
    /// The access token the token endpoint last delivered to this manager (not one read from
    /// the store): a refusal of it is not about expiry.
    delivered: Cell<Option<Rc<str>>>,
    /// The cached-token `tm.fetch`'s answer handler, made once (api_fetch.rs).
    pub refusal_check: OnceCell<js_sys::Function>,
    /// Whether a renewal of this manager has read a set from the store: from then on an empty
    /// store was emptied on purpose, and the seed is never written.
    read_a_set: Cell<bool>,
    /// Counts this manager's sign-outs: a renewal that started before one is discarded.
    sign_outs: Cell<u32>,
    /// Tokens handed out from memory, and from a store read (no renewal needed), by this process.
    served_from_memory: Cell<f64>,
    served_from_store: Cell<f64>,
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
            read_a_set: Cell::new(false),
            sign_outs: Cell::new(0),
            served_from_memory: Cell::new(0.0),
            served_from_store: Cell::new(0.0),
        }
    }

    /// Counts a token handed out from memory: one event per serve only for an `onEvent` (the
    /// hot path asks nothing of JavaScript otherwise).
    #[inline]
    pub fn served_from_memory(&self) {
        self.served_from_memory
            .set(self.served_from_memory.get() + 1.0);
        if self.setup.events.has_listener() {
            self.report_served_from_memory();
        }
    }

    #[cold]
    #[inline(never)]
    fn report_served_from_memory(&self) {
        let events = &self.setup.events;
        events.emit("token_served", &|| members(["memory".into()]));
    }

    /// The tokens this manager holds or was given: what a store's words are redacted with
    /// outside a renewal.
    pub fn held_secrets(&self) -> Vec<String> {
        let current = peek(&self.current).map(|c| c.set.clone());
        let mut secrets = Vec::new();
        for set in [current.as_ref(), self.setup.seed.as_ref()]
            .into_iter()
            .flatten()
        {
            let held = HeldTokens::of(set).unwrap_or_default();
            secrets.extend(held.access_token().map(str::to_owned));
            secrets.extend(held.refresh_token().map(str::to_owned));
        }
        secrets
    }

    /// Tokens this process handed out from memory and from the store.
    pub fn served(&self) -> (f64, f64) {
        (self.served_from_memory.get(), self.served_from_store.get())
    }

    /// The cached token set, if its access token can be handed out now.
    pub fn usable_current(&self) -> Option<Rc<Current>> {
        let current = peek(&self.current)?;
        let view = StoredSet {
            access_token: Some(&current.access_token),
            expires_at: current.expires_at,
            ..StoredSet::default()
        };
        self.is_usable(&view).then_some(current)
    }

    /// The core's freshness rule with this manager's refused token, clock and skew.
    pub fn is_usable(&self, set: &StoredSet) -> bool {
        let refused = peek(&self.refused);
        renewal::is_usable(
            set,
            refused.as_deref(),
            js_sys::Date::now(),
            self.setup.cfg.skew_ms,
        )
    }

    /// The token an API refused earlier, if any.
    pub fn refused_token(&self) -> Option<Rc<str>> {
        peek(&self.refused)
    }

    pub fn current_access_token(&self) -> Option<String> {
        peek(&self.current).map(|c| c.access_token.clone())
    }

    /// The set in use here, if `access_token` is its token.
    pub fn set_of(&self, access_token: &str) -> Option<JsValue> {
        peek(&self.current)
            .filter(|c| c.access_token == access_token)
            .map(|c| c.set.clone())
    }

    /// A sign-out of this manager: every renewal that began before it is discarded, and nothing
    /// held here is handed out again.
    pub fn signed_out_here(&self) {
        self.sign_outs.set(self.sign_outs.get().wrapping_add(1));
        self.forget();
    }

    /// This manager's sign-outs so far (a step that read the store before one is stale).
    pub fn sign_outs(&self) -> u32 {
        self.sign_outs.get()
    }

    /// Drops the tokens held here: the next call reads the store.
    fn forget(&self) {
        self.current.set(None);
        self.delivered.set(None);
    }

    /// Never hand out `token` again (an API refused it).
    pub fn refuse(&self, token: &str) {
        self.refused.set(Some(Rc::from(token)));
    }

    /// Makes `set` the one in use here.
    pub fn keep(&self, set: &JsValue) {
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
                set: set.clone(),
            }
        });
        self.current.set(current.map(Rc::new));
    }
}

/// The renewal in progress, shared by every caller waiting for it: its outcome once known (one
/// `ApiException` for them all), and the wakers of the callers still waiting. A caller that gives
/// up takes its waker out, so an abandoned wait leaves nothing behind even when the renewal never
/// ends (a Worker whose request returned cancels its timers and I/O: a JS promise per renewal
/// kept every abandoned caller's callbacks, about 170 bytes each, bench/isolate-heap.mjs).
#[derive(Default)]
pub struct Shared {
    outcome: RefCell<Option<Result<JsValue, JsValue>>>,
    waiting: RefCell<Vec<(u64, Waker)>>,
    next_waiter: Cell<u64>,
}

impl Shared {
    fn settle(&self, outcome: Result<JsValue, JsValue>) {
        *self.outcome.borrow_mut() = Some(outcome);
        // Taken out before any waker runs: no borrow is held while a caller resumes.
        let waiting = std::mem::take(&mut *self.waiting.borrow_mut());
        for (_, waker) in waiting {
            waker.wake();
        }
    }
}

/// One caller's wait for the shared renewal.
struct Wait {
    shared: Rc<Shared>,
    id: u64,
}

impl Wait {
    fn on(shared: Rc<Shared>) -> Wait {
        let id = shared.next_waiter.get();
        shared.next_waiter.set(id.wrapping_add(1));
        Wait { shared, id }
    }
}

impl Future for Wait {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(outcome) = self.shared.outcome.borrow().as_ref() {
            return Poll::Ready(outcome.clone());
        }
        let mut waiting = self.shared.waiting.borrow_mut();
        match waiting.iter_mut().find(|(id, _)| *id == self.id) {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => waiting.push((self.id, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        let id = self.id;
        if let Ok(mut waiting) = self.shared.waiting.try_borrow_mut() {
            waiting.retain(|(waiter, _)| *waiter != id);
        }
    }
}

/// A valid access token: the cached one, or the shared renewal's; with whether the token
/// endpoint delivered it during this call. `signal` abandons only this caller's wait.
pub async fn access_token(
    m: Rc<Manager>,
    signal: Option<CallerSignal>,
) -> Result<(String, bool), JsValue> {
    if let Some(current) = m.usable_current() {
        m.served_from_memory();
        return Ok((current.access_token.clone(), false));
    }
    let renewal = match peek(&m.inflight) {
        Some(shared) => shared,
        None => {
            let shared = Rc::new(Shared::default());
            m.inflight.set(Some(shared.clone()));
            let (renewer, outcome) = (m.clone(), shared.clone());
            // Taken now, not when the task runs: a signOut() in between discards this renewal.
            let sign_outs = m.sign_outs.get();
            wasm_bindgen_futures::spawn_local(async move {
                outcome.settle(renew(renewer, sign_outs).await);
            });
            shared
        }
    };
    let tokens = match signal {
        None => Wait::on(renewal).await?,
        Some(signal) => {
            let cancel = Cancel::for_wait(None, Some(&signal));
            match cancel.race(Wait::on(renewal)).await {
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
async fn renew(m: Rc<Manager>, sign_outs: u32) -> Result<JsValue, JsValue> {
    // The mark ids' random base comes first: a runtime without crypto fails the renewal before
    // it holds anything (a lease, a mark).
    let outcome = match random_state() {
        Ok(nonce) => Renewing::new(m.clone(), nonce, sign_outs)
            .run()
            .await
            .map(|(tokens, _)| tokens),
        Err(e) => Err(e.into()),
    };
    m.inflight.set(None);
    outcome
}

/// A renewal ahead of time (`accounts.renewDue`): the protocol's renewal of a set that expires
/// within `within_ms` ([`renewal::Renewal::ahead_of_time`]), run beside this manager's own
/// renewals as another process's would be; how it ended (tokens it kept, or a set fresh past
/// the window).
pub async fn renew_ahead(m: Rc<Manager>, within_ms: f64) -> Result<Ending, JsValue> {
    let mut renewing = Renewing::new(m.clone(), random_state()?, m.sign_outs.get());
    renewing.machine.ahead_of_time(within_ms);
    Ok(renewing.run().await?.1)
}

/// Ends the seller's sign-in (`signOut()`): nothing held here is handed out again, a renewal in
/// flight here is discarded, and the tombstone goes over the stored set.
pub async fn sign_out(m: Rc<Manager>) -> Result<JsValue, JsValue> {
    if m.setup.cfg.grant == RenewalGrant::ClientCredentials {
        // The application's own token: there is no seller to sign out, and the next renewal
        // would write a new token over the tombstone.
        return Err(exception(&Failure::invalid_argument(
            "signOut() ends a seller's sign-in; this TokenManager renews with client_credentials",
        )));
    }
    m.signed_out_here();
    super::overwrite::sign_out(&m.setup.store, m.setup.cfg.lease_ms)
        .await
        .map_err(|f| exception(&f))?;
    // Again once stored: a renewal that began while the tombstone was being written may have read
    // the set from before it.
    m.signed_out_here();
    m.setup.events.emit("signed_out", &|| members([]));
    Ok(JsValue::UNDEFINED)
}

/// Writes delivered tokens the renewal could not store, in the background: they are already
/// handed out. A sign-out found meanwhile drops them here too.
fn persist_in_background(m: Rc<Manager>, tokens: JsValue, presented: Option<String>) {
    let access_token = js::get(&tokens, "access_token")
        .as_string()
        .unwrap_or_default();
    let machine = Persist::new(
        m.setup.cfg.grant,
        &access_token,
        presented.as_deref(),
        js_sys::Date::now(),
    );
    wasm_bindgen_futures::spawn_local(async move {
        let how = super::overwrite::persist(&m.setup.store, &tokens, machine).await;
        if how == Persisted::SignedOut && m.current_access_token() == Some(access_token) {
            m.forget();
        }
    });
}

/// How the token request failed, as the caller will see it.
enum RequestFailure {
    /// A core failure (already redacted).
    Core(Failure),
    /// An `ApiException` built before anything was sent (a refused argument).
    Refused(JsValue),
}

/// One renewal's state on the edge: the JS values the protocol's steps name. It decides nothing.
struct Renewing {
    m: Rc<Manager>,
    /// The manager's sign-outs when this renewal started.
    sign_outs: u32,
    machine: Renewal,
    last_read: JsValue,
    held: HeldTokens,
    marked: JsValue,
    /// The refresh token the request presented (kept with a non-rotating answer).
    presented: Option<String>,
    tokens: JsValue,
    lease: Option<JsValue>,
    request_failure: Option<RequestFailure>,
    store_fault: Option<StoreFault>,
    /// The base of this renewal's mark ids: its `renewalId` in events.
    renewal_id: String,
    /// Set when the renewal goes past reading the store (it leases, waits or requests): then
    /// `renewal_started` was reported, and `renewal_finished` will be.
    started: Option<Started>,
    /// Time spent asleep: waiting for another renewer, or for a lost answer's mark to pass.
    waited_ms: f64,
}

/// A renewal that was reported started: when, and its TracingChannel context if traced.
struct Started {
    at: f64,
    trace: JsValue,
}

/// `set` (copied) with the `health` that `note` records over what `before` held: the failure's
/// `kind`, `status` and `error` (its ApiException's) when the presentation failed.
fn with_health(set: &JsValue, before: &JsValue, note: Note, failure: &JsValue) -> JsValue {
    let copy = copy_of(set);
    let recorded = js::get(before, HEALTH);
    let count = health::failures_after(Some(recorded_failures(&recorded)), note);
    if let Ok(health) = js::health_after(&recorded, count, failure) {
        js::set(&copy, HEALTH, &health);
    }
    copy.into()
}

impl Renewing {
    fn new(m: Rc<Manager>, nonce: String, sign_outs: u32) -> Renewing {
        let refused = peek(&m.refused);
        let start = Start {
            refused: refused.as_deref(),
            has_seed: m.setup.seed.is_some(),
            seen_a_set: m.read_a_set.get(),
            nonce,
        };
        Renewing {
            sign_outs,
            renewal_id: start.nonce.clone(),
            started: None,
            waited_ms: 0.0,
            machine: Renewal::new(m.setup.cfg, js_sys::Date::now(), start),
            m,
            last_read: JsValue::UNDEFINED,
            held: HeldTokens::default(),
            marked: JsValue::UNDEFINED,
            presented: None,
            tokens: JsValue::UNDEFINED,
            lease: None,
            request_failure: None,
            store_fault: None,
        }
    }

    async fn run(mut self) -> Result<(JsValue, Ending), JsValue> {
        let m = self.m.clone();
        let store = &m.setup.store;
        let mut step = self.machine.start();
        loop {
            if self.started.is_none() && !matches!(step, Step::Read | Step::Seed | Step::Finish(_))
            {
                self.start_reporting();
            }
            // What the core says this write records of the presentation's outcome.
            let note = health::note_of(&step);
            let event = match step {
                Step::Read => self.read().await,
                Step::Seed => {
                    let seed = self.m.setup.seed.clone().unwrap_or_default();
                    self.swap(&JsValue::UNDEFINED, &seed).await
                }
                Step::AcquireLease { ttl_ms } => match store.acquire_lease(ttl_ms).await {
                    Ok(lease) => {
                        let granted = lease.is_some();
                        self.lease = lease;
                        Event::Lease(granted)
                    }
                    Err(f) => self.store_failed(f),
                },
                Step::Mark { mark, over } => {
                    let id = self.machine.mark_id();
                    let next = with_mark(&self.last_read, Some((&id, mark)));
                    let expected = self.expected(over);
                    // Kept whatever the reply: the machine re-reads to learn whether it won.
                    self.marked = next.clone();
                    self.swap(&expected, &next).await
                }
                Step::Request { abandon_at } => Event::Answered(self.request(abandon_at).await),
                Step::StoreTokens {
                    over,
                    keep_refresh_token,
                } => {
                    if keep_refresh_token {
                        self.keep_presented_refresh_token();
                    }
                    // Kept and handed out with its health, as stored.
                    self.tokens = self.recording(&self.tokens, note);
                    let expected = self.expected(over);
                    let next = self.tokens.clone();
                    self.swap(&expected, &next).await
                }
                Step::Unmark => {
                    let next = self.recording(&with_mark(&self.last_read, None), note);
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
                    let next = self.recording(&next, note);
                    let marked = self.marked.clone();
                    self.swap(&marked, &next).await
                }
                Step::RecordUncertain(mark) => {
                    let id = self.machine.mark_id();
                    let next = self.recording(&with_mark(&self.marked, Some((&id, mark))), note);
                    let marked = self.marked.clone();
                    self.swap(&marked, &next).await
                }
                Step::Release => match self.lease.take() {
                    Some(id) => match store.release_lease(&id).await {
                        Ok(()) => Event::Released,
                        Err(_) => Event::StoreFailed, // harmless: the lease expires by itself
                    },
                    None => Event::Released,
                },
                Step::Sleep { ms } => {
                    let asleep = js_sys::Date::now();
                    timing::sleep(ms, None).await;
                    self.waited_ms += js_sys::Date::now() - asleep;
                    Event::Slept
                }
                Step::Finish(ending) => return Ok((self.finish(ending).await?, ending)),
            };
            let event = match event {
                Event::Read(Some(_)) => {
                    self.m.read_a_set.set(true);
                    Event::Read(Some(self.held.view()))
                }
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

    fn store_failed(&mut self, f: StoreFault) -> Event<'static> {
        let m = self.m.clone();
        m.setup.events.store_error(&f, &|| self.secrets());
        self.store_fault = Some(f);
        Event::StoreFailed
    }

    /// Reports the renewal started (it went past reading the store).
    fn start_reporting(&mut self) {
        let events = &self.m.setup.events;
        let id = JsValue::from_str(&self.renewal_id);
        events.emit("renewal_started", &|| members([id.clone()]));
        self.started = Some(Started {
            at: js_sys::Date::now(),
            trace: events.trace_start(&self.renewal_id),
        });
    }

    /// `next` with the health `note` records (see [`health::note_of`]); as it is without one.
    fn recording(&self, next: &JsValue, note: Option<Note>) -> JsValue {
        let Some(note) = note else {
            return next.clone();
        };
        let failure = match note {
            Note::Renewed => JsValue::UNDEFINED,
            Note::Failed => self.failure_value(self.machine.recorded().unwrap_or(Why::Answer)),
        };
        with_health(next, &self.last_read, note, &failure)
    }

    /// The ApiException a renewal that fails for `why` hands its callers.
    fn failure_value(&self, why: Why) -> JsValue {
        let request = match &self.request_failure {
            Some(RequestFailure::Refused(e)) if why.is_the_answer() => return e.clone(),
            Some(RequestFailure::Core(f)) => Some(f),
            _ => None,
        };
        let secrets = self.secrets();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        exception(
            &self
                .machine
                .failure(why, request, self.store_fault.as_ref(), &secrets),
        )
    }

    /// The events of the renewal's end: `renewal_finished` for a renewal reported started, else a
    /// token served from the store; then `sign_in_required` with its reason.
    fn report(&self, ending: Ending, outcome: &Result<JsValue, JsValue>) {
        self.report_renewal(ending, outcome);
        if let Ending::Fail(Why::SignIn(why)) = ending {
            let reason = JsValue::from_str(self.machine.sign_in_reason(why));
            let events = &self.m.setup.events;
            events.emit("sign_in_required", &|| members([reason.clone()]));
        }
    }

    fn report_renewal(&self, ending: Ending, outcome: &Result<JsValue, JsValue>) {
        let events = &self.m.setup.events;
        let Some(started) = &self.started else {
            if ending == Ending::UseLastRead {
                let served = &self.m.served_from_store;
                served.set(served.get() + 1.0);
                events.emit("token_served", &|| members(["store".into()]));
            }
            return;
        };
        // The renewal's failure: its own, or the one it recorded before handing out the stored
        // token that is still valid.
        let failure = match (outcome, ending) {
            (Err(e), _) => Some(e.clone()),
            (Ok(_), Ending::UseLastRead) => match (self.machine.recorded(), &self.store_fault) {
                (Some(why), _) => Some(self.failure_value(why)),
                (None, Some(_)) => Some(self.failure_value(Why::Store)),
                (None, None) => None,
            },
            _ => None,
        };
        let now = js_sys::Date::now();
        let finished = || {
            let verdict = if failure.is_some() {
                "failed"
            } else {
                "renewed"
            };
            let of = |member| {
                failure
                    .as_ref()
                    .map_or(JsValue::UNDEFINED, |f| js::get(f, member))
            };
            [
                JsValue::from_str(&self.renewal_id),
                verdict.into(),
                of("kind"),
                of("status"),
                of("error"),
                (now - started.at).into(),
                self.machine.presentations().into(),
                self.waited_ms.into(),
            ]
        };
        if let Some(failure) = failure.as_ref().filter(|_| !started.trace.is_undefined()) {
            js::set(started.trace.unchecked_ref(), "error", failure);
        }
        events.emit_traced("renewal_finished", &started.trace, &finished);
    }

    async fn swap(&mut self, expected: &JsValue, next: &JsValue) -> Event<'static> {
        match self.m.setup.store.compare_and_set(expected, next).await {
            Ok(won) => Event::Swapped(won),
            Err(f) => self.store_failed(f),
        }
    }

    /// Reads the store. The event is completed with the parsed view by `run`.
    async fn read(&mut self) -> Event<'static> {
        let stored = match self.m.setup.store.get().await {
            Ok(v) => v,
            Err(f) => return self.store_failed(f),
        };
        match read_set(
            &stored,
            "it returned something that is not a TokenSet (a `renewal` member that is not { id, presented_at, answer_by }?)",
        ) {
            Ok(held) => {
                self.held = held;
                let empty = js::absent(&stored);
                self.last_read = stored;
                // The view borrows `self.held`: `run` fills it in.
                Event::Read((!empty).then_some(StoredSet::default()))
            }
            Err(fault) => self.store_failed(fault),
        }
    }

    /// The token request the protocol asked for, abandoned at `abandon_at`.
    async fn request(&mut self, abandon_at: f64) -> Answer {
        let (grant, secret) = match self.m.setup.cfg.grant {
            RenewalGrant::RefreshToken => {
                self.presented = self.held.refresh_token().map(str::to_owned);
                (
                    Grant::RefreshToken,
                    JsValue::from(self.presented.as_deref().unwrap_or_default()),
                )
            }
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
        let abandon = Cancel::for_request(Some(abandon_at - js_sys::Date::now()), None);
        call.signal = abandon
            .signal()
            .map(|s| JsValue::from(s).unchecked_into::<CallerSignal>());
        match request_outcome(&self.m.setup.auth.settings, &call).await {
            Ok(tokens) => {
                let rotated = HeldTokens::of(&tokens)
                    .ok()
                    .is_some_and(|t| t.refresh_token().is_some());
                self.tokens = tokens;
                Answer::Tokens { rotated }
            }
            Err(mut failure) => {
                let answer = answer_of(&failure);
                if abandon.fired() == Some(Fired::Timer) {
                    failure = abandoned_at_mark(failure.delivery());
                }
                self.request_failure = Some(RequestFailure::Core(failure));
                answer
            }
        }
    }

    /// The machine's verdict on a non-rotating answer: the presented refresh token stays valid,
    /// so it stays with the set (idempotent: a second write of the same set changes nothing).
    fn keep_presented_refresh_token(&mut self) {
        let has_own = HeldTokens::of(&self.tokens)
            .ok()
            .is_some_and(|t| t.refresh_token().is_some());
        if let (false, Some(old)) = (has_own, &self.presented) {
            let copy = copy_of(&self.tokens);
            js::set(&copy, "refresh_token", &JsValue::from_str(old));
            self.tokens = copy.into();
        }
    }

    /// Every secret this renewal has seen: a store's words are redacted with them.
    fn secrets(&self) -> Vec<String> {
        let delivered = HeldTokens::of(&self.tokens).unwrap_or_default();
        let seed = self.m.setup.seed.as_ref();
        let seed = seed
            .and_then(|s| HeldTokens::of(s).ok())
            .unwrap_or_default();
        [
            self.held.access_token(),
            self.held.refresh_token(),
            self.presented.as_deref(),
            delivered.access_token(),
            delivered.refresh_token(),
            seed.access_token(),
            seed.refresh_token(),
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .collect()
    }

    async fn finish(self, ending: Ending) -> Result<JsValue, JsValue> {
        let ending = if self.m.sign_outs.get() == self.sign_outs {
            ending
        } else {
            self.machine.signed_out_meanwhile()
        };
        let outcome = self.conclude(ending).await;
        self.report(ending, &outcome);
        outcome
    }

    async fn conclude(&self, ending: Ending) -> Result<JsValue, JsValue> {
        match ending {
            Ending::UseLastRead => {
                self.m.keep(&self.last_read);
                Ok(self.last_read.clone())
            }
            Ending::UseTokens { persist } => {
                if persist {
                    persist_in_background(
                        self.m.clone(),
                        self.tokens.clone(),
                        self.presented.clone(),
                    );
                }
                self.m.keep(&self.tokens);
                self.m.refused.set(None);
                self.m.delivered.set(
                    js::get(&self.tokens, "access_token")
                        .as_string()
                        .map(Rc::from),
                );
                if let Some(on_tokens) = &self.m.setup.on_tokens {
                    let called = on_tokens.call1(&JsValue::UNDEFINED, &self.tokens);
                    // Its rejection is the caller's to see; one that never settles must not hold
                    // every later caller of this manager (the tokens are kept either way).
                    let limit =
                        Cancel::for_wait(Some(self.m.setup.cfg.store_call_timeout_ms()), None);
                    if let Ok(settled) =
                        limit.race(JsFuture::from(Promise::resolve(&called?))).await
                    {
                        settled?;
                    }
                }
                Ok(self.tokens.clone())
            }
            Ending::Fail(why) => Err(self.failure_value(why)),
        }
    }
}
