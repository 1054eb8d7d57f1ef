//! Turning an HTTP status and body into a token or a typed failure.
//!
//! - `oauth`: the body carries an RFC 6749 `error` string and the status is not 429/5xx
//!   (HTTP 200 with an error body included);
//! - `http`: any other non-2xx, including 429/5xx with an `error` and Avito's
//!   `{"error":{"code","message"}}` bodies;
//! - `invalid_response`: a 2xx that is not a JSON object with a non-empty string
//!   `access_token` and well-typed optional fields, or a body over 1 MiB.

#[allow(unused_imports)]
use alloc::{borrow::ToOwned, string::{String, ToString}, vec, vec::Vec};

use super::json::{self, Value};
use super::redact::{redact, redact_fields, truncate, BODY_LIMIT};
use super::{Failure, Kind, Token};

pub const MAX_BODY: usize = 1 << 20;

/// Field names whose string values are secrets wherever they appear in a body.
const SECRET_FIELDS: [&str; 5] = ["access_token", "refresh_token", "id_token", "client_secret", "code"];

pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Classifies a response. `too_large`: the body was over 1 MiB and `body` holds only its head
/// (or nothing, when its declared length already said so); a body over 1 MiB counts as too large
/// by itself. A failure is returned raw: call [`Failure::redacted`] with the secret values that
/// were sent before it leaves the crate (the success path never pays for it).
pub fn classify(status: u16, body: &str, too_large: bool) -> Result<Token, Failure> {
    let too_big = too_large || body.len() > MAX_BODY;
    let parsed = if too_big { None } else { json::parse(body) };
    let (oauth_error, description) = match &parsed {
        Some(v) => error_fields(v),
        None => (None, None),
    };
    let fail = |kind: Kind, detail: &str, error: Option<&str>, description: Option<&str>| Failure {
        kind,
        detail: detail.to_owned(),
        status: Some(status),
        error: error.map(str::to_owned),
        error_description: description.map(str::to_owned),
        retry_after_ms: None,
        // Kept longer than BODY_LIMIT until redaction, so a secret cut in half by the final
        // truncation cannot survive.
        body: Some(truncate(body, BODY_LIMIT * 4)),
        not_sent: false,
    };

    if is_success(status) {
        if too_big {
            return Err(fail(Kind::InvalidResponse, "response body is larger than 1 MiB", None, None));
        }
        if oauth_error.is_some() {
            return Err(fail(Kind::OAuth, "the token endpoint returned an error", oauth_error, description));
        }
        return match &parsed {
            None if body.trim().is_empty() => Err(fail(Kind::InvalidResponse, "response body is empty", None, None)),
            None => Err(fail(Kind::InvalidResponse, "response body is not JSON", None, None)),
            Some(v @ Value::Obj(_)) => token(v).map_err(|why| fail(Kind::InvalidResponse, &why, None, description)),
            Some(_) => Err(fail(Kind::InvalidResponse, "response body is not a JSON object", None, None)),
        };
    }
    let kind = if status == 429 || status >= 500 || oauth_error.is_none() { Kind::Http } else { Kind::OAuth };
    let detail = if kind == Kind::OAuth { "the token endpoint returned an error" } else { "the token endpoint answered with an HTTP error" };
    Err(fail(kind, detail, oauth_error, description))
}

impl Failure {
    /// Removes every secret from the fields that came from the server: the values sent
    /// (`secrets`), and the value of any secret-named field in the text (`access_token`,
    /// `refresh_token`, `id_token`, `client_secret`, `code`), JSON or not. Then bounds `body`.
    pub fn redacted(mut self, secrets: &[&str]) -> Failure {
        let clean = |s: &str| redact_fields(&redact(s, secrets), &SECRET_FIELDS);
        self.error = self.error.as_deref().map(clean);
        self.error_description = self.error_description.as_deref().map(clean);
        self.body = self.body.as_deref().map(|b| truncate(&clean(b), BODY_LIMIT));
        self.detail = clean(&self.detail);
        self
    }
}

/// `(RFC 6749 error code, description)` from either error shape.
fn error_fields(v: &Value) -> (Option<&str>, Option<&str>) {
    match v.get("error") {
        Some(Value::Str(code)) if !code.is_empty() => (Some(code), v.get("error_description").and_then(Value::as_str)),
        Some(obj @ Value::Obj(_)) => (None, obj.get("message").and_then(Value::as_str).or_else(|| v.get("error_description").and_then(Value::as_str))),
        _ => (None, v.get("error_description").or_else(|| v.get("message")).and_then(Value::as_str)),
    }
}

fn opt_string(v: &Value, key: &str) -> Result<Option<String>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(super::concat_str(&[key, " is not a string"])),
    }
}

fn token(v: &Value) -> Result<Token, String> {
    let access_token = match v.get("access_token") {
        Some(Value::Str(s)) if !s.is_empty() => s.clone(),
        _ => return Err("access_token is missing or not a non-empty string".into()),
    };
    let expires_in = match v.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Num(n)) => Some(json::whole_number(n).ok_or("expires_in is not a non-negative number of seconds")?),
        Some(Value::Str(s)) => Some(json::whole_number(s.trim()).ok_or("expires_in is not a non-negative number of seconds")?),
        Some(_) => return Err("expires_in is not a number".into()),
    };
    Ok(Token {
        access_token,
        expires_in,
        token_type: opt_string(v, "token_type")?,
        refresh_token: opt_string(v, "refresh_token")?,
        scope: opt_string(v, "scope")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> Failure {
        classify(status, body, false).unwrap_err().redacted(&["SEKRET"])
    }

    #[test]
    fn success_shapes() {
        let t = classify(200, r#"{"access_token":"AT","expires_in":86400,"token_type":"Bearer"}"#, false).unwrap();
        assert_eq!(t.access_token, "AT");
        assert_eq!(t.expires_in, Some(86400));
        assert_eq!(t.token_type.as_deref(), Some("Bearer"));
        assert_eq!(t.refresh_token, None);
        let t = classify(200, r#"{"access_token":"AT","expires_in":"86400","token_type":"Bearer","refresh_token":"RT","scope":"messenger:read,items:info","extra":{"x":[1]}}"#, false).unwrap();
        assert_eq!(t.expires_in, Some(86400));
        assert_eq!(t.refresh_token.as_deref(), Some("RT"));
        assert_eq!(t.scope.as_deref(), Some("messenger:read,items:info"));
        let t = classify(201, r#"{"access_token":"AT","scope":null}"#, false).unwrap();
        assert_eq!((t.expires_in, t.scope), (None, None));
    }

    #[test]
    fn oauth_errors_even_with_200() {
        for status in [400, 401, 403, 200] {
            let f = err(status, r#"{"error":"invalid_grant","error_description":"code SEKRET expired"}"#);
            assert_eq!(f.kind, Kind::OAuth, "{status}");
            assert_eq!(f.status, Some(status));
            assert_eq!(f.error.as_deref(), Some("invalid_grant"));
            assert_eq!(f.error_description.as_deref(), Some("code [redacted] expired"));
            assert!(!f.body.unwrap().contains("SEKRET"));
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
            assert_eq!(f.kind, Kind::Http, "{status} {body}");
            assert_eq!(f.status, Some(status));
        }
        let f = err(403, r#"{"error":{"code":403,"message":"Forbidden"}}"#);
        assert_eq!(f.error, None);
        assert_eq!(f.error_description.as_deref(), Some("Forbidden"));
        assert_eq!(err(429, r#"{"error":"slow_down"}"#).error.as_deref(), Some("slow_down"));
    }

    #[test]
    fn invalid_responses() {
        for body in [
            "", "   ", "{", "[]", "\"x\"", "null", "<html><body>Bad gateway</body></html>", r#"{"access_token":""}"#,
            r#"{"access_token":5}"#, r#"{"expires_in":86400}"#, r#"{"access_token":"SEKRET2","expires_in":"soon"}"#,
            r#"{"access_token":"A","expires_in":-1}"#, r#"{"access_token":"A","expires_in":true}"#, r#"{"access_token":"A","token_type":1}"#,
            r#"{"access_token":"A","refresh_token":["x"]}"#, r#"{"error":{"code":403,"message":"Forbidden"}}"#,
        ] {
            let f = err(200, body);
            assert_eq!(f.kind, Kind::InvalidResponse, "{body}");
            assert!(!f.body.as_deref().unwrap_or("").contains("SEKRET2"), "{body}");
        }
        assert_eq!(err(200, r#"{"error":{"code":403,"message":"Forbidden"}}"#).error_description.as_deref(), Some("Forbidden"));
    }

    #[test]
    fn over_one_mib() {
        let big = format!(r#"{{"access_token":"A","pad":"{}"}}"#, "x".repeat(MAX_BODY));
        let f = err(200, &big);
        assert_eq!(f.kind, Kind::InvalidResponse);
        assert!(f.body.unwrap().len() < BODY_LIMIT + 32);
        assert_eq!(err(500, &big).kind, Kind::Http);
        // Declared too large: only the head (or nothing) was read.
        let head = classify(200, r#"{"access_token":"A","pad":"xx"#, true).unwrap_err();
        assert_eq!((head.kind, head.detail.as_str()), (Kind::InvalidResponse, "response body is larger than 1 MiB"));
        assert_eq!(classify(200, "", true).unwrap_err().kind, Kind::InvalidResponse);
        let e = classify(502, "<html>gateway", true).unwrap_err();
        assert_eq!((e.kind, e.status), (Kind::Http, Some(502)));
    }

    #[test]
    fn secrets_never_survive_in_body() {
        let body = format!(r#"{{"error":"invalid_client","echo":"SEKRET {}"}}"#, "y".repeat(5000));
        let f = err(401, &body);
        assert!(!f.body.unwrap().contains("SEKRET"));
        // A secret straddling the truncation point is removed before truncating.
        let f = err(200, r#"{"access_token":"NEVER_SENT_TOKEN"#);
        assert!(!f.body.unwrap().contains("NEVER_SENT"));
        let pad = "z".repeat(BODY_LIMIT - 3);
        let f = err(400, &format!("{pad}SEKRET"));
        assert!(!f.body.unwrap().contains("SEK"));
    }
}
