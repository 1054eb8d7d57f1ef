//! An account's health, as every process reads it from the stored set (`health`: snake_case like
//! the rest of the TokenSet): when it was last renewed, its last failure, how many presentations
//! in a row failed, and the scopes an API found missing. A renewal records the outcome of its
//! request in the write that ends it anyway (the delivered tokens, or the set it restores), so
//! health costs no store call of its own. Decisions only: which write records what, and what state
//! a stored set is in (`tm.status()`).

use super::renewal::{RenewalGrant, Step, StoredSet, CLOCK_MARGIN_MS};

/// The store member holding an account's health.
pub const HEALTH: &str = "health";

/// What a renewal's write records in `health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// Delivered tokens: `last_renewal_at` now, `consecutive_failures` 0.
    Renewed,
    /// The request failed and the set is restored (unmarked, refusal recorded, or the lost
    /// answer's mark moved): `last_failure` now, one more consecutive failure.
    Failed,
}

/// Whether `step` is a write that ends a presentation, and what it records: every step that
/// writes after a request (or instead of one whose mark passed) reports its outcome.
pub fn note_of(step: &Step) -> Option<Note> {
    match step {
        Step::StoreTokens { .. } => Some(Note::Renewed),
        Step::Unmark | Step::RecordRefused { .. } | Step::RecordUncertain(_) => Some(Note::Failed),
        _ => None,
    }
}

/// `consecutive_failures` after `note`, from what the set recorded before (a count that is not a
/// non-negative number reads as 0).
pub fn failures_after(before: Option<f64>, note: Note) -> f64 {
    match note {
        Note::Renewed => 0.0,
        Note::Failed => before.filter(|n| n.is_finite() && *n >= 0.0).unwrap_or(0.0) + 1.0,
    }
}

/// An account's state, as `tm.status()` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing is stored.
    Empty,
    /// A sign-out's tombstone.
    SignedOut,
    /// No refresh token remains (none stored, or the server refused it): the seller must sign in.
    SignInRequired,
    /// A renewal's mark is live: its answer may still come.
    Renewing,
    /// The last presentations failed (`consecutive_failures` > 0).
    Failing,
    Ok,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Empty => "empty",
            State::SignedOut => "signed_out",
            State::SignInRequired => "sign_in_required",
            State::Renewing => "renewing",
            State::Failing => "failing",
            State::Ok => "ok",
        }
    }
}

/// The state of the stored `set` at `now_ms`, for a manager renewing with `grant`.
pub fn state(
    set: Option<&StoredSet>,
    consecutive_failures: f64,
    grant: RenewalGrant,
    now_ms: f64,
) -> State {
    let Some(set) = set else {
        return State::Empty;
    };
    if set.signed_out_at.is_some() {
        return State::SignedOut;
    }
    if grant == RenewalGrant::RefreshToken && set.refresh_token.is_none() {
        return State::SignInRequired;
    }
    if set
        .renewal
        .is_some_and(|mark| now_ms < mark.answer_by + CLOCK_MARGIN_MS)
    {
        return State::Renewing;
    }
    if consecutive_failures > 0.0 {
        return State::Failing;
    }
    State::Ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::renewal::{Expected, Mark};

    #[test]
    fn every_write_that_ends_a_presentation_records_its_outcome() {
        let store = Step::StoreTokens {
            over: Expected::Marked,
            keep_refresh_token: false,
        };
        assert_eq!(note_of(&store), Some(Note::Renewed));
        let mark = Mark {
            presented_at: 0.0,
            answer_by: 0.0,
        };
        for failed in [
            Step::Unmark,
            Step::RecordRefused { at: 0.0 },
            Step::RecordUncertain(mark),
        ] {
            assert_eq!(note_of(&failed), Some(Note::Failed));
        }
        for other in [Step::Read, Step::Release, Step::Sleep { ms: 1.0 }] {
            assert_eq!(note_of(&other), None);
        }
        assert_eq!(failures_after(Some(2.0), Note::Failed), 3.0);
        assert_eq!(failures_after(None, Note::Failed), 1.0);
        assert_eq!(failures_after(Some(-4.0), Note::Failed), 1.0);
        assert_eq!(failures_after(Some(f64::NAN), Note::Failed), 1.0);
        assert_eq!(failures_after(Some(7.0), Note::Renewed), 0.0);
    }

    #[test]
    fn the_state_of_a_stored_set() {
        let rt = RenewalGrant::RefreshToken;
        let ok = StoredSet {
            access_token: Some("a"),
            refresh_token: Some("r"),
            expires_at: Some(10.0),
            ..StoredSet::default()
        };
        assert_eq!(state(None, 0.0, rt, 0.0), State::Empty);
        assert_eq!(state(Some(&ok), 0.0, rt, 0.0), State::Ok);
        // Expired is still ok: the next use renews it.
        assert_eq!(state(Some(&ok), 0.0, rt, 1e9), State::Ok);
        assert_eq!(state(Some(&ok), 2.0, rt, 0.0), State::Failing);
        let marked = StoredSet {
            renewal: Some(Mark {
                presented_at: 0.0,
                answer_by: 100.0,
            }),
            ..ok
        };
        assert_eq!(state(Some(&marked), 2.0, rt, 50.0), State::Renewing);
        // A mark whose answer can no longer come is not a renewal in progress.
        let passed = 100.0 + CLOCK_MARGIN_MS + 1.0;
        assert_eq!(state(Some(&marked), 2.0, rt, passed), State::Failing);
        let refused = StoredSet {
            refresh_token: None,
            refused_earlier: true,
            ..ok
        };
        assert_eq!(state(Some(&refused), 1.0, rt, 0.0), State::SignInRequired);
        let app = RenewalGrant::ClientCredentials;
        assert_eq!(state(Some(&refused), 0.0, app, 0.0), State::Ok);
        let tombstone = StoredSet {
            signed_out_at: Some(5.0),
            ..StoredSet::default()
        };
        assert_eq!(state(Some(&tombstone), 0.0, rt, 0.0), State::SignedOut);
    }
}
