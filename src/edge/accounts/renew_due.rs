//! `accounts.renewDue(ids, { within, concurrency, signal })`: renewal ahead of time. Each seller's
//! stored set is read (every process sees the same one); the core says whether it is due
//! ([`crate::oauth::renew_due`]), and a due one is renewed through its manager by the same
//! protocol as any renewal, so live traffic here and in other processes is safe beside it. The
//! sellers are taken in a random order by at most `concurrency` workers, each renewal after a
//! random pause.

use super::{account_id, store_of, AccountTokens, Accounts};
use crate::edge::exception::{exception, invalid, rejected};
use crate::edge::js::{self, CallerSignal};
use crate::edge::options;
use crate::edge::random::random_state;
use crate::edge::timing::{is_aborted, sleep};
use crate::edge::tokens::HeldTokens;
use crate::oauth::failure::{Delivery, Failure};
use crate::oauth::renew_due::{
    before, Before, Outcome, Spread, DEFAULT_CONCURRENCY, DEFAULT_WITHIN_MS, MAX_CONCURRENCY,
    MAX_IDS, MAX_WITHIN_MS,
};
use crate::oauth::renewal::StoreFault;
use js_sys::{Array, Object, Promise};
use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::task::Poll;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const DECLARATIONS: &str = r#"
export interface RenewDueOptions {
  /** Renew the sellers whose stored tokens expire within this many ms; default 3600000 (1 hour), at most 86400000. */
  within?: number;
  /** Renewals at once, 1 to 64; default 8. */
  concurrency?: number;
  /** Aborts what has not started (those sellers resolve as failed, kind "aborted"); renewals already started finish. */
  signal?: AbortSignal;
}

export interface RenewDueResult {
  accountId: string;
  /** renewed: this call renewed the tokens; fresh: they are valid past `within` (already, or renewed meanwhile by another renewer); sign_in_required: the seller must sign in (nothing stored, signed out, or the refresh token refused); failed: see `kind` and `error`. */
  result: "renewed" | "fresh" | "sign_in_required" | "failed";
  /** The kind of the failure (`result: "failed"`). */
  kind?: ApiExceptionKind;
  /** The failure (`result: "failed"`). */
  error?: unknown;
}
"#;

/// One call's settings.
struct Plan {
    within_ms: f64,
    concurrency: u32,
    signal: Option<CallerSignal>,
}

/// Reads `{ within, concurrency, signal }`.
fn plan(value: &JsValue) -> Result<Plan, JsValue> {
    let snapshot = options::snapshot(value, "renewDue options")?;
    options::refuse_unknown(
        snapshot.as_ref(),
        &["within", "concurrency", "signal"],
        "renewDue",
    )?;
    let member = |key| {
        snapshot
            .as_ref()
            .map_or(JsValue::UNDEFINED, |s| js::get(s, key))
    };
    let within_ms = match member("within") {
        n if n.is_undefined() => DEFAULT_WITHIN_MS,
        n => match n.as_f64() {
            Some(n) if (0.0..=MAX_WITHIN_MS).contains(&n) => n,
            _ => {
                return Err(invalid(
                    "within must be a number of milliseconds from 0 to 86400000",
                ))
            }
        },
    };
    let concurrency = match member("concurrency") {
        n if n.is_undefined() => DEFAULT_CONCURRENCY,
        n => match n.as_f64() {
            Some(n) if n.fract() == 0.0 && (1.0..=f64::from(MAX_CONCURRENCY)).contains(&n) => {
                n as u32
            }
            _ => return Err(invalid("concurrency must be an integer from 1 to 64")),
        },
    };
    let signal = options::signal(&member("signal"))?;
    Ok(Plan {
        within_ms,
        concurrency,
        signal,
    })
}

/// The account ids: an array of at most `MAX_IDS` valid ids.
fn account_ids(value: &JsValue) -> Result<Vec<String>, JsValue> {
    // The numbers in these messages are the core's limits (tests/node/renew-due.test.mjs).
    let bad = || invalid("ids must be an array of at most 100000 account ids");
    if !Array::is_array(value) {
        return Err(bad());
    }
    // Copied through a catching call: the caller's array may be a Proxy.
    let ids = js::array_from(value).map_err(|_| bad())?;
    if ids.length() > MAX_IDS {
        return Err(bad());
    }
    // An id given twice gets two results: the second run finds the first one's renewal.
    let mut out = Vec::with_capacity(ids.length() as usize);
    for id in ids.iter() {
        out.push(account_id(&id)?);
    }
    Ok(out)
}

/// `{ accountId, result, kind?, error? }`.
fn result(id: &str, outcome: Outcome, error: Option<JsValue>) -> JsValue {
    let r = Object::new();
    js::set(&r, "accountId", &JsValue::from_str(id));
    js::set(&r, "result", &JsValue::from_str(outcome.name()));
    if let (Outcome::Failed, Some(error)) = (outcome, error) {
        js::set(&r, "kind", &js::get(&error, "kind"));
        js::set(&r, "error", &error);
    }
    r.into()
}

fn failed(id: &str, error: JsValue) -> JsValue {
    let outcome = Outcome::of_failure(js::get(&error, "signInRequired").is_truthy());
    result(id, outcome, Some(error))
}

fn not_started(id: &str) -> JsValue {
    let aborted = Failure::aborted(
        "the caller's AbortSignal fired before this account's renewal started",
        Delivery::NotSent,
    );
    failed(id, exception(&aborted))
}

/// What the seller's store says: fresh or a sign-in (a result), or due.
async fn stored_before(accounts: &Accounts, id: &str, within_ms: f64) -> Result<Before, JsValue> {
    let stored = store_of(accounts, id)?
        .get()
        .await
        .map_err(|f| exception(&f.failure(&[])))?;
    let held = HeldTokens::of(&stored).map_err(|_| {
        let fault = StoreFault {
            call: "get",
            detail: "it returned something that is not a TokenSet".to_owned(),
        };
        exception(&fault.failure(&[]))
    })?;
    let set = (!js::absent(&stored)).then(|| held.view());
    Ok(before(set.as_ref(), js_sys::Date::now(), within_ms))
}

/// One seller, to the end: its result.
async fn renew_one(accounts: &Accounts, id: &str, plan: &Plan, pause_ms: f64) -> JsValue {
    let signal = plan.signal.as_ref();
    if is_aborted(signal) {
        return not_started(id);
    }
    match stored_before(accounts, id, plan.within_ms).await {
        Ok(Before::Due) => {}
        Ok(other) => return result(id, Outcome::without_renewal(other), None),
        Err(e) => return failed(id, e),
    }
    if sleep(pause_ms, signal).await || is_aborted(signal) {
        return not_started(id);
    }
    let manager = match accounts.entry(id) {
        Ok((manager, _)) => manager,
        Err(e) => return failed(id, e),
    };
    match manager.renew_ahead(plan.within_ms).await {
        Ok(ending) => result(id, Outcome::of_ending(ending), None),
        Err(e) => failed(id, e),
    }
}

/// The sellers still to take, in the call's random order, and the pauses.
struct Queue {
    order: Vec<u32>,
    next: Cell<usize>,
    spread: RefCell<Spread>,
}

impl Queue {
    /// The next seller's position and its renewal's pause; `None` when every one is taken.
    fn take(&self) -> Option<(usize, f64)> {
        let at = self.next.get();
        let position = *self.order.get(at)? as usize;
        self.next.set(at + 1);
        let pause = self
            .spread
            .try_borrow_mut()
            .map_or(0.0, |mut s| s.pause_ms());
        Some((position, pause))
    }
}

async fn renew_due(
    accounts: Rc<Accounts>,
    ids: Vec<String>,
    plan: Plan,
) -> Result<JsValue, JsValue> {
    let mut spread = Spread::new(random_state()?.as_bytes());
    let queue = Queue {
        order: spread.order(ids.len()),
        next: Cell::new(0),
        spread: RefCell::new(spread),
    };
    let results = Array::new_with_length(ids.len() as u32);
    let worker = || async {
        // Ends when the queue does: each turn takes one seller.
        while let Some((position, pause_ms)) = queue.take() {
            let id = &ids[position];
            let settled = renew_one(&accounts, id, &plan, pause_ms).await;
            results.set(position as u32, settled);
        }
    };
    let workers = (plan.concurrency as usize).min(ids.len());
    let mut running: Vec<_> = (0..workers).map(|_| Box::pin(worker())).collect();
    poll_fn(|cx| {
        running.retain_mut(|w| w.as_mut().poll(cx).is_pending());
        if running.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    drop(running);
    Ok(results.into())
}

#[wasm_bindgen]
impl AccountTokens {
    /// Renews the given sellers whose stored tokens expire within `within` (default 1 hour), at
    /// most `concurrency` at once (default 8), through the same protocol as every renewal (safe
    /// beside live traffic in every process); resolves to one result per seller, in the order of
    /// `ids`.
    #[wasm_bindgen(js_name = renewDue, unchecked_return_type = "Promise<RenewDueResult[]>")]
    pub fn renew_due(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string[]")] ids: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "RenewDueOptions")] options: JsValue,
    ) -> Promise {
        let checked = account_ids(&ids).and_then(|ids| Ok((ids, plan(&options)?)));
        match checked {
            Ok((ids, plan)) => super::super::promise(renew_due(self.inner.clone(), ids, plan)),
            Err(e) => rejected(e),
        }
    }
}
