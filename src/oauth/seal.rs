//! Sealed token sets: what a sealed store (`sealedStore(store, { keys, context })`) writes to the
//! store it wraps, and what a record read back means. Decisions and byte layouts only; the
//! cryptography is the platform's WebCrypto, called by the edge (`src/edge/seal.rs`): AES-256-GCM
//! with a fresh 96-bit IV per write, its key and the fingerprint key derived from each given key
//! with HKDF-SHA-256, fingerprints by HMAC-SHA-256.
//!
//! A sealed record is a TokenSet the wrapped store can compare as it compares any other:
//! - the members in [`CLEAR`] as they are (what the protocol reads and an operator queries);
//! - `access_token` and `refresh_token` replaced by their keyed fingerprints ([`fingerprints`]),
//!   so that the store's compare-and-set stays one atomic statement on those members;
//! - [`SEALED`]: `{ v, kid, iv, data }`, the AES-GCM ciphertext of the whole set as JSON (the
//!   tokens among it; on reading, the record's own clear members win: they are what is compared), under the key named `kid`, with additional data binding it to
//!   the context (the seller's account id), the key id and both fingerprints ([`additional_data`]):
//!   a record copied to another seller, or a fingerprint changed, does not open.

use super::base64::{base64_decode, base64url};
use super::redact::truncate;
use super::text::{concat_str, join_str};

/// Members kept in the clear: the protocol's marks, the sign-out state, what an operator queries.
pub const CLEAR: [&str; 6] = [
    "expires_at",
    "scopes",
    "renewal",
    "refresh_refused_at",
    "signed_out_at",
    "health",
];
/// The members the store compares that are secrets: written as fingerprints.
pub const FINGERPRINTED: [&str; 2] = ["access_token", "refresh_token"];
/// The member holding the sealed envelope.
pub const SEALED: &str = "sealed";
/// The envelope's format version (`sealed.v`).
pub const VERSION: f64 = 1.0;

/// HKDF `info` of the two keys derived from each given key (domain separation: one given key,
/// two independent keys).
pub const SEAL_INFO: &str = "avito-auth sealed store v1 AES-256-GCM";
pub const FINGERPRINT_INFO: &str = "avito-auth sealed store v1 HMAC-SHA-256 fingerprints";

pub const KEY_BYTES: usize = 32;
pub const IV_BYTES: usize = 12;
pub const TAG_BYTES: usize = 16;
/// At most this many keys: rotation needs two or three; a bound keeps a failed compare's retries
/// bounded.
pub const MAX_KEYS: usize = 16;
pub const MAX_KEY_ID: usize = 64;
/// The largest ciphertext opened (a TokenSet is well under 4 KiB): a record swollen by accident
/// or on purpose is refused before it is decoded or decrypted.
pub const MAX_SEALED_BYTES: usize = 64 * 1024;
/// How much of a context (an account id) a message shows.
const CONTEXT_SHOWN: usize = 128;

const FINGERPRINT_PREFIX: &str = "hmac-sha256:";

/// Whether a stored member is one of our fingerprints.
pub fn is_fingerprint(text: &str) -> bool {
    text.starts_with(FINGERPRINT_PREFIX)
}

/// A key id: 1 to 64 of `A-Z a-z 0-9 . _ -` (it is written into every record and shown in
/// messages, so it must be plain and never a secret).
pub fn key_id_ok(id: &str) -> bool {
    (1..=MAX_KEY_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Why a given key is refused.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum BadKey {
    NotBase64,
    /// Decoded to this many bytes, not [`KEY_BYTES`].
    Length(usize),
}

/// A key given as text: base64 or base64url, padded or not, 32 bytes.
pub fn key_from_text(text: &str) -> Result<[u8; KEY_BYTES], BadKey> {
    let bytes = base64_decode(text.trim()).ok_or(BadKey::NotBase64)?;
    key_from_bytes(&bytes)
}

pub fn key_from_bytes(bytes: &[u8]) -> Result<[u8; KEY_BYTES], BadKey> {
    bytes.try_into().map_err(|_| BadKey::Length(bytes.len()))
}

/// What a key list is refused for (the edge turns it into an `invalid_argument` message).
pub fn key_problem(index: usize, id: &str, seen: &[&str], key: Option<BadKey>) -> Option<String> {
    let at = concat_str(&["keys[", &index_text(index), "]"]);
    if !key_id_ok(id) {
        return Some(concat_str(&[
            &at,
            ".id must be 1 to 64 of A-Z a-z 0-9 . _ - (it is written into every record)",
        ]));
    }
    if key_from_text(id).is_ok() {
        return Some(concat_str(&[
            &at,
            ".id reads as a 32-byte key: is it swapped with key? (the id is written into every record)",
        ]));
    }
    if seen.contains(&id) {
        return Some(concat_str(&[&at, ".id \"", id, "\" is given twice"]));
    }
    match key {
        None => None,
        Some(BadKey::NotBase64) => Some(concat_str(&[
            &at,
            ".key must be 32 random bytes: a base64 or base64url string (e.g. `openssl rand -base64 32`) or a Uint8Array",
        ])),
        Some(BadKey::Length(n)) => Some(concat_str(&[
            &at,
            ".key holds ",
            &index_text(n),
            " bytes; it must be exactly 32 random bytes",
        ])),
    }
}

fn index_text(n: usize) -> String {
    let mut s = String::new();
    super::text::push_u64(&mut s, n as u64);
    s
}

/// The message the fingerprints of a set are the HMAC of: the context and both tokens, each
/// length-prefixed and an absent token told from an empty one, so that no two
/// (context, access token, refresh token) triples make the same bytes.
pub fn fingerprint_message(context: &str, tokens: [Option<&str>; 2]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        16 + context.len() + tokens.iter().flatten().map(|t| t.len()).sum::<usize>(),
    );
    out.extend_from_slice(&(context.len() as u32).to_be_bytes());
    out.extend_from_slice(context.as_bytes());
    for token in tokens {
        match token {
            None => out.push(0),
            Some(token) => {
                out.push(1);
                out.extend_from_slice(&(token.len() as u32).to_be_bytes());
                out.extend_from_slice(token.as_bytes());
            }
        }
    }
    out
}

/// The two fingerprints of a set, from the one HMAC of [`fingerprint_message`] (one WebCrypto
/// call per write, not two: each costs tens of microseconds in Node): its first half stands for
/// the access token, its second for the refresh token, 128 bits each (what is compared is
/// equality, never a search), tagged with what they are; `None` where the set has no such token.
/// A change of either token changes both.
pub fn fingerprints(mac: &[u8], tokens: [bool; 2]) -> [Option<String>; 2] {
    let half = mac.len() / 2;
    let tagged = |part: &[u8], present: bool| {
        present.then(|| concat_str(&[FINGERPRINT_PREFIX, &base64url(part)]))
    };
    [
        tagged(&mac[..half], tokens[0]),
        tagged(&mac[half..], tokens[1]),
    ]
}

/// The AES-GCM additional data of a record: the format, the context, the sealing key's id and the
/// two fingerprints as stored (absent ones empty), length-prefixed.
pub fn additional_data(
    context: &str,
    kid: &str,
    access: Option<&str>,
    refresh: Option<&str>,
) -> Vec<u8> {
    let mut out = b"avito-auth sealed v1".to_vec();
    for part in [context, kid, access.unwrap_or(""), refresh.unwrap_or("")] {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// A record's envelope, checked for shape (it may still fail to authenticate).
#[derive(Debug, PartialEq, Eq)]
pub struct Envelope {
    pub kid: String,
    pub iv: [u8; IV_BYTES],
    pub data: Vec<u8>,
}

/// Why a stored record does not open.
#[derive(Debug, PartialEq, Eq)]
pub enum Unopened {
    /// Tokens stored without a seal, and plaintext is not accepted.
    Plaintext,
    /// The envelope is not one this format writes (what is wrong with it).
    Broken(&'static str),
    /// Sealed under a key id the store was not given.
    UnknownKey,
    /// AES-GCM refused it: a changed byte, a cut value, another context, changed fingerprints.
    DoesNotOpen,
    /// It opened, but what it holds is not a TokenSet object.
    NotMembers,
}

/// Reads the envelope's members (as the edge found them: strings and a number, or absent).
pub fn envelope(
    version: Option<f64>,
    kid: Option<&str>,
    iv: Option<&str>,
    data: Option<&str>,
) -> Result<Envelope, Unopened> {
    if version != Some(VERSION) {
        return Err(Unopened::Broken("its format version is not 1"));
    }
    let kid = kid
        .filter(|k| key_id_ok(k))
        .ok_or(Unopened::Broken("it names no valid key id"))?;
    let iv = iv
        .and_then(base64_decode)
        .and_then(|b| <[u8; IV_BYTES]>::try_from(b.as_slice()).ok())
        .ok_or(Unopened::Broken("its IV is not 12 bytes of base64url"))?;
    let data = data
        .filter(|d| d.len() <= MAX_SEALED_BYTES * 4 / 3 + 4)
        .and_then(base64_decode)
        .filter(|d| d.len() >= TAG_BYTES)
        .ok_or(Unopened::Broken(
            "its ciphertext is missing, cut short, too long or not base64url",
        ))?;
    Ok(Envelope {
        kid: kid.to_owned(),
        iv,
        data,
    })
}

/// What to do with a record read from the wrapped store.
#[derive(Debug, PartialEq, Eq)]
pub enum OnRead {
    /// It has a seal: open it.
    Open,
    /// No seal and no token (a sign-out's tombstone written before sealing, say): read as it is.
    AsItIs,
    /// A plaintext set, read as it is in a migration window (resealed on its next write).
    Plaintext,
    Refuse(Unopened),
}

/// `has_seal`: the record has a `sealed` member; `holds_token`: an `access_token` or
/// `refresh_token` member that is a string; `holds_fingerprint`: one of them is a fingerprint
/// (a record whose seal was stripped by a copy or a store that keeps known members only: read
/// as plaintext, its fingerprints would be presented to Avito as tokens).
pub fn on_read(
    has_seal: bool,
    holds_token: bool,
    holds_fingerprint: bool,
    accept_plaintext: bool,
) -> OnRead {
    if !has_seal && holds_fingerprint {
        return OnRead::Refuse(Unopened::Broken(
            "its sealed envelope is missing (only its fingerprints are stored)",
        ));
    }
    match (has_seal, holds_token, accept_plaintext) {
        (true, _, _) => OnRead::Open,
        (false, false, _) => OnRead::AsItIs,
        (false, true, true) => OnRead::Plaintext,
        (false, true, false) => OnRead::Refuse(Unopened::Plaintext),
    }
}

/// The order in which a compare-and-set tries the fingerprints of `expected` (`Some(key index)`,
/// or `None`: its tokens as they are, a plaintext set in a migration window): the way the set was
/// last seen stored first (`seen`; nearly always right), then the sealing key, then the rest.
/// Fingerprints under one key never equal those under another (nor a token), so at most one
/// attempt can match; trying each in turn is one compare-and-set as the protocol sees it (a
/// `false` is a lost race).
pub fn attempt_order(
    keys: usize,
    seen: Option<Option<usize>>,
    accept_plaintext: bool,
) -> Vec<Option<usize>> {
    let first = match seen {
        Some(None) if accept_plaintext => None,
        Some(Some(k)) if k < keys => Some(k),
        _ => Some(0),
    };
    let mut order = vec![first];
    order.extend((0..keys).map(Some).filter(|&k| k != first));
    // The tokens themselves are sent as the expected value only when the set was last seen
    // stored in plaintext (they are in the store then anyway): never to a store that holds them
    // sealed, whose statement logs must not see them. A miss is a lost race: the caller re-reads.
    order
}

/// A `reseal()` that kept losing its compare-and-set to other writers.
pub fn reseal_busy_message(context: &str) -> String {
    concat_str(&[
        "sealedStore.reseal: the stored set of context \"",
        &truncate(context, CONTEXT_SHOWN),
        "\" changed four times while it was resealed; run it again",
    ])
}

/// The message of a record that does not open: it names the context and the key id, never a
/// secret (a key id is checked to be plain before it is shown).
pub fn unopened_message(
    why: &Unopened,
    context: &str,
    kid: Option<&str>,
    known: &[&str],
) -> String {
    let context = truncate(context, CONTEXT_SHOWN);
    let of = concat_str(&["sealedStore: the stored set of context \"", &context, "\""]);
    let kid = kid.filter(|k| key_id_ok(k));
    let with = kid.map_or(String::new(), |k| {
        concat_str(&[" sealed with key \"", k, "\""])
    });
    match why {
        Unopened::Plaintext => concat_str(&[
            &of,
            " is plaintext (stored before sealing); pass acceptPlaintext: true to read it and reseal it on its next write",
        ]),
        // A value cut short keeps its key id: name it, as for any other record that does not open.
        Unopened::Broken(what) => concat_str(&[&of, &with, " has a broken seal: ", what]),
        Unopened::UnknownKey => concat_str(&[
            &of,
            &with,
            " cannot be opened: that key id is not in keys (given: \"",
            &join_str(known, "\", \""),
            "\"); add the key that sealed it",
        ]),
        Unopened::DoesNotOpen => concat_str(&[
            &of,
            &with,
            " does not open: it was changed, cut short, or sealed for another context",
        ]),
        Unopened::NotMembers => concat_str(&[
            &of,
            &with,
            " opened, but does not hold a TokenSet object",
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_32_bytes_of_base64_or_base64url() {
        let b64 = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
        let key = key_from_text(b64).unwrap();
        assert_eq!(key_from_text(&base64url(&key)), Ok(key));
        assert_eq!(key_from_text("c2hvcnQ="), Err(BadKey::Length(5)));
        assert_eq!(key_from_text("not base64!"), Err(BadKey::NotBase64));
        assert!(key_problem(0, "k1", &[], None).is_none());
        assert!(key_problem(1, "k1", &["k1"], None)
            .unwrap()
            .contains("twice"));
        assert!(key_problem(0, "a b", &[], None)
            .unwrap()
            .contains("keys[0].id"));
        assert!(key_problem(2, "k", &[], Some(BadKey::Length(16)))
            .unwrap()
            .contains("holds 16 bytes"));
        assert!(!key_id_ok(&"x".repeat(65)) && key_id_ok(&"x".repeat(64)));
        assert!(key_problem(0, &base64url(&[7; 32]), &[], None)
            .unwrap()
            .contains("swapped"));
    }

    #[test]
    fn parts_are_length_prefixed_so_no_two_inputs_collide() {
        assert_ne!(
            fingerprint_message("ab", [Some("c"), None]),
            fingerprint_message("a", [Some("bc"), None])
        );
        assert_ne!(
            fingerprint_message("a", [Some(""), None]),
            fingerprint_message("a", [None, Some("")])
        );
        assert_ne!(
            additional_data("a", "k", Some("x"), None),
            additional_data("a", "k", None, Some("x"))
        );
        let mac: Vec<u8> = (0..32).collect();
        let [access, refresh] = fingerprints(&mac, [true, true]);
        assert_eq!(
            access.as_deref(),
            Some(concat_str(&["hmac-sha256:", &base64url(&mac[..16])]).as_str())
        );
        assert_ne!(access, refresh);
        assert_eq!(fingerprints(&mac, [true, false])[1], None);
    }

    #[test]
    fn envelopes_are_checked_before_anything_is_decrypted() {
        let iv = base64url(&[7; 12]);
        let data = base64url(&[1; 20]);
        let ok = envelope(Some(1.0), Some("k1"), Some(&iv), Some(&data)).unwrap();
        assert_eq!((ok.kid.as_str(), ok.iv, ok.data.len()), ("k1", [7; 12], 20));
        let broken = |e: Result<Envelope, Unopened>| matches!(e, Err(Unopened::Broken(_)));
        assert!(broken(envelope(
            Some(2.0),
            Some("k1"),
            Some(&iv),
            Some(&data)
        )));
        assert!(broken(envelope(
            Some(1.0),
            Some("k 1"),
            Some(&iv),
            Some(&data)
        )));
        assert!(broken(envelope(
            Some(1.0),
            Some("k1"),
            Some(&base64url(&[7; 11])),
            Some(&data)
        )));
        assert!(broken(envelope(
            Some(1.0),
            Some("k1"),
            Some(&iv),
            Some(&base64url(&[1; 15]))
        )));
        assert!(broken(envelope(Some(1.0), Some("k1"), Some(&iv), None)));
        let huge = "A".repeat(MAX_SEALED_BYTES * 2);
        assert!(broken(envelope(
            Some(1.0),
            Some("k1"),
            Some(&iv),
            Some(&huge)
        )));
    }

    #[test]
    fn plaintext_is_refused_unless_accepted_and_tombstones_read_as_they_are() {
        assert_eq!(on_read(true, true, true, false), OnRead::Open);
        assert_eq!(on_read(false, false, false, false), OnRead::AsItIs);
        assert_eq!(on_read(false, true, false, true), OnRead::Plaintext);
        assert_eq!(
            on_read(false, true, false, false),
            OnRead::Refuse(Unopened::Plaintext)
        );
        assert!(matches!(
            on_read(false, true, true, true),
            OnRead::Refuse(Unopened::Broken(_))
        ));
    }

    #[test]
    fn the_last_seen_key_is_tried_first_then_each_other_once() {
        assert_eq!(attempt_order(1, None, false), vec![Some(0)]);
        assert_eq!(
            attempt_order(3, Some(Some(2)), false),
            vec![Some(2), Some(0), Some(1)]
        );
        assert_eq!(
            attempt_order(2, Some(Some(9)), false),
            vec![Some(0), Some(1)]
        );
        // A plaintext set in a migration window: as it is, first, when it was last seen so; never else.
        assert_eq!(
            attempt_order(2, Some(None), true),
            vec![None, Some(0), Some(1)]
        );
        assert_eq!(attempt_order(1, Some(Some(0)), true), vec![Some(0)]);
        assert_eq!(attempt_order(1, None, true), vec![Some(0)]);
        assert_eq!(attempt_order(1, Some(None), false), vec![Some(0)]);
    }

    #[test]
    fn messages_name_the_context_and_key_and_are_bounded() {
        let long = "acct-".repeat(100);
        let m = unopened_message(&Unopened::DoesNotOpen, &long, Some("k2"), &["k1"]);
        assert!(m.contains("key \"k2\"") && m.len() < 400, "{m}");
        let m = unopened_message(&Unopened::UnknownKey, "a", Some("k9"), &["k2", "k1"]);
        assert!(m.contains("\"k9\"") && m.contains("\"k2\", \"k1\""), "{m}");
        let cut = Unopened::Broken("its ciphertext is cut short");
        let m = unopened_message(&cut, "acct-7", Some("k2"), &["k2"]);
        assert!(
            m.contains("context \"acct-7\" sealed with key \"k2\" has a broken seal"),
            "{m}"
        );
        // A key id read from the store that is not a valid id is not echoed.
        let m = unopened_message(&Unopened::DoesNotOpen, "a", Some("rt-secret token"), &[]);
        assert!(!m.contains("secret"), "{m}");
    }
}
