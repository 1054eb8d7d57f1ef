//! `sealedStore(store, { keys, context, acceptPlaintext })`: a TokenStore around any other whose
//! records hold no token, only fingerprints and ciphertext (the format and every decision are the
//! core's, `crate::oauth::seal`). The cryptography is the platform's WebCrypto (`crypto.subtle`,
//! through web-sys): keys derived with HKDF, AES-256-GCM, HMAC-SHA-256.
//!
//! Cost, and what is cached: each given key is derived once, on first use, into two
//! non-extractable `CryptoKey`s (shared by every store `AccountTokens` makes from one `seal`
//! option); a read opens one record (one `decrypt`); a write seals one (one `encrypt`, one random
//! IV) and fingerprints the tokens it has not seen (one `sign` per token: the fingerprints of the
//! set last read or written are kept, so a renewal's mark and unmark compute none).

use super::exception::EdgeError;
use super::js::{self, absent, rust_string, TokenStore};
use super::options;
use super::random::{crypto, fill_random};
use crate::oauth::base64::base64url;
use crate::oauth::failure::Failure;
use crate::oauth::seal::{self, OnRead, Unopened, CLEAR, FINGERPRINTED, SEALED};
use crate::oauth::text::concat_str;
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

#[wasm_bindgen(typescript_custom_section)]
const DECLARATIONS: &str = r#"
export interface SealingKey {
  /** Names the key in every record it seals: 1 to 64 of `A-Z a-z 0-9 . _ -`. Not a secret. */
  id: string;
  /** 32 random bytes: base64 or base64url (`openssl rand -base64 32`), or a Uint8Array. */
  key: string | Uint8Array;
}
export interface SealOptions {
  /** The first key seals; every key opens (rotation: README "Tokens at rest"). */
  keys: SealingKey[];
  /** Read a set stored in plaintext (before sealing) and reseal it on its next write. Default false. */
  acceptPlaintext?: boolean;
}
export interface SealedStoreOptions extends SealOptions {
  /** What the ciphertext is bound to: the seller's account id. A record moved to another context does not open. */
  context: string;
}
/** Wraps any TokenStore: what it writes holds no token (README "Tokens at rest"). */
export function sealedStore(store: TokenStore, options: SealedStoreOptions): SealedStore;
"#;

const OPTIONS: [&str; 3] = ["keys", "context", "acceptPlaintext"];

/// The member names read and written on every call, as JS strings made once: a name made from
/// Rust text is decoded anew each time, which a renewal's dozens of reads and writes feel.
struct Names {
    clear: [JsValue; 6],
    tokens: [JsValue; 2],
    sealed: JsValue,
    envelope: [JsValue; 4],
}

thread_local! {
    static NAMES: Names = Names {
        clear: CLEAR.map(JsValue::from_str),
        tokens: FINGERPRINTED.map(JsValue::from_str),
        sealed: JsValue::from_str(SEALED),
        envelope: ["v", "kid", "iv", "data"].map(JsValue::from_str),
    };
}

/// `target[name]`; `undefined` for a non-object or a getter that throws.
fn member(target: &JsValue, name: &JsValue) -> JsValue {
    match target.is_object() {
        true => Reflect::get(target, name).unwrap_or(JsValue::UNDEFINED),
        false => JsValue::UNDEFINED,
    }
}

fn put(target: &Object, name: &JsValue, value: &JsValue) {
    let _ = Reflect::set(target, name, value);
}

/// A set's `access_token` and `refresh_token` where they are strings (anything else reads as
/// absent, as the store protocol compares them).
fn token_texts(set: &JsValue) -> [Option<String>; 2] {
    NAMES.with(|n| {
        [
            member(set, &n.tokens[0]).as_string(),
            member(set, &n.tokens[1]).as_string(),
        ]
    })
}

fn holds_token(set: &JsValue) -> bool {
    NAMES.with(|n| n.tokens.iter().any(|t| member(set, t).is_string()))
}

/// The four members of a record's envelope (`v`, `kid`, `iv`, `data`).
fn envelope_members(envelope: &JsValue) -> (Option<f64>, [Option<String>; 3]) {
    // A member longer than the longest ciphertext opened is not copied into the wasm at all
    // (it reads as absent: "missing, cut short, too long"), whatever the store returned.
    let longest = (seal::MAX_SEALED_BYTES * 4 / 3 + 4) as u32;
    NAMES.with(|n| {
        let text = |i: usize| {
            let value = member(envelope, &n.envelope[i]);
            value
                .dyn_ref::<js_sys::JsString>()
                .filter(|s| s.length() <= longest)
                .and_then(|s| s.as_string())
        };
        (
            member(envelope, &n.envelope[0]).as_f64(),
            [text(1), text(2), text(3)],
        )
    })
}
/// A context as long as the longest store key.
const MAX_CONTEXT: u32 = 4096;

/// One given key: its id, its bytes until they are derived, then the two derived keys.
struct Key {
    id: String,
    bytes: Cell<Option<[u8; seal::KEY_BYTES]>>,
    derived: Cell<Option<Rc<Derived>>>,
}

struct Derived {
    seal: CryptoKey,
    mac: CryptoKey,
}

/// The keys of a `keys` option, in its order (the first seals).
pub struct KeyRing {
    keys: Vec<Key>,
}

impl KeyRing {
    /// Checks a `keys` option (synchronously: a bad key is refused where it is given).
    pub fn from_option(value: &JsValue, what: &str) -> Result<Rc<KeyRing>, EdgeError> {
        let list = match value.dyn_ref::<Array>() {
            Some(list) if (1..=seal::MAX_KEYS as u32).contains(&list.length()) => list,
            _ => return Err(EdgeError::invalid(&[
                what,
                ": keys must be a list of 1 to 16 { id, key }: the first seals, every one opens",
            ])),
        };
        let mut keys: Vec<Key> = Vec::new();
        for (index, item) in list.iter().enumerate() {
            let id = js::get(&item, "id").as_string().unwrap_or_default();
            let given = js::get(&item, "key");
            let bytes = match given.dyn_ref::<Uint8Array>() {
                // The length first: a huge array is refused without being copied.
                Some(view) if view.length() as usize != seal::KEY_BYTES => {
                    Err(seal::BadKey::Length(view.length() as usize))
                }
                Some(view) => seal::key_from_bytes(&view.to_vec()),
                None => match rust_string(&given) {
                    Ok(text) => seal::key_from_text(&text),
                    Err(_) => Err(seal::BadKey::NotBase64),
                },
            };
            let seen: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
            if let Some(problem) = seal::key_problem(index, &id, &seen, bytes.err()) {
                return Err(EdgeError::invalid(&[what, ": ", &problem]));
            }
            keys.push(Key {
                id,
                bytes: Cell::new(bytes.ok()),
                derived: Cell::new(None),
            });
        }
        Ok(Rc::new(KeyRing { keys }))
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.keys.iter().position(|k| k.id == id)
    }

    fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// Key `index`'s derived keys, derived on first use (HKDF-SHA-256, one `info` each); the
    /// given bytes are dropped once derived.
    async fn derived(&self, index: usize) -> Result<Rc<Derived>, EdgeError> {
        let key = &self.keys[index];
        if let Some(derived) = super::tokens::peek(&key.derived) {
            return Ok(derived);
        }
        let Some(bytes) = super::tokens::peek(&key.bytes) else {
            return Err(crypto_failure("derive the keys"));
        };
        let subtle = subtle()?;
        let usages = Array::of1(&"deriveKey".into());
        let base = call(subtle.import_key_with_str(
            "raw",
            &Uint8Array::from(&bytes[..]),
            "HKDF",
            false,
            &usages,
        ))
        .await
        .map_err(|_| crypto_failure("import a key for HKDF"))?;
        let base: CryptoKey = base.unchecked_into();
        // Both derivations in one await (each await is a state of this future: wasm size).
        let both = Array::of2(
            &derive(
                &subtle,
                &base,
                seal::SEAL_INFO,
                "AES-GCM",
                &["encrypt", "decrypt"],
            ),
            &derive(&subtle, &base, seal::FINGERPRINT_INFO, "HMAC", &["sign"]),
        );
        let both: Array = call(Ok(Promise::all(&both)))
            .await
            .map_err(|_| crypto_failure("derive the keys with HKDF"))?
            .unchecked_into();
        let derived = Rc::new(Derived {
            seal: both.get(0).unchecked_into(),
            mac: both.get(1).unchecked_into(),
        });
        key.derived.set(Some(derived.clone()));
        key.bytes.set(None);
        Ok(derived)
    }
}

/// `subtle.deriveKey` of one 256-bit key from `base` with HKDF-SHA-256 (no salt: the given key
/// is uniformly random), as a promise (a throw becomes its rejection).
fn derive(
    subtle: &SubtleCrypto,
    base: &CryptoKey,
    info: &str,
    algorithm: &str,
    usages: &[&str],
) -> JsValue {
    let params = Object::new();
    js::set(&params, "name", &"HKDF".into());
    js::set(&params, "hash", &"SHA-256".into());
    js::set(&params, "salt", &Uint8Array::new_with_length(0));
    js::set(&params, "info", &Uint8Array::from(info.as_bytes()));
    let target = Object::new();
    js::set(&target, "name", &algorithm.into());
    js::set(&target, "length", &JsValue::from_f64(256.0));
    if algorithm == "HMAC" {
        js::set(&target, "hash", &"SHA-256".into());
    }
    let usages: Array = usages.iter().map(|u| JsValue::from_str(u)).collect();
    promised(subtle.derive_key_with_object_and_object(&params, base, &target, false, &usages))
}

/// A WebCrypto call's promise, or a rejected one when the call threw.
fn promised(called: Result<Promise, JsValue>) -> JsValue {
    called.unwrap_or_else(|e| Promise::reject(&e)).into()
}

/// `crypto.subtle`, or a typed failure where the runtime has none.
fn subtle() -> Result<SubtleCrypto, EdgeError> {
    let subtle = js::get(&crypto(), "subtle");
    if !subtle.is_object() {
        return Err(crypto_failure("find crypto.subtle"));
    }
    Ok(subtle.unchecked_into())
}

/// Awaits a WebCrypto call (a throw or a rejection is the `Err`).
async fn call(called: Result<Promise, JsValue>) -> Result<JsValue, JsValue> {
    JsFuture::from(called?).await
}

/// A WebCrypto operation that failed for a reason other than a record that does not open: the
/// runtime's error is not shown (it says nothing a user can act on, and is not ours to bound).
fn crypto_failure(what: &str) -> EdgeError {
    Failure::store(concat_str(&[
        "sealedStore: WebCrypto could not ",
        what,
        " in this runtime",
    ]))
    .into()
}

fn bytes_of(buffer: &JsValue) -> Vec<u8> {
    Uint8Array::new(buffer).to_vec()
}

/// The set last read or written: its tokens and their fingerprints under one key (`None`: stored
/// in plaintext), and for a sealed record its envelope (`iv`, `data`) and the JSON it opens to,
/// so that reading back the record this store last wrote or opened decrypts nothing.
#[derive(Clone, PartialEq)]
struct Seen {
    tokens: [Option<String>; 2],
    key: Option<usize>,
    fingerprints: [Option<String>; 2],
    sealed: Option<(String, String, String)>,
}

struct Sealing {
    inner: TokenStore,
    ring: Rc<KeyRing>,
    context: String,
    accept_plaintext: bool,
    /// The set last read or written, with the fingerprints it was stored under.
    seen: Cell<Option<Rc<Seen>>>,
}

/// A TokenStore whose records hold no token: see the module documentation.
#[wasm_bindgen]
pub struct SealedStore {
    sealing: Rc<Sealing>,
}

/// `sealedStore(store, { keys, context, acceptPlaintext })`.
#[wasm_bindgen(js_name = sealedStore, skip_typescript)]
pub fn sealed_store(store: JsValue, options: JsValue) -> Result<SealedStore, EdgeError> {
    let snapshot = options::snapshot(&options, "sealedStore options")?.ok_or_else(|| {
        EdgeError::invalid(&["sealedStore(store, { keys, context }) needs its options"])
    })?;
    options::refuse_unknown(Some(&snapshot), &OPTIONS, "sealedStore")?;
    let ring = KeyRing::from_option(&js::get(&snapshot, "keys"), "sealedStore")?;
    let context = js::get(&snapshot, "context");
    let context = match rust_string(&context) {
        Ok(c) if !c.is_empty() && context.unchecked_ref::<js_sys::JsString>().length() <= MAX_CONTEXT => c,
        _ => {
            return Err(EdgeError::invalid(&[
                "sealedStore: context must be a non-empty string of at most 4096 characters (the seller's account id)",
            ]))
        }
    };
    let accept_plaintext = accept_plaintext(&js::get(&snapshot, "acceptPlaintext"), "sealedStore")?;
    SealedStore::new(store, ring, context, accept_plaintext)
}

/// An `acceptPlaintext` option: a boolean or absent.
pub fn accept_plaintext(value: &JsValue, what: &str) -> Result<bool, EdgeError> {
    match value.as_bool() {
        Some(b) => Ok(b),
        None if absent(value) => Ok(false),
        None => Err(EdgeError::invalid(&[
            what,
            ": acceptPlaintext must be a boolean",
        ])),
    }
}

impl SealedStore {
    pub fn new(
        store: JsValue,
        ring: Rc<KeyRing>,
        context: String,
        accept_plaintext: bool,
    ) -> Result<SealedStore, EdgeError> {
        for method in ["get", "compareAndSet", "acquireLease", "releaseLease"] {
            if !js::get(&store, method).is_function() {
                return Err(EdgeError::invalid(&[
                    "sealedStore: the store to seal must have get(), compareAndSet(), acquireLease() and releaseLease()",
                ]));
            }
        }
        Ok(SealedStore {
            sealing: Rc::new(Sealing {
                inner: store.unchecked_into(),
                ring,
                context,
                accept_plaintext,
                seen: Cell::new(None),
            }),
        })
    }
}

#[wasm_bindgen]
impl SealedStore {
    /// The stored set, opened; `undefined` when the store is empty. A record that does not open
    /// rejects with a `store` ApiException (never reads as an empty store).
    #[wasm_bindgen(unchecked_return_type = "Promise<TokenSet | undefined>")]
    pub fn get(&self) -> Promise {
        let s = self.sealing.clone();
        super::promise(async move {
            let raw = s.read().await?;
            Ok(s.open(&raw).await?.0)
        })
    }

    /// Seals `next` under the first key and writes it if the stored set is `expected`.
    #[wasm_bindgen(js_name = compareAndSet, unchecked_return_type = "Promise<boolean>")]
    pub fn compare_and_set(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TokenSet | undefined")] expected: JsValue,
        #[wasm_bindgen(unchecked_param_type = "TokenSet")] next: JsValue,
    ) -> Promise {
        let s = self.sealing.clone();
        super::promise(async move {
            if !next.is_object() || Array::is_array(&next) {
                return Err(EdgeError::invalid(&[
                    "sealedStore.compareAndSet: next must be a TokenSet object",
                ])
                .into());
            }
            Ok(JsValue::from_bool(
                s.compare_and_set(&expected, &next).await?,
            ))
        })
    }

    #[wasm_bindgen(js_name = acquireLease, unchecked_return_type = "Promise<string | undefined>")]
    pub fn acquire_lease(&self, #[wasm_bindgen(js_name = ttlMs)] ttl_ms: JsValue) -> Promise {
        let ttl = ttl_ms.as_f64().unwrap_or(f64::NAN);
        settled(self.sealing.inner.acquire_lease(ttl))
    }

    #[wasm_bindgen(js_name = releaseLease, unchecked_return_type = "Promise<void>")]
    pub fn release_lease(
        &self,
        #[wasm_bindgen(js_name = leaseId, unchecked_param_type = "string")] id: JsValue,
    ) -> Promise {
        settled(self.sealing.inner.release_lease(&id))
    }

    /// Reseals the stored set under the first key now, by compare-and-set (a migration job over
    /// every seller): `"resealed"`, `"current"` (already sealed with the first key, or nothing
    /// secret stored) or `"empty"`.
    #[wasm_bindgen(unchecked_return_type = "Promise<\"resealed\" | \"current\" | \"empty\">")]
    pub fn reseal(&self) -> Promise {
        let s = self.sealing.clone();
        super::promise(async move {
            // A lost compare-and-set means another writer changed the set: it sealed it with
            // its own first key, so read again; bounded, because a set renewed four times in a
            // row while it was resealed is a set being written, not a migration left undone.
            for _ in 0..4 {
                let raw = s.read().await?;
                let (opened, sealed_with) = s.open(&raw).await?;
                if absent(&opened) {
                    return Ok("empty".into());
                }
                if sealed_with == Some(0) || (sealed_with.is_none() && !holds_token(&raw)) {
                    return Ok("current".into());
                }
                let (next, written) = s.seal(&opened).await?;
                if s.inner_compare_and_set(&raw, &next).await? {
                    s.remember(written);
                    return Ok("resealed".into());
                }
            }
            Err(EdgeError::from(Failure::store(seal::reseal_busy_message(&s.context))).into())
        })
    }
}

/// A lease call passed through as a promise (a throw becomes its rejection).
fn settled(called: Result<JsValue, JsValue>) -> Promise {
    match called {
        Ok(value) => Promise::resolve(&value),
        Err(e) => Promise::reject(&e),
    }
}

impl Sealing {
    async fn read(&self) -> Result<JsValue, JsValue> {
        JsFuture::from(Promise::resolve(&self.inner.stored()?)).await
    }

    async fn inner_compare_and_set(
        &self,
        expected: &JsValue,
        next: &JsValue,
    ) -> Result<bool, JsValue> {
        let won = self.inner.compare_and_set(expected, next)?;
        Ok(JsFuture::from(Promise::resolve(&won)).await?.is_truthy())
    }

    fn refused(&self, why: Unopened, kid: Option<&str>) -> EdgeError {
        Failure::store(seal::unopened_message(
            &why,
            &self.context,
            kid,
            &self.ring.ids(),
        ))
        .into()
    }

    /// A record read from the wrapped store, opened, and the index of the key that sealed it.
    async fn open(&self, raw: &JsValue) -> Result<(JsValue, Option<usize>), EdgeError> {
        if absent(raw) {
            return Ok((JsValue::UNDEFINED, None));
        }
        if !raw.is_object() || Array::is_array(raw) {
            return Err(self.refused(Unopened::Broken("it is not an object"), None));
        }
        let envelope = NAMES.with(|n| member(raw, &n.sealed));
        // The record's two compared members, read from JS once: as stored (fingerprints of a
        // sealed record, a plaintext set's tokens).
        let stored = token_texts(raw);
        let fingerprinted = stored.iter().flatten().any(|t| seal::is_fingerprint(t));
        match seal::on_read(
            !absent(&envelope),
            stored.iter().any(Option::is_some),
            fingerprinted,
            self.accept_plaintext,
        ) {
            OnRead::Refuse(why) => Err(self.refused(why, None)),
            OnRead::AsItIs => Ok((super::tokens::copy_of(raw).into(), None)),
            OnRead::Plaintext => {
                self.remember(Seen {
                    fingerprints: stored.clone(),
                    tokens: stored,
                    key: None,
                    sealed: None,
                });
                Ok((super::tokens::copy_of(raw).into(), None))
            }
            OnRead::Open => {
                let (version, [kid, iv, data]) = envelope_members(&envelope);
                let read = seal::envelope(version, kid.as_deref(), iv.as_deref(), data.as_deref())
                    .map_err(|why| self.refused(why, kid.as_deref()))?;
                let (iv, data) = (iv.unwrap_or_default(), data.unwrap_or_default());
                let index = self
                    .ring
                    .index_of(&read.kid)
                    .ok_or_else(|| self.refused(Unopened::UnknownKey, Some(&read.kid)))?;
                let fingerprints = stored;
                let aad = seal::additional_data(
                    &self.context,
                    &read.kid,
                    fingerprints[0].as_deref(),
                    fingerprints[1].as_deref(),
                );
                // The record this store last wrote or opened, byte for byte (its fingerprints
                // too, which the additional data binds): what it opened to is known.
                let known = super::tokens::peek(&self.seen).and_then(|seen| match &seen.sealed {
                    Some((i, d, json))
                        if seen.key == Some(index)
                            && seen.fingerprints == fingerprints
                            && *i == iv
                            && *d == data =>
                    {
                        Some(json.clone())
                    }
                    _ => None,
                });
                let json = match known {
                    Some(json) => json,
                    None => {
                        let keys = self.ring.derived(index).await?;
                        let plain = call(subtle()?.decrypt_with_object_and_js_u8_array(
                            &gcm(&read.iv, &aad),
                            &keys.seal,
                            &Uint8Array::from(&read.data[..]),
                        ))
                        .await
                        .map_err(|_| self.refused(Unopened::DoesNotOpen, Some(&read.kid)))?;
                        String::from_utf8(bytes_of(&plain))
                            .map_err(|_| self.refused(Unopened::NotMembers, Some(&read.kid)))?
                    }
                };
                let members = js::json_parse(&json)
                    .ok()
                    .filter(|m| m.is_object() && !Array::is_array(m))
                    .ok_or_else(|| self.refused(Unopened::NotMembers, Some(&read.kid)))?;
                // The ciphertext holds the whole set as it was written; the clear members are
                // the record's own (what the wrapped store compares), so they are taken from it.
                let opened: &Object = members.unchecked_ref();
                NAMES.with(|n| {
                    for name in &n.clear {
                        match member(raw, name) {
                            value if value.is_undefined() => {
                                let _ = Reflect::delete_property(opened, name);
                            }
                            value => put(opened, name, &value),
                        }
                    }
                });
                let opened = members;
                self.remember(Seen {
                    tokens: token_texts(&opened),
                    key: Some(index),
                    fingerprints,
                    sealed: Some((iv, data, json)),
                });
                Ok((opened, Some(index)))
            }
        }
    }

    fn remember(&self, seen: Seen) {
        self.seen.set(Some(Rc::new(seen)));
    }

    /// The fingerprints of `tokens` under key `index` (`None`: as stored in plaintext), from
    /// what was last seen when it matches, else computed.
    async fn fingerprints(
        &self,
        tokens: &[Option<String>; 2],
        key: Option<usize>,
    ) -> Result<[Option<String>; 2], EdgeError> {
        let seen = super::tokens::peek(&self.seen);
        if let Some(seen) = seen.filter(|s| s.key == key && &s.tokens == tokens) {
            return Ok(seen.fingerprints.clone());
        }
        let Some(index) = key else {
            return Ok(tokens.clone());
        };
        if tokens.iter().all(Option::is_none) {
            return Ok([None, None]);
        }
        let keys = self.ring.derived(index).await?;
        let message =
            seal::fingerprint_message(&self.context, [tokens[0].as_deref(), tokens[1].as_deref()]);
        let mac = call(subtle()?.sign_with_str_and_js_u8_array(
            "HMAC",
            &keys.mac,
            &Uint8Array::from(&message[..]),
        ))
        .await
        .map_err(|_| crypto_failure("compute a fingerprint"))?;
        Ok(seal::fingerprints(
            &bytes_of(&mac),
            [tokens[0].is_some(), tokens[1].is_some()],
        ))
    }

    /// The clear members of `set`, with its tokens replaced by `fingerprints`.
    fn clear_form(set: &JsValue, fingerprints: &[Option<String>; 2]) -> Object {
        let form = Object::new();
        NAMES.with(|n| {
            for name in &n.clear {
                let value = member(set, name);
                if !value.is_undefined() {
                    put(&form, name, &value);
                }
            }
            for (name, fingerprint) in n.tokens.iter().zip(fingerprints) {
                if let Some(fingerprint) = fingerprint {
                    put(&form, name, &JsValue::from_str(fingerprint));
                }
            }
        });
        form
    }

    /// `set` as the record written for it: sealed under the first key, with a fresh IV; and what
    /// is remembered of it once it is stored.
    async fn seal(&self, set: &JsValue) -> Result<(JsValue, Seen), EdgeError> {
        let tokens = token_texts(set);
        let fingerprints = self.fingerprints(&tokens, Some(0)).await?;
        // The whole set is sealed (its clear members too: the record's own copies are what is
        // compared, and one stringify of the caller's set copies nothing member by member).
        let json = js_sys::JSON::stringify(set)
            .ok()
            .and_then(|j| j.as_string())
            .ok_or_else(|| {
                EdgeError::invalid(&["sealedStore.compareAndSet: next cannot be written as JSON"])
            })?;
        let mut iv = [0u8; seal::IV_BYTES];
        fill_random(&mut iv).map_err(|()| crypto_failure("draw a random IV"))?;
        let kid = &self.ring.keys[0].id;
        let aad = seal::additional_data(
            &self.context,
            kid,
            fingerprints[0].as_deref(),
            fingerprints[1].as_deref(),
        );
        let keys = self.ring.derived(0).await?;
        let sealed = call(subtle()?.encrypt_with_object_and_js_u8_array(
            &gcm(&iv, &aad),
            &keys.seal,
            &Uint8Array::from(json.as_bytes()),
        ))
        .await
        .map_err(|_| crypto_failure("encrypt with AES-GCM"))?;
        let (iv, data) = (base64url(&iv), base64url(&bytes_of(&sealed)));
        let record = Sealing::clear_form(set, &fingerprints);
        NAMES.with(|n| {
            let envelope = Object::new();
            let values = [
                JsValue::from_f64(seal::VERSION),
                kid.into(),
                iv.as_str().into(),
                data.as_str().into(),
            ];
            for (name, value) in n.envelope.iter().zip(&values) {
                put(&envelope, name, value);
            }
            put(&record, &n.sealed, &envelope);
        });
        let seen = Seen {
            tokens,
            key: Some(0),
            fingerprints,
            sealed: Some((iv, data, json)),
        };
        Ok((record.into(), seen))
    }

    /// Writes `next` sealed if the stored set is `expected`: `expected`'s fingerprints under the
    /// key it was last seen sealed with first, then under each other key (and as plaintext, in a
    /// migration window) until one matches; at most one can.
    async fn compare_and_set(&self, expected: &JsValue, next: &JsValue) -> Result<bool, EdgeError> {
        let (record, written) = self.seal(next).await?;
        let tokens = token_texts(expected);
        let seen = super::tokens::peek(&self.seen)
            .filter(|s| s.tokens == tokens)
            .map(|s| s.key);
        let attempts = match absent(expected) || tokens == [None, None] {
            // Nothing fingerprinted to compare: one attempt, whatever the key.
            true => vec![Some(0)],
            false => seal::attempt_order(self.ring.keys.len(), seen, self.accept_plaintext),
        };
        let mut won = false;
        for key in attempts {
            let candidate = match absent(expected) {
                true => JsValue::UNDEFINED,
                false => {
                    Sealing::clear_form(expected, &self.fingerprints(&tokens, key).await?).into()
                }
            };
            if self.inner_compare_and_set(&candidate, &record).await? {
                won = true;
                break;
            }
        }
        if won {
            self.remember(written);
        }
        Ok(won)
    }
}

/// AES-GCM's parameters: the IV and the additional data (a 128-bit tag, the default).
fn gcm(iv: &[u8], aad: &[u8]) -> Object {
    let params = Object::new();
    js::set(&params, "name", &"AES-GCM".into());
    js::set(&params, "iv", &Uint8Array::from(iv));
    js::set(&params, "additionalData", &Uint8Array::from(aad));
    params
}
