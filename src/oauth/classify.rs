//! Turning an HTTP status and body into a token or a typed failure.
//!
//! - `oauth`: the body carries an RFC 6749 `error` string and the status is not 429/5xx
//!   (HTTP 200 with an error body included);
//! - `http`: any other non-2xx, including 429/5xx with an `error` and Avito's
//!   `{"error":{"code","message"}}` bodies;
//! - `invalid_response`: a 2xx that is not a JSON object with a non-empty string
//!   `access_token` and well-typed optional fields, or a body over 1 MiB.

use super::failure::{Failure, Response};
use super::redact::TextEnd;
use super::wire::{BodyShape, ErrorMember, Scalar, WireBody};

pub const MAX_BODY: usize = 1 << 20;

/// A successful token response. `Debug` never prints the tokens.
#[derive(Clone, PartialEq)]
pub struct Token {
    pub access_token: String,
    pub expires_in: Option<u64>,
    pub token_type: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

impl core::fmt::Debug for Token {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("scope", &self.scope)
            .finish()
    }
}

pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Classifies a response: its status, its text (for the error body) and what parsing that text
/// gave. `too_large`: the body was over 1 MiB and `text` holds only its head (or nothing); a text
/// over 1 MiB counts as too large by itself. A failure is returned raw: call
/// [`Failure::redacted`] with the secret values that were sent before it leaves the crate (the
/// success path never pays for it).
pub fn classify(
    status: u16,
    text: &str,
    shape: &BodyShape,
    too_large: bool,
) -> Result<Token, Failure> {
    let too_big = too_large || text.len() > MAX_BODY;
    let object = match shape {
        BodyShape::Object(body) if !too_big => Some(body),
        _ => None,
    };
    let (oauth_error, description) = object.map_or((None, None), error_fields);
    // Kept whole (it is at most 1 MiB, or the head of a larger one) until redaction, which
    // knows how long the secrets are: see `Failure::redacted`.
    let response = || Response {
        status,
        body: text.to_owned(),
        body_end: if too_large {
            TextEnd::Cut
        } else {
            TextEnd::Whole
        },
        retry_after_ms: None,
    };
    let invalid = |detail: &str, description: Option<&str>| Failure::InvalidResponse {
        detail: detail.to_owned(),
        error_description: description.map(str::to_owned),
        response: Some(response()),
    };
    let refused = |error: &str| Failure::OAuth {
        error: error.to_owned(),
        error_description: description.map(str::to_owned),
        response: Some(response()),
    };

    if is_success(status) {
        if too_big {
            return Err(invalid("response body is larger than 1 MiB", None));
        }
        if let Some(error) = oauth_error {
            return Err(refused(error));
        }
        return match (shape, object) {
            (_, Some(body)) => token(body).map_err(|why| invalid(why, description)),
            (BodyShape::NotJson, _) if text.trim().is_empty() => {
                Err(invalid("response body is empty", None))
            }
            (BodyShape::NotJson, _) => Err(invalid("response body is not JSON", None)),
            _ => Err(invalid("response body is not a JSON object", None)),
        };
    }
    match oauth_error {
        Some(error) if status != 429 && status < 500 => Err(refused(error)),
        _ => Err(Failure::Http {
            response: response(),
            error: oauth_error.map(str::to_owned),
            error_description: description.map(str::to_owned),
            retryable: false,
        }),
    }
}

/// `(RFC 6749 error code, description)` from either error shape.
fn error_fields(v: &WireBody) -> (Option<&str>, Option<&str>) {
    let description = v.error_description.as_ref().and_then(Scalar::as_str);
    match &v.error {
        Some(ErrorMember::Code(code)) if !code.is_empty() => (Some(code), description),
        Some(ErrorMember::Avito { message }) => (None, message.as_deref().or(description)),
        _ => (
            None,
            description.or_else(|| v.message.as_ref().and_then(Scalar::as_str)),
        ),
    }
}

/// RFC 6749 `VSCHAR` (%x20-7E), non-empty: what can go into an `Authorization` header as it is.
/// Control characters, non-ASCII and U+FFFD (from invalid UTF-8 in the body) are refused.
pub fn is_token_string(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fn opt_string(v: &Option<Scalar>, refusal: &'static str) -> Result<Option<String>, &'static str> {
    match v {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(refusal),
    }
}

/// Seconds in a JSON number: non-negative and finite, a fraction floored (`3600.5` → 3600).
pub fn whole_seconds(n: f64) -> Option<u64> {
    (n.is_finite() && (0.0..1e15).contains(&n)).then(|| n.floor() as u64)
}

/// Seconds in a string: digits with an optional fraction (`"86400"`, `"3600.5"`), floored;
/// exponents and signs are refused.
pub fn whole_number(text: &str) -> Option<u64> {
    let int = match text.split_once('.') {
        Some((i, frac)) if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) => i,
        Some(_) => return None,
        None => text,
    };
    if int.is_empty() || int.len() > 15 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    int.parse().ok()
}

fn token(v: &WireBody) -> Result<Token, &'static str> {
    let access_token = match &v.access_token {
        Some(Scalar::Str(s)) if is_token_string(s) => s.clone(),
        Some(Scalar::Str(s)) if !s.is_empty() => {
            return Err("access_token holds characters that cannot be sent in a header")
        }
        _ => return Err("access_token is missing or not a non-empty string"),
    };
    const BAD_EXPIRY: &str = "expires_in is not a non-negative number of seconds";
    let expires_in = match &v.expires_in {
        None | Some(Scalar::Null) => None,
        Some(Scalar::Num(n)) => Some(whole_seconds(*n).ok_or(BAD_EXPIRY)?),
        Some(Scalar::Str(s)) => Some(whole_number(s.trim()).ok_or(BAD_EXPIRY)?),
        Some(_) => return Err("expires_in is not a number"),
    };
    let refresh_token = opt_string(&v.refresh_token, "refresh_token is not a string")?;
    if refresh_token
        .as_deref()
        .is_some_and(|r| !is_token_string(r))
    {
        return Err("refresh_token is empty or holds characters that cannot be sent");
    }
    Ok(Token {
        access_token,
        expires_in,
        token_type: opt_string(&v.token_type, "token_type is not a string")?,
        refresh_token,
        scope: opt_string(&v.scope, "scope is not a string")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::failure::Kind;
    use crate::oauth::redact::BODY_LIMIT;
    use crate::oauth::wire::parse_native;

    fn ok(status: u16, body: &str) -> Token {
        classify(status, body, &parse_native(body), false).unwrap()
    }

    fn err(status: u16, body: &str) -> Failure {
        classify(status, body, &parse_native(body), false)
            .unwrap_err()
            .redacted(&["SEKRET"])
    }

    #[test]
    fn success_shapes() {
        let t = ok(
            200,
            r#"{"access_token":"AT","expires_in":86400,"token_type":"Bearer"}"#,
        );
        assert_eq!(t.access_token, "AT");
        assert_eq!(t.expires_in, Some(86400));
        assert_eq!(t.token_type.as_deref(), Some("Bearer"));
        assert_eq!(t.refresh_token, None);
        let t = ok(
            200,
            r#"{"access_token":"AT","expires_in":"86400","token_type":"Bearer","refresh_token":"RT","scope":"messenger:read,items:info","extra":{"x":[1]}}"#,
        );
        assert_eq!(t.expires_in, Some(86400));
        assert_eq!(t.refresh_token.as_deref(), Some("RT"));
        assert_eq!(t.scope.as_deref(), Some("messenger:read,items:info"));
        let t = ok(201, r#"{"access_token":"AT","scope":null}"#);
        assert_eq!((t.expires_in, t.scope), (None, None));
    }

    #[test]
    fn oauth_errors_even_with_200() {
        for status in [400, 401, 403, 200] {
            let f = err(
                status,
                r#"{"error":"invalid_grant","error_description":"code SEKRET expired"}"#,
            );
            assert_eq!(f.kind(), Kind::OAuth, "{status}");
            assert_eq!(f.status(), Some(status));
            assert_eq!(f.error(), Some("invalid_grant"));
            assert_eq!(f.error_description(), Some("code [redacted] expired"));
            assert!(!f.body().unwrap().contains("SEKRET"));
        }
    }

    #[test]
    fn http_errors() {
        for (status, body) in [
            (429, r#"{"error":"slow_down"}"#),
            (500, r#"{"error":"server_error"}"#),
            (503, "<html>Service Unavailable</html>"),
            (403, r#"{"error":{"code":403,"message":"Forbidden"}}"#),
            (404, ""),
            (302, ""),
        ] {
            let f = err(status, body);
            assert_eq!(f.kind(), Kind::Http, "{status} {body}");
            assert_eq!(f.status(), Some(status));
        }
        let f = err(403, r#"{"error":{"code":403,"message":"Forbidden"}}"#);
        assert_eq!(f.error(), None);
        assert_eq!(f.error_description(), Some("Forbidden"));
        assert_eq!(
            err(429, r#"{"error":"slow_down"}"#).error(),
            Some("slow_down")
        );
    }

    #[test]
    fn invalid_responses() {
        for body in [
            "",
            "   ",
            "{",
            "[]",
            "\"x\"",
            "null",
            "<html><body>Bad gateway</body></html>",
            r#"{"access_token":""}"#,
            r#"{"access_token":5}"#,
            r#"{"expires_in":86400}"#,
            r#"{"access_token":"SEKRET2","expires_in":"soon"}"#,
            r#"{"access_token":"A","expires_in":-1}"#,
            r#"{"access_token":"A\u0001"}"#,
            r#"{"access_token":"é"}"#,
            r#"{"access_token":"A","refresh_token":"x\ufffd"}"#,
            r#"{"access_token":"A","refresh_token":""}"#,
            r#"{"access_token":"A","expires_in":true}"#,
            r#"{"access_token":"A","token_type":1}"#,
            r#"{"access_token":"A","refresh_token":["x"]}"#,
            r#"{"error":{"code":403,"message":"Forbidden"}}"#,
        ] {
            let f = err(200, body);
            assert_eq!(f.kind(), Kind::InvalidResponse, "{body}");
            assert!(!f.body().unwrap_or("").contains("SEKRET2"), "{body}");
        }
        assert_eq!(
            err(200, r#"{"error":{"code":403,"message":"Forbidden"}}"#).error_description(),
            Some("Forbidden")
        );
    }

    #[test]
    fn over_one_mib() {
        let big = format!(r#"{{"access_token":"A","pad":"{}"}}"#, "x".repeat(MAX_BODY));
        let f = err(200, &big);
        assert_eq!(f.kind(), Kind::InvalidResponse);
        assert!(f.body().unwrap().len() < BODY_LIMIT + 32);
        assert_eq!(err(500, &big).kind(), Kind::Http);
        // Declared too large: only the head (or nothing) was read.
        let head = classify(
            200,
            r#"{"access_token":"A","pad":"xx"#,
            &BodyShape::NotJson,
            true,
        )
        .unwrap_err();
        assert_eq!(
            (head.kind(), head.detail().unwrap_or_default()),
            (Kind::InvalidResponse, "response body is larger than 1 MiB")
        );
        assert_eq!(
            classify(200, "", &BodyShape::NotJson, true)
                .unwrap_err()
                .kind(),
            Kind::InvalidResponse
        );
        let e = classify(502, "<html>gateway", &BodyShape::NotJson, true).unwrap_err();
        assert_eq!((e.kind(), e.status()), (Kind::Http, Some(502)));
    }

    #[test]
    fn a_long_secret_near_the_head_leaves_no_prefix() {
        let secret = "S".repeat(10_000);
        let body = format!(r#"{{"error":"invalid_client","echo":"{secret}"}}"#);
        let f = classify(401, &body, &parse_native(&body), false)
            .unwrap_err()
            .redacted(&[&secret]);
        let kept = f.body().unwrap();
        assert!(!kept.contains("SSSS"), "{}", &kept[..80]);
        assert!(kept.contains("[redacted]"));
    }

    #[test]
    fn our_own_words_are_not_redacted() {
        let f = classify(200, "<html>", &parse_native("<html>"), false)
            .unwrap_err()
            .redacted(&["b", "o"]);
        assert_eq!(
            f.message(),
            "invalid token response: response body is not JSON (HTTP 200)"
        );
    }

    #[test]
    fn secrets_never_survive_in_body() {
        let body = format!(
            r#"{{"error":"invalid_client","echo":"SEKRET {}"}}"#,
            "y".repeat(5000)
        );
        let f = err(401, &body);
        assert!(!f.body().unwrap().contains("SEKRET"));
        // A secret straddling the truncation point is removed before truncating.
        let f = err(200, r#"{"access_token":"NEVER_SENT_TOKEN"#);
        assert!(!f.body().unwrap().contains("NEVER_SENT"));
        let pad = "z".repeat(BODY_LIMIT - 3);
        let f = err(400, &format!("{pad}SEKRET"));
        assert!(!f.body().unwrap().contains("SEK"));
    }

    #[test]
    fn token_debug_is_redacted() {
        let t = Token {
            access_token: "SECRET_AT".into(),
            expires_in: Some(1),
            token_type: None,
            refresh_token: Some("SECRET_RT".into()),
            scope: None,
        };
        let d = format!("{t:?}");
        assert!(!d.contains("SECRET"), "{d}");
    }
}
