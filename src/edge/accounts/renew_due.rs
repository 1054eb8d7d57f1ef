//! `accounts.renewDue(ids, { within, concurrency, signal })`: renewal ahead of time. Each seller
//! gets a renewal of the same protocol as any other ([`crate::oauth::renewal::Renewal::ahead_of_time`]),
//! whose first step reads the stored set (every process sees the same one) and whose machine
//! decides what is due, so live traffic here and in other processes is safe beside it. The sellers
//! are taken in a random order ([`crate::oauth::renew_due`]) by at most `concurrency` workers,
//! each starting after a random pause.

use super::{account_id, AccountTokens, Accounts, TokenManager};
use crate::edge::exception::{exception, invalid, rejected};
use crate::edge::js::{self, CallerSignal};
use crate::edge::options;
use crate::edge::random::random_state;
use crate::edge::timing::{is_aborted, sleep};
use crate::oauth::failure::{Delivery, Failure};
use crate::oauth::renew_due::{
    Outcome, Spread, DEFAULT_CONCURRENCY, DEFAULT_WITHIN_MS, MAX_CONCURRENCY, MAX_IDS,
    MAX_WITHIN_MS,
};
use js_sys::{Array, Object, Promise};
use std::cell::Cell;
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
    // Its length first (a sparse `[]` of length 4e9 is refused before anything is read), then
    // each element by index through catching reads (the caller's array may be a Proxy; no
    // iterator of its own runs, so none can run forever).
    let length = match js::get(value, "length").as_f64() {
        Some(n) if n >= 0.0 && n <= MAX_IDS as f64 && n.fract() == 0.0 => n as u32,
        _ => return Err(bad()),
    };
    // An id given twice gets two results: the second run finds the first one's renewal.
    let mut out = Vec::with_capacity(length as usize);
    for i in 0..length {
        let id = js_sys::Reflect::get_u32(value, i).map_err(|_| bad())?;
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

/// The account's cached manager, or a new one that is not cached: a run over thousands of
/// sellers must not push the managers of live traffic out of the cache.
fn manager_of(accounts: &Accounts, id: &str) -> Result<TokenManager, JsValue> {
    match accounts.with_cache(|c| c.entry(id).map(|e| e.manager.share()))? {
        Some(manager) => Ok(manager),
        None => Ok(accounts.build(id)?.0),
    }
}

/// One seller, to the end: its result. The renewal's first step reads the stored set, and its
/// machine decides: fresh past the window (nothing written), a sign-in (nothing sent), or due.
async fn renew_one(accounts: &Accounts, id: &str, plan: &Plan) -> JsValue {
    if is_aborted(plan.signal.as_ref()) {
        return not_started(id);
    }
    let renewed = match manager_of(accounts, id) {
        Ok(manager) => manager.renew_ahead(plan.within_ms).await,
        Err(e) => Err(e),
    };
    match renewed {
        Ok(ending) => result(id, Outcome::of_ending(ending), None),
        Err(e) => failed(id, e),
    }
}

/// The sellers still to take, in the call's random order.
struct Queue {
    order: Vec<u32>,
    next: Cell<usize>,
}

impl Queue {
    /// The next seller's position; `None` when every one is taken.
    fn take(&self) -> Option<usize> {
        let at = self.next.get();
        let position = *self.order.get(at)? as usize;
        self.next.set(at + 1);
        Some(position)
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
    };
    let results = Array::new_with_length(ids.len() as u32);
    let worker = |pause_ms| {
        let (queue, ids, accounts, plan, results) = (&queue, &ids, &accounts, &plan, &results);
        async move {
            // The workers start apart, so that processes a cron starts at once do not send their
            // first requests in one burst. An abort ends the pause; renew_one sees it.
            sleep(pause_ms, plan.signal.as_ref()).await;
            // Ends when the queue does: each turn takes one seller.
            while let Some(position) = queue.take() {
                let settled = renew_one(accounts, &ids[position], plan).await;
                results.set(position as u32, settled);
            }
        }
    };
    let workers = (plan.concurrency as usize).min(ids.len());
    let mut running: Vec<_> = (0..workers)
        .map(|_| Box::pin(worker(spread.pause_ms())))
        .collect();
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
