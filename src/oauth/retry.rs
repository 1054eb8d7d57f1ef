//! Retry decisions. A single-use credential (authorization code, refresh token) is never
//! re-sent when the server may have consumed it: those grants retry only 429, 503 and failures
//! to connect. client_credentials also retries other 5xx, resets and timeouts.

use super::failure::Failure;
use super::request::Grant;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay_ms: 250,
            max_delay_ms: 10_000,
        }
    }
}

impl RetryPolicy {
    pub const OFF: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        base_delay_ms: 0,
        max_delay_ms: 0,
    };
}

/// Whether repeating the request after this failure is safe and may succeed.
pub fn retryable(grant: Grant, f: &Failure) -> bool {
    match f {
        Failure::Http { response, .. } => match response.status {
            429 | 503 => true,
            s => s >= 500 && !grant.is_single_use(),
        },
        Failure::Network { .. } => f.not_sent() || !grant.is_single_use(),
        Failure::Timeout { .. } => !grant.is_single_use(),
        _ => false,
    }
}

/// The delay before the next attempt, or `None` to give up. `attempt` is the 1-based number of
/// the attempt that just failed; `retryable` is [`retryable`]'s verdict on its failure;
/// `random` is uniform in `[0, 1)`. The delay is exponential with "equal jitter" (half fixed,
/// half random), and never shorter than `Retry-After`; a `Retry-After` beyond `max_delay_ms`
/// ends the retries (the caller sees `retryAfterMs`).
pub fn next_delay(
    policy: &RetryPolicy,
    attempt: u32,
    retryable: bool,
    retry_after_ms: Option<u64>,
    random: f64,
) -> Option<u64> {
    if attempt >= policy.max_attempts || !retryable {
        return None;
    }
    let exp = policy
        .base_delay_ms
        .saturating_mul(1u64 << (attempt.saturating_sub(1)).min(30))
        .min(policy.max_delay_ms);
    let random = if random.is_finite() {
        random.clamp(0.0, 1.0)
    } else {
        0.5
    };
    // The random half is bounded by its own size: past 2^53 the float product can round up.
    let half = exp - exp / 2;
    let jittered = exp / 2 + ((half as f64 * random) as u64).min(half);
    match retry_after_ms {
        Some(ra) if ra > policy.max_delay_ms => None,
        Some(ra) => Some(jittered.max(ra)),
        None => Some(jittered),
    }
}

/// `Retry-After` as delta-seconds; HTTP dates are handled by the caller (it has a clock).
pub fn retry_after_seconds(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.is_empty() || v.len() > 9 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>().ok().map(|s| s * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::oauth::failure::{Delivery, Response};
    use crate::oauth::redact::TextEnd;

    fn http(status: u16) -> Failure {
        Failure::Http {
            response: Response {
                status,
                body: String::new(),
                body_end: TextEnd::Whole,
                retry_after_ms: None,
            },
            error: None,
            error_description: None,
            retryable: false,
        }
    }

    fn network(delivery: Delivery) -> Failure {
        Failure::Network {
            detail: String::new(),
            code: None,
            delivery,
            retryable: false,
        }
    }

    fn timeout() -> Failure {
        Failure::timeout("", Delivery::MayHaveArrived)
    }

    #[test]
    fn single_use_grants_retry_only_when_unconsumed() {
        for g in [Grant::AuthorizationCode, Grant::RefreshToken] {
            assert!(retryable(g, &http(429)));
            assert!(retryable(g, &http(503)));
            assert!(!retryable(g, &http(500)));
            assert!(!retryable(g, &http(502)));
            assert!(!retryable(g, &http(504)));
            assert!(!retryable(g, &timeout()));
            assert!(!retryable(g, &network(Delivery::MayHaveArrived)));
            assert!(retryable(g, &network(Delivery::NotSent)));
        }
    }

    #[test]
    fn client_credentials_retries_transient_failures() {
        let g = Grant::ClientCredentials;
        for s in [429, 500, 502, 503, 504] {
            assert!(retryable(g, &http(s)), "{s}");
        }
        assert!(retryable(g, &timeout()));
        assert!(retryable(g, &network(Delivery::MayHaveArrived)));
        for f in [
            Failure::OAuth {
                error: "invalid_client".into(),
                error_description: None,
                response: None,
            },
            Failure::invalid_response(""),
            Failure::aborted("", Delivery::NotSent),
            Failure::invalid_argument(""),
            Failure::store(""),
        ] {
            assert!(!retryable(g, &f), "{f:?}");
        }
        assert!(!retryable(g, &http(400)));
        assert!(!retryable(g, &http(404)));
    }

    #[test]
    fn backoff_grows_with_jitter_and_stops() {
        let p = RetryPolicy {
            max_attempts: 4,
            base_delay_ms: 100,
            max_delay_ms: 250,
        };
        assert_eq!(next_delay(&p, 1, true, None, 0.0), Some(50));
        assert_eq!(next_delay(&p, 1, true, None, 0.999), Some(99));
        assert_eq!(next_delay(&p, 2, true, None, 0.0), Some(100));
        assert_eq!(next_delay(&p, 3, true, None, 1.0), Some(250)); // capped
        assert_eq!(next_delay(&p, 4, true, None, 0.5), None); // attempts used up
        assert_eq!(
            next_delay(&p, 1, retryable(Grant::RefreshToken, &http(500)), None, 0.5),
            None
        );
        assert_eq!(next_delay(&RetryPolicy::OFF, 1, true, None, 0.5), None);
        assert_eq!(next_delay(&p, 1, true, None, f64::NAN), Some(75));
    }

    #[test]
    fn jitter_never_passes_the_cap() {
        // Past 2^53 ms the float product could round the random half up, over max_delay_ms.
        let p = RetryPolicy {
            max_attempts: u32::MAX,
            base_delay_ms: u64::MAX,
            max_delay_ms: 5_642_533_481_369_980_494,
        };
        for random in [0.0, 0.5, 0.999_999, 1.0] {
            let d = next_delay(&p, 3, true, Some(642), random).unwrap();
            assert!(
                d <= p.max_delay_ms && d >= p.max_delay_ms / 2,
                "{random}: {d}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured() {
        let p = RetryPolicy::default();
        let ok = retryable(Grant::RefreshToken, &http(429));
        assert_eq!(next_delay(&p, 1, ok, Some(2000), 0.0), Some(2000));
        assert_eq!(next_delay(&p, 1, ok, Some(60_000), 0.0), None);
        assert_eq!(retry_after_seconds(" 3 "), Some(3000));
        assert_eq!(retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(retry_after_seconds("-1"), None);
    }
}
