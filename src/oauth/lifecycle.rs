//! Token lifecycle decisions: when a stored token is still good, how long to wait for another
//! renewer. The edge's `TokenManager` asks these between its awaits.

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
}
