//! Performs the core's overwrite ([`crate::oauth::overwrite`]) and background write
//! ([`crate::oauth::persist`]) through the store layer: every call bounded in time, every failure
//! typed and redacted. Decides nothing.

use super::super::timing;
use super::store::{read_set, HeldTokens, Store};
use crate::oauth::failure::Failure;
use crate::oauth::overwrite::{bound_ms, Overwrite, OverwriteEvent, OverwriteStep, Written};
use crate::oauth::persist::{Persist, PersistEvent, PersistStep, Persisted};
use crate::oauth::renewal::{StoreFault, SIGNED_OUT_AT};
use wasm_bindgen::prelude::*;

/// A store read as the machines read it: the value, its parsed members, and whether it is empty.
struct Read {
    value: JsValue,
    held: HeldTokens,
    empty: bool,
}

async fn read(store: &Store) -> Result<Read, StoreFault> {
    let value = store.get().await?;
    let held = read_set(&value, "it returned something that is not a TokenSet")?;
    let empty = crate::edge::js::absent(&value);
    Ok(Read { value, held, empty })
}

/// A sign-out's tombstone: no token, no mark; the time recognises it.
fn tombstone(at: f64) -> JsValue {
    let set = js_sys::Object::new();
    crate::edge::js::set(&set, SIGNED_OUT_AT, &JsValue::from_f64(at));
    set.into()
}

/// A sign-out: the tombstone over whatever `store` holds (calls bounded by `lease_ms`).
pub async fn sign_out(store: &Store, lease_ms: f64) -> Result<(), Failure> {
    let at = js_sys::Date::now();
    let written = Written::SignOut { at };
    overwrite(store, &tombstone(at), written, bound_ms(lease_ms)).await
}

/// Writes `next` over whatever `store` holds, as the core's overwrite decides.
pub async fn overwrite(
    store: &Store,
    next: &JsValue,
    ours: Written,
    bound_ms: f64,
) -> Result<(), Failure> {
    let written = HeldTokens::of(next).unwrap_or_default();
    let mut write = Overwrite::new(ours, js_sys::Date::now(), bound_ms);
    let mut last = Read {
        value: JsValue::UNDEFINED,
        held: HeldTokens::default(),
        empty: true,
    };
    let mut fault = None;
    let mut step = write.start();
    loop {
        let event = match step {
            OverwriteStep::Read => match read(store).await {
                Ok(r) => {
                    last = r;
                    OverwriteEvent::Read((!last.empty).then(|| last.held.view()))
                }
                Err(f) => {
                    let event = match f.lasting {
                        true => OverwriteEvent::StoreRefused,
                        false => OverwriteEvent::StoreFailed,
                    };
                    fault = Some(f);
                    event
                }
            },
            OverwriteStep::Write => match store.compare_and_set(&last.value, next).await {
                Ok(won) => OverwriteEvent::Swapped(won),
                Err(f) => {
                    fault = Some(f);
                    OverwriteEvent::StoreFailed
                }
            },
            OverwriteStep::Sleep { ms } => {
                timing::sleep(ms, None).await;
                OverwriteEvent::Slept
            }
            OverwriteStep::Finish { stored: true } => return Ok(()),
            OverwriteStep::Finish { stored: false } => {
                let secrets = [
                    written.access_token(),
                    written.refresh_token(),
                    last.held.access_token(),
                    last.held.refresh_token(),
                ];
                let secrets: Vec<&str> = secrets.into_iter().flatten().collect();
                return Err(write.failure(fault.as_ref(), &secrets));
            }
        };
        step = write.on(event, js_sys::Date::now());
    }
}

/// Writes delivered tokens the renewal could not store, as the core's background write decides.
pub async fn persist(store: &Store, tokens: &JsValue, mut machine: Persist) -> Persisted {
    let mut last = Read {
        value: JsValue::UNDEFINED,
        held: HeldTokens::default(),
        empty: true,
    };
    let mut step = machine.start(js_sys::Date::now());
    loop {
        let event = match step {
            PersistStep::Read => match read(store).await {
                Ok(r) => {
                    last = r;
                    PersistEvent::Read((!last.empty).then(|| last.held.view()))
                }
                Err(_) => PersistEvent::StoreFailed,
            },
            PersistStep::Write => match store.compare_and_set(&last.value, tokens).await {
                Ok(won) => PersistEvent::Swapped(won),
                Err(_) => PersistEvent::StoreFailed,
            },
            PersistStep::Sleep { ms } => {
                timing::sleep(ms, None).await;
                PersistEvent::Slept
            }
            PersistStep::Finish(how) => return how,
        };
        step = machine.on(event, js_sys::Date::now());
    }
}
