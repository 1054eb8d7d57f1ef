//! What a rejected `fetch` (or body read) means: the caller's abort, our timeout, or a network
//! failure — and for a network failure, whether the request can have reached the server.

use super::failure::{Delivery, Failure};
use super::text::{concat_str, push_u64};

/// Error codes (Node/undici, Bun) and messages (Deno, browsers) of a connection never made.
const NOT_SENT: [&str; 8] = [
    "ECONNREFUSED",
    "ENOTFOUND",
    "EAI_AGAIN",
    "EHOSTUNREACH",
    "ENETUNREACH",
    "UND_ERR_CONNECT_TIMEOUT",
    "ConnectionRefused",
    "onnection refused",
];

pub struct Rejection<'a> {
    pub caller_aborted: bool,
    pub timed_out: bool,
    pub timeout_ms: u64,
    /// The error's message (and its cause's), unredacted.
    pub message: &'a str,
    /// `err.code` or `err.cause.code`.
    pub code: Option<&'a str>,
    /// Whether it happened before any response arrived.
    pub before_response: bool,
}

pub fn classify_rejection(r: &Rejection) -> Failure {
    if r.caller_aborted {
        return Failure::aborted(
            "the request was aborted by the caller's AbortSignal",
            Delivery::MayHaveArrived,
        );
    }
    if r.timed_out {
        let mut ms = String::new();
        push_u64(&mut ms, r.timeout_ms);
        return Failure::timeout(
            concat_str(&["no response within ", &ms, " ms"]),
            Delivery::MayHaveArrived,
        );
    }
    let refused = |s: &str| {
        NOT_SENT
            .iter()
            .any(|c| super::redact::find(s, c, 0).is_some())
    };
    let delivery = if r.before_response && (r.code.is_some_and(refused) || refused(r.message)) {
        Delivery::NotSent
    } else {
        Delivery::MayHaveArrived
    };
    Failure::Network {
        // Not cut here: a cut before redaction could leave half a secret. `Failure::redacted`
        // bounds it after redaction.
        detail: concat_str(&[
            "network error: ",
            if r.message.is_empty() {
                "fetch failed"
            } else {
                r.message
            },
        ]),
        code: r
            .code
            .filter(|c| {
                !c.is_empty()
                    && c.len() < 40
                    && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
            .map(str::to_owned),
        delivery,
        retryable: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::failure::Kind;

    fn rej<'a>(message: &'a str, code: Option<&'a str>) -> Rejection<'a> {
        Rejection {
            caller_aborted: false,
            timed_out: false,
            timeout_ms: 30_000,
            message,
            code,
            before_response: true,
        }
    }

    #[test]
    fn abort_wins_over_timeout_and_network() {
        let mut r = rej("The operation was aborted", None);
        r.caller_aborted = true;
        r.timed_out = true;
        assert_eq!(classify_rejection(&r).kind(), Kind::Aborted);
        r.caller_aborted = false;
        let f = classify_rejection(&r);
        assert_eq!(
            (f.kind(), f.detail().unwrap_or_default()),
            (Kind::Timeout, "no response within 30000 ms")
        );
    }

    #[test]
    fn connection_never_made_is_not_sent() {
        for (m, c) in [
            (
                "fetch failed: connect ECONNREFUSED 127.0.0.1:1",
                Some("ECONNREFUSED"),
            ),
            (
                "error sending request: Connection refused (os error 111)",
                None,
            ),
            ("x", Some("ConnectionRefused")),
        ] {
            let f = classify_rejection(&rej(m, c));
            assert_eq!(f.kind(), Kind::Network);
            assert!(f.not_sent(), "{m}");
        }
        let reset = classify_rejection(&rej(
            "fetch failed: other side closed",
            Some("UND_ERR_SOCKET"),
        ));
        assert!(!reset.not_sent());
        assert_eq!(reset.error(), Some("UND_ERR_SOCKET"));
        let mut late = rej("ECONNREFUSED", Some("ECONNREFUSED"));
        late.before_response = false;
        assert!(!classify_rejection(&late).not_sent());
        assert_eq!(
            classify_rejection(&rej("", Some("bad code!"))).error(),
            None
        );
        assert_eq!(
            classify_rejection(&rej("", None)).detail(),
            Some("network error: fetch failed")
        );
    }
}
