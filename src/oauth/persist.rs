//! Writing delivered tokens that the renewal could not store (the store failed): they are the only
//! copy of the seller's sign-in, so the edge keeps writing them in the background — already handed
//! to the callers and to `onTokens` — with a growing pause, until they are stored, another rotation
//! replaced them, the account was signed out, or the deadline passes. Decisions only.

use super::backoff::Backoff;
use super::mutants::{active, Mutant};
use super::renewal::{RenewalGrant, StoredSet};

/// The pause between two attempts grows from this…
const FIRST_PAUSE_MS: f64 = 100.0;
/// …to at most this.
const MAX_PAUSE_MS: f64 = 5_000.0;
/// How long delivered tokens are written on: far past any store outage worth riding out, and
/// bounded (a process that lives on does not keep a loop forever).
pub const PERSIST_BOUND_MS: f64 = 600_000.0;

/// What the edge does next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PersistStep {
    Read,
    /// CAS(the set last read → the delivered tokens).
    Write,
    Sleep {
        ms: f64,
    },
    Finish(Persisted),
}

/// How the background write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persisted {
    Stored,
    /// Another rotation (or a sign-in) is in the store: it is the one to keep.
    Superseded,
    /// The account was signed out: the delivered tokens must be forgotten here too.
    SignedOut,
    /// The deadline passed with the store still failing.
    GaveUp,
}

#[derive(Debug, Clone, Copy)]
pub enum PersistEvent<'a> {
    Read(Option<StoredSet<'a>>),
    Swapped(bool),
    StoreFailed,
    Slept,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Reading,
    Writing,
    Sleeping,
    Done,
}

/// One background write of delivered tokens.
#[derive(Debug, Clone)]
pub struct Persist {
    grant: RenewalGrant,
    backoff: Backoff,
    phase: Phase,
    /// The delivered access token: a read that finds it proves the write.
    ours: String,
    /// The refresh token that was presented: a set still holding it is the one we renewed.
    presented: Option<String>,
}

impl Persist {
    pub fn new(
        grant: RenewalGrant,
        delivered_access_token: &str,
        presented: Option<&str>,
        now_ms: f64,
    ) -> Persist {
        Persist {
            grant,
            backoff: Backoff::new(now_ms, PERSIST_BOUND_MS, FIRST_PAUSE_MS, MAX_PAUSE_MS),
            phase: Phase::Sleeping,
            ours: delivered_access_token.to_owned(),
            presented: presented.map(str::to_owned),
        }
    }

    /// The first step: a pause (the store has just failed), then a read.
    pub fn start(&mut self, now_ms: f64) -> PersistStep {
        self.pause(now_ms)
    }

    pub fn on(&mut self, event: PersistEvent, now_ms: f64) -> PersistStep {
        match (self.phase, event) {
            (Phase::Sleeping, PersistEvent::Slept) => {
                self.phase = Phase::Reading;
                PersistStep::Read
            }
            (Phase::Reading, PersistEvent::Read(set)) => self.decide(set.as_ref()),
            (Phase::Writing, PersistEvent::Swapped(true)) => self.finish(Persisted::Stored),
            // Someone wrote in between, or the store failed: read again after a pause (a store
            // whose compare-and-set keeps answering `false` must not spin us), within the
            // deadline.
            (Phase::Writing, PersistEvent::Swapped(false))
            | (Phase::Reading | Phase::Writing, PersistEvent::StoreFailed) => self.pause(now_ms),
            _ => self.finish(Persisted::GaveUp),
        }
    }

    /// What the store holds now means for the delivered tokens.
    fn decide(&mut self, set: Option<&StoredSet>) -> PersistStep {
        if set.and_then(|s| s.access_token) == Some(self.ours.as_str()) {
            return self.finish(Persisted::Stored);
        }
        if self.grant == RenewalGrant::ClientCredentials {
            self.phase = Phase::Writing;
            return PersistStep::Write;
        }
        // The renewal read a set before it presented: an empty store was emptied since.
        if StoredSet::signed_out(set, true) && !active(Mutant::NoPersistSignOutGuard) {
            return self.finish(Persisted::SignedOut);
        }
        let ours_is_newer = match set {
            // Only reached without the sign-out guard (a mutant): an emptied store is written.
            None => true,
            Some(s) if s.signed_out_at.is_some() => true,
            Some(s) => s.is_renewed_by(self.presented.as_deref()),
        };
        if ours_is_newer {
            self.phase = Phase::Writing;
            return PersistStep::Write;
        }
        self.finish(Persisted::Superseded)
    }

    fn pause(&mut self, now: f64) -> PersistStep {
        let Some(ms) = self.backoff.next(now) else {
            return self.finish(Persisted::GaveUp);
        };
        self.phase = Phase::Sleeping;
        PersistStep::Sleep { ms }
    }

    fn finish(&mut self, how: Persisted) -> PersistStep {
        self.phase = Phase::Done;
        PersistStep::Finish(how)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<'a>(at: &'a str, rt: Option<&'a str>) -> StoredSet<'a> {
        StoredSet {
            access_token: Some(at),
            refresh_token: rt,
            ..StoredSet::default()
        }
    }

    /// Drives a persist against `store` (a function of the attempt number) to its end.
    fn drive(
        mut answer: impl FnMut(PersistStep, u32) -> PersistEvent<'static>,
    ) -> (Persisted, f64, u32) {
        let mut p = Persist::new(RenewalGrant::RefreshToken, "new", Some("old"), 0.0);
        let (mut now, mut writes) = (0.0, 0);
        let mut step = p.start(now);
        for _ in 0..100_000 {
            match step {
                PersistStep::Finish(how) => return (how, now, writes),
                PersistStep::Sleep { ms } => {
                    assert!(ms > 0.0);
                    now += ms;
                }
                PersistStep::Write => writes += 1,
                PersistStep::Read => {}
            }
            step = p.on(answer(step, writes), now);
        }
        panic!("no end");
    }

    #[test]
    fn an_outage_of_seconds_costs_nothing() {
        // The store fails for the first 3 s, then holds the marked set.
        let mut now_ms = 0.0;
        let (how, _, writes) = drive(|step, _| {
            if let PersistStep::Sleep { ms } = step {
                now_ms += ms;
                return PersistEvent::Slept;
            }
            match (step, now_ms < 3_000.0) {
                (_, true) => PersistEvent::StoreFailed,
                (PersistStep::Read, false) => PersistEvent::Read(Some(set("a", Some("old")))),
                _ => PersistEvent::Swapped(true),
            }
        });
        assert_eq!((how, writes), (Persisted::Stored, 1));
    }

    #[test]
    fn a_sign_out_or_another_rotation_ends_it_and_a_lost_reply_is_found() {
        let ended = |stored: Option<StoredSet<'static>>| {
            drive(move |step, _| match step {
                PersistStep::Sleep { .. } => PersistEvent::Slept,
                PersistStep::Read => PersistEvent::Read(stored),
                _ => PersistEvent::StoreFailed,
            })
            .0
        };
        let tombstone = StoredSet {
            signed_out_at: Some(1.0),
            ..StoredSet::default()
        };
        assert_eq!(ended(Some(tombstone)), Persisted::SignedOut);
        assert_eq!(ended(None), Persisted::SignedOut);
        assert_eq!(ended(Some(set("b", Some("other")))), Persisted::Superseded);
        assert_eq!(ended(Some(set("new", Some("x")))), Persisted::Stored);
    }

    #[test]
    fn a_store_that_never_recovers_is_given_up_at_the_deadline() {
        let (how, now, _) = drive(|step, _| match step {
            PersistStep::Sleep { .. } => PersistEvent::Slept,
            _ => PersistEvent::StoreFailed,
        });
        assert_eq!(how, Persisted::GaveUp);
        assert!(now <= PERSIST_BOUND_MS + MAX_PAUSE_MS, "{now}");
        // A compare-and-set that keeps answering `false` over our own chain: paused, bounded.
        let (how, now, writes) = drive(|step, _| match step {
            PersistStep::Sleep { .. } => PersistEvent::Slept,
            PersistStep::Read => PersistEvent::Read(Some(set("a", Some("old")))),
            _ => PersistEvent::Swapped(false),
        });
        assert_eq!(how, Persisted::GaveUp);
        assert!(
            now >= PERSIST_BOUND_MS && writes < 200,
            "{now} ms, {writes} writes"
        );
    }
}
