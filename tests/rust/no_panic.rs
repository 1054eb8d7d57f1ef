//! Randomised inputs through every entry point of the core: none may panic (in the wasm build a
//! panic aborts the instance). Deterministic (fixed seeds), a few hundred thousand cases.

use avito_auth::oauth::failure::Kind;
use avito_auth::oauth::request::{self, Grant};
use avito_auth::oauth::wire::parse_native;
use avito_auth::oauth::{callback, classify, form, redact, rejection, renewal, retry, url};

#[path = "prng.rs"]
mod prng;
use prng::Rng;

const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\\",
    "\\u",
    "\\ud83d",
    "\\ude00",
    "\\n",
    "0",
    "-",
    "1e5",
    ".",
    "86400",
    "true",
    "null",
    "\"access_token\"",
    "\"expires_in\"",
    "\"error\"",
    "\"error_description\"",
    "\"message\"",
    "\"refresh_token\"",
    "\"code\"",
    "access_token=",
    "code=",
    "&",
    "=",
    "é",
    "😀",
    "\u{0}",
    "\u{7f}",
    " ",
    "\t",
    "<html>",
    "https://",
    "http://",
    "[::1]",
    "127.0.0.1",
    "localhost",
    "@",
    "?",
    "#",
    "/",
    "%",
    "%2",
    "ÿ",
    "a",
    "Z",
    "~",
];

fn random_text(rng: &mut Rng) -> String {
    let n = rng.below(40);
    let mut s = String::new();
    for _ in 0..n {
        if rng.below(5) == 0 {
            s.push(char::from_u32(rng.below(0x11000) as u32).unwrap_or('x'));
        } else {
            s.push_str(PIECES[rng.below(PIECES.len())]);
        }
    }
    s
}

#[test]
fn no_entry_point_panics_on_random_input() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..60_000 {
        let text = random_text(&mut rng);
        let other = random_text(&mut rng);
        let status = [
            0u16, 100, 200, 201, 204, 302, 400, 401, 403, 429, 500, 503, 999,
        ][i % 13];
        let shape = parse_native(&text);
        let _ = classify::whole_number(&text);
        let outcome = classify::classify(status, &text, &shape, i % 11 == 0);
        if let Err(f) = outcome {
            let f = f.redacted(&[other.as_str(), "", &text]);
            let _ = f.message();
            for g in [
                Grant::AuthorizationCode,
                Grant::RefreshToken,
                Grant::ClientCredentials,
            ] {
                let ok = retry::retryable(g, &f);
                let _ = retry::next_delay(
                    &retry::RetryPolicy::default(),
                    (i % 5) as u32,
                    ok,
                    f.retry_after_ms(),
                    (i as f64) / 7.0,
                );
            }
        }
        let _ = redact::redact(&text, &[other.as_str(), ""], usize::MAX);
        let _ = redact::redact(&text, &[other.as_str()], i % 70);
        let _ = redact::truncate(&text, i % 50);
        let _ = redact::find(&text, &other, i % 60);
        let _ = url::normalize_base(&text);
        let _ = url::normalize_base(&format!("https://{text}"));
        let _ = url::normalize_base(&format!("http://{text}"));
        let _ = form::encode_form(&[(&text, &other)]);
        let _ = form::encode_query(&[(&text, &other)]);
        let _ = retry::retry_after_seconds(&text);
        let _ = request::token_body(
            Grant::AuthorizationCode,
            &text,
            &other,
            Some(&text),
            Some(&other),
        );
        let _ = request::check_grant_type(Grant::RefreshToken, Some(&text));
        let _ = request::extra_header(&text, &other);
        let _ = rejection::classify_rejection(&rejection::Rejection {
            caller_aborted: i % 7 == 0,
            timed_out: i % 5 == 0,
            timeout_ms: i as u64,
            message: &text,
            code: Some(&other),
            before_response: i % 2 == 0,
        });
        let params = callback::CallbackParams {
            state: Some(&text),
            code: Some(&other),
            error: (i % 3 == 0).then_some(&*other),
            error_description: Some(&text),
        };
        let _ = callback::read_callback(&params, &other).map_err(|f| f.message());
        let held = renewal::StoredSet {
            access_token: Some(&text),
            expires_at: Some(i as f64),
            ..Default::default()
        };
        let _ = renewal::is_usable(&held, Some(&other), (i * 3) as f64, (i % 7) as f64);
    }
}

#[test]
fn huge_and_deep_inputs_are_refused_not_crashes() {
    let deep_obj = "{\"a\":".repeat(50_000);
    assert!(matches!(
        parse_native(&deep_obj),
        avito_auth::oauth::wire::BodyShape::NotJson
    ));
    let big = format!("{{\"access_token\":\"{}\"}}", "x".repeat(3 << 20));
    let f = classify::classify(200, &big, &parse_native(&big), false)
        .unwrap_err()
        .redacted(&["x"]);
    assert_eq!(f.kind(), Kind::InvalidResponse);
    assert!(f.body().unwrap().len() < 4096);
}
