//! `tm.status()` and `accounts.status(id)`: an account's state and health as the stored set
//! records them (so every process sharing the store gives the same answer), with what this
//! process served. The state is the core's verdict ([`crate::oauth::health::state`]); only
//! the known members of `health` are copied out, type-checked: nothing secret leaves.

use super::super::events::Events;
use super::super::exception::exception;
use super::super::js::{self, absent};
use super::super::scopes::granted;
use super::manager::Manager;
use super::store::{read_set, Store};
use crate::oauth::health::{self, HEALTH};
use crate::oauth::renewal::{RenewalGrant, StoreFault};
use js_sys::Array;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// The failure count a set's `health` records (anything but a non-negative number reads as 0).
pub fn recorded_failures(recorded: &JsValue) -> f64 {
    js::get(recorded, "consecutive_failures")
        .as_f64()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .unwrap_or(0.0)
}

/// The status object of the stored set `stored`, for a manager renewing with `grant` that
/// served `served` (from memory, from the store) tokens in this process.
fn status_of(
    stored: &JsValue,
    grant: RenewalGrant,
    served: (f64, f64),
) -> Result<JsValue, StoreFault> {
    let held = read_set(stored, "it returned something that is not a TokenSet")?;
    let view = (!absent(stored)).then(|| held.view());
    let recorded = js::get(stored, HEALTH);
    let failures = recorded_failures(&recorded);
    let state = health::state(view.as_ref(), failures, grant, js_sys::Date::now());
    let granted: Array = granted(stored)
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect();
    let (memory, store) = served;
    let expires_at = held.expires_at();
    js::status_of(
        state.as_str(),
        &recorded,
        failures,
        expires_at,
        &granted,
        memory,
        store,
    )
    .map_err(|_| StoreFault {
        call: "get",
        detail: "it returned something that is not a TokenSet".to_owned(),
        lasting: false,
    })
}

/// The status of the set `store` holds, with what `manager` (the account's, if one exists here)
/// served; a store failure is reported to `events` and rejects as `store`.
pub async fn status(
    store: &Store,
    grant: RenewalGrant,
    manager: Option<&Rc<Manager>>,
    events: &Events,
) -> Result<JsValue, JsValue> {
    let served = manager.map_or((0.0, 0.0), |m| m.served());
    let fault = match store.get().await {
        Ok(stored) => match status_of(&stored, grant, served) {
            Ok(status) => return Ok(status),
            Err(fault) => fault,
        },
        Err(fault) => fault,
    };
    let secrets = manager.map(|m| m.held_secrets()).unwrap_or_default();
    events.store_error(&fault, &|| secrets.clone());
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    Err(exception(&fault.failure(&secrets)))
}
