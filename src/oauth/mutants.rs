//! Guards of the protocol that the model check (`tests/rust/renewal_model.rs`) removes one at a
//! time, to show that each is needed: with the `model-mutants` feature a test switches one off
//! for its thread; without it (every build that ships) `active` is `false` and compiles away.

/// One guard of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutant {
    /// A mark whose compare-and-set reply was lost or false is not checked by re-reading.
    NoMarkCheck,
    /// An empty store is not seeded from the manager's `tokens`.
    NoSeed,
    /// A non-rotating answer is stored without the presented refresh token.
    NoKeptRefreshToken,
    /// A request is sent although its mark's `answer_by` has passed.
    NoSendDeadline,
    /// A renewer does not wait for another renewer's live mark.
    NoLiveMarkWait,
    /// A sign-in's or sign-out's write has no deadline.
    NoSignInDeadline,
    /// A renewal writes delivered tokens into a signed-out or emptied store.
    NoSignOutGuard,
    /// A background write of delivered tokens writes into a signed-out or emptied store.
    NoPersistSignOutGuard,
}

#[cfg(feature = "model-mutants")]
mod switch {
    use super::Mutant;
    use std::cell::Cell;

    thread_local! {
        static ACTIVE: Cell<Option<Mutant>> = const { Cell::new(None) };
    }

    /// Removes `mutant`'s guard on this thread (`None`: every guard in place).
    pub fn set(mutant: Option<Mutant>) {
        ACTIVE.with(|a| a.set(mutant));
    }

    pub fn active(mutant: Mutant) -> bool {
        ACTIVE.with(|a| a.get() == Some(mutant))
    }
}

#[cfg(feature = "model-mutants")]
pub use switch::{active, set};

/// Every guard is in place in a build without the `model-mutants` feature.
#[cfg(not(feature = "model-mutants"))]
#[inline(always)]
pub fn active(_: Mutant) -> bool {
    false
}
