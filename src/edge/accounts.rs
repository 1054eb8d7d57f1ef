//! Many accounts in one process: `AccountTokens` hands out one `TokenManager` per Avito account,
//! created on first use from the caller's store factory (accountId → store), kept in a bounded
//! least-recently-used cache, and dropped when evicted (a service with thousands of sellers keeps
//! memory bounded by the cache, not by the number of sellers). `signIn` stores the TokenSet a
//! seller's sign-in produced; `renewDue` (`renew_due.rs`) renews sellers ahead of time.

mod renew_due;

use super::events::{members, Events};
use super::exception::{exception, invalid, rejected};
use super::js::{self, rust_string};
use super::options;
use super::seal::{accept_plaintext, KeyRing, SealedStore};
use super::tokens::{
    copy_of, overwrite, status, write_sign_out, HeldTokens, MemoryTokenStore, Store, TokenManager,
};
use crate::oauth::health::HEALTH;
use crate::oauth::overwrite::{bound_ms, Written};
use crate::oauth::renewal::{RenewalGrant, DEFAULT_LEASE_MS};
use crate::oauth::renewal::{REFRESH_REFUSED_AT, RENEWAL, SIGNED_OUT_AT};
use js_sys::{Function, Object, Promise};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(typescript_custom_section)]
const DECLARATIONS: &str = r#"
export interface AccountTokensOptions {
  auth: AvitoAuth;
  /** The store of one account, made on first use: `(accountId) => new PostgresTokenStore({ client: pool, key: accountId })`. Synchronous. */
  store: (accountId: string) => TokenStore;
  /** How many TokenManagers stay cached (least recently used ones are dropped); default 1000. */
  maxAccounts?: number;
  /** Passed to every TokenManager. */
  refreshSkewMs?: number;
  /** Passed to every TokenManager. */
  leaseMs?: number;
  /** Passed to every TokenManager. */
  strictRotation?: boolean;
  /** Passed to every TokenManager. */
  refusalRenewalIntervalMs?: number;
  /** Called after every successful renewal of an account, with its id. */
  onTokens?: (accountId: string, tokens: TokenSet) => void | Promise<void>;
  /** Seal every account's store (`sealedStore` with the account id as its context): README "Tokens at rest". */
  seal?: SealOptions;
  /** Passed to every TokenManager. */
  fetch?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /** Every account's events, each with its `accountId` (README "Watching your sellers"). */
  onEvent?: (event: AvitoAuthEvent) => void;
}
"#;

/// The TokenManager options every account's manager gets from AccountTokens' own (`store`,
/// `tokens` and `onTokens` are per account).
const PASSED_OPTIONS: [&str; 7] = [
    "auth",
    "refreshSkewMs",
    "leaseMs",
    "strictRotation",
    "refusalRenewalIntervalMs",
    "fetch",
    "onEvent",
];

const DEFAULT_MAX_ACCOUNTS: f64 = 1000.0;
/// An integer: printed in a message, where an `f64` would pull in core's float formatting.
const MAX_MAX_ACCOUNTS: u32 = 1_000_000;
const MAX_ACCOUNT_ID: u32 = 1024;

struct Entry {
    manager: TokenManager,
    store: JsValue,
}

/// The cached managers in slots, indexed by a JS `Map` (accountId → slot) whose insertion order
/// is the order of last use, oldest first: a used account is deleted and set again. The JS Map
/// instead of Rust's HashMap + BTreeMap keeps 10 KB (gzip) of collection code out of the .wasm.
struct Cache {
    order: js_sys::Map,
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
}

impl Cache {
    fn new() -> Cache {
        Cache {
            order: js_sys::Map::new(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    fn slot(&self, key: &JsValue) -> Option<usize> {
        self.order.get(key).as_f64().map(|n| n as usize)
    }

    fn entry(&self, id: &str) -> Option<&Entry> {
        let slot = self.slot(&JsValue::from_str(id))?;
        self.slots.get(slot)?.as_ref()
    }

    fn touch(&mut self, id: &str) -> Option<(TokenManager, JsValue)> {
        let key = JsValue::from_str(id);
        let slot = self.slot(&key)?;
        self.order.delete(&key);
        self.order.set(&key, &JsValue::from(slot as u32));
        let entry = self.slots.get(slot)?.as_ref()?;
        Some((entry.manager.share(), entry.store.clone()))
    }

    /// Inserts, and returns what fell out (dropped by the caller once the cache is released).
    fn insert(&mut self, id: &str, entry: Entry, cap: usize) -> Vec<Entry> {
        let mut evicted: Vec<Entry> = self.remove(id).into_iter().collect();
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(entry);
                slot
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        };
        self.order
            .set(&JsValue::from_str(id), &JsValue::from(slot as u32));
        while self.len() > cap {
            let Some(oldest) = self
                .order
                .keys()
                .next()
                .ok()
                .and_then(|n| n.value().as_string())
            else {
                break;
            };
            evicted.extend(self.remove(&oldest));
        }
        evicted
    }

    fn remove(&mut self, id: &str) -> Option<Entry> {
        let key = JsValue::from_str(id);
        let slot = self.slot(&key)?;
        self.order.delete(&key);
        let entry = self.slots.get_mut(slot)?.take();
        self.free.push(slot);
        entry
    }

    fn len(&self) -> usize {
        self.order.size() as usize
    }
}

struct Accounts {
    /// The options every TokenManager gets (every TokenManager option but `store`, `tokens` and
    /// `onTokens`, which are per account), without the store.
    template: Object,
    factory: Function,
    on_tokens: Option<Function>,
    capacity: usize,
    cache: RefCell<Cache>,
    /// The managers' `leaseMs`: a sign-in's store calls have the same deadline.
    lease_ms: f64,
    /// The `seal` option: every account's store sealed with these keys (derived once, shared),
    /// and whether plaintext sets are read.
    seal: Option<(Rc<KeyRing>, bool)>,
    /// The `onEvent` listener, for what happens outside a manager (a sign-out or a status of an
    /// account with none cached).
    events: Events,
}

impl Accounts {
    /// The account's cached manager and store, or new ones from the factory (cached).
    fn entry(&self, id: &str) -> Result<(TokenManager, JsValue), JsValue> {
        if let Some(found) = self.with_cache(|c| c.touch(id))? {
            return Ok(found);
        }
        let (manager, store) = self.build(id)?;
        let handed = manager.share();
        let entry = Entry {
            manager,
            store: store.clone(),
        };
        let evicted = self.with_cache(|c| c.insert(id, entry, self.capacity))?;
        drop(evicted);
        Ok((handed, store))
    }

    /// A new store of account `id` from the factory: sealed with the account id as its context
    /// when the `seal` option is given.
    fn made_store(&self, id: &str) -> Result<JsValue, JsValue> {
        let store = self
            .factory
            .call1(&JsValue::UNDEFINED, &JsValue::from_str(id))?;
        if !store.is_object() {
            return Err(invalid("the store factory must return a store object"));
        }
        match &self.seal {
            None => Ok(store),
            Some((ring, accept_plaintext)) => {
                SealedStore::new(store, ring.clone(), id.to_owned(), *accept_plaintext)
                    .map(JsValue::from)
                    .map_err(JsValue::from)
            }
        }
    }

    /// A new manager for the account, and its store, from the factory (not cached).
    fn build(&self, id: &str) -> Result<(TokenManager, JsValue), JsValue> {
        // No borrow is held while JavaScript runs: the factory may call back into this object.
        let store = self.made_store(id)?;
        let options = self.options(&store, Some(id));
        Ok((TokenManager::build(&options.into(), Some(id))?, store))
    }

    fn options(&self, store: &JsValue, id: Option<&str>) -> Object {
        let options = Object::assign(&Object::new(), &self.template);
        js::set(&options, "store", store);
        if let (Some(f), Some(id)) = (&self.on_tokens, id) {
            js::set(
                &options,
                "onTokens",
                &f.bind1(&JsValue::UNDEFINED, &JsValue::from_str(id)),
            );
        }
        options
    }

    fn with_cache<T>(&self, f: impl FnOnce(&mut Cache) -> T) -> Result<T, JsValue> {
        match self.cache.try_borrow_mut() {
            Ok(mut cache) => Ok(f(&mut cache)),
            Err(_) => Err(invalid(
                "AccountTokens was re-entered while it was updating its cache",
            )),
        }
    }
}

fn account_id(value: &JsValue) -> Result<String, JsValue> {
    match rust_string(value) {
        Ok(id) if !id.is_empty() && id.encode_utf16().count() <= MAX_ACCOUNT_ID as usize => Ok(id),
        _ => Err(invalid(format!(
            "accountId must be a non-empty string of at most {MAX_ACCOUNT_ID} characters"
        ))),
    }
}

/// The store of account `id`: its cached manager's, or a new one from the factory (not cached:
/// signing in or out builds no manager).
fn store_of(accounts: &Accounts, id: &str) -> Result<Store, JsValue> {
    let store = match accounts.with_cache(|c| c.entry(id).map(|e| e.store.clone()))? {
        Some(store) => store,
        None => accounts.made_store(id)?,
    };
    if !js::get(&store, "get").is_function() || !js::get(&store, "compareAndSet").is_function() {
        return Err(invalid(
            "the store factory must return a store with get() and compareAndSet()",
        ));
    }
    Ok(Store::new(store.unchecked_into(), accounts.lease_ms))
}

/// Stores a sign-in's TokenSet over whatever the store holds, as the core's overwrite decides.
async fn sign_in(accounts: Rc<Accounts>, id: String, tokens: JsValue) -> Result<JsValue, JsValue> {
    let store = store_of(&accounts, &id)?;
    let refresh_token = HeldTokens::of(&tokens)
        .ok()
        .and_then(|t| t.refresh_token().map(str::to_owned))
        .unwrap_or_default();
    let written = Written::SignIn { refresh_token };
    overwrite(&store, &tokens, written, bound_ms(accounts.lease_ms))
        .await
        .map_err(|f| exception(&f))?;
    // A cached manager still holds the old tokens in memory: the next use builds a new one.
    let stale = accounts.with_cache(|c| c.remove(&id))?;
    drop(stale);
    Ok(JsValue::UNDEFINED)
}

/// Ends the account's sign-in: its cached manager (and any renewal it runs) is signed out, and the
/// tombstone goes over whatever the store holds.
async fn sign_out(accounts: Rc<Accounts>, id: String) -> Result<JsValue, JsValue> {
    let cached = accounts.with_cache(|c| c.remove(&id))?;
    match cached {
        Some(entry) => entry.manager.sign_out_now().await,
        None => {
            let store = store_of(&accounts, &id)?;
            write_sign_out(&store, accounts.lease_ms)
                .await
                .map_err(|f| exception(&f))?;
            accounts
                .events
                .for_account(&id)
                .emit("signed_out", &|| members([]));
            Ok(JsValue::UNDEFINED)
        }
    }
}

/// The account's status: its cached manager's (with what it served), or the store's.
async fn account_status(accounts: Rc<Accounts>, id: String) -> Result<JsValue, JsValue> {
    let cached = accounts.with_cache(|c| c.entry(&id).map(|e| e.manager.share()))?;
    if let Some(manager) = cached {
        return manager.status_now().await;
    }
    let store = store_of(&accounts, &id)?;
    let events = accounts.events.for_account(&id);
    status(&store, RenewalGrant::RefreshToken, None, &events).await
}

/// One TokenManager per Avito account, from a store factory, in a bounded cache.
#[wasm_bindgen]
pub struct AccountTokens {
    inner: Rc<Accounts>,
}

impl AccountTokens {
    /// The promise of `task` for the account `account` names (rejected for a bad id).
    fn for_account<T: std::future::Future<Output = Result<JsValue, JsValue>> + 'static>(
        &self,
        account: &JsValue,
        task: impl FnOnce(Rc<Accounts>, String) -> T,
    ) -> Promise {
        match account_id(account) {
            Ok(id) => super::promise(task(self.inner.clone(), id)),
            Err(e) => rejected(e),
        }
    }
}

#[wasm_bindgen]
impl AccountTokens {
    /// `{ auth, store: (accountId) => TokenStore, maxAccounts?, refreshSkewMs?, leaseMs?,
    /// strictRotation?, refusalRenewalIntervalMs?, onTokens?, fetch?, onEvent? }`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "AccountTokensOptions")] options: JsValue,
    ) -> Result<AccountTokens, JsValue> {
        if !options.is_object() {
            return Err(invalid(
                "AccountTokens needs options: { auth, store: (accountId) => TokenStore }",
            ));
        }
        // AccountTokens' own options, and the TokenManager options it passes on.
        let [auth, skew, lease, strict, refusal, fetch, on_event] = PASSED_OPTIONS;
        let known = [
            auth,
            skew,
            lease,
            strict,
            refusal,
            fetch,
            on_event,
            "store",
            "maxAccounts",
            "onTokens",
            "seal",
        ];
        let keys: &Object = options.unchecked_ref();
        options::refuse_unknown(Some(keys), &known, "AccountTokens")?;
        let factory = js::get(&options, "store")
            .dyn_into::<Function>()
            .map_err(|_| invalid("store must be a function (accountId) => TokenStore"))?;
        let on_tokens = match js::get(&options, "onTokens") {
            f if js::absent(&f) => None,
            f => Some(
                f.dyn_into::<Function>()
                    .map_err(|_| invalid("onTokens must be a function"))?,
            ),
        };
        let capacity = match js::get(&options, "maxAccounts") {
            n if n.is_undefined() => DEFAULT_MAX_ACCOUNTS,
            n => match n.as_f64() {
                Some(n) if n.fract() == 0.0 && (1.0..=f64::from(MAX_MAX_ACCOUNTS)).contains(&n) => {
                    n
                }
                _ => {
                    return Err(invalid(format!(
                        "maxAccounts must be an integer from 1 to {MAX_MAX_ACCOUNTS}"
                    )))
                }
            },
        };
        let seal = match js::get(&options, "seal") {
            s if js::absent(&s) => None,
            s => {
                let known = ["keys", "acceptPlaintext"];
                let snapshot = options::snapshot(&s, "AccountTokens seal")?;
                options::refuse_unknown(snapshot.as_ref(), &known, "AccountTokens seal")?;
                let snapshot = JsValue::from(snapshot.unwrap_or_default());
                let keys = KeyRing::from_option(&js::get(&snapshot, "keys"), "AccountTokens seal")?;
                let accept =
                    accept_plaintext(&js::get(&snapshot, "acceptPlaintext"), "AccountTokens seal")?;
                Some((keys, accept))
            }
        };
        let template = Object::new();
        for member in PASSED_OPTIONS {
            let value = js::get(&options, member);
            if !value.is_undefined() {
                js::set(&template, member, &value);
            }
        }
        js::set(&template, "grant", &JsValue::from_str("refresh_token"));
        // Checked with every other TokenManager option below.
        let lease_ms = js::get(&template, "leaseMs")
            .as_f64()
            .unwrap_or(DEFAULT_LEASE_MS);
        let listener = js::get(&template, "onEvent").dyn_into::<Function>().ok();
        let accounts = Accounts {
            events: Events::new(listener, None),
            lease_ms,
            template,
            factory,
            on_tokens,
            capacity: capacity as usize,
            cache: RefCell::new(Cache::new()),
            seal,
        };
        // Every TokenManager option is checked now, once, not at the first account's use.
        let probe: JsValue = MemoryTokenStore::new(JsValue::UNDEFINED).into();
        drop(TokenManager::new(accounts.options(&probe, None).into())?);
        Ok(AccountTokens {
            inner: Rc::new(accounts),
        })
    }

    /// The account's TokenManager (made from `store(accountId)` on first use, then cached).
    pub fn manager(
        &self,
        #[wasm_bindgen(js_name = accountId, unchecked_param_type = "string")] account: JsValue,
    ) -> Result<TokenManager, JsValue> {
        let id = account_id(&account)?;
        Ok(self.inner.entry(&id)?.0)
    }

    /// Stores the TokenSet of a seller's sign-in (e.g. `await auth.exchangeCode(code)`) for the
    /// account, over whatever the store held; the account's cached manager is dropped so that the
    /// next `manager(accountId)` starts from the new tokens.
    #[wasm_bindgen(js_name = signIn, unchecked_return_type = "Promise<void>")]
    pub fn sign_in(
        &self,
        #[wasm_bindgen(js_name = accountId, unchecked_param_type = "string")] account: JsValue,
        #[wasm_bindgen(unchecked_param_type = "TokenSet")] tokens: JsValue,
    ) -> Promise {
        let id = match account_id(&account) {
            Ok(id) => id,
            Err(e) => return rejected(e),
        };
        // Read as a renewal reads it (a set it could not read would fail every renewal of the
        // account), and written without the protocol's own members: a re-used set carrying a
        // mark, a refusal record or a sign-out's time would be taken for one.
        let usable = HeldTokens::of(&tokens)
            .ok()
            .is_some_and(|t| t.refresh_token().is_some());
        if !tokens.is_object() || !usable {
            return rejected(invalid("tokens must be a TokenSet with a refresh_token"));
        }
        let fresh = copy_of(&tokens);
        // A new sign-in starts a new health too (its scopes may be the ones found missing).
        for member in [RENEWAL, REFRESH_REFUSED_AT, SIGNED_OUT_AT, HEALTH] {
            let _ = js_sys::Reflect::delete_property(&fresh, &JsValue::from_str(member));
        }
        super::promise(sign_in(self.inner.clone(), id, fresh.into()))
    }

    /// Ends the seller's sign-in: a sign-out's tombstone is written over the account's set with a
    /// compare-and-set, so that no renewal in flight, here or in any other process, writes tokens
    /// back; resolves once it is stored. A later `signIn` starts a new chain.
    #[wasm_bindgen(js_name = signOut, unchecked_return_type = "Promise<void>")]
    pub fn sign_out(
        &self,
        #[wasm_bindgen(js_name = accountId, unchecked_param_type = "string")] account: JsValue,
    ) -> Promise {
        self.for_account(&account, sign_out)
    }

    /// The account's state and health as its stored set records them (`TokenManager.status()`),
    /// without making a manager for it; nothing secret.
    #[wasm_bindgen(unchecked_return_type = "Promise<TokenStatus>")]
    pub fn status(
        &self,
        #[wasm_bindgen(js_name = accountId, unchecked_param_type = "string")] account: JsValue,
    ) -> Promise {
        self.for_account(&account, account_status)
    }

    /// Drops the account's cached manager (if any); whether there was one.
    pub fn forget(
        &self,
        #[wasm_bindgen(js_name = accountId, unchecked_param_type = "string")] account: JsValue,
    ) -> Result<bool, JsValue> {
        let id = account_id(&account)?;
        let removed = self.inner.with_cache(|c| c.remove(&id))?;
        Ok(removed.is_some())
    }

    /// How many TokenManagers are cached (at most `maxAccounts`).
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> u32 {
        self.inner.cache.try_borrow().map_or(0, |c| c.len() as u32)
    }
}
