//! Writing a set over whatever the store holds: a seller's sign-in (`AccountTokens.signIn`: the
//! new token set) or sign-out (`signOut`: the tombstone `{ signed_out_at }`, which ends every
//! renewal in flight anywhere, since none writes into it). A compare-and-set over the set just
//! read (another process may write in between), until it is stored or the deadline passes: a
//! sign-in's tokens are the only copy of that sign-in, so a store that fails or moves is tried
//! again after a pause, and a write whose reply was lost is checked by re-reading. Decisions only;
//! the edge performs the steps.

use super::backoff::Backoff;
use super::failure::Failure;
use super::mutants::{active, Mutant};
use super::renewal::{StoreFault, StoredSet};
use super::text::concat_str;

/// The pause between two attempts grows from this…
const FIRST_PAUSE_MS: f64 = 50.0;
/// …to at most this.
const MAX_PAUSE_MS: f64 = 1_000.0;

/// How long a sign-in or sign-out keeps trying to store its set: long enough that a store outage of several
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
pub enum OverwriteStep {
    Read,
    /// CAS(the set last read, or `undefined` → the set being written: a sign-in's tokens or a
    /// sign-out's tombstone).
    Write,
    Sleep {
        ms: f64,
    },
    /// `stored: false`: not stored within the deadline ([`Overwrite::failure`]).
    Finish {
        stored: bool,
    },
}

/// What happened to the step.
#[derive(Debug, Clone, Copy)]
pub enum OverwriteEvent<'a> {
    Read(Option<StoredSet<'a>>),
    Swapped(bool),
    StoreFailed,
    /// A read the store refused for good (a sealed record that does not open): the write ends
    /// now with that failure instead of waiting out its deadline (waiting will not mend it).
    StoreRefused,
    Slept,
}

/// What is written, and how a read recognises it.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// A sign-in's set, recognised by its refresh token.
    SignIn { refresh_token: String },
    /// A sign-out's tombstone, recognised by its time.
    SignOut { at: f64 },
}

impl Written {
    fn is_in(&self, set: &StoredSet) -> bool {
        match self {
            Written::SignIn { refresh_token } => set.refresh_token == Some(refresh_token.as_str()),
            Written::SignOut { at } => set.signed_out_at == Some(*at),
        }
    }
}

/// One sign-in's or sign-out's write.
#[derive(Debug, Clone)]
pub struct Overwrite {
    backoff: Backoff,
    phase: Phase,
    ours: Written,
    store_failures: u32,
}

impl Overwrite {
    /// `bound_ms`: how long to keep trying.
    pub fn new(ours: Written, now_ms: f64, bound_ms: f64) -> Overwrite {
        Overwrite {
            backoff: Backoff::new(now_ms, bound_ms, FIRST_PAUSE_MS, MAX_PAUSE_MS),
            phase: Phase::Reading,
            ours,
            store_failures: 0,
        }
    }

    pub fn start(&self) -> OverwriteStep {
        OverwriteStep::Read
    }

    pub fn on(&mut self, event: OverwriteEvent, now_ms: f64) -> OverwriteStep {
        match (self.phase, event) {
            (Phase::Reading, OverwriteEvent::Read(_)) => {
                self.phase = Phase::Writing;
                OverwriteStep::Write
            }
            (Phase::Writing, OverwriteEvent::Swapped(true)) => self.finish(true),
            (Phase::Writing, OverwriteEvent::Swapped(false)) => self.pause(now_ms),
            (Phase::Writing, OverwriteEvent::StoreFailed) => {
                self.store_failures += 1;
                self.phase = Phase::Checking;
                OverwriteStep::Read
            }
            (Phase::Checking, OverwriteEvent::Read(set)) => {
                if set.is_some_and(|s| self.ours.is_in(&s)) {
                    return self.finish(true);
                }
                self.pause(now_ms)
            }
            (Phase::Reading | Phase::Checking, OverwriteEvent::StoreFailed) => {
                self.store_failures += 1;
                self.pause(now_ms)
            }
            (Phase::Reading | Phase::Checking, OverwriteEvent::StoreRefused) => {
                self.store_failures += 1;
                self.finish(false)
            }
            (Phase::Sleeping, OverwriteEvent::Slept) => {
                self.phase = Phase::Reading;
                OverwriteStep::Read
            }
            // An event the step did not ask for: stop rather than guess.
            _ => self.finish(false),
        }
    }

    /// Tries again after a pause that doubles each time, within the deadline.
    fn pause(&mut self, now: f64) -> OverwriteStep {
        // Without the deadline (a mutant), the pauses go on at their longest.
        let pause = self
            .backoff
            .next(now)
            .or_else(|| active(Mutant::NoSignInDeadline).then_some(MAX_PAUSE_MS));
        let Some(ms) = pause else {
            return self.finish(false);
        };
        self.phase = Phase::Sleeping;
        OverwriteStep::Sleep { ms }
    }

    fn finish(&mut self, stored: bool) -> OverwriteStep {
        self.phase = Phase::Done;
        OverwriteStep::Finish { stored }
    }

    /// Why the set was not stored: the store's last fault (redacted with `secrets`), or a
    /// compare-and-set that kept losing.
    pub fn failure(&self, last_fault: Option<&StoreFault>, secrets: &[&str]) -> Failure {
        match last_fault {
            Some(fault) if self.store_failures > 0 => fault.failure(secrets),
            _ => {
                let what = match self.ours {
                    Written::SignIn { .. } => "the sign-in's tokens were",
                    Written::SignOut { .. } => "the sign-out was",
                };
                let mut f = Failure::store(concat_str(&[
                    "the store kept changing: ",
                    what,
                    " not stored (its compare-and-set kept losing until the deadline)",
                ]));
                f.set_retryable(true);
                f
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_in(refresh_token: &str) -> Written {
        Written::SignIn {
            refresh_token: refresh_token.to_owned(),
        }
    }

    fn drive(
        w: &mut Overwrite,
        mut answer: impl FnMut(OverwriteStep) -> OverwriteEvent<'static>,
    ) -> (bool, f64) {
        let mut now = 0.0;
        let mut step = w.start();
        for _ in 0..100_000 {
            if let OverwriteStep::Finish { stored } = step {
                return (stored, now);
            }
            if let OverwriteStep::Sleep { ms } = step {
                assert!(ms > 0.0);
                now += ms;
            }
            step = w.on(answer(step), now);
        }
        panic!("no end");
    }

    #[test]
    fn a_write_that_wins_is_stored() {
        let mut w = Overwrite::new(sign_in("r"), 0.0, 10_000.0);
        let (outcome, _) = drive(&mut w, |step| match step {
            OverwriteStep::Read => OverwriteEvent::Read(None),
            _ => OverwriteEvent::Swapped(true),
        });
        assert!(outcome);
    }

    #[test]
    fn a_lost_reply_is_checked_by_reading() {
        let mut w = Overwrite::new(sign_in("r"), 0.0, 10_000.0);
        let mut written = false;
        let ours = StoredSet {
            refresh_token: Some("r"),
            ..StoredSet::default()
        };
        let (outcome, _) = drive(&mut w, |step| match step {
            OverwriteStep::Read if written => OverwriteEvent::Read(Some(ours)),
            OverwriteStep::Read => OverwriteEvent::Read(None),
            OverwriteStep::Write => {
                written = true;
                OverwriteEvent::StoreFailed
            }
            _ => OverwriteEvent::Slept,
        });
        assert!(outcome);
    }

    #[test]
    fn a_store_that_never_matches_fails_within_the_deadline() {
        let mut w = Overwrite::new(sign_in("r"), 0.0, 10_000.0);
        let (outcome, now) = drive(&mut w, |step| match step {
            OverwriteStep::Read => OverwriteEvent::Read(None),
            OverwriteStep::Write => OverwriteEvent::Swapped(false),
            _ => OverwriteEvent::Slept,
        });
        assert!(!outcome);
        assert!((10_000.0..=10_001.0).contains(&now), "{now}");
        let f = w.failure(None, &[]);
        assert_eq!(f.kind(), crate::oauth::failure::Kind::Store);
        assert!(f.retryable());
    }

    #[test]
    fn a_read_the_store_refuses_for_good_ends_the_write_at_once() {
        let mut w = Overwrite::new(sign_in("r"), 0.0, 30_000.0);
        let mut reads = 0;
        let (stored, now) = drive(&mut w, |step| match step {
            OverwriteStep::Read => {
                reads += 1;
                OverwriteEvent::StoreRefused
            }
            _ => OverwriteEvent::Slept,
        });
        assert!(!stored);
        assert_eq!((reads, now), (1, 0.0), "no pause, no second read");
        let fault = StoreFault {
            call: "get",
            detail: "does not open".to_owned(),
            lasting: true,
        };
        assert!(w
            .failure(Some(&fault), &[])
            .message()
            .contains("does not open"));
    }

    #[test]
    fn a_store_fault_is_redacted_before_it_is_cut() {
        let mut w = Overwrite::new(sign_in("r"), 0.0, 100.0);
        let (stored, _) = drive(&mut w, |step| match step {
            OverwriteStep::Sleep { .. } => OverwriteEvent::Slept,
            _ => OverwriteEvent::StoreFailed,
        });
        assert!(!stored);
        // The secret straddles the 300-byte cut: cut first, its head would stay.
        let detail = format!("{}SECRETTOKEN tail", "x".repeat(295));
        let fault = StoreFault {
            call: "compareAndSet",
            detail,
            lasting: false,
        };
        let message = w.failure(Some(&fault), &["SECRETTOKEN"]).message();
        assert!(!message.contains("SECRE"), "{message}");
    }
}
