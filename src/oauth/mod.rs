//! The pure-Rust core: no JS types, unit-tested natively with `cargo test`. The wasm edge
//! (`src/edge`) drives it: this is the "endpoint request / endpoint response" half of the client —
//! what to send, what an answer or a failure means, whether to try again, what may be shown.

pub mod backoff;
pub mod callback;
pub mod classify;
pub mod form;
pub mod mutants;
pub mod operations;
pub mod overwrite;
pub mod persist;
pub mod redact;
pub mod refusal;
pub mod rejection;
pub mod renewal;
pub mod retry;
pub mod scope;
pub mod url;
pub mod wire;

/// The three grants of `POST /token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl Grant {
    pub fn wire(self) -> &'static str {
        match self {
            Grant::AuthorizationCode => "authorization_code",
            Grant::RefreshToken => "refresh_token",
            Grant::ClientCredentials => "client_credentials",
        }
    }
    /// The form field holding the grant's own secret, if it has one.
    pub fn secret_field(self) -> Option<&'static str> {
        match self {
            Grant::AuthorizationCode => Some("code"),
            Grant::RefreshToken => Some("refresh_token"),
            Grant::ClientCredentials => None,
        }
    }
    /// Whether a failed request may have consumed a single-use credential (code, refresh token).
    pub fn is_single_use(self) -> bool {
        self != Grant::ClientCredentials
    }
}

/// `ApiException.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    OAuth,
    Http,
    InvalidResponse,
    Network,
    Timeout,
    Aborted,
    InvalidArgument,
    /// The `TokenManager`'s store failed (rejected, threw, did not settle, or its compare-and-set
    /// never matched).
    Store,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OAuth => "oauth",
            Kind::Http => "http",
            Kind::InvalidResponse => "invalid_response",
            Kind::Network => "network",
            Kind::Timeout => "timeout",
            Kind::Aborted => "aborted",
            Kind::InvalidArgument => "invalid_argument",
            Kind::Store => "store",
        }
    }
}

/// A failed token request, already free of secret values.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub kind: Kind,
    /// What went wrong, in words (never a secret value).
    pub detail: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub retry_after_ms: Option<u64>,
    pub body: Option<String>,
    /// Whether `body` is the whole response text or the head of a larger one (cut before
    /// redaction could see the rest: see [`redact::TextEnd`]).
    pub body_end: redact::TextEnd,
    /// Network failures and aborts: whether the request can have reached the server.
    pub delivery: Delivery,
    /// Whether repeating the same request is safe and may succeed: the retry policy's verdict
    /// ([`retry::retryable`]), set once the call has given up.
    pub retryable: bool,
}

/// Whether a failed request can have reached the server (what a single-use credential's fate
/// depends on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// It may have arrived (the default: a response, a reset after sending, a timeout).
    MayHaveArrived,
    /// Nothing was sent: the connection was never made, or the caller aborted before the
    /// request or during a retry delay.
    NotSent,
}

impl Failure {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Failure {
        Failure {
            kind,
            detail: detail.into(),
            status: None,
            error: None,
            error_description: None,
            retry_after_ms: None,
            body: None,
            body_end: redact::TextEnd::Whole,
            delivery: Delivery::MayHaveArrived,
            retryable: false,
        }
    }
    /// Nothing was sent (see [`Delivery::NotSent`]).
    pub fn not_sent(&self) -> bool {
        self.delivery == Delivery::NotSent
    }
    pub fn invalid_argument(detail: impl Into<String>) -> Failure {
        Failure::new(Kind::InvalidArgument, detail)
    }

    /// The `message` a user reads: what happened, with the (already redacted) fields that say
    /// why, at most [`redact::MESSAGE_LIMIT`] bytes. Call it on a [`Failure::redacted`] failure.
    pub fn message(&self) -> String {
        redact::truncate(&self.unbounded_message(), redact::MESSAGE_LIMIT)
    }

    fn unbounded_message(&self) -> String {
        let status = self
            .status
            .map(|s| format!(" (HTTP {s})"))
            .unwrap_or_default();
        let description = self
            .error_description
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        match self.kind {
            // A refusal read from an authorization callback has its own words.
            Kind::OAuth if self.status.is_none() => self.detail.clone(),
            Kind::OAuth => {
                let error = self
                    .error
                    .as_deref()
                    .map_or_else(|| "error".to_owned(), |e| format!("\"{e}\""));
                format!("the token endpoint refused the request: {error}{description}{status}")
            }
            Kind::Http => {
                let error = self
                    .error
                    .as_deref()
                    .map(|e| format!(" \"{e}\""))
                    .unwrap_or_default();
                format!(
                    "the token endpoint answered HTTP {}{error}{description}",
                    self.status.unwrap_or(0)
                )
            }
            Kind::InvalidResponse => format!(
                "invalid token response: {}{status}{description}",
                self.detail
            ),
            _ => self.detail.clone(),
        }
    }

    /// Whether the user must sign in again: the code or refresh token is dead (an OAuth
    /// `invalid_grant`, or an `invalid_argument` worded so, as a TokenManager with no usable
    /// refresh token reports it).
    pub fn sign_in_required(&self) -> bool {
        matches!(self.kind, Kind::OAuth | Kind::InvalidArgument)
            && self.error.as_deref() == Some("invalid_grant")
    }
}

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

/// Checks a required string argument: present, a string, non-empty, valid Unicode.
/// `value` is `None` when the JS value was not a string.
pub fn require_arg(name: &str, value: Option<String>) -> Result<String, Failure> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Failure::invalid_argument(concat_str(&[
            name,
            " must be a non-empty string",
        ]))),
    }
}

/// `grantType` as passed to a seed-layer method: absent means the method's own grant.
pub fn check_grant_type(expected: Grant, given: Option<&str>) -> Result<(), Failure> {
    match given {
        None => Ok(()),
        Some(g) if g == expected.wire() => Ok(()),
        Some(_) => Err(Failure::invalid_argument(concat_str(&[
            "grantType must be \"",
            expected.wire(),
            "\" for this method",
        ]))),
    }
}

/// A caller-supplied request header: `Ok(Some(lowercase name))` to send it, `Ok(None)` when it is
/// one of ours (`Content-Type`, `Accept`, `Content-Length` are never overridden), `Err` when the
/// name is not an HTTP token or the value holds a line break or NUL.
pub fn extra_header(name: &str, value: &str) -> Result<Option<String>, Failure> {
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !name_ok || !header_value_ok(value) {
        return Err(Failure::invalid_argument(
            "headers must map valid header names to string values without line breaks",
        ));
    }
    let lower = name.to_ascii_lowercase();
    Ok(match lower.as_str() {
        "content-type" | "accept" | "content-length" => None,
        _ => Some(lower),
    })
}

/// A header value: no CR, LF or NUL (they would split or truncate the header), and nothing past
/// U+00FF (a `Headers` object refuses what is not a ByteString).
pub fn header_value_ok(value: &str) -> bool {
    !value
        .chars()
        .any(|c| c == '\r' || c == '\n' || c == '\0' || c as u32 > 0xFF)
}

/// The form body of a token request.
pub fn token_body(
    grant: Grant,
    client_id: &str,
    client_secret: &str,
    grant_secret: Option<&str>,
    redirect_uri: Option<&str>,
) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(5);
    pairs.push(("grant_type", grant.wire()));
    pairs.push(("client_id", client_id));
    pairs.push(("client_secret", client_secret));
    if let (Some(field), Some(value)) = (grant.secret_field(), grant_secret) {
        pairs.push((field, value));
    }
    if let Some(uri) = redirect_uri {
        pairs.push(("redirect_uri", uri));
    }
    form::encode_form(&pairs)
}

/// String concatenation without the `format!` machinery (keeps the wasm small).
pub fn concat_str(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_hold_exactly_the_grant_fields() {
        assert_eq!(
            token_body(Grant::AuthorizationCode, "id", "s&=", Some("c o+de"), None),
            "grant_type=authorization_code&client_id=id&client_secret=s%26%3D&code=c%20o%2Bde"
        );
        assert_eq!(
            token_body(Grant::RefreshToken, "id", "s", Some("r"), None),
            "grant_type=refresh_token&client_id=id&client_secret=s&refresh_token=r"
        );
        assert_eq!(
            token_body(Grant::ClientCredentials, "id", "s", Some("ignored"), None),
            "grant_type=client_credentials&client_id=id&client_secret=s"
        );
        assert_eq!(
            token_body(Grant::AuthorizationCode, "id", "s", Some("c"), Some("https://x/cb?a=1")),
            "grant_type=authorization_code&client_id=id&client_secret=s&code=c&redirect_uri=https%3A%2F%2Fx%2Fcb%3Fa%3D1"
        );
    }

    #[test]
    fn argument_rules() {
        assert!(require_arg("clientId", Some("x".into())).is_ok());
        let e = require_arg("clientSecret", Some(String::new())).unwrap_err();
        assert_eq!(e.kind, Kind::InvalidArgument);
        assert_eq!(e.detail, "clientSecret must be a non-empty string");
        assert!(require_arg("code", None).is_err());
        assert!(check_grant_type(Grant::RefreshToken, None).is_ok());
        assert!(check_grant_type(Grant::RefreshToken, Some("refresh_token")).is_ok());
        assert!(check_grant_type(Grant::RefreshToken, Some("authorization_code")).is_err());
        assert!(check_grant_type(Grant::ClientCredentials, Some("")).is_err());
    }

    #[test]
    fn extra_headers() {
        assert_eq!(
            extra_header("X-Trace", "t1").unwrap().as_deref(),
            Some("x-trace")
        );
        assert_eq!(extra_header("Content-Type", "text/plain").unwrap(), None);
        assert_eq!(extra_header("ACCEPT", "text/html").unwrap(), None);
        for (n, v) in [
            ("", "v"),
            ("bad name", "v"),
            ("x:y", "v"),
            ("x-a", "v\nInjected: 1"),
            ("x-a", "a\rb"),
            ("x-a", "nul\0"),
        ] {
            assert!(extra_header(n, v).is_err(), "{n:?} {v:?}");
        }
        assert!(header_value_ok("my-app/1.0 (+https://x) café"));
        assert!(!header_value_ok("приложение"));
    }

    #[test]
    fn messages_name_what_happened() {
        let mut f = Failure::new(Kind::OAuth, "x");
        f.status = Some(400);
        f.error = Some("invalid_grant".into());
        f.error_description = Some("expired".into());
        assert_eq!(
            f.message(),
            "the token endpoint refused the request: \"invalid_grant\": expired (HTTP 400)"
        );
        assert!(f.sign_in_required());
        f.kind = Kind::Http;
        f.status = Some(503);
        assert_eq!(
            f.message(),
            "the token endpoint answered HTTP 503 \"invalid_grant\": expired"
        );
        assert!(!f.sign_in_required());
        let mut r = Failure::new(Kind::InvalidResponse, "response body is not JSON");
        r.status = Some(200);
        assert_eq!(
            r.message(),
            "invalid token response: response body is not JSON (HTTP 200)"
        );
        assert_eq!(
            Failure::new(Kind::Timeout, "no response within 5 ms").message(),
            "no response within 5 ms"
        );
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
