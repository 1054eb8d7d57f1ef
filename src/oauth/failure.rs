//! What went wrong, as the core knows it: [`Failure`], one variant per `ApiException.kind`, each
//! holding only what that kind can have (a timeout has no status, an HTTP error always has one);
//! its `message`, its redaction, and the questions the edge and the renewal ask of it.

use super::redact::{
    redact, redact_counted, truncate, TextEnd, BODY_LIMIT, FIELD_LIMIT, MESSAGE_LIMIT,
};
use super::text::{concat_str, push_u64};

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
    /// No usable refresh token remains (none stored, refused earlier, signed out): the seller
    /// must sign in again, and nothing was sent.
    SignInRequired,
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
            Kind::SignInRequired => "sign_in_required",
        }
    }
}

/// Whether a failed request can have reached the server (what a single-use credential's fate
/// depends on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// It may have arrived (a reset after sending, a timeout).
    MayHaveArrived,
    /// Nothing was sent: the connection was never made, or the caller aborted before the
    /// request or during a retry delay.
    NotSent,
}

/// The token endpoint's answer, kept with a failure that had one.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    /// The response text: whole (at most 1 MiB) or the head of a larger one until
    /// [`Failure::redacted`], which knows how long the secrets are, bounds it.
    pub body: String,
    /// Whether `body` is the whole response text or the head of a larger one (cut before
    /// redaction could see the rest: see [`TextEnd`]).
    pub body_end: TextEnd,
    /// From `Retry-After`, when the answer had one.
    pub retry_after_ms: Option<u64>,
}

/// What an `ApiException` shows of a [`Failure`] beside its kind and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown<'a> {
    pub status: Option<u16>,
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
    pub body: Option<&'a str>,
    pub retry_after_ms: Option<u64>,
    pub retryable: bool,
}

/// A failed call. A token request's failure is raw until [`Failure::redacted`] has removed the
/// secret values sent with it; the edge turns it into an `ApiException` as it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// An RFC 6749 `error` (status not 429/5xx): the token endpoint's `response`, or, without
    /// one, an authorization callback's `?error=` (the user declined).
    OAuth {
        error: String,
        error_description: Option<String>,
        response: Option<Response>,
    },
    /// Any other non-2xx answer.
    Http {
        response: Response,
        error: Option<String>,
        error_description: Option<String>,
        retryable: bool,
    },
    /// A 2xx answer that is no token (`response`), or a fetch result that is no answer at all.
    InvalidResponse {
        /// What is wrong with it, in our words.
        detail: String,
        error_description: Option<String>,
        response: Option<Response>,
    },
    /// The connection failed or was reset.
    Network {
        /// The platform's message (outside text: redacted with the rest).
        detail: String,
        /// The platform's error code (`ECONNREFUSED`), when it is a plain identifier.
        code: Option<String>,
        delivery: Delivery,
        retryable: bool,
    },
    Timeout {
        detail: String,
        delivery: Delivery,
        retryable: bool,
    },
    /// The caller's `AbortSignal` fired.
    Aborted { detail: String, delivery: Delivery },
    /// Refused before anything was sent; `error` names the refusal when a program may branch on
    /// it (`state_mismatch`, `missing_code`, `invalid_grant`).
    InvalidArgument {
        detail: String,
        error: Option<String>,
    },
    /// A `TokenManager`'s store failed; `detail` may hold the store's own words (redacted).
    Store { detail: String, retryable: bool },
    /// The seller must sign in again; nothing was sent.
    SignInRequired { detail: String },
}

impl Failure {
    pub fn invalid_argument(detail: impl Into<String>) -> Failure {
        Failure::InvalidArgument {
            detail: detail.into(),
            error: None,
        }
    }
    /// `invalid_response` with no answer behind it (a fetch result that is no response, a result
    /// that cannot become a JS value).
    pub fn invalid_response(detail: impl Into<String>) -> Failure {
        Failure::InvalidResponse {
            detail: detail.into(),
            error_description: None,
            response: None,
        }
    }
    pub fn timeout(detail: impl Into<String>, delivery: Delivery) -> Failure {
        Failure::Timeout {
            detail: detail.into(),
            delivery,
            retryable: false,
        }
    }
    pub fn aborted(detail: impl Into<String>, delivery: Delivery) -> Failure {
        Failure::Aborted {
            detail: detail.into(),
            delivery,
        }
    }
    pub fn store(detail: impl Into<String>) -> Failure {
        Failure::Store {
            detail: detail.into(),
            retryable: false,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Failure::OAuth { .. } => Kind::OAuth,
            Failure::Http { .. } => Kind::Http,
            Failure::InvalidResponse { .. } => Kind::InvalidResponse,
            Failure::Network { .. } => Kind::Network,
            Failure::Timeout { .. } => Kind::Timeout,
            Failure::Aborted { .. } => Kind::Aborted,
            Failure::InvalidArgument { .. } => Kind::InvalidArgument,
            Failure::Store { .. } => Kind::Store,
            Failure::SignInRequired { .. } => Kind::SignInRequired,
        }
    }

    /// The fields an `ApiException` shows beside `kind` and `message`, read in one match
    /// (the edge builds every exception from it; one match is smaller wasm than one per field).
    pub fn shown(&self) -> Shown<'_> {
        let (response, error, error_description, retryable) = match self {
            Failure::OAuth {
                error,
                error_description,
                response,
            } => (response.as_ref(), Some(error), error_description, false),
            Failure::Http {
                response,
                error,
                error_description,
                retryable,
            } => (
                Some(response),
                error.as_ref(),
                error_description,
                *retryable,
            ),
            Failure::InvalidResponse {
                error_description,
                response,
                ..
            } => (response.as_ref(), None, error_description, false),
            Failure::Network {
                code, retryable, ..
            } => (None, code.as_ref(), &None, *retryable),
            Failure::InvalidArgument { error, .. } => (None, error.as_ref(), &None, false),
            Failure::Timeout { retryable, .. } | Failure::Store { retryable, .. } => {
                (None, None, &None, *retryable)
            }
            Failure::Aborted { .. } | Failure::SignInRequired { .. } => (None, None, &None, false),
        };
        Shown {
            status: response.map(|r| r.status),
            error: error.map(String::as_str),
            error_description: error_description.as_deref(),
            body: response.map(|r| r.body.as_str()),
            retry_after_ms: response.and_then(|r| r.retry_after_ms),
            retryable,
        }
    }

    /// `ApiException.status`: the HTTP status, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        self.shown().status
    }

    /// `ApiException.body`.
    pub fn body(&self) -> Option<&str> {
        self.shown().body
    }

    /// `ApiException.retryAfterMs`.
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.shown().retry_after_ms
    }

    /// `ApiException.error`: the OAuth error code, a network failure's platform code, or the
    /// name of an argument refusal.
    pub fn error(&self) -> Option<&str> {
        self.shown().error
    }

    /// `ApiException.errorDescription`.
    pub fn error_description(&self) -> Option<&str> {
        self.shown().error_description
    }

    /// `ApiException.retryable`: whether repeating the same request is safe and may succeed.
    pub fn retryable(&self) -> bool {
        self.shown().retryable
    }

    /// What happened in words, for the kinds whose message is not made of the answer's fields.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Failure::OAuth { .. } | Failure::Http { .. } => None,
            Failure::InvalidResponse { detail, .. }
            | Failure::Network { detail, .. }
            | Failure::Timeout { detail, .. }
            | Failure::Aborted { detail, .. }
            | Failure::InvalidArgument { detail, .. }
            | Failure::Store { detail, .. }
            | Failure::SignInRequired { detail } => Some(detail),
        }
    }

    /// Whether the request can have reached the server: only a network failure, a timeout or
    /// an abort can say it did not; every other kind had an answer or sent nothing by rule.
    pub fn delivery(&self) -> Delivery {
        match self {
            Failure::Network { delivery, .. }
            | Failure::Timeout { delivery, .. }
            | Failure::Aborted { delivery, .. } => *delivery,
            _ => Delivery::MayHaveArrived,
        }
    }

    /// Nothing was sent (see [`Delivery::NotSent`]).
    pub fn not_sent(&self) -> bool {
        self.delivery() == Delivery::NotSent
    }

    /// Sets the retry verdict ([`super::retry::retryable`], or the renewal's). The kinds that
    /// are never worth repeating (oauth, invalid_response, aborted, invalid_argument) hold no
    /// verdict: they stay not retryable.
    pub fn set_retryable(&mut self, verdict: bool) {
        match self {
            Failure::Http { retryable, .. }
            | Failure::Network { retryable, .. }
            | Failure::Timeout { retryable, .. }
            | Failure::Store { retryable, .. } => *retryable = verdict,
            _ => {}
        }
    }

    /// Whether the user must sign in again: the server refused the code or refresh token now
    /// (an OAuth `invalid_grant`), or no usable refresh token remains (`sign_in_required`).
    pub fn sign_in_required(&self) -> bool {
        match self {
            Failure::SignInRequired { .. } => true,
            Failure::OAuth { error, .. } => error == "invalid_grant",
            _ => false,
        }
    }

    /// `sign_in_required`, in words.
    pub fn sign_in(detail: impl Into<String>) -> Failure {
        Failure::SignInRequired {
            detail: detail.into(),
        }
    }

    /// The `message` a user reads: what happened, with the (already redacted) fields that say
    /// why, at most [`MESSAGE_LIMIT`] bytes. Call it on a [`Failure::redacted`] failure.
    pub fn message(&self) -> String {
        truncate(&self.unbounded_message(), MESSAGE_LIMIT)
    }

    fn unbounded_message(&self) -> String {
        let shown = self.shown();
        let mut status = String::new();
        if let Some(s) = shown.status {
            status.push_str(" (HTTP ");
            push_u64(&mut status, u64::from(s));
            status.push(')');
        }
        let description = self
            .error_description()
            .map_or(String::new(), |d| concat_str(&[": ", d]));
        match self {
            Failure::OAuth {
                error,
                response: None,
                ..
            } => concat_str(&[
                "the authorization was refused: \"",
                error,
                "\"",
                &description,
            ]),
            Failure::OAuth { error, .. } => concat_str(&[
                "the token endpoint refused the request: \"",
                error,
                "\"",
                &description,
                &status,
            ]),
            Failure::Http {
                response, error, ..
            } => {
                let mut code = String::new();
                push_u64(&mut code, u64::from(response.status));
                let error = error
                    .as_deref()
                    .map_or(String::new(), |e| concat_str(&[" \"", e, "\""]));
                concat_str(&[
                    "the token endpoint answered HTTP ",
                    &code,
                    &error,
                    &description,
                ])
            }
            Failure::InvalidResponse { detail, .. } => {
                concat_str(&["invalid token response: ", detail, &status, &description])
            }
            Failure::Network { detail, .. }
            | Failure::Timeout { detail, .. }
            | Failure::Aborted { detail, .. }
            | Failure::InvalidArgument { detail, .. }
            | Failure::Store { detail, .. }
            | Failure::SignInRequired { detail } => detail.clone(),
        }
    }

    /// Removes every secret from the fields that came from outside: the values sent
    /// (`secrets`), and the value of any secret-named field in the text (`access_token`,
    /// `refresh_token`, `id_token`, `client_secret`, `code`), JSON or not; and bounds them:
    /// `body` to [`BODY_LIMIT`] (a head of a larger body is redacted as one that was cut:
    /// a piece of a secret at its end goes too), `error` and `error_description` (and a network
    /// or store failure's outside message) to [`FIELD_LIMIT`], each cut after redaction (see
    /// [`redact`]: the cost is linear in what is kept, however many times a 1 MiB description
    /// repeats a secret).
    ///
    /// Every other detail is ours, and redacting a short secret out of our own words would both
    /// garble them and give the secret away ("[redacted]ody" for a secret "b").
    pub fn redacted(mut self, secrets: &[&str]) -> Failure {
        // In place: the fields are rewritten where they are, the failure is not rebuilt.
        let field = |text: &mut String| *text = redact(text, secrets, FIELD_LIMIT);
        let optional = |text: &mut Option<String>| {
            if let Some(text) = text {
                field(text);
            }
        };
        let answer = |r: &mut Response| {
            r.body = redact_counted(&r.body, secrets, BODY_LIMIT, r.body_end).0;
        };
        match &mut self {
            Failure::OAuth {
                error,
                error_description,
                response,
            } => {
                field(error);
                optional(error_description);
                if let Some(r) = response {
                    answer(r);
                }
            }
            Failure::Http {
                response,
                error,
                error_description,
                ..
            } => {
                answer(response);
                optional(error);
                optional(error_description);
            }
            Failure::InvalidResponse {
                error_description,
                response,
                ..
            } => {
                optional(error_description);
                if let Some(r) = response {
                    answer(r);
                }
            }
            Failure::Network { detail, code, .. } => {
                field(detail);
                optional(code);
            }
            Failure::Store { detail, .. } => field(detail),
            // Our own words only: redacting a short secret out of them would garble them and
            // give the secret away.
            Failure::Timeout { .. }
            | Failure::Aborted { .. }
            | Failure::InvalidArgument { .. }
            | Failure::SignInRequired { .. } => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> Response {
        Response {
            status,
            body: String::new(),
            body_end: TextEnd::Whole,
            retry_after_ms: None,
        }
    }

    #[test]
    fn messages_name_what_happened() {
        let f = Failure::OAuth {
            error: "invalid_grant".into(),
            error_description: Some("expired".into()),
            response: Some(answer(400)),
        };
        assert_eq!(
            f.message(),
            "the token endpoint refused the request: \"invalid_grant\": expired (HTTP 400)"
        );
        assert!(f.sign_in_required());
        let f = Failure::Http {
            response: answer(503),
            error: Some("invalid_grant".into()),
            error_description: Some("expired".into()),
            retryable: false,
        };
        assert_eq!(
            f.message(),
            "the token endpoint answered HTTP 503 \"invalid_grant\": expired"
        );
        assert!(!f.sign_in_required());
        let r = Failure::InvalidResponse {
            detail: "response body is not JSON".into(),
            error_description: None,
            response: Some(answer(200)),
        };
        assert_eq!(
            r.message(),
            "invalid token response: response body is not JSON (HTTP 200)"
        );
        assert_eq!(
            Failure::timeout("no response within 5 ms", Delivery::MayHaveArrived).message(),
            "no response within 5 ms"
        );
    }

    #[test]
    fn only_outside_words_are_redacted() {
        let net = Failure::Network {
            detail: "network error: connect ECONNREFUSED secret-x".into(),
            code: None,
            delivery: Delivery::MayHaveArrived,
            retryable: false,
        }
        .redacted(&["secret-x"]);
        assert_eq!(
            net.detail(),
            Some("network error: connect ECONNREFUSED [redacted]")
        );
        let ours = Failure::timeout("no response within 5 ms", Delivery::NotSent).redacted(&["o"]);
        assert_eq!(ours.detail(), Some("no response within 5 ms"));
    }

    #[test]
    fn only_kinds_that_hold_a_verdict_are_retryable() {
        let mut f = Failure::store("x");
        f.set_retryable(true);
        assert!(f.retryable());
        let mut f = Failure::invalid_response("x");
        f.set_retryable(true);
        assert!(!f.retryable());
    }
}
