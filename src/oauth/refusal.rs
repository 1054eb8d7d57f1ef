//! An Avito API's refusal of an access token (`tm.fetch` got 401/403): whether it sets off a
//! recovery, and which. Avito answers 403 to an expired token, but also to a missing scope or a
//! blocked IP (RFC 6750 says 401): a recovery re-reads the store (another process may have
//! renewed already), else renews, and the call is sent once more; otherwise the refusal goes
//! back to the caller unchanged. A refusal of an operation whose declared scope the token's set
//! was not granted ([`super::operations::missing_scopes`]) goes back too: a renewal brings the
//! same grant again, only a new sign-in with that scope can help. The cached-token fast path and
//! the general path of `tm.fetch` both take these decisions.

use super::renewal::{is_usable, StoredSet};

/// How often an API refusal (401/403) may set off a renewal unless told otherwise.
pub const DEFAULT_REFUSAL_INTERVAL_MS: f64 = 60_000.0;

/// Whether an API status means the access token may have been refused.
pub fn token_refused(status: u16) -> bool {
    status == 401 || status == 403
}

/// What `tm.fetch` does with an API's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnAnswer {
    /// The response goes back to the caller as it is (body unread).
    HandBack,
    /// Read the store, then adopt or renew ([`after_store_read`]), then send again.
    Recover,
}

/// The facts of one API answer.
#[derive(Debug, Clone, Copy)]
pub struct Answered {
    pub status: u16,
    /// The call can be sent again (its body is not a consumed stream).
    pub replayable: bool,
    /// The token endpoint delivered the token used during this very call: a refusal of it is
    /// not about expiry.
    pub token_just_renewed: bool,
    pub now_ms: f64,
    /// When a refusal last set off a recovery in this manager.
    pub last_recovery_ms: Option<f64>,
    pub interval_ms: f64,
    /// The call is a published Avito operation that declares a scope the token's set lacks
    /// (known only when the set names its scopes).
    pub missing_scopes: bool,
}

/// A recovery at most once per `interval_ms` per manager (an endpoint that refuses every call for
/// a missing scope must not cost a renewal per call), never for a token just renewed, never
/// for a scope known to be missing, and only for a call that can be sent again.
pub fn on_answer(a: &Answered) -> OnAnswer {
    let due = a
        .last_recovery_ms
        .map_or(true, |last| a.now_ms - last >= a.interval_ms);
    let cured_by_a_token = !a.token_just_renewed && !a.missing_scopes;
    if token_refused(a.status) && a.replayable && cured_by_a_token && due {
        OnAnswer::Recover
    } else {
        OnAnswer::HandBack
    }
}

/// Why `on_answer` handed a refusal back (events report it): the scope is missing, the token was
/// just renewed, the body cannot be sent again, or a recovery ran within the interval.
pub fn hand_back_reason(a: &Answered) -> &'static str {
    if a.missing_scopes {
        "missing_scopes"
    } else if a.token_just_renewed {
        "just_renewed"
    } else if !a.replayable {
        "not_replayable"
    } else {
        "too_soon"
    }
}

/// What the store's set means for a recovery from a refusal of `used`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The store holds another usable token (another process renewed): use it.
    Adopt,
    /// Renew; `refuse_used`: the refused token is the one in use here, never hand it out again.
    Renew { refuse_used: bool },
}

/// `stored`: the store's set (`None` when it could not be read or is empty); `current`: the
/// access token this manager uses; `refused`: a token an API refused earlier.
pub fn after_store_read(
    stored: Option<&StoredSet>,
    used: &str,
    current: Option<&str>,
    refused: Option<&str>,
    now_ms: f64,
    skew_ms: f64,
) -> Recovery {
    let other_usable = stored
        .is_some_and(|s| s.access_token != Some(used) && is_usable(s, refused, now_ms, skew_ms));
    if other_usable {
        Recovery::Adopt
    } else {
        Recovery::Renew {
            refuse_used: current == Some(used),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16) -> Answered {
        Answered {
            status,
            replayable: true,
            token_just_renewed: false,
            now_ms: 0.0,
            last_recovery_ms: None,
            interval_ms: DEFAULT_REFUSAL_INTERVAL_MS,
            missing_scopes: false,
        }
    }

    #[test]
    fn refusals_recover_at_most_once_per_interval_and_never_for_a_token_just_renewed() {
        assert_eq!(on_answer(&answered(401)), OnAnswer::Recover);
        assert_eq!(on_answer(&answered(403)), OnAnswer::Recover);
        for status in [200, 404, 429, 500] {
            assert_eq!(on_answer(&answered(status)), OnAnswer::HandBack);
        }
        let just_renewed = Answered {
            token_just_renewed: true,
            ..answered(403)
        };
        assert_eq!(on_answer(&just_renewed), OnAnswer::HandBack);
        let consumed = Answered {
            replayable: false,
            ..answered(403)
        };
        assert_eq!(on_answer(&consumed), OnAnswer::HandBack);
        for status in [401, 403] {
            let ungranted = Answered {
                missing_scopes: true,
                ..answered(status)
            };
            assert_eq!(on_answer(&ungranted), OnAnswer::HandBack);
        }
        let soon = Answered {
            now_ms: 59_999.0,
            last_recovery_ms: Some(0.0),
            ..answered(403)
        };
        assert_eq!(on_answer(&soon), OnAnswer::HandBack);
        assert_eq!(hand_back_reason(&soon), "too_soon");
        assert_eq!(hand_back_reason(&consumed), "not_replayable");
        assert_eq!(hand_back_reason(&just_renewed), "just_renewed");
        let ungranted = Answered {
            missing_scopes: true,
            ..just_renewed
        };
        assert_eq!(hand_back_reason(&ungranted), "missing_scopes");
        let later = Answered {
            now_ms: 60_000.0,
            ..soon
        };
        assert_eq!(on_answer(&later), OnAnswer::Recover);
    }

    #[test]
    fn another_usable_stored_token_is_adopted_else_the_refused_one_is_renewed() {
        let set = |at| StoredSet {
            access_token: Some(at),
            expires_at: Some(1e9),
            ..StoredSet::default()
        };
        let other = set("b");
        let same = set("a");
        assert_eq!(
            after_store_read(Some(&other), "a", Some("a"), None, 0.0, 0.0),
            Recovery::Adopt
        );
        assert_eq!(
            after_store_read(Some(&same), "a", Some("a"), None, 0.0, 0.0),
            Recovery::Renew { refuse_used: true }
        );
        assert_eq!(
            after_store_read(None, "a", Some("c"), None, 0.0, 0.0),
            Recovery::Renew { refuse_used: false }
        );
        // A stored token refused earlier is not adopted.
        assert_eq!(
            after_store_read(Some(&other), "a", Some("a"), Some("b"), 0.0, 0.0),
            Recovery::Renew { refuse_used: true }
        );
    }
}
