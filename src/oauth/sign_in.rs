//! Storing a seller's sign-in (`AccountTokens.signIn`): the new token set goes over whatever the
//! store holds, through a compare-and-set over the set just read (another process may write in
//! between), until it is stored or the deadline passes. A sign-in's tokens are the only copy of
//! that sign-in: a store that fails or moves is tried again after a pause, and a write whose reply
//! was lost is checked by re-reading. Decisions only; the edge performs the steps.

use super::mutants::{active, Mutant};
use super::renewal::{StoreFault, StoredSet};
use super::{Failure, Kind};

/// The pause between two attempts grows from this…
const FIRST_PAUSE_MS: f64 = 50.0;
/// …to at most this.
const MAX_PAUSE_MS: f64 = 1_000.0;

/// How long a sign-in keeps trying to store its set: long enough that a store outage of several
/// seconds costs nothing (three of the store's call deadlines).
pub fn bound_ms(lease_ms: f64) -> f64 {
    3.0 * lease_ms
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Reading,
    Writing,
    /// Re-reading after a write whose call failed: it may have been applied.
    Checking,
    Sleeping,
    Done,
}

/// What the edge does next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SignInStep {
    Read,
    /// CAS(the set last read, or `undefined` → the sign-in's set).
    Write,
    Sleep {
        ms: f64,
    },
    /// `stored: false`: not stored within the deadline ([`SignInWrite::failure`]).
    Finish {
        stored: bool,
    },
}

/// What happened to the step.
#[derive(Debug, Clone, Copy)]
pub enum SignInEvent<'a> {
    Read(Option<StoredSet<'a>>),
    Swapped(bool),
    StoreFailed,
    Slept,
}

/// One sign-in's write.
#[derive(Debug, Clone)]
pub struct SignInWrite {
    deadline: f64,
    phase: Phase,
    /// The refresh token of the set being written: a read that finds it proves the write.
    ours: String,
    pause_ms: f64,
    lost_swaps: u32,
    store_failures: u32,
}

impl SignInWrite {
    /// `refresh_token`: the one the sign-in's set holds; `bound_ms`: how long to keep trying.
    pub fn new(refresh_token: &str, now_ms: f64, bound_ms: f64) -> SignInWrite {
        SignInWrite {
            deadline: now_ms + bound_ms,
            phase: Phase::Reading,
            ours: refresh_token.to_owned(),
            pause_ms: FIRST_PAUSE_MS,
            lost_swaps: 0,
            store_failures: 0,
        }
    }

    pub fn start(&self) -> SignInStep {
        SignInStep::Read
    }

    pub fn on(&mut self, event: SignInEvent, now_ms: f64) -> SignInStep {
        match (self.phase, event) {
            (Phase::Reading, SignInEvent::Read(_)) => {
                self.phase = Phase::Writing;
                SignInStep::Write
            }
            (Phase::Writing, SignInEvent::Swapped(true)) => self.finish(true),
            (Phase::Writing, SignInEvent::Swapped(false)) => {
                self.lost_swaps += 1;
                self.pause(now_ms)
            }
            (Phase::Writing, SignInEvent::StoreFailed) => {
                self.store_failures += 1;
                self.phase = Phase::Checking;
                SignInStep::Read
            }
            (Phase::Checking, SignInEvent::Read(set)) => {
                if set.and_then(|s| s.refresh_token) == Some(self.ours.as_str()) {
                    return self.finish(true);
                }
                self.pause(now_ms)
            }
            (Phase::Reading | Phase::Checking, SignInEvent::StoreFailed) => {
                self.store_failures += 1;
                self.pause(now_ms)
            }
            (Phase::Sleeping, SignInEvent::Slept) => {
                self.phase = Phase::Reading;
                SignInStep::Read
            }
            // An event the step did not ask for: stop rather than guess.
            _ => self.finish(false),
        }
    }

    /// Tries again after a pause that doubles each time, within the deadline.
    fn pause(&mut self, now: f64) -> SignInStep {
        if now >= self.deadline && !active(Mutant::NoSignInDeadline) {
            return self.finish(false);
        }
        let ms = self.pause_ms.min((self.deadline - now).max(1.0));
        self.pause_ms = (self.pause_ms * 2.0).min(MAX_PAUSE_MS);
        self.phase = Phase::Sleeping;
        SignInStep::Sleep { ms }
    }

    fn finish(&mut self, stored: bool) -> SignInStep {
        self.phase = Phase::Done;
        SignInStep::Finish { stored }
    }

    /// Why the sign-in's set was not stored: the store's last fault (redacted with `secrets`), or
    /// a compare-and-set that kept losing.
    pub fn failure(&self, last_fault: Option<&StoreFault>, secrets: &[&str]) -> Failure {
        match last_fault {
            Some(fault) if self.store_failures > 0 => fault.failure(secrets),
            _ => {
                let mut f = Failure::new(
                    Kind::Store,
                    "the store kept changing: the sign-in's tokens were not stored (its compare-and-set kept losing until the deadline)",
                );
                f.retryable = true;
                f
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive(
        w: &mut SignInWrite,
        mut answer: impl FnMut(SignInStep) -> SignInEvent<'static>,
    ) -> (bool, f64) {
        let mut now = 0.0;
        let mut step = w.start();
        for _ in 0..100_000 {
            if let SignInStep::Finish { stored } = step {
                return (stored, now);
            }
            if let SignInStep::Sleep { ms } = step {
                assert!(ms > 0.0);
                now += ms;
            }
            step = w.on(answer(step), now);
        }
        panic!("no end");
    }

    #[test]
    fn a_write_that_wins_is_stored() {
        let mut w = SignInWrite::new("r", 0.0, 10_000.0);
        let (outcome, _) = drive(&mut w, |step| match step {
            SignInStep::Read => SignInEvent::Read(None),
            _ => SignInEvent::Swapped(true),
        });
        assert!(outcome);
    }

    #[test]
    fn a_lost_reply_is_checked_by_reading() {
        let mut w = SignInWrite::new("r", 0.0, 10_000.0);
        let mut written = false;
        let ours = StoredSet {
            refresh_token: Some("r"),
            ..StoredSet::default()
        };
        let (outcome, _) = drive(&mut w, |step| match step {
            SignInStep::Read if written => SignInEvent::Read(Some(ours)),
            SignInStep::Read => SignInEvent::Read(None),
            SignInStep::Write => {
                written = true;
                SignInEvent::StoreFailed
            }
            _ => SignInEvent::Slept,
        });
        assert!(outcome);
    }

    #[test]
    fn a_store_that_never_matches_fails_within_the_deadline() {
        let mut w = SignInWrite::new("r", 0.0, 10_000.0);
        let (outcome, now) = drive(&mut w, |step| match step {
            SignInStep::Read => SignInEvent::Read(None),
            SignInStep::Write => SignInEvent::Swapped(false),
            _ => SignInEvent::Slept,
        });
        assert!(!outcome);
        assert!((10_000.0..=10_001.0).contains(&now), "{now}");
        let f = w.failure(None, &[]);
        assert_eq!(f.kind, Kind::Store);
        assert!(f.retryable);
    }

    #[test]
    fn a_store_fault_is_redacted_before_it_is_cut() {
        let mut w = SignInWrite::new("r", 0.0, 100.0);
        let (stored, _) = drive(&mut w, |step| match step {
            SignInStep::Sleep { .. } => SignInEvent::Slept,
            _ => SignInEvent::StoreFailed,
        });
        assert!(!stored);
        // The secret straddles the 300-byte cut: cut first, its head would stay.
        let detail = format!("{}SECRETTOKEN tail", "x".repeat(295));
        let fault = StoreFault {
            call: "compareAndSet",
            detail,
        };
        let message = w.failure(Some(&fault), &["SECRETTOKEN"]).message();
        assert!(!message.contains("SECRE"), "{message}");
    }
}
