//! Renewal ahead of time (`accounts.renewDue`): its limits, the order sellers are taken in and the
//! pauses its workers start after, and what each seller's result is. What is due is decided by
//! the renewal itself: the protocol's ([`super::renewal`]) run with
//! [`super::renewal::Renewal::ahead_of_time`], which reads the stored set first, so it is as safe
//! beside live traffic, in this process and in others, as any renewal.

use super::renewal::Ending;

/// Renew a set that expires within this long, unless told otherwise: an hourly cron then finds
/// every seller before their token lapses.
pub const DEFAULT_WITHIN_MS: f64 = 3_600_000.0;
/// `within` at most: Avito's access tokens live 24 hours; a longer window renews every set on
/// every run.
pub const MAX_WITHIN_MS: f64 = 86_400_000.0;
/// Renewals at once unless told otherwise: 8 renew 5,000 sellers in minutes, and leave room in
/// a store's connection pool (pg's default is 10) for live traffic.
pub const DEFAULT_CONCURRENCY: u32 = 8;
pub const MAX_CONCURRENCY: u32 = 64;
/// Sellers in one call at most: the results are held until the call resolves.
pub const MAX_IDS: u32 = 100_000;
/// Each worker of a call starts after a random pause of up to this long: processes that a cron
/// starts at the same moment do not send their first requests in one burst (afterwards
/// `concurrency` bounds the pace).
pub const MAX_PAUSE_MS: f64 = 250.0;

/// One seller's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This call's renewal obtained new tokens (and stored them, or writes them on).
    Renewed,
    /// Valid past `within`: already, or renewed meanwhile by another renewer (live traffic, or
    /// another process).
    Fresh,
    SignInRequired,
    /// The renewal failed; the seller's `kind` says why (`aborted` for one never started).
    Failed,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Renewed => "renewed",
            Outcome::Fresh => "fresh",
            Outcome::SignInRequired => "sign_in_required",
            Outcome::Failed => "failed",
        }
    }

    /// The result of a renewal ahead of time that ended with a set: tokens it obtained, or a set
    /// valid past the window (it never ends with one that is still due: see
    /// [`super::renewal::Renewal::ahead_of_time`]).
    pub fn of_ending(ending: Ending) -> Outcome {
        match ending {
            Ending::UseTokens { .. } => Outcome::Renewed,
            Ending::UseLastRead => Outcome::Fresh,
            Ending::Fail(_) => Outcome::Failed,
        }
    }

    /// The result of a renewal that failed with an `ApiException` (`signInRequired`: its
    /// `signInRequired`, true for kind `sign_in_required` and for an `invalid_grant` answer).
    pub fn of_failure(sign_in_required: bool) -> Outcome {
        if sign_in_required {
            Outcome::SignInRequired
        } else {
            Outcome::Failed
        }
    }
}

/// The spread of one call: the order its sellers are taken in, and each renewal's pause, from
/// one random seed (xorshift64*: statistical quality is all this needs; the seed is the edge's
/// `crypto.getRandomValues`).
#[derive(Debug, Clone)]
pub struct Spread {
    state: u64,
}

impl Spread {
    pub fn new(seed: &[u8]) -> Spread {
        // FNV-1a folds the seed's bytes into the state; xorshift's state must not be 0.
        let folded = seed.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
        Spread {
            state: folded.max(1),
        }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `[0, n)` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// The positions `0..n` in a random order (Fisher–Yates): processes running the same list at
    /// once meet on the same seller rarely, instead of queueing behind one another's lease.
    pub fn order(&mut self, n: usize) -> Vec<u32> {
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            order.swap(i, self.below(i + 1));
        }
        order
    }

    /// The pause before a worker starts, in `[0, MAX_PAUSE_MS)`.
    pub fn pause_ms(&mut self) -> f64 {
        self.below(MAX_PAUSE_MS as usize) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::renewal::{SignIn, Why};

    #[test]
    fn results() {
        assert_eq!(
            Outcome::of_ending(Ending::UseTokens { persist: true }),
            Outcome::Renewed
        );
        assert_eq!(Outcome::of_ending(Ending::UseLastRead), Outcome::Fresh);
        assert_eq!(
            Outcome::of_ending(Ending::Fail(Why::SignIn(SignIn::Refused))),
            Outcome::Failed
        );
        assert_eq!(Outcome::of_failure(true), Outcome::SignInRequired);
        assert_eq!(Outcome::of_failure(false), Outcome::Failed);
        let names: Vec<_> = [
            Outcome::Renewed,
            Outcome::Fresh,
            Outcome::SignInRequired,
            Outcome::Failed,
        ]
        .map(Outcome::name)
        .into();
        assert_eq!(names, ["renewed", "fresh", "sign_in_required", "failed"]);
    }

    #[test]
    fn the_order_is_a_permutation_that_differs_by_seed_and_pauses_are_bounded() {
        let mut a = Spread::new(b"seed one");
        let order = a.order(1000);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
        assert_ne!(order, (0..1000).collect::<Vec<u32>>(), "shuffled");
        assert_ne!(order, Spread::new(b"seed two").order(1000));
        assert_eq!(
            order,
            Spread::new(b"seed one").order(1000),
            "one seed, one order"
        );
        assert!(Spread::new(b"").order(0).is_empty());
        assert_eq!(Spread::new(b"x").order(1), [0]);
        let pauses: Vec<f64> = (0..10_000).map(|_| a.pause_ms()).collect();
        assert!(pauses.iter().all(|p| (0.0..MAX_PAUSE_MS).contains(p)));
        // Spread over the range, not stuck at one end.
        let low = pauses.iter().filter(|p| **p < MAX_PAUSE_MS / 2.0).count();
        assert!((4_000..6_000).contains(&low), "{low}");
    }
}
