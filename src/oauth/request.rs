//! What a token request sends: the grant, its form body, and the rules its arguments and extra
//! headers must follow (checked before anything is sent).

use super::failure::Failure;
use super::form;
use super::text::concat_str;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::failure::Kind;

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
        assert_eq!(e.kind(), Kind::InvalidArgument);
        assert_eq!(e.detail(), Some("clientSecret must be a non-empty string"));
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
}
