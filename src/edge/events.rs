//! Events: what a TokenManager reports, as plain objects `{ type, at, accountId?, … }` (README
//! "Watching your sellers"), to the manager's `onEvent` and on the `node:diagnostics_channel`
//! channel `avito-auth:event` where the runtime entry handed one over (`__setDiagnostics`), and
//! renewals on the TracingChannel `avito-auth:renewal`. The objects are built and delivered by
//! `js/events.js` from the values passed here; nothing is built, and nothing crosses into
//! JavaScript, for an event nobody listens to: the hot path (a token served from memory) asks
//! only whether `onEvent` was given, a Rust question. The events are derived from the core's
//! outcomes where the edge performs them; no event carries a token, a code, a secret or a query.

use super::js;
use crate::oauth::renewal::StoreFault;
use js_sys::Function;
use std::cell::Cell;
use wasm_bindgen::prelude::*;

thread_local! {
    /// Whether a runtime entry handed `node:diagnostics_channel` over (else the channel is never
    /// asked about).
    static CHANNEL: Cell<bool> = const { Cell::new(false) };
}

/// Called by the runtime entries that have `node:diagnostics_channel`, with that module.
#[wasm_bindgen(js_name = __setDiagnostics, skip_typescript)]
pub fn set_diagnostics(dc: JsValue) {
    let set = js::set_diagnostics(&dc).unwrap_or(false);
    CHANNEL.with(|c| c.set(set));
}

/// The values of an event's members, in the order `js/events.js` names them for its type
/// (`undefined`: absent).
pub type Members = [JsValue; 8];

/// Members from the first values given, the rest absent.
pub fn members<const N: usize>(given: [JsValue; N]) -> Members {
    let mut all: Members = Default::default();
    for (slot, value) in all.iter_mut().zip(given) {
        *slot = value;
    }
    all
}

/// Where one manager's events go: its `onEvent`, and the account it serves.
#[derive(Clone, Default)]
pub struct Events {
    on_event: Option<Function>,
    account_id: JsValue,
}

impl Events {
    pub fn new(on_event: Option<Function>, account_id: Option<&str>) -> Events {
        Events {
            on_event,
            account_id: account_id.map_or(JsValue::UNDEFINED, JsValue::from_str),
        }
    }

    /// The same listener, for another account (AccountTokens' own events).
    pub fn for_account(&self, account_id: &str) -> Events {
        Events::new(self.on_event.clone(), Some(account_id))
    }

    /// Whether `onEvent` was given: the only question the hot path asks.
    pub fn has_listener(&self) -> bool {
        self.on_event.is_some()
    }

    /// Whether an event would reach anyone.
    fn listening(&self) -> bool {
        self.on_event.is_some()
            || (CHANNEL.with(Cell::get) && js::channel_listening().unwrap_or(false))
    }

    /// Reports an event of `kind` if anyone listens; `members` gives its values (asked only then).
    pub fn emit(&self, kind: &str, members: &dyn Fn() -> Members) {
        self.emit_traced(kind, &JsValue::UNDEFINED, members);
    }

    /// [`Events::emit`], and the end of the renewal traced with `trace` (its `error` set when it
    /// failed), which gets the same members.
    pub fn emit_traced(&self, kind: &str, trace: &JsValue, members: &dyn Fn() -> Members) {
        if !self.listening() && trace.is_undefined() {
            return;
        }
        let [a, b, c, d, e, f, g, h] = members();
        let listener = self
            .on_event
            .as_ref()
            .map_or(JsValue::UNDEFINED, JsValue::from);
        let _ = js::deliver(
            &listener,
            kind,
            &self.account_id,
            trace,
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
        );
    }

    /// Reports a store call's failure, its words redacted with `secrets()` (asked only when
    /// someone listens).
    pub fn store_error(&self, fault: &StoreFault, secrets: &dyn Fn() -> Vec<String>) {
        self.emit("store_error", &|| {
            let secrets = secrets();
            let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
            let message = fault.failure(&secrets).message();
            members([fault.call.into(), message.into()])
        });
    }

    /// A renewal's TracingChannel context, published on `start` and `end` now, when the
    /// TracingChannel has subscribers (`undefined` otherwise).
    pub fn trace_start(&self, renewal_id: &str) -> JsValue {
        if !CHANNEL.with(Cell::get) {
            return JsValue::UNDEFINED;
        }
        js::trace_start(renewal_id, &self.account_id).unwrap_or(JsValue::UNDEFINED)
    }
}
