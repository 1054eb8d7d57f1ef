//! The fuzz targets' bodies, shared by `fuzz/` (cargo-fuzz, nightly, libFuzzer: each
//! `fuzz/fuzz_targets/<name>.rs` calls one function here) and by `tests/rust/fuzz_corpus.rs`
//! (stable `cargo test --features native-json`: replays every file of `fuzz/corpus/<name>/`,
//! `fuzz/seeds/<name>/` and `fuzz/regressions/<name>/` through the same function).
//!
//! Each target turns raw bytes into arguments (numbers from leading bytes, then strings split at
//! byte 0xFF — which never occurs in UTF-8 — and read with `String::from_utf8_lossy`), calls the
//! pure core (`avito_auth::oauth`), and asserts properties; a failed assertion or any panic is a
//! finding. Only `avito_auth` and `std` are used, so the main crate's test needs no extra
//! dependency. `seeds()` builds the seed inputs from the repository's real cases.

use avito_auth::oauth::failure::{Delivery, Failure, Kind, Response};
use avito_auth::oauth::redact::{BODY_LIMIT, FIELD_LIMIT, MESSAGE_LIMIT, REDACTED};
use avito_auth::oauth::request::{self, Grant};
use avito_auth::oauth::retry::RetryPolicy;
use avito_auth::oauth::wire::{parse_native, BodyShape};
use avito_auth::oauth::{callback, classify, form, redact, rejection, renewal, retry, text, url};

/// A target body: raw bytes in, a panic on a finding.
pub type Target = fn(&[u8]);

/// Every target: its name (the directory under `fuzz/corpus/`) and its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("classify", classify_target),
    ("form", form_target),
    ("url", url_target),
    ("retry_after", retry_after_target),
    ("redact", redact_target),
    ("callback", callback_target),
    ("transport", transport_target),
];

/// Separates the strings of an input (0xFF is never part of UTF-8).
pub const SEP: u8 = 0xFF;
const TRUNCATED: &str = "…[truncated]";
const GRANTS: [Grant; 3] = [
    Grant::AuthorizationCode,
    Grant::RefreshToken,
    Grant::ClientCredentials,
];

/// Reads numbers off the front of an input; an exhausted input reads as zeros.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.byte();
        }
        out
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }
    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(self.0).into_owned()
    }
    fn strings(&self) -> Vec<String> {
        self.0
            .split(|&b| b == SEP)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }
}

fn nth(strings: &[String], i: usize) -> &str {
    strings.get(i).map_or("", String::as_str)
}

/// Whether `spelling` survives in `out` outside the markers: `out` is split at `[redacted]` and
/// `…[truncated]`, so every piece is a stretch of the original text that was kept.
/// A truncated text may end in part of a marker (`[redac…[truncated]`): that is not kept text.
fn leaks(out: &str, spelling: &str) -> bool {
    let mut kept = out;
    if let Some(head) = kept.strip_suffix(TRUNCATED) {
        kept = head;
        while let Some(cut) = [REDACTED, TRUNCATED].iter().find_map(|m| {
            (1..m.len())
                .rev()
                .find(|&k| m.is_char_boundary(k) && kept.ends_with(&m[..k]))
        }) {
            kept = &kept[..kept.len() - cut];
        }
    }
    !spelling.is_empty()
        && kept
            .split(REDACTED)
            .flat_map(|piece| piece.split(TRUNCATED))
            .any(|piece| piece.contains(spelling))
}

/// Every field a user sees is bounded, whatever the server sent: `body`, `error`,
/// `error_description` and `message`.
fn assert_bounded(f: &Failure) {
    let len = |v: Option<&str>| v.map_or(0, str::len);
    assert!(len(f.body()) <= BODY_LIMIT + TRUNCATED.len(), "body");
    assert!(len(f.error()) <= FIELD_LIMIT + TRUNCATED.len(), "error");
    assert!(
        len(f.error_description()) <= FIELD_LIMIT + TRUNCATED.len(),
        "error_description"
    );
    assert!(
        f.message().len() <= MESSAGE_LIMIT + TRUNCATED.len(),
        "message"
    );
}

// ---------------------------------------------------------------------------------------------
// classify: status + body → parse_native → classify → redacted / message / retry decisions

/// Input: `[status: u16 BE — bit 15 = too_large, the rest % 1000][flags: u8]`, then
/// `body 0xFF secret 0xFF secret…`.
pub fn classify_target(data: &[u8]) {
    let mut input = Input(data);
    let raw = input.u16();
    let flags = input.byte();
    let too_large = raw & 0x8000 != 0;
    let status = (raw & 0x7fff) % 1000;
    let strings = input.strings();
    let text = nth(&strings, 0);
    let secrets: Vec<&str> = strings.iter().skip(1).map(String::as_str).collect();

    let shape = parse_native(text);
    if let Some(n) = classify::whole_number(text) {
        assert!(n < 1_000_000_000_000_000, "whole_number({text:?}) = {n}");
    }
    match classify::classify(status, text, &shape, too_large) {
        Ok(token) => {
            assert!(classify::is_success(status), "a token from HTTP {status}");
            assert!(
                !too_large && text.len() <= classify::MAX_BODY,
                "a token from a body over 1 MiB"
            );
            assert!(
                matches!(shape, BodyShape::Object(_)),
                "a token from a body that is not a JSON object"
            );
            assert!(
                classify::is_token_string(&token.access_token),
                "access_token {:?} is not VSCHAR",
                token.access_token
            );
            if let Some(rt) = &token.refresh_token {
                assert!(
                    classify::is_token_string(rt),
                    "refresh_token {rt:?} is not VSCHAR"
                );
            }
            assert!(
                format!("{token:?}").contains("access_token: \"[redacted]\""),
                "Debug printed the token"
            );
        }
        Err(failure) => {
            assert_eq!(failure.status(), Some(status));
            match failure.kind() {
                Kind::InvalidResponse => assert!(
                    classify::is_success(status),
                    "invalid_response for HTTP {status}"
                ),
                Kind::Http => assert!(!classify::is_success(status), "http for HTTP {status}"),
                Kind::OAuth => assert!(
                    status != 429 && status < 500 && failure.error().is_some_and(|e| !e.is_empty())
                ),
                other => panic!("classify returned {other:?}"),
            }
            // The detail of a response failure is our own words: redaction leaves it alone.
            let detail = failure.detail().map(str::to_owned);
            let f = failure.redacted(&secrets);
            assert_eq!(f.detail().map(str::to_owned), detail);
            let body = f.body().unwrap_or("");
            assert!(
                body.len() <= BODY_LIMIT + TRUNCATED.len(),
                "body of {} bytes",
                body.len()
            );
            for s in secrets.iter().filter(|s| !s.is_empty()) {
                let encoded = encoded_form(s);
                for field in [Some(body), f.error(), f.error_description()]
                    .into_iter()
                    .flatten()
                {
                    assert!(
                        !leaks(field, s) && !leaks(field, &encoded),
                        "secret {s:?} survives in {field:?}"
                    );
                }
            }
            assert_bounded(&f);
            assert_single_use_safety(&f);
            let random = f64::from(flags) / 256.0;
            for grant in GRANTS {
                let again = retry::retryable(grant, &f);
                if matches!(f.kind(), Kind::OAuth | Kind::InvalidResponse) {
                    assert!(!again, "{:?} is retryable", f.kind());
                }
                let attempt = u32::from(flags & 7);
                let delay = retry::next_delay(
                    &RetryPolicy::default(),
                    attempt,
                    again,
                    f.retry_after_ms(),
                    random,
                );
                assert!(
                    delay.is_none() || (again && attempt < 3),
                    "delay {delay:?} after attempt {attempt}"
                );
            }
        }
    }
}

/// A single-use credential (code, refresh token) is re-sent within one request only when the
/// outcome of the failed request is known; the renewal protocol's reading of the failure agrees.
fn assert_single_use_safety(f: &Failure) {
    let known = renewal::answer_of(f) != renewal::Answer::Uncertain;
    for grant in [Grant::AuthorizationCode, Grant::RefreshToken] {
        if retry::retryable(grant, f) {
            assert!(
                known,
                "{grant:?} retried after {f:?}, whose outcome is unknown"
            );
        }
    }
    let expected = match f.kind() {
        Kind::InvalidArgument | Kind::SignInRequired | Kind::OAuth => true,
        Kind::Http => matches!(f.status(), Some(429) | Some(503)),
        Kind::Network | Kind::Aborted => f.not_sent(),
        Kind::Timeout | Kind::InvalidResponse | Kind::Store => false,
    };
    assert_eq!(known, expected, "{f:?}");
}

// ---------------------------------------------------------------------------------------------
// form: encode_form / encode_query / token_body / header and argument rules

/// `value` as our form encoder writes it (a body sends secrets this way, so a server may echo
/// them so).
fn encoded_form(value: &str) -> String {
    form::encode_form(&[("", value)])
        .strip_prefix('=')
        .unwrap_or_default()
        .to_owned()
}

/// A strict `application/x-www-form-urlencoded` value decoder: `%XX` (either case) and `+`.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'%' => {
                let hex = |k: usize| b.get(k).and_then(|&h| (h as char).to_digit(16));
                out.push((hex(i + 1)? * 16 + hex(i + 2)?) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `encoded` is exactly `pairs`: only unreserved characters, `%XX`, `&` and `=` (and `,` `:` in
/// a query), and decoding gives every key and value back.
fn assert_round_trip(encoded: &str, pairs: &[(&str, &str)], query: bool) {
    assert!(encoded.is_ascii(), "{encoded:?} is not ASCII");
    let allowed = |b: u8| {
        b.is_ascii_alphanumeric() || b"-._~%&=".contains(&b) || (query && (b == b',' || b == b':'))
    };
    assert!(
        encoded.bytes().all(allowed),
        "{encoded:?} holds a character that must be escaped"
    );
    if pairs.is_empty() {
        assert_eq!(encoded, "");
        return;
    }
    let decoded: Vec<(String, String)> = encoded
        .split('&')
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("{pair:?} has no '='"));
            (
                percent_decode(k).expect("key decodes"),
                percent_decode(v).expect("value decodes"),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(decoded, expected, "{encoded:?}");
}

/// Input: `[flags: u8]`, then strings; pairs are consecutive strings.
pub fn form_target(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.byte();
    let strings = input.strings();
    let pairs: Vec<(&str, &str)> = strings
        .chunks(2)
        .map(|c| (c[0].as_str(), c.get(1).map_or("", String::as_str)))
        .collect();
    assert_round_trip(&form::encode_form(&pairs), &pairs, false);
    assert_round_trip(&form::encode_query(&pairs), &pairs, true);
    for s in &strings {
        let encoded = encoded_form(s);
        assert_eq!(percent_decode(&encoded).as_deref(), Some(s.as_str()));
    }

    let grant = GRANTS[usize::from(flags % 3)];
    let (id, secret) = (nth(&strings, 0), nth(&strings, 1));
    let grant_secret = (flags & 4 != 0).then(|| nth(&strings, 2));
    let redirect_uri = (flags & 8 != 0).then(|| nth(&strings, 3));
    let body = request::token_body(grant, id, secret, grant_secret, redirect_uri);
    let mut expected = vec![
        ("grant_type", grant.wire()),
        ("client_id", id),
        ("client_secret", secret),
    ];
    if let (Some(field), Some(value)) = (grant.secret_field(), grant_secret) {
        expected.push((field, value));
    }
    if let Some(uri) = redirect_uri {
        expected.push(("redirect_uri", uri));
    }
    assert_round_trip(&body, &expected, false);

    // Header and argument rules.
    let (name, value) = (nth(&strings, 0), nth(&strings, 1));
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    // No CR, LF or NUL (they split or cut a header), nothing past U+00FF (not a ByteString).
    let value_ok = !value
        .chars()
        .any(|c| matches!(c, '\r' | '\n' | '\0') || u32::from(c) > 0xff);
    assert_eq!(request::header_value_ok(value), value_ok);
    match request::extra_header(name, value) {
        Ok(Some(lower)) => {
            assert!(name_ok && value_ok);
            assert_eq!(lower, name.to_ascii_lowercase());
            assert!(!["content-type", "accept", "content-length"].contains(&lower.as_str()));
        }
        Ok(None) => assert!(
            name_ok
                && value_ok
                && ["content-type", "accept", "content-length"]
                    .contains(&name.to_ascii_lowercase().as_str())
        ),
        Err(f) => {
            assert!(!(name_ok && value_ok), "{name:?}: {value:?} refused");
            assert_eq!(f.kind(), Kind::InvalidArgument);
        }
    }
    match request::require_arg("clientId", Some(name.to_owned())) {
        Ok(v) => assert_eq!(v, name),
        Err(f) => assert!(name.is_empty() && f.kind() == Kind::InvalidArgument),
    }
    let given = (flags & 16 != 0).then_some(name);
    assert_eq!(
        request::check_grant_type(grant, given).is_ok(),
        !matches!(given, Some(g) if g != grant.wire())
    );
}

// ---------------------------------------------------------------------------------------------
// url: normalize_base

const URL_PREFIXES: [&str; 8] = [
    "",
    "https://",
    "http://",
    "HTTPS://",
    "http://127.0.0.1",
    "http://[::1]",
    "https://api.avito.ru",
    "http://localhost",
];

/// Input: `[prefix selector: u8]`, then the rest of the URL.
pub fn url_target(data: &[u8]) {
    let mut input = Input(data);
    let prefix = URL_PREFIXES[usize::from(input.byte()) % URL_PREFIXES.len()];
    let candidate = format!("{prefix}{}", input.text());
    let normal = match url::normalize_base(&candidate) {
        Ok(n) => n,
        Err(why) => {
            assert_eq!(why, url::BAD_URL);
            return;
        }
    };
    assert_eq!(
        url::normalize_base(&normal).as_deref(),
        Ok(normal.as_str()),
        "not idempotent on {candidate:?}"
    );
    assert_eq!(
        url::normalize_base(&format!("{normal}/")).as_deref(),
        Ok(normal.as_str())
    );
    let (https, rest) = match (
        normal.strip_prefix("https://"),
        normal.strip_prefix("http://"),
    ) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        _ => panic!("{normal:?} from {candidate:?} is neither https:// nor http://"),
    };
    assert!(
        !normal
            .bytes()
            .any(|b| b <= b' ' || b >= 0x7f || matches!(b, b'?' | b'#' | b'\\')),
        "{normal:?}"
    );
    assert!(!normal.ends_with('/'), "{normal:?} ends with a slash");
    let authority = rest.split('/').next().unwrap_or("");
    // No credentials: `@` is refused in the authority (in the path it is an ordinary character,
    // `https://proxy.example/a@b` has host `proxy.example`).
    assert!(
        !authority.is_empty() && !authority.contains('@'),
        "{normal:?}"
    );
    assert_eq!(authority, authority.to_ascii_lowercase());
    let host = if authority.starts_with('[') {
        &authority[..authority.find(']').expect("a closing bracket") + 1]
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    if !https {
        assert!(
            url::is_loopback(host),
            "http:// accepted for {host:?} ({candidate:?})"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// retry_after: retry_after_seconds and next_delay with arbitrary policies

/// Input: `[max_attempts: u32][base: u64][max: u64][attempt: u32][flags: u8][retry_after: u64]
/// [random: u64]`, then a `Retry-After` header value.
pub fn retry_after_target(data: &[u8]) {
    let mut input = Input(data);
    let policy = RetryPolicy {
        max_attempts: input.u32(),
        base_delay_ms: input.u64(),
        max_delay_ms: input.u64(),
    };
    let attempt = input.u32();
    let flags = input.byte();
    let after_raw = input.u64();
    let bits = input.u64();
    let header = input.text();

    let parsed = retry::retry_after_seconds(&header);
    if let Some(ms) = parsed {
        let digits = header.trim();
        assert!(
            !digits.is_empty() && digits.len() <= 9 && digits.bytes().all(|b| b.is_ascii_digit()),
            "{header:?}"
        );
        assert_eq!(ms, digits.parse::<u64>().unwrap() * 1000);
    }
    // Half the time a random number as the edge draws it, in [0, 1); else any f64 (NaN, ±inf…).
    let random = if flags & 4 != 0 {
        f64::from_bits(bits)
    } else {
        (bits >> 11) as f64 / (1u64 << 53) as f64
    };
    let retry_after = match flags & 3 {
        0 => None,
        1 => Some(after_raw),
        2 => parsed,
        _ => Some(after_raw % 20_000),
    };
    let retryable = flags & 8 != 0;
    let delay = retry::next_delay(&policy, attempt, retryable, retry_after, random);
    if attempt >= policy.max_attempts
        || !retryable
        || retry_after.is_some_and(|ra| ra > policy.max_delay_ms)
    {
        assert_eq!(
            delay, None,
            "{policy:?} attempt {attempt} retry-after {retry_after:?}"
        );
    }
    if let Some(d) = delay {
        assert!(d <= policy.max_delay_ms.max(retry_after.unwrap_or(0)), "delay {d} over the cap: {policy:?} attempt {attempt} random {random:?} retry-after {retry_after:?}");
        assert!(
            d >= retry_after.unwrap_or(0),
            "delay {d} shorter than Retry-After {retry_after:?}"
        );
        // Equal jitter: at least half the capped exponential delay.
        let exp = policy
            .base_delay_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(30))
            .min(policy.max_delay_ms);
        assert!(d >= exp / 2, "delay {d} below half of {exp}");
    }
}

// ---------------------------------------------------------------------------------------------
// redact: a secret in every spelling a server may echo it in

fn percent(s: &str, upper: bool, plus_for_space: bool, keep: fn(u8) -> bool) -> String {
    let hex: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::new();
    for &b in s.as_bytes() {
        if plus_for_space && b == b' ' {
            out.push('+');
        } else if keep(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(hex[usize::from(b >> 4)] as char);
            out.push(hex[usize::from(b & 15)] as char);
        }
    }
    out
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// JSON string content. `slash`: `/` as `\/` (PHP); `ascii`: non-ASCII as `\uXXXX` (Python's
/// default); `all`: every character as `\uXXXX`; `upper`: hex digits in uppercase.
fn json(s: &str, slash: bool, ascii: bool, all: bool, upper: bool) -> String {
    let mut out = String::new();
    let unit = |out: &mut String, u: u16| {
        let h = if upper {
            format!("\\u{u:04X}")
        } else {
            format!("\\u{u:04x}")
        };
        out.push_str(&h);
    };
    for c in s.chars() {
        match c {
            _ if all || (ascii && !c.is_ascii()) => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    unit(&mut out, *u);
                }
            }
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if slash => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => unit(&mut out, c as u16),
            c => out.push(c),
        }
    }
    out
}

/// Every spelling of `s` the redaction must remove.
pub fn spellings(s: &str) -> Vec<String> {
    vec![
        s.to_owned(),
        percent(s, true, false, unreserved),  // our encoder
        percent(s, false, false, unreserved), // lowercase hex
        percent(s, true, true, unreserved),   // form style, + for space
        percent(s, false, true, unreserved),  // form style, lowercase
        percent(s, true, true, |b| {
            b.is_ascii_alphanumeric() || b"*-._".contains(&b)
        }), // URLSearchParams
        percent(s, true, false, |b| {
            b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b)
        }), // encodeURIComponent
        percent(s, true, false, |_| false),   // every byte encoded
        json(s, false, false, false, false),  // JSON.stringify, serde_json
        json(s, true, false, false, false),   // PHP: \/
        json(s, false, true, false, false),   // Python: \u00e9
        json(s, true, true, false, true),     // \u00E9 and \/
        json(s, false, false, true, true),    // every character as \uXXXX
    ]
}

/// Input: `secret 0xFF filler 0xFF filler…`: the text is filler, spelling, filler, spelling… for
/// every spelling of the secret, then the remaining fillers.
pub fn redact_target(data: &[u8]) {
    let strings = Input(data).strings();
    let secret = nth(&strings, 0);
    // A secret holding a marker would be split by `leaks` itself; nothing to check then.
    if secret.is_empty() || secret.contains("redacted]") || secret.contains("truncated]") {
        return;
    }
    let spelled = spellings(secret);
    let mut text = String::new();
    for (i, spelling) in spelled.iter().enumerate() {
        text.push_str(nth(&strings, i + 1));
        text.push_str(spelling);
    }
    for filler in strings.iter().skip(spelled.len() + 1) {
        text.push_str(filler);
    }
    let check = |what: &str, out: &str| {
        for (i, spelling) in spelled.iter().enumerate() {
            assert!(
                !leaks(out, spelling),
                "{what}: spelling #{i} {spelling:?} of {secret:?} survives in {out:?}"
            );
        }
    };
    let out = redact::redact(&text, &[secret], usize::MAX);
    check("redact", &out);
    let other = nth(&strings, 1);
    check(
        "redact with two secrets",
        &redact::redact(&text, &[other, secret, ""], usize::MAX),
    );

    // Bounded, and linear: the output never passes the limit (plus the mark), and the pass costs
    // at most a constant number of steps per byte read and per byte of the secrets' spellings.
    // A limit from the input's first byte (0 included) reaches every cut position.
    let limit = usize::from(data.first().copied().unwrap_or(0)) * 4;
    let secrets = [other, secret];
    // A head (cut from a longer text) or a whole text, from the input's length.
    let end = if data.len() % 2 == 0 {
        redact::TextEnd::Cut
    } else {
        redact::TextEnd::Whole
    };
    let (bounded, steps) = redact::redact_counted(&text, &secrets, limit, end);
    assert!(
        bounded.len() <= limit + TRUNCATED.len(),
        "{} bytes for a limit of {limit}",
        bounded.len()
    );
    check("redact, bounded", &bounded);
    let spelled: usize = secrets.iter().map(|s| 12 * s.len() + 1).sum();
    let most = (text.len() as u64 + 1) * (3 * spelled as u64 + 64);
    assert!(
        steps <= most,
        "{steps} steps for {} bytes (most {most})",
        text.len()
    );
    if bounded.len() < limit.min(text.len()) / 2 && !bounded.contains(REDACTED) {
        panic!("{bounded:?} lost text without redacting anything");
    }

    // As classify builds it: the error, the description and the body come from the response.
    let f = Failure::OAuth {
        error: nth(&strings, 1).to_owned(),
        error_description: Some(text.clone()),
        response: Some(Response {
            status: 400,
            body: redact::truncate(&text, BODY_LIMIT * 4),
            body_end: redact::TextEnd::Whole,
            retry_after_ms: None,
        }),
    };
    let f = f.redacted(&[secret]);
    let body = f.body().unwrap_or("");
    assert!(body.len() <= BODY_LIMIT + TRUNCATED.len());
    assert_eq!(f.status(), Some(400));
    for field in [
        body,
        f.error().unwrap_or(""),
        f.error_description().unwrap_or(""),
    ] {
        check("Failure::redacted", field);
    }
    assert_bounded(&f);
    // A network failure's detail holds the platform's message: that one is redacted.
    let network = Failure::Network {
        detail: text.clone(),
        code: None,
        delivery: Delivery::MayHaveArrived,
        retryable: false,
    }
    .redacted(&[secret]);
    check(
        "Failure::redacted (network detail)",
        network.detail().unwrap_or(""),
    );
}

// ---------------------------------------------------------------------------------------------
// callback: read_callback; renewal: is_usable and the bounds' arithmetic

/// Input: `[flags: u8][expires_at: f64][now: f64][skew: f64][status: u16]`, then `expected
/// 0xFF state 0xFF code 0xFF error 0xFF error_description 0xFF access_token 0xFF invalidated`.
pub fn callback_target(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.byte();
    let (exp, now, skew) = (
        f64::from_bits(input.u64()),
        f64::from_bits(input.u64()),
        f64::from_bits(input.u64()),
    );
    let status = input.u16();
    let strings = input.strings();
    let present = |bit: u8, i: usize| (flags & (1 << bit) != 0).then(|| nth(&strings, i));
    let expected = nth(&strings, 0);
    let p = callback::CallbackParams {
        state: present(0, 1),
        code: present(1, 2),
        error: present(2, 3),
        error_description: present(3, 4),
    };
    match callback::read_callback(&p, expected) {
        Ok(code) => {
            assert_eq!(p.state, Some(expected));
            assert!(!p.error.is_some_and(|e| !e.is_empty()));
            assert!(!code.is_empty() && Some(code) == p.code);
        }
        Err(f) => {
            let mismatch = p.state != Some(expected);
            if mismatch {
                assert_eq!(f.error(), Some("state_mismatch"));
                // A forged callback's words are fixed: nothing of it (its code) is repeated back.
                let fixed =
                    callback::read_callback(&callback::CallbackParams::default(), "S").unwrap_err();
                assert_eq!(
                    (f.kind(), f.message(), f.error_description()),
                    (Kind::InvalidArgument, fixed.message(), None)
                );
            } else if p.error.is_some_and(|e| !e.is_empty()) {
                assert_eq!(f.kind(), Kind::OAuth);
                // Bounded like a response's fields: the same text, cut past FIELD_LIMIT.
                let bounded = |v: Option<&str>| v.map(|v| redact::truncate(v, FIELD_LIMIT));
                assert_eq!(f.error().map(str::to_owned), bounded(p.error));
                assert_eq!(
                    f.error_description().map(str::to_owned),
                    bounded(p.error_description)
                );
                assert!(f.message().len() <= MESSAGE_LIMIT + TRUNCATED.len());
            } else {
                assert_eq!(
                    (f.kind(), f.error()),
                    (Kind::InvalidArgument, Some("missing_code"))
                );
            }
            let code = p.code.unwrap_or("");
            let _ = f.redacted(&[code, expected]).message();
        }
    }

    let held = renewal::StoredSet {
        access_token: present(4, 5),
        expires_at: (flags & 32 != 0).then_some(exp),
        ..Default::default()
    };
    let invalidated = present(6, 6);
    let fresh = renewal::is_usable(&held, invalidated, now, skew);
    match held.access_token {
        None => assert!(!fresh),
        Some(at) if Some(at) == invalidated => assert!(!fresh),
        Some(_) => match held.expires_at {
            None => assert!(fresh),
            Some(e) => assert_eq!(fresh, e - skew > now),
        },
    }
    let cfg = renewal::RenewalConfig {
        grant: renewal::RenewalGrant::RefreshToken,
        skew_ms: skew,
        lease_ms: skew,
        request_budget_ms: exp,
        strict: false,
    };
    let poll = cfg.poll_ms();
    assert!(poll.is_nan() || poll <= 100.0);
    let ttl = cfg.lease_ttl_ms();
    assert!(ttl.is_nan() || ttl >= cfg.lease_ms || cfg.lease_ms.is_nan());
    assert_eq!(
        avito_auth::oauth::refusal::token_refused(status),
        status == 401 || status == 403
    );
}

// ---------------------------------------------------------------------------------------------
// transport: classify_rejection

/// Input: `[flags: u8][timeout_ms: u64]`, then `message 0xFF code`.
pub fn transport_target(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.byte();
    let timeout_ms = input.u64();
    let strings = input.strings();
    let message = nth(&strings, 0);
    let code = (flags & 8 != 0).then(|| nth(&strings, 1));
    let r = rejection::Rejection {
        caller_aborted: flags & 1 != 0,
        timed_out: flags & 2 != 0,
        timeout_ms,
        message,
        code,
        before_response: flags & 4 != 0,
    };
    let f = rejection::classify_rejection(&r);
    if r.caller_aborted {
        assert_eq!(f.kind(), Kind::Aborted);
    } else if r.timed_out {
        assert_eq!(f.kind(), Kind::Timeout);
        assert_eq!(
            f.detail(),
            Some(format!("no response within {timeout_ms} ms").as_str())
        );
    } else {
        assert_eq!(f.kind(), Kind::Network);
        let shown = f
            .detail()
            .unwrap_or("")
            .strip_prefix("network error: ")
            .expect("network error: prefix");
        assert_eq!(
            shown,
            if message.is_empty() {
                "fetch failed"
            } else {
                message
            }
        );
        assert!(!f.not_sent() || r.before_response);
        if let Some(e) = f.error() {
            assert_eq!(Some(e), code);
            assert!(
                !e.is_empty()
                    && e.len() < 40
                    && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            );
        }
        if r.before_response && code == Some("ECONNREFUSED") {
            assert!(f.not_sent());
        }
    }
    assert_single_use_safety(&f);
    for grant in GRANTS {
        let again = retry::retryable(grant, &f);
        if f.kind() == Kind::Network && f.not_sent() {
            assert!(again);
        }
        if matches!(f.kind(), Kind::Aborted) {
            assert!(!again);
        }
    }
    let kind = f.kind();
    let detail = f.detail().map(str::to_owned);
    let f = f.redacted(&[message, code.unwrap_or("")]);
    if kind == Kind::Network {
        // The platform's message may echo the request: it never survives redaction.
        assert!(
            !leaks(f.detail().unwrap_or(""), message),
            "{message:?} survives in {:?}",
            f.detail()
        );
    } else {
        assert_eq!(f.detail().map(str::to_owned), detail);
    }
    let _ = f.message();
    let mut printed = String::new();
    text::push_u64(&mut printed, timeout_ms);
    assert_eq!(printed, timeout_ms.to_string());
}

// ---------------------------------------------------------------------------------------------
// Seeds: the repository's real cases, encoded for each target.

fn joined(head: &[u8], strings: &[&str]) -> Vec<u8> {
    let mut out = head.to_vec();
    for (i, s) in strings.iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        out.extend_from_slice(s.as_bytes());
    }
    out
}

const SECRETS: [&str; 12] = [
    "SEKRET",
    "s3cr3t-Client-Secret",
    "c0de-Value-123",
    "rt-Refresh-Value-456",
    "at-Access-Value-789",
    "demo-secret",
    "p@ss w/\"rd",
    "Ключ & = + пробел 😀 %20 a+b=c&d \t~*'()!",
    "a\\b/c\u{1}\u{7f}é€😀",
    "%41+%2B",
    "TOP-SECRET-VALUE",
    "s&=",
];

/// `(target, input)` for every seed.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();

    // classify: every body of the contract tests, the mock and the unit tests, at the statuses
    // they come with (and at 200), with the secrets that were sent.
    let bodies: Vec<String> = vec![
        r#"{"access_token":"AT","expires_in":86400,"token_type":"Bearer"}"#.into(),
        r#"{"access_token":"AT","expires_in":"86400","token_type":"Bearer","refresh_token":"RT","scope":"messenger:read,items:info","extra":{"x":[1]}}"#.into(),
        r#"{"access_token":"AT","scope":null}"#.into(),
        r#"{"access_token":"at_Zm9vYmFyYmF6cXV4cXV1eA","expires_in":86400,"token_type":"Bearer","refresh_token":"rt_YmFyYmF6cXV4cXV1eGZvbw","scope":"messenger:read"}"#.into(),
        r#"{"access_token":"AT","expires_in":"86400","token_type":"Bearer","user_id":7,"extra":{"nested":[1,2]}}"#.into(),
        r#"{"access_token":"AT2","expires_in":3600.5,"token_type":"Bearer"}"#.into(),
        r#"{"access_token":"AT3","expires_in":"7200"}"#.into(),
        r#"{"access_token":"a","expires_in":1}"#.into(),
        r#"{"error":"invalid_grant","error_description":"code SEKRET expired"}"#.into(),
        r#"{"error":"invalid_grant","error_description":"code c0de-Value-123 expired for secret s3cr3t-Client-Secret"}"#.into(),
        r#"{"error":"invalid_client","error_description":"unknown client or wrong secret"}"#.into(),
        r#"{"error":"invalid_request","error_description":"form body expected"}"#.into(),
        r#"{"error":"invalid_grant","error_description":"refresh token is invalid or spent"}"#.into(),
        r#"{"error":"unsupported_grant_type"}"#.into(),
        r#"{"error":"slow_down"}"#.into(),
        r#"{"error":"rate_limited"}"#.into(),
        r#"{"error":"server_error"}"#.into(),
        r#"{"error":{"code":403,"message":"Forbidden"}}"#.into(),
        r#"{"error":{"code":404,"message":"Not found"}}"#.into(),
        r#"{"error":5}"#.into(),
        r#"{"error":"","message":"m","error_description":7}"#.into(),
        "<html>Service Unavailable</html>".into(),
        "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
        "<!doctype html><title>Login</title>".into(),
        "<html><body>Bad gateway</body></html>".into(),
        "<p>code=SEKRET&state=1 barcode=no</p>".into(),
        "busy".into(),
        "x".into(),
        "".into(),
        "   ".into(),
        "{".into(),
        "[]".into(),
        "\"token\"".into(),
        "null".into(),
        r#"{"access_token":""}"#.into(),
        r#"{"access_token":12345}"#.into(),
        r#"{"token_type":"Bearer"}"#.into(),
        r#"{"expires_in":86400}"#.into(),
        r#"{"access_token":"SEKRET2","expires_in":"soon"}"#.into(),
        r#"{"access_token":"A","expires_in":-1}"#.into(),
        r#"{"access_token":"A","expires_in":1e5}"#.into(),
        r#"{"access_token":"A","expires_in":"1e5"}"#.into(),
        r#"{"access_token":"A\u0001"}"#.into(),
        r#"{"access_token":"é"}"#.into(),
        r#"{"access_token":"A","refresh_token":"x\ufffd"}"#.into(),
        r#"{"access_token":"A","refresh_token":""}"#.into(),
        r#"{"access_token":"A","expires_in":true}"#.into(),
        r#"{"access_token":"A","token_type":1}"#.into(),
        r#"{"access_token":"A","refresh_token":["x"]}"#.into(),
        r#"{"access_token":"at-Access-Value-789","refresh_token":5}"#.into(),
        r#"{"access_token":"at-Access-Value-789"#.into(),
        r#"{"access_token" : "a\"b", "x":1}"#.into(),
        r#"{"error":"invalid_client","echo":"grant_type=client_credentials&client_id=id&client_secret=s3cr3t-Client-Secret"}"#.into(),
        r#"{"error":"invalid_grant","error_description":"\u0441\u0435\u043a\u0440\u0435\u0442 p@ss w\/\"rd"}"#.into(),
        r#"{"id":1,"client_id":"demo-client","name":"Mock account"}"#.into(),
        format!(r#"{{"error":"invalid_client","echo":"SEKRET {}"}}"#, "y".repeat(3000)),
        format!("{}SEKRET", "z".repeat(BODY_LIMIT - 3)),
        format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100)),
        "[".repeat(200),
    ];
    let statuses: [u16; 13] = [
        200, 201, 204, 302, 400, 401, 403, 404, 429, 500, 502, 503, 999,
    ];
    for (i, body) in bodies.iter().enumerate() {
        for (j, &status) in [statuses[i % statuses.len()], 200].iter().enumerate() {
            let raw = status | if (i + j) % 9 == 0 { 0x8000 } else { 0 };
            let mut head = raw.to_be_bytes().to_vec();
            head.push((i * 37) as u8);
            let secrets = [
                SECRETS[i % SECRETS.len()],
                SECRETS[(i + 5) % SECRETS.len()],
                "SEKRET",
            ];
            let mut strings = vec![body.as_str()];
            strings.extend_from_slice(&secrets);
            out.push(("classify", joined(&head, &strings)));
        }
    }
    // A body with invalid UTF-8 (a server's bytes) and one whose token is U+FFFD after decoding.
    out.push((
        "classify",
        [&[0, 200, 0][..], b"{\"access_token\":\"a\xC3\x28b\"}"].concat(),
    ));
    out.push((
        "classify",
        [&[0, 200, 0][..], b"{\"access_token\":\"\xE2\x82\"}"].concat(),
    ));

    // form: the unit tests' and contract tests' values, in pairs.
    let form_sets: [&[&str]; 10] = [
        &[
            "grant_type",
            "client_credentials",
            "client_id",
            "id",
            "client_secret",
            "s",
        ],
        &["id", "s&=", "c o+de", "https://x/cb?a=1"],
        &["a", "x&y=z+w v", "b", "%", "c", "a,b", "d", "x:y"],
        &[
            "scope",
            "messenger:read,items:info",
            "state",
            "my state&x",
            "redirect_uri",
            "https://app.example/cb?x=1",
        ],
        &[
            "v",
            "Привет мир",
            "w",
            "😀🎉",
            "t",
            "tab\tnl\nnul\0",
            "u",
            "~-._",
            "e",
            "",
        ],
        &["日本語&=+", "Ключ & = + пробел 😀 %20 a+b=c&d \t~*'()!"],
        &["X-Trace", "t1"],
        &["Content-Type", "text/plain"],
        &["bad name", "v\nInjected: 1"],
        &["authorization_code", "refresh_token", "c", "r"],
    ];
    for (i, set) in form_sets.iter().enumerate() {
        for flags in [i as u8, (i as u8) | 0x1c] {
            out.push(("form", joined(&[flags], set)));
        }
    }

    // url: every host the unit and contract tests accept or refuse.
    let hosts = [
        "https://api.avito.ru",
        "https://api.avito.ru/",
        "HTTPS://API.Avito.ru//",
        "https://proxy.example:8443/avito/",
        "http://127.0.0.1:8080",
        "http://127.1.2.3",
        "http://localhost:3000/",
        "http://[::1]:9000",
        "http://127.8.9.10:80",
        "https://proxy.example.com/avito/",
        "https://avito.ru/oauth",
        "http://127.0.0.1:9/oauth",
        "",
        "api.avito.ru",
        "ftp://api.avito.ru",
        "http://api.avito.ru",
        "http://10.0.0.1",
        "http://192.168.1.2:80",
        "http://127.0.0.1.evil.com",
        "http://localhost.evil.com",
        "http://localhost.",
        "https://",
        "https://user:pw@api.avito.ru",
        "https://api.avito.ru?x=1",
        "https://api.avito.ru/?a=1",
        "https://api.avito.ru#f",
        "https://api avito.ru",
        "https://api.avito.ru:99999",
        "https://api.avito.ru:",
        "https://api.avito.ru:8a",
        "//api.avito.ru",
        "https://[::1",
        "http://[::2]",
        "https://апи.рф",
        "http://128.0.0.1",
        "http://127.0.0.256",
        "https:\\\\api.avito.ru",
        "http://127.0.0.1\n",
        "https://a//b//",
        "https://[]:1",
        "https://[::1]x",
    ];
    for host in hosts {
        out.push(("url", joined(&[0], &[host])));
    }
    for (i, tail) in [
        ":8080/x/",
        "/base//",
        "",
        ":65535",
        ":65536",
        "@evil",
        ".evil.com",
    ]
    .iter()
    .enumerate()
    {
        out.push(("url", joined(&[(i % 7 + 1) as u8], &[tail])));
    }

    // retry_after: the unit tests' policies, attempts and Retry-After values.
    let policies = [
        (3u32, 250u64, 10_000u64),
        (4, 100, 250),
        (1, 0, 0),
        (3, 10, 1000),
        (5, 1, 10_000),
        (u32::MAX, u64::MAX, u64::MAX),
        (4, 1 << 60, (1 << 53) + 7),
    ];
    let headers = [
        " 3 ",
        "7",
        "1",
        "0",
        "5",
        "120",
        "999999999",
        "1000000000",
        "-1",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "",
        "2.5",
        "+1",
        "١",
    ];
    let randoms = [0.0f64, 0.5, 0.999, 1.0, f64::NAN, f64::INFINITY, -1.0];
    for (i, &(max_attempts, base, max)) in policies.iter().enumerate() {
        for attempt in 0..6u32 {
            let mut head = Vec::new();
            head.extend_from_slice(&max_attempts.to_be_bytes());
            head.extend_from_slice(&base.to_be_bytes());
            head.extend_from_slice(&max.to_be_bytes());
            head.extend_from_slice(&attempt.to_be_bytes());
            let flags = 8 | 4 | ((attempt as u8 + i as u8) & 3);
            head.push(flags);
            head.extend_from_slice(&(2000u64 * u64::from(attempt)).to_be_bytes());
            head.extend_from_slice(
                &randoms[(i + attempt as usize) % randoms.len()]
                    .to_bits()
                    .to_be_bytes(),
            );
            out.push((
                "retry_after",
                joined(
                    &head,
                    &[headers[(i * 6 + attempt as usize) % headers.len()]],
                ),
            ));
        }
    }

    // redact: each secret among the fillers a body puts around it.
    let fillers: [&[&str]; 6] = [
        &["raw ", " enc ", " json ", " esc "],
        &[
            "{\"error_description\":\"",
            "\",\"echo\":\"client_secret=",
            "&code=",
            "\"}",
        ],
        &[
            "<p>code=",
            "&state=1 barcode=no</p>",
            "%",
            "\\",
            "%2",
            "\\u00",
        ],
        &["", "", "", ""],
        &[
            "access_token=",
            "\"refresh_token\" : \"",
            "+",
            "%25",
            "\\\\",
        ],
        &["é€", "😀", "\u{0}", "[redacted]"],
    ];
    for (i, secret) in SECRETS.iter().enumerate() {
        let mut strings = vec![*secret];
        strings.extend_from_slice(fillers[i % fillers.len()]);
        out.push(("redact", joined(&[], &strings)));
    }
    out.push(("redact", joined(&[], &["41 b", "%"])));
    out.push(("redact", joined(&[], &["nope\"", "\\"])));

    // callback: the contract tests' callbacks.
    let callbacks: [(u8, &[&str]); 7] = [
        (0b0101_0011, &["S1", "S1", "C1", "", "", "at", "rt"]),
        (0b0011_0011, &["S", "S", "C 2", "", "", "a", "a"]),
        (0b0000_0011, &["S1", "EVIL", "C1"]),
        (0b0000_1101, &["S", "S", "", "access_denied", "no"]),
        (0b0000_0001, &["S", "S"]),
        (0b0000_0010, &["S", "", "C"]),
        (0b0111_0011, &["S", "x", "SECRETCODE", "", "", "b", "a"]),
    ];
    for (i, (flags, strings)) in callbacks.iter().enumerate() {
        let mut head = vec![*flags];
        let (exp, now, skew) = [
            (100_000.0f64, 30_000.0f64, 60_000.0f64),
            (100_000.0, 40_000.0, 60_000.0),
            (f64::NAN, 0.0, 0.0),
            (1e300, -1e300, f64::INFINITY),
        ][i % 4];
        for v in [exp, now, skew] {
            head.extend_from_slice(&v.to_bits().to_be_bytes());
        }
        head.extend_from_slice(&[401u16, 403, 500, 200][i % 4].to_be_bytes());
        out.push(("callback", joined(&head, strings)));
    }

    // transport: the unit tests' rejections.
    let rejections: [(u8, u64, &str, &str); 9] = [
        (0b0000_0111, 30_000, "The operation was aborted", ""),
        (0b0000_0110, 30_000, "The operation was aborted", ""),
        (0b0000_1100, 30_000, "fetch failed: connect ECONNREFUSED 127.0.0.1:1", "ECONNREFUSED"),
        (0b0000_0100, 30_000, "error sending request: Connection refused (os error 111)", ""),
        (0b0000_1100, 0, "x", "ConnectionRefused"),
        (0b0000_1100, 150, "fetch failed: other side closed", "UND_ERR_SOCKET"),
        (0b0000_1000, 150, "ECONNREFUSED", "ECONNREFUSED"),
        (0b0000_1100, u64::MAX, "", "bad code!"),
        (0b0000_0100, 5, "boom grant_type=refresh_token&client_id=demo-client&client_secret=s3cr3t-Client-Secret&refresh_token=rt-Refresh-Value-456", ""),
    ];
    for (flags, timeout, message, code) in rejections {
        let mut head = vec![flags];
        head.extend_from_slice(&timeout.to_be_bytes());
        out.push(("transport", joined(&head, &[message, code])));
    }
    out
}

/// A stable file name for a seed (FNV-1a, 64 bits).
pub fn seed_name(data: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("seed-{h:016x}")
}
