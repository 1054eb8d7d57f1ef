//! Token lifecycle decisions: when a stored token is still good, how long to wait for another
//! renewer, whether a failed refresh may have spent its token. The edge's `TokenManager` asks
//! these between its awaits.

use super::{Failure, Kind};

/// Renew this long before `expires_at` unless told otherwise.
pub const DEFAULT_SKEW_MS: f64 = 60_000.0;
/// How long a renewal lease lasts unless told otherwise.
pub const DEFAULT_LEASE_MS: f64 = 10_000.0;

/// What a stored token set looks like to the freshness check.
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    pub access_token: Option<&'a str>,
    /// Unix ms; `None` when the server gave no `expires_in`.
    pub expires_at: Option<f64>,
}

/// Whether `held` can be used now: it has an access token, that token was not refused by an API
/// (`invalidated`), and it does not expire within `skew_ms`. A token without `expires_at` is good
/// until an API refuses it.
pub fn is_fresh(held: Held, invalidated: Option<&str>, now_ms: f64, skew_ms: f64) -> bool {
    match held.access_token {
        Some(at) if Some(at) != invalidated => {
            held.expires_at.map_or(true, |exp| exp - skew_ms > now_ms)
        }
        _ => false,
    }
}

/// How long a waiter sleeps between re-reads of the store while another process holds the lease.
pub fn lease_poll_ms(lease_ms: f64) -> f64 {
    (lease_ms / 4.0).min(100.0)
}

/// How long a waiter keeps waiting for another process's renewal before giving up: two leases
/// (one may expire with its holder dead, the next renewer needs one).
pub fn lease_wait_ms(lease_ms: f64) -> f64 {
    lease_ms * 2.0
}

/// The member a `TokenManager` adds to the stored TokenSet while a refresh is in flight (Unix ms
/// when it was sent). It stays when the refresh's outcome is unknown, so that no renewer presents
/// a refresh token the server may have spent.
pub const REFRESHING: &str = "refreshing";

/// Whether the outcome of a failed refresh is known, so that the stored set may go back to what it
/// was: nothing was sent (a refused argument, a connection never made, an abort before sending),
/// the server answered with an OAuth error (it processed the request: `invalid_grant` means the
/// token is dead, anything else that it is untouched), or it said it did not process the request
/// (429, 503). Anything else — a timeout, a reset after sending, another 5xx, a 2xx that is not a
/// token, an abort after sending — may have spent the token without our hearing of it.
pub fn refresh_outcome_known(f: &Failure) -> bool {
    match f.kind {
        Kind::InvalidArgument | Kind::OAuth => true,
        Kind::Http => matches!(f.status, Some(429) | Some(503)),
        Kind::Network | Kind::Aborted => f.not_sent(),
        Kind::Timeout | Kind::InvalidResponse => false,
    }
}

/// Whether an API status means the access token was refused (Avito answers 403 to an expired
/// token, RFC 6750 says 401).
pub fn token_refused(status: u16) -> bool {
    status == 401 || status == 403
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness() {
        let held = |at, exp| Held {
            access_token: at,
            expires_at: exp,
        };
        assert!(is_fresh(held(Some("a"), None), None, 0.0, DEFAULT_SKEW_MS));
        assert!(is_fresh(
            held(Some("a"), Some(100_000.0)),
            None,
            30_000.0,
            DEFAULT_SKEW_MS
        ));
        assert!(!is_fresh(
            held(Some("a"), Some(100_000.0)),
            None,
            40_000.0,
            DEFAULT_SKEW_MS
        ));
        assert!(!is_fresh(
            held(Some("a"), None),
            Some("a"),
            0.0,
            DEFAULT_SKEW_MS
        ));
        assert!(is_fresh(
            held(Some("b"), None),
            Some("a"),
            0.0,
            DEFAULT_SKEW_MS
        ));
        assert!(!is_fresh(held(None, None), None, 0.0, 0.0));
        assert_eq!(lease_poll_ms(10_000.0), 100.0);
        assert_eq!(lease_poll_ms(200.0), 50.0);
        assert!(token_refused(403) && token_refused(401) && !token_refused(500));
    }

    #[test]
    fn a_refresh_token_is_presented_again_only_when_its_outcome_is_known() {
        let f = |kind, status: Option<u16>, error: Option<&str>, not_sent| {
            let mut f = Failure::new(kind, "");
            f.status = status;
            f.error = error.map(str::to_owned);
            if not_sent {
                f.delivery = crate::oauth::Delivery::NotSent;
            }
            f
        };
        for known in [
            f(Kind::InvalidArgument, None, None, false),
            f(Kind::OAuth, Some(401), Some("invalid_client"), false),
            f(Kind::OAuth, Some(400), Some("invalid_grant"), false),
            f(Kind::Http, Some(429), None, false),
            f(Kind::Http, Some(503), None, false),
            f(Kind::Network, None, Some("ECONNREFUSED"), true),
            f(Kind::Aborted, None, None, true),
        ] {
            assert!(refresh_outcome_known(&known), "{known:?}");
        }
        for maybe_spent in [
            f(Kind::Http, Some(500), None, false),
            f(Kind::Http, Some(502), None, false),
            f(Kind::Network, None, Some("UND_ERR_SOCKET"), false),
            f(Kind::Timeout, None, None, false),
            f(Kind::Aborted, None, None, false),
            f(Kind::InvalidResponse, Some(200), None, false),
        ] {
            assert!(!refresh_outcome_known(&maybe_spent), "{maybe_spent:?}");
        }
    }
}
