//! The renewal protocol: decisions, not I/O. One [`Renewal`] is one process's attempt to obtain a
//! valid token set; the edge performs each [`Step`] it asks for (a store read, a seed, a lease, a
//! compare-and-set, the token request, a sleep) and feeds back what happened as an [`Event`].
//! Every decision is taken here, where the model check (`tests/rust/renewal_model.rs`) reaches it:
//! the edge keeps the JS values the steps name and never decides what they mean.
//!
//! The rules, in the words a user reads in README "Keeping tokens fresh":
//! - an empty store is seeded with the manager's `tokens` option, only before this manager read a
//!   set; a store that held a set and is empty now was emptied on purpose, and is signed out like
//!   one holding a sign-out's tombstone (`signed_out_at`): no renewal writes into either, and
//!   delivered tokens that meet one are discarded;
//! - one renewer at a time holds the store's lease; the others wait and re-read;
//! - before a refresh token is presented, the stored set is marked with a `renewal`
//!   ([`Mark`]): until its `answer_by` that request may still be answered, so nobody presents the
//!   same refresh token again — a second presentation while the first could be in flight is what
//!   a rotating server punishes. A mark's compare-and-set whose reply was lost or false is checked
//!   by re-reading: the store holding this renewal's mark means the write won;
//! - a request is not sent once its mark's `answer_by` has passed (a slow store can take that
//!   long), and it is abandoned at `answer_by`;
//! - when the answer is known, the mark goes: new tokens replace the set (with the presented
//!   refresh token kept when the server did not rotate it); delivered tokens whose write failed
//!   are handed out at once and written on in the background (`persist`: a store outage must not
//!   cost the seller the only copy of their sign-in); `invalid_grant` removes the refresh
//!   token (the seller must sign in); anything that proves the token untouched (nothing sent,
//!   429, 503, another OAuth error) restores the set;
//! - when the answer is lost (a reset after sending, a timeout, another 5xx, a garbled 2xx, a
//!   renewer that died), the same refresh token is presented again once its mark has passed, and
//!   the server decides: RFC 9700 replay detection revokes the successor the lost answer carried,
//!   which nobody holds, so nothing is lost that was not already lost. In `strict` mode (for
//!   servers that punish a replay harder) such a set means "sign in" instead;
//! - every wait has a deadline, every loop a delay; a failure for a passing reason hands out the
//!   stored access token while it is still valid.

use super::failure::{Delivery, Failure, Kind};
use super::mutants::{active, Mutant};
use super::text::concat_str;

/// Renew this long before `expires_at` unless told otherwise.
pub const DEFAULT_SKEW_MS: f64 = 60_000.0;
/// How long a renewal lease lasts at least unless told otherwise.
pub const DEFAULT_LEASE_MS: f64 = 10_000.0;
/// Other processes' clocks may run ahead of the renewer's: a waiter honours a mark this much
/// longer than its `answer_by` says.
pub const CLOCK_MARGIN_MS: f64 = 2_000.0;
/// Presentations of a refresh token in one renewal: the first, and one more at once when the
/// first one's answer was lost and time remains.
pub const MAX_PRESENTATIONS: u32 = 2;
/// Attempts to write delivered tokens to a store that failed or moved under us.
const MAX_STORE_WRITES: u32 = 3;

/// The store member holding a [`Mark`].
pub const RENEWAL: &str = "renewal";
/// The store member recording when the server refused the refresh token (which is removed).
pub const REFRESH_REFUSED_AT: &str = "refresh_refused_at";
/// The one member of a signed-out account's set (a tombstone: no token, no mark).
pub const SIGNED_OUT_AT: &str = "signed_out_at";

/// A refresh in flight (or whose answer was lost): who marked it and until when it may be answered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    /// Unix ms when the refresh token was (about to be) presented.
    pub presented_at: f64,
    /// Unix ms until which that presentation may still be answered; the request is abandoned then.
    pub answer_by: f64,
}

/// What the protocol reads of a stored token set.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoredSet<'a> {
    pub access_token: Option<&'a str>,
    /// Unix ms; `None` when the server gave no `expires_in` (good until an API refuses it).
    pub expires_at: Option<f64>,
    pub refresh_token: Option<&'a str>,
    pub renewal: Option<Mark>,
    /// The id of `renewal`: whose mark it is.
    pub renewal_id: Option<&'a str>,
    /// The server refused this set's refresh token earlier (`refresh_refused_at`).
    pub refused_earlier: bool,
    /// Unix ms of the sign-out this set records (a tombstone).
    pub signed_out_at: Option<f64>,
}

impl StoredSet<'_> {
    /// Whether delivered tokens that answered a presentation of `presented` are newer than this
    /// set: it still holds that refresh token (marked or not), or none (someone recorded a
    /// refusal of it after us). Any other refresh token is another rotation, the one to keep.
    pub fn is_renewed_by(&self, presented: Option<&str>) -> bool {
        self.refresh_token.is_none() || self.refresh_token == presented
    }

    /// Whether the store says "signed out": a tombstone, or — for a manager that has read a set
    /// before (`seen_a_set`) — nothing at all (the application deleted the row).
    pub fn signed_out(set: Option<&StoredSet>, seen_a_set: bool) -> bool {
        match set {
            Some(s) => s.signed_out_at.is_some(),
            None => seen_a_set,
        }
    }
}

/// Which grant renews.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalGrant {
    RefreshToken,
    ClientCredentials,
}

#[derive(Debug, Clone, Copy)]
pub struct RenewalConfig {
    pub grant: RenewalGrant,
    pub skew_ms: f64,
    pub lease_ms: f64,
    /// The longest one token request can take: timeout × attempts + retry delays.
    pub request_budget_ms: f64,
    /// Never present a refresh token whose earlier presentation's answer was lost.
    pub strict: bool,
}

impl RenewalConfig {
    /// The lease covers a whole request, so that it does not expire while the renewer waits.
    pub fn lease_ttl_ms(&self) -> f64 {
        self.lease_ms.max(self.request_budget_ms + 1_000.0)
    }
    /// How long one renewal may take before its callers get a typed failure: two leases (one may
    /// expire with its holder dead), one request, and the clock margin a waiter gives a mark
    /// (so that a waiter outlasts the mark of a renewer that died as it started).
    pub fn renewal_bound_ms(&self) -> f64 {
        2.0 * self.lease_ms + self.request_budget_ms + CLOCK_MARGIN_MS
    }
    /// The delay between two reads of the store while waiting for another renewer.
    pub fn poll_ms(&self) -> f64 {
        (self.lease_ms / 4.0).clamp(1.0, 100.0)
    }
    /// A store call that has not settled after this long has failed.
    pub fn store_call_timeout_ms(&self) -> f64 {
        self.lease_ms
    }
}

/// Whether a set's access token can be handed out now: present, not refused by an API
/// (`refused` is the token a caller reported), and not expiring within `skew_ms`. The one
/// freshness rule: a renewal's reads and a manager's cached token both use it.
pub fn is_usable(set: &StoredSet, refused: Option<&str>, now_ms: f64, skew_ms: f64) -> bool {
    match set.access_token {
        Some(at) if Some(at) != refused => {
            set.expires_at.map_or(true, |exp| exp - skew_ms > now_ms)
        }
        _ => false,
    }
}

/// How a token request ended, as the protocol needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A token set was delivered; `rotated`: it holds a refresh token (a server that does not
    /// rotate leaves the presented one valid).
    Tokens { rotated: bool },
    /// `invalid_grant`: the refresh token is dead.
    Refused,
    /// Another OAuth refusal: the server processed the request and left the token alone.
    Declined,
    /// Nothing reached the server, or it said it did not process the request (429, 503).
    NotSent,
    /// The request may have been processed, and its answer is lost.
    Uncertain,
}

/// What happened to the step the edge performed.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// The store's set (`None`: nothing stored).
    Read(Option<StoredSet<'a>>),
    /// Whether a lease was granted.
    Lease(bool),
    /// Whether a compare-and-set won.
    Swapped(bool),
    Answered(Answer),
    Released,
    Slept,
    /// A store call rejected, threw or did not settle in time, or `get` returned something that
    /// is not a TokenSet.
    StoreFailed,
}

/// Which value a compare-and-set expects the store to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The set last read.
    LastRead,
    /// The set this renewer wrote with its mark.
    Marked,
}

/// What the edge does next. Compare-and-sets name what they expect and what they write; the edge
/// keeps the JS values (the last read set, the marked set, the delivered tokens).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    Read,
    /// CAS(`undefined` → the manager's `tokens` option), then read again.
    Seed,
    AcquireLease {
        ttl_ms: f64,
    },
    /// CAS(`over` → the last read set with this mark and the id [`Renewal::mark_id`], without any
    /// earlier mark).
    Mark {
        mark: Mark,
        over: Expected,
    },
    /// The token request: the refresh token of the last read set, or client_credentials. It must
    /// be abandoned at `abandon_at` (which is still ahead when the step is given).
    Request {
        abandon_at: f64,
    },
    /// CAS(`over` → the delivered tokens). `keep_refresh_token`: the server did not rotate, so
    /// the delivered set is written with the refresh token that was presented.
    StoreTokens {
        over: Expected,
        keep_refresh_token: bool,
    },
    /// CAS(marked → the last read set without its mark): the token is untouched.
    Unmark,
    /// CAS(marked → the last read set without its mark and refresh token, with
    /// `refresh_refused_at`): the server refused the refresh token.
    RecordRefused {
        at: f64,
    },
    /// CAS(marked → the marked set with this mark, same id): the answer is lost, and nobody can
    /// receive it after `answer_by`.
    RecordUncertain(Mark),
    Release,
    Sleep {
        ms: f64,
    },
    Finish(Ending),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The last read set is usable (fresh, or still valid after a passing failure).
    UseLastRead,
    /// The delivered tokens; `persist`: they are not stored yet (the store failed), and the
    /// edge keeps writing them in the background ([`super::persist`]).
    UseTokens {
        persist: bool,
    },
    Fail(Why),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The seller must sign in again.
    SignIn(SignIn),
    /// The token request's own failure.
    Answer,
    /// The mark's `answer_by` passed before the request could be sent (nothing was sent).
    NotSentInTime,
    /// Waited past the renewal's deadline for another renewer.
    Timeout,
    /// A store call failed (rejected, threw, or did not settle).
    Store,
    /// The store's compareAndSet kept refusing what its get() returned.
    StoreNeverMatched,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// The store holds no refresh token (never had one, or the server refused it earlier).
    NoRefreshToken,
    /// The server answered `invalid_grant` now.
    Refused,
    /// Strict mode: an earlier presentation's answer was lost.
    LostAnswer,
    /// The account was signed out (a tombstone, or a store emptied since this manager read it).
    SignedOut,
}

impl Why {
    /// The renewal fails with the token request's own failure.
    pub fn is_the_answer(self) -> bool {
        matches!(self, Why::Answer | Why::SignIn(SignIn::Refused))
    }

    /// A reason that may pass by itself: a still-valid access token is handed out instead.
    pub fn is_passing(self, answer: Option<Answer>) -> bool {
        match self {
            Why::SignIn(_) | Why::StoreNeverMatched => false,
            Why::Timeout | Why::Store | Why::NotSentInTime => true,
            Why::Answer => matches!(answer, Some(Answer::NotSent | Answer::Uncertain)),
        }
    }
}

/// A store call that failed: which one, and what the store said (its own words, not yet
/// redacted; bounded by the edge before they are kept).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreFault {
    pub call: &'static str,
    pub detail: String,
    /// Waiting will not mend it: the store refused the call for what it holds or was given (a
    /// sealed record that does not open, an argument it refuses), not for a passing outage.
    pub lasting: bool,
}

/// How much of a store's error text a failure message keeps, after redaction.
pub const STORE_DETAIL_LIMIT: usize = 300;

impl StoreFault {
    /// The `store` failure a user reads: the store's words redacted with every secret the
    /// renewal has seen, then cut (cut first, a token straddling the cut would keep its head).
    pub fn failure(&self, secrets: &[&str]) -> Failure {
        let detail = super::redact::redact(&self.detail, secrets, STORE_DETAIL_LIMIT);
        let mut f = Failure::store(concat_str(&[
            "the token store's ",
            self.call,
            "() failed: ",
            &detail,
        ]));
        f.set_retryable(true);
        f
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Reading {
        leased: bool,
    },
    Seeding,
    Leasing,
    Marking,
    /// Re-reading after a mark's compare-and-set answered `false` (`failed`: it failed) — the
    /// write may have won and its reply been lost.
    CheckingMark {
        failed: bool,
    },
    Requesting,
    Storing,
    /// A CAS that reports the request's outcome; then release and end.
    Recording,
    /// The same, for a lost answer this renewal presents again after the clock margin.
    RecordingThenAgain,
    Releasing,
    Sleeping,
    Done,
}

/// One renewal by one process.
#[derive(Debug, Clone)]
pub struct Renewal {
    cfg: RenewalConfig,
    deadline: f64,
    phase: Phase,
    lease_held: bool,
    presentations: u32,
    store_writes: u32,
    /// The refresh token of the set last marked (what the request presented).
    presented: Option<String>,
    /// Whether the last read set's access token is still valid (not refused, not expired).
    last_read_valid: bool,
    /// Whether the last read set records an earlier refusal of its refresh token.
    last_read_refused_earlier: bool,
    last_answer: Option<Answer>,
    /// What to finish with once the lease is released.
    ending: Option<Ending>,
    /// CAS that lost to a store that still held what we read: a sign of a store whose
    /// compare-and-set cannot match.
    lost_swaps: u32,
    refused_access_token: Option<String>,
    /// The `answer_by` of the mark being written: the request is abandoned then.
    mark_answer_by: f64,
    /// An empty store may be seeded (the manager has a `tokens` option and read no set yet).
    may_seed: bool,
    /// Whether this manager, or a read of this renewal, found a set: an empty store then means
    /// signed out.
    read_a_set: bool,
    /// Mark ids are `{nonce}.{n}`: unique across processes (the nonce is random), new per mark.
    nonce: String,
    marks: u32,
    /// A renewal ahead of time ([`Renewal::ahead_of_time`]): it never ends with a still-valid
    /// set that is due.
    ahead: bool,
    /// Why the write asked for last ends a failed presentation ([`Renewal::recorded`]).
    recorded: Option<Why>,
}

/// How a renewal starts: what the manager knows before it.
#[derive(Debug, Clone)]
pub struct Start<'a> {
    /// An access token an API refused (never handed out again).
    pub refused: Option<&'a str>,
    /// The manager has a seed (`tokens`).
    pub has_seed: bool,
    /// The manager has read a set from the store before (in an earlier renewal).
    pub seen_a_set: bool,
    /// Random, unique across processes: the base of this renewal's mark ids.
    pub nonce: String,
}

impl Renewal {
    pub fn new(cfg: RenewalConfig, now_ms: f64, start: Start) -> Renewal {
        Renewal {
            cfg,
            deadline: now_ms + cfg.renewal_bound_ms(),
            phase: Phase::Reading { leased: false },
            lease_held: false,
            presentations: 0,
            store_writes: 0,
            presented: None,
            last_read_valid: false,
            last_read_refused_earlier: false,
            last_answer: None,
            ending: None,
            lost_swaps: 0,
            refused_access_token: start.refused.map(str::to_owned),
            mark_answer_by: f64::NAN,
            may_seed: start.has_seed && !start.seen_a_set,
            read_a_set: start.seen_a_set,
            nonce: start.nonce,
            marks: 0,
            ahead: false,
            recorded: None,
        }
    }

    /// Makes this a renewal ahead of time (`accounts.renewDue`): a set that expires within
    /// `within_ms` is renewed (not only one inside the manager's skew), a set without a refresh
    /// token asks for a sign-in however long its access token lives, and the renewal ends with a
    /// set valid past the window, or fails: a still-valid token is not taken instead of waiting
    /// for another renewer, nor after a passing failure, because the caller wants the renewal,
    /// not a token. Everything else (the lease, the mark, the rules of a lost answer) is the
    /// protocol's as for any renewal.
    pub fn ahead_of_time(&mut self, within_ms: f64) {
        self.cfg.skew_ms = self.cfg.skew_ms.max(within_ms);
        self.ahead = true;
    }

    /// The first step.
    pub fn start(&self) -> Step {
        Step::Read
    }

    /// The id of the mark this renewal writes or wrote last.
    pub fn mark_id(&self) -> String {
        let n = self.marks.to_string();
        concat_str(&[&self.nonce, ".", &n])
    }

    /// Why the presentation the last write reports failed (the set's `health` records it), even
    /// when the renewal then hands out the still-valid token.
    pub fn recorded(&self) -> Option<Why> {
        self.recorded
    }

    /// How many times this renewal presented a refresh token (or asked client_credentials).
    pub fn presentations(&self) -> u32 {
        self.presentations
    }

    /// Why a renewal ending in `SignIn(why)` asks for a sign-in, as events name it.
    pub fn sign_in_reason(&self, why: SignIn) -> &'static str {
        match why {
            SignIn::Refused => "refused",
            SignIn::NoRefreshToken if self.last_read_refused_earlier => "refused",
            SignIn::NoRefreshToken => "none_stored",
            SignIn::SignedOut => "signed_out",
            SignIn::LostAnswer => "lost_answer",
        }
    }

    /// The ending of a renewal whose manager was signed out while it ran: whatever it obtained
    /// is discarded, and its callers are told to sign in.
    pub fn signed_out_meanwhile(&self) -> Ending {
        Ending::Fail(Why::SignIn(SignIn::SignedOut))
    }

    /// The next step after `event`, at `now_ms`.
    pub fn on(&mut self, event: Event, now_ms: f64) -> Step {
        match (self.phase, event) {
            (Phase::Reading { leased }, Event::Read(set)) => self.on_read(set, leased, now_ms),
            (Phase::Seeding, Event::Swapped(_)) => {
                // Won, or someone else wrote first: read what the store holds now.
                self.phase = Phase::Reading { leased: false };
                Step::Read
            }
            (Phase::Leasing, Event::Lease(true)) => {
                self.lease_held = true;
                self.phase = Phase::Reading { leased: true };
                Step::Read
            }
            (Phase::Leasing, Event::Lease(false)) => self.wait(now_ms),
            (Phase::Sleeping, Event::Slept) => {
                self.phase = Phase::Reading {
                    leased: self.lease_held,
                };
                Step::Read
            }
            (Phase::RecordingThenAgain, Event::Swapped(_) | Event::StoreFailed) => {
                // Keep the lease through the pause: nobody else presents meanwhile.
                self.phase = Phase::Sleeping;
                Step::Sleep {
                    ms: CLOCK_MARGIN_MS,
                }
            }
            (Phase::Marking, Event::Swapped(true)) => self.send(now_ms),
            (Phase::Marking, Event::Swapped(false)) => {
                self.phase = Phase::CheckingMark { failed: false };
                Step::Read
            }
            (Phase::Marking, Event::StoreFailed) => {
                self.phase = Phase::CheckingMark { failed: true };
                Step::Read
            }
            (Phase::CheckingMark { failed }, Event::Read(set)) => {
                // The reply may have been lost after the write: the store holding our mark means
                // the write won (else our own mark, with nothing sent, would hold every renewer
                // off until its answer_by).
                let ours = self.mark_id();
                if set.and_then(|s| s.renewal_id) == Some(ours.as_str())
                    && !active(Mutant::NoMarkCheck)
                {
                    return self.send(now_ms);
                }
                self.mark_lost(failed, now_ms)
            }
            (Phase::CheckingMark { failed }, Event::StoreFailed) => self.mark_lost(failed, now_ms),
            (Phase::Requesting, Event::Answered(answer)) => self.on_answer(answer, now_ms),
            (Phase::Storing, Event::Swapped(true)) => {
                self.end(Ending::UseTokens { persist: false })
            }
            (Phase::Storing, Event::StoreFailed) => {
                // The only copy of this rotation: handed out now, written on in the background.
                self.end(Ending::UseTokens { persist: true })
            }
            (Phase::Storing, Event::Swapped(false)) => {
                // Delivered tokens are the newest rotation: they must reach the store unless it
                // moved on to another rotation or was signed out. Read it again and decide.
                self.store_writes += 1;
                if self.store_writes >= MAX_STORE_WRITES {
                    return self.end(Ending::UseTokens { persist: true });
                }
                self.phase = Phase::Reading { leased: true };
                Step::Read
            }
            (Phase::Recording, Event::Swapped(_) | Event::StoreFailed) => {
                // Lost or failed, the request's own outcome stands (a store error must not
                // replace `signInRequired`).
                let ending = self.ending.unwrap_or(Ending::Fail(Why::Answer));
                self.end(ending)
            }
            (Phase::Releasing, Event::Released | Event::StoreFailed) => {
                // A failed release is harmless: the lease expires by itself.
                self.lease_held = false;
                match self.ending {
                    Some(ending) => {
                        self.phase = Phase::Done;
                        Step::Finish(ending)
                    }
                    // Released to let someone else's request be answered: keep waiting.
                    None => self.wait(now_ms),
                }
            }
            (Phase::Reading { .. }, Event::StoreFailed) if self.delivered() => {
                // Delivered tokens are valid whatever the store does.
                self.end(Ending::UseTokens { persist: true })
            }
            (Phase::Reading { .. } | Phase::Seeding | Phase::Leasing, Event::StoreFailed) => {
                self.presented = None;
                self.fail(Why::Store)
            }
            // Anything else is the edge feeding an event the step did not ask for: end the
            // renewal as a store failure rather than guess.
            _ => self.fail(Why::Store),
        }
    }

    fn delivered(&self) -> bool {
        matches!(self.last_answer, Some(Answer::Tokens { .. }))
    }

    /// The mark did not win (`failed`: its compare-and-set failed, and the check read did not
    /// find it either).
    fn mark_lost(&mut self, failed: bool, now: f64) -> Step {
        self.presented = None;
        if failed {
            return self.fail(Why::Store);
        }
        // The store moved since we read it: read again, after a pause (a store whose
        // compare-and-set never matches must not spin us).
        self.lost_swaps += 1;
        self.wait(now)
    }

    /// The request the mark covers, unless its `answer_by` has passed already: then it is not
    /// sent at all, and the mark is taken back.
    fn send(&mut self, now: f64) -> Step {
        if now >= self.mark_answer_by && !active(Mutant::NoSendDeadline) {
            self.last_answer = Some(Answer::NotSent);
            return self.record(Step::Unmark, Why::NotSentInTime);
        }
        self.presentations += 1;
        self.phase = Phase::Requesting;
        Step::Request {
            abandon_at: self.mark_answer_by,
        }
    }

    fn on_read(&mut self, set: Option<StoredSet>, leased: bool, now: f64) -> Step {
        if set.is_none() && self.may_seed && !self.read_a_set && !active(Mutant::NoSeed) {
            // Once: a seed that someone else's write beat is not written again.
            self.may_seed = false;
            self.phase = Phase::Seeding;
            return Step::Seed;
        }
        let refresh_grant = self.cfg.grant == RenewalGrant::RefreshToken;
        if refresh_grant
            && StoredSet::signed_out(set.as_ref(), self.read_a_set)
            && !active(Mutant::NoSignOutGuard)
        {
            // Delivered tokens that meet a sign-out are discarded with it.
            self.last_read_valid = false;
            return self.fail(Why::SignIn(SignIn::SignedOut));
        }
        self.read_a_set |= set.is_some();
        let set = set.unwrap_or_default();
        let refused = self.refused_access_token.as_deref();
        self.last_read_valid = is_usable(&set, refused, now, 0.0);
        self.last_read_refused_earlier = set.refused_earlier;
        if self.phase_is_storing_again() {
            return self.store_over(set);
        }
        if self.ahead && refresh_grant && set.refresh_token.is_none() {
            // Whatever its access token: nothing can renew this set, and finding such sellers
            // is what a renewal ahead of time is for.
            return self.fail(Why::SignIn(SignIn::NoRefreshToken));
        }
        if is_usable(&set, refused, now, self.cfg.skew_ms) {
            return self.end(Ending::UseLastRead);
        }
        if now > self.deadline {
            return self.fail(Why::Timeout);
        }
        if self.cfg.grant == RenewalGrant::RefreshToken {
            if set.refresh_token.is_none() {
                return self.fail(Why::SignIn(SignIn::NoRefreshToken));
            }
            if let Some(mark) = set.renewal {
                if now < mark.answer_by + CLOCK_MARGIN_MS && !active(Mutant::NoLiveMarkWait) {
                    return self.wait(now); // its answer may still come
                }
                if self.cfg.strict {
                    return self.fail(Why::SignIn(SignIn::LostAnswer));
                }
            }
        }
        if !leased {
            self.phase = Phase::Leasing;
            return Step::AcquireLease {
                ttl_ms: self.cfg.lease_ttl_ms(),
            };
        }
        match self.cfg.grant {
            RenewalGrant::ClientCredentials => {
                self.phase = Phase::Requesting;
                self.presentations += 1;
                Step::Request {
                    abandon_at: now + self.cfg.request_budget_ms,
                }
            }
            RenewalGrant::RefreshToken => {
                self.presented = set.refresh_token.map(str::to_owned);
                self.mark(now, Expected::LastRead)
            }
        }
    }

    fn phase_is_storing_again(&self) -> bool {
        self.store_writes > 0 && self.delivered()
    }

    /// The delivered tokens' write, over `over`.
    fn store_tokens(&mut self, over: Expected) -> Step {
        self.phase = Phase::Storing;
        Step::StoreTokens {
            over,
            keep_refresh_token: self.last_answer == Some(Answer::Tokens { rotated: false })
                && !active(Mutant::NoKeptRefreshToken),
        }
    }

    /// After a store write of delivered tokens lost: write them over the set read now if it is
    /// still the one we renewed (marked, unmarked, or recorded as refused by someone who
    /// presented it after us); leave a different rotation alone.
    fn store_over(&mut self, set: StoredSet) -> Step {
        let ours_is_newer = match self.cfg.grant {
            RenewalGrant::ClientCredentials => true,
            RenewalGrant::RefreshToken => set.is_renewed_by(self.presented.as_deref()),
        };
        if !ours_is_newer {
            // Another rotation replaced ours: it is the one to keep.
            return self.end(Ending::UseTokens { persist: false });
        }
        self.store_tokens(Expected::LastRead)
    }

    fn on_answer(&mut self, answer: Answer, now: f64) -> Step {
        self.last_answer = Some(answer);
        if self.cfg.grant == RenewalGrant::ClientCredentials {
            return match answer {
                Answer::Tokens { .. } => self.store_tokens(Expected::LastRead),
                _ => self.fail(Why::Answer),
            };
        }
        match answer {
            Answer::Tokens { .. } => self.store_tokens(Expected::Marked),
            Answer::Refused => self.record(
                Step::RecordRefused { at: now },
                Why::SignIn(SignIn::Refused),
            ),
            Answer::Declined | Answer::NotSent => self.record(Step::Unmark, Why::Answer),
            Answer::Uncertain => {
                // The mark moves to now: nobody can receive that answer any more. The next
                // presentation comes CLOCK_MARGIN_MS later — the abandoned request may still be
                // on its way to the server or open there for a moment (a client's abort reaches
                // the socket late) — from this renewal when time remains (it keeps the lease
                // meanwhile), else from the next renewer (or, strict, a sign-in).
                let moved = Step::RecordUncertain(Mark {
                    presented_at: now,
                    answer_by: now,
                });
                let time_left = self.deadline - now > self.cfg.request_budget_ms + CLOCK_MARGIN_MS;
                if !self.cfg.strict && self.presentations < MAX_PRESENTATIONS && time_left {
                    self.phase = Phase::RecordingThenAgain;
                    return moved;
                }
                self.record(moved, Why::Answer)
            }
        }
    }

    fn mark(&mut self, now: f64, over: Expected) -> Step {
        self.phase = Phase::Marking;
        self.marks += 1;
        self.mark_answer_by = now + self.cfg.request_budget_ms;
        Step::Mark {
            mark: Mark {
                presented_at: now,
                answer_by: self.mark_answer_by,
            },
            over,
        }
    }

    fn record(&mut self, step: Step, why: Why) -> Step {
        self.recorded = Some(why);
        self.ending = Some(self.failure_ending(why));
        self.phase = Phase::Recording;
        step
    }

    fn failure_ending(&self, why: Why) -> Ending {
        if !self.ahead && why.is_passing(self.last_answer_for(why)) && self.last_read_valid {
            Ending::UseLastRead
        } else {
            Ending::Fail(why)
        }
    }

    fn last_answer_for(&self, why: Why) -> Option<Answer> {
        match why {
            Why::Answer => self.last_answer,
            _ => None,
        }
    }

    fn fail(&mut self, why: Why) -> Step {
        let why = match why {
            Why::Timeout if self.lost_swaps > 0 && self.lost_swaps_dominate() => {
                Why::StoreNeverMatched
            }
            other => other,
        };
        let ending = self.failure_ending(why);
        self.end(ending)
    }

    /// A deadline reached while every attempt to mark lost: the store's compare-and-set is the
    /// likely culprit, and the message should say so.
    fn lost_swaps_dominate(&self) -> bool {
        self.lost_swaps >= 3
    }

    fn wait(&mut self, now: f64) -> Step {
        if now > self.deadline {
            return self.fail(Why::Timeout);
        }
        if self.last_read_valid && self.store_writes == 0 && !self.ahead {
            // Someone else is renewing, and the stored access token still works (inside the
            // skew, not expired): hand it out rather than keep a caller waiting.
            return self.end(Ending::UseLastRead);
        }
        if self.lease_held {
            // Someone else's request may still be answered: let the lease go while we wait.
            self.ending = None;
            self.phase = Phase::Releasing;
            return Step::Release;
        }
        self.phase = Phase::Sleeping;
        Step::Sleep {
            ms: self.cfg.poll_ms().min((self.deadline - now).max(0.0) + 1.0),
        }
    }

    fn end(&mut self, ending: Ending) -> Step {
        self.ending = Some(ending);
        if self.lease_held {
            self.phase = Phase::Releasing;
            return Step::Release;
        }
        self.phase = Phase::Done;
        Step::Finish(ending)
    }

    /// The failure a renewal that ended in `Fail(why)` hands its callers. `request`: the token
    /// request's own failure (already redacted), when one was sent; `store`: the store call that
    /// failed; `secrets`: every token the renewal has seen (a store's words are redacted with
    /// them).
    pub fn failure(
        &self,
        why: Why,
        request: Option<&Failure>,
        store: Option<&StoreFault>,
        secrets: &[&str],
    ) -> Failure {
        match why {
            Why::SignIn(SignIn::Refused) | Why::Answer => match request {
                Some(f) => f.clone(),
                None => Failure::store("the renewal ended without an answer"),
            },
            Why::NotSentInTime => Failure::timeout(
                "the renewal's deadline passed before the refresh could be sent",
                Delivery::NotSent,
            ),
            Why::SignIn(SignIn::NoRefreshToken) if self.last_read_refused_earlier => Failure::sign_in(
                "the server refused this account's refresh token earlier (invalid_grant): sign in again",
            ),
            Why::SignIn(SignIn::NoRefreshToken) => {
                Failure::sign_in("no refresh token is stored: sign in again")
            }
            Why::SignIn(SignIn::SignedOut) => {
                Failure::sign_in("this account was signed out: sign in again")
            }
            Why::SignIn(SignIn::LostAnswer) => Failure::sign_in(
                "an earlier renewal presented this refresh token and its answer was lost; with strictRotation it is not presented again: sign in again",
            ),
            Why::Timeout => {
                let bound = (self.cfg.renewal_bound_ms() as u64).to_string();
                let mut f = Failure::timeout(
                    concat_str(&[
                        "another renewal of this account did not finish within ",
                        &bound,
                        " ms",
                    ]),
                    Delivery::MayHaveArrived,
                );
                f.set_retryable(true);
                f
            }
            Why::Store => match store {
                Some(fault) => fault.failure(secrets),
                None => StoreFault {
                    call: "get",
                    detail: "it failed".to_owned(),
                    lasting: false,
                }
                .failure(secrets),
            },
            Why::StoreNeverMatched => Failure::store(
                "the token store's compareAndSet() kept refusing the set its get() returned: it must compare access_token, refresh_token and renewal.id, not identity",
            ),
        }
    }
}

/// The request was abandoned at its mark's `answer_by`: that is what its caller reads, whatever
/// the platform said about the abort.
pub fn abandoned_at_mark(delivery: Delivery) -> Failure {
    Failure::timeout(
        "no answer from the token endpoint before the renewal's deadline",
        delivery,
    )
}

/// What a failed token request means for the refresh token it presented (or for a
/// client_credentials request): see [`Answer`].
pub fn answer_of(f: &Failure) -> Answer {
    match f.kind() {
        Kind::OAuth if f.sign_in_required() => Answer::Refused,
        Kind::OAuth => Answer::Declined,
        Kind::InvalidArgument | Kind::SignInRequired => Answer::NotSent,
        Kind::Http if matches!(f.status(), Some(429 | 503)) => Answer::NotSent,
        Kind::Network | Kind::Aborted if f.not_sent() => Answer::NotSent,
        Kind::Http
        | Kind::Network
        | Kind::Aborted
        | Kind::Timeout
        | Kind::InvalidResponse
        | Kind::Store => Answer::Uncertain,
    }
}

/// The longest one token request can take: every attempt's timeout and the longest delay
/// between attempts.
pub fn request_budget_ms(timeout_ms: f64, policy: &super::retry::RetryPolicy) -> f64 {
    let attempts = f64::from(policy.max_attempts.max(1));
    timeout_ms * attempts + policy.max_delay_ms as f64 * (attempts - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::failure::{Delivery, Failure, Kind, Response};

    fn start(refused: Option<&str>) -> Start<'_> {
        Start {
            refused,
            has_seed: false,
            seen_a_set: false,
            nonce: "n".to_owned(),
        }
    }

    const CFG: RenewalConfig = RenewalConfig {
        grant: RenewalGrant::RefreshToken,
        skew_ms: 60_000.0,
        lease_ms: 10_000.0,
        request_budget_ms: 30_000.0,
        strict: false,
    };

    fn set<'a>(at: &'a str, exp: f64, rt: Option<&'a str>, mark: Option<Mark>) -> StoredSet<'a> {
        StoredSet {
            access_token: Some(at),
            expires_at: Some(exp),
            refresh_token: rt,
            renewal: mark,
            ..StoredSet::default()
        }
    }

    /// Drives a renewal from a read of `stored` through a granted lease to its mark.
    fn to_request(r: &mut Renewal, stored: StoredSet, now: f64) {
        assert_eq!(
            r.on(Event::Read(Some(stored)), now),
            Step::AcquireLease {
                ttl_ms: CFG.lease_ttl_ms()
            }
        );
        assert_eq!(r.on(Event::Lease(true), now), Step::Read);
        assert!(matches!(
            r.on(Event::Read(Some(stored)), now),
            Step::Mark {
                over: Expected::LastRead,
                ..
            }
        ));
        assert!(matches!(
            r.on(Event::Swapped(true), now),
            Step::Request { .. }
        ));
    }

    #[test]
    fn a_fresh_set_is_used_without_a_lease() {
        let mut r = Renewal::new(CFG, 0.0, start(None));
        let s = set("a", 1e9, Some("r"), None);
        assert_eq!(
            r.on(Event::Read(Some(s)), 0.0),
            Step::Finish(Ending::UseLastRead)
        );
        // ... unless an API refused that access token.
        let mut r = Renewal::new(CFG, 0.0, start(Some("a")));
        assert!(matches!(
            r.on(Event::Read(Some(s)), 0.0),
            Step::AcquireLease { .. }
        ));
    }

    #[test]
    fn delivered_tokens_replace_the_marked_set() {
        let mut r = Renewal::new(CFG, 0.0, start(None));
        to_request(&mut r, set("a", 0.0, Some("r"), None), 1.0);
        assert_eq!(
            r.on(Event::Answered(Answer::Tokens { rotated: true }), 2.0),
            Step::StoreTokens {
                over: Expected::Marked,
                keep_refresh_token: false
            }
        );
        assert_eq!(r.on(Event::Swapped(true), 3.0), Step::Release);
        assert_eq!(
            r.on(Event::Released, 3.0),
            Step::Finish(Ending::UseTokens { persist: false })
        );
    }

    #[test]
    fn a_lost_answer_is_presented_again_after_the_margin_then_left_for_the_next_call() {
        let mut r = Renewal::new(CFG, 0.0, start(None));
        let s = set("a", 0.0, Some("r"), None);
        to_request(&mut r, s, 1.0);
        let moved = Mark {
            presented_at: 5.0,
            answer_by: 5.0,
        };
        assert_eq!(
            r.on(Event::Answered(Answer::Uncertain), 5.0),
            Step::RecordUncertain(moved)
        );
        // The lease is kept through the pause; then the same token is presented again.
        assert_eq!(
            r.on(Event::Swapped(true), 6.0),
            Step::Sleep {
                ms: CLOCK_MARGIN_MS
            }
        );
        let later = 6.0 + CLOCK_MARGIN_MS;
        assert_eq!(r.on(Event::Slept, later), Step::Read);
        let recorded = set("a", 0.0, Some("r"), Some(moved));
        assert!(matches!(
            r.on(Event::Read(Some(recorded)), later),
            Step::Mark {
                over: Expected::LastRead,
                ..
            }
        ));
        assert!(matches!(
            r.on(Event::Swapped(true), later),
            Step::Request { .. }
        ));
        // The second loss in one renewal: the mark is moved to now, and the failure surfaces.
        let end = later + 10.0;
        assert_eq!(
            r.on(Event::Answered(Answer::Uncertain), end),
            Step::RecordUncertain(Mark {
                presented_at: end,
                answer_by: end
            })
        );
        assert_eq!(r.on(Event::Swapped(true), end), Step::Release);
        assert_eq!(
            r.on(Event::Released, end),
            Step::Finish(Ending::Fail(Why::Answer))
        );
    }

    #[test]
    fn a_live_mark_is_waited_for_and_a_passed_one_presented_again() {
        let mark = Mark {
            presented_at: 0.0,
            answer_by: 1_000.0,
        };
        let mut r = Renewal::new(CFG, 0.0, start(None));
        let s = set("a", 0.0, Some("r"), Some(mark));
        assert!(matches!(
            r.on(Event::Read(Some(s)), 500.0),
            Step::Sleep { .. }
        ));
        assert!(matches!(r.on(Event::Slept, 600.0), Step::Read));
        let later = 1_000.0 + CLOCK_MARGIN_MS + 1.0;
        assert!(matches!(
            r.on(Event::Read(Some(s)), later),
            Step::AcquireLease { .. }
        ));
        // Strict: the same set means "sign in".
        let mut strict = Renewal::new(
            RenewalConfig {
                strict: true,
                ..CFG
            },
            0.0,
            start(None),
        );
        assert_eq!(
            strict.on(Event::Read(Some(s)), later),
            Step::Finish(Ending::Fail(Why::SignIn(SignIn::LostAnswer)))
        );
    }

    #[test]
    fn invalid_grant_removes_the_refresh_token_and_a_store_error_then_does_not_hide_it() {
        let mut r = Renewal::new(CFG, 0.0, start(None));
        to_request(&mut r, set("a", 0.0, Some("r"), None), 1.0);
        assert_eq!(
            r.on(Event::Answered(Answer::Refused), 2.0),
            Step::RecordRefused { at: 2.0 }
        );
        assert_eq!(r.on(Event::StoreFailed, 3.0), Step::Release);
        assert_eq!(
            r.on(Event::StoreFailed, 3.0),
            Step::Finish(Ending::Fail(Why::SignIn(SignIn::Refused)))
        );
        let mut r = Renewal::new(CFG, 0.0, start(None));
        let none = StoredSet {
            refresh_token: None,
            ..set("a", 0.0, None, None)
        };
        assert_eq!(
            r.on(Event::Read(Some(none)), 0.0),
            Step::Finish(Ending::Fail(Why::SignIn(SignIn::NoRefreshToken)))
        );
    }

    #[test]
    fn a_passing_failure_hands_out_the_still_valid_token() {
        let mut r = Renewal::new(CFG, 0.0, start(None));
        // Valid for 30 s more: inside the 60 s skew, so a renewal runs.
        to_request(&mut r, set("a", 30_000.0, Some("r"), None), 1.0);
        assert_eq!(r.on(Event::Answered(Answer::NotSent), 2.0), Step::Unmark);
        assert_eq!(r.on(Event::Swapped(true), 2.0), Step::Release);
        assert_eq!(
            r.on(Event::Released, 2.0),
            Step::Finish(Ending::UseLastRead)
        );
        // A refusal is not passing.
        let mut r = Renewal::new(CFG, 0.0, start(None));
        to_request(&mut r, set("a", 30_000.0, Some("r"), None), 1.0);
        assert_eq!(r.on(Event::Answered(Answer::Declined), 2.0), Step::Unmark);
        r.on(Event::Swapped(true), 2.0);
        assert_eq!(
            r.on(Event::Released, 2.0),
            Step::Finish(Ending::Fail(Why::Answer))
        );
    }

    #[test]
    fn a_waiter_hands_out_the_still_valid_token_instead_of_waiting() {
        let mark = Mark {
            presented_at: 0.0,
            answer_by: 100_000.0,
        };
        // Valid for 30 s more (inside the 60 s skew); another renewer's request is in flight.
        let s = set("a", 30_000.0, Some("r"), Some(mark));
        let mut r = Renewal::new(CFG, 0.0, start(None));
        assert_eq!(
            r.on(Event::Read(Some(s)), 1.0),
            Step::Finish(Ending::UseLastRead)
        );
        // The lease is taken by someone else: the same.
        let s = set("a", 30_000.0, Some("r"), None);
        let mut r = Renewal::new(CFG, 0.0, start(None));
        r.on(Event::Read(Some(s)), 1.0);
        assert_eq!(
            r.on(Event::Lease(false), 1.0),
            Step::Finish(Ending::UseLastRead)
        );
        // Expired: wait.
        let s = set("a", 0.0, Some("r"), Some(mark));
        let mut r = Renewal::new(CFG, 0.0, start(None));
        assert!(matches!(
            r.on(Event::Read(Some(s)), 1.0),
            Step::Sleep { .. }
        ));
    }

    #[test]
    fn ahead_of_time_renews_a_set_inside_its_window_and_takes_no_still_valid_token_instead() {
        const HOUR: f64 = 3_600_000.0;
        let ahead = |now| {
            let mut r = Renewal::new(CFG, now, start(None));
            r.ahead_of_time(HOUR);
            r
        };
        // Valid for 30 minutes: a caller's renewal uses it, a renewal ahead of time renews it.
        let due = set("a", 30.0 * 60_000.0, Some("r"), None);
        let mut live = Renewal::new(CFG, 0.0, start(None));
        assert_eq!(
            live.on(Event::Read(Some(due)), 0.0),
            Step::Finish(Ending::UseLastRead)
        );
        let mut r = ahead(0.0);
        assert!(matches!(
            r.on(Event::Read(Some(due)), 0.0),
            Step::AcquireLease { .. }
        ));
        // Someone else holds the lease: wait for their renewal (a caller's would take the
        // still-valid token), then the set they stored is fresh.
        assert!(matches!(r.on(Event::Lease(false), 0.0), Step::Sleep { .. }));
        assert_eq!(r.on(Event::Slept, 100.0), Step::Read);
        let renewed = set("b", 24.0 * HOUR, Some("r2"), None);
        assert_eq!(
            r.on(Event::Read(Some(renewed)), 100.0),
            Step::Finish(Ending::UseLastRead)
        );
        // Another renewer's mark on a still-valid set: waited for, not passed by.
        let mark = Mark {
            presented_at: 0.0,
            answer_by: 50_000.0,
        };
        let mut r = ahead(0.0);
        assert!(matches!(
            r.on(
                Event::Read(Some(set("a", HOUR, Some("r"), Some(mark)))),
                1.0
            ),
            Step::Sleep { .. }
        ));
        // A passing failure (nothing sent) is the result, not the old token.
        let mut r = ahead(0.0);
        assert!(matches!(
            r.on(Event::Read(Some(due)), 1.0),
            Step::AcquireLease { .. }
        ));
        r.on(Event::Lease(true), 1.0);
        assert!(matches!(
            r.on(Event::Read(Some(due)), 1.0),
            Step::Mark { .. }
        ));
        assert!(matches!(
            r.on(Event::Swapped(true), 1.0),
            Step::Request { .. }
        ));
        assert_eq!(r.on(Event::Answered(Answer::NotSent), 2.0), Step::Unmark);
        assert_eq!(r.on(Event::Swapped(true), 2.0), Step::Release);
        assert_eq!(
            r.on(Event::Released, 2.0),
            Step::Finish(Ending::Fail(Why::Answer))
        );
        // A set nothing can renew asks for a sign-in, however long its access token lives.
        let mut r = ahead(0.0);
        assert_eq!(
            r.on(Event::Read(Some(set("a", 9.0 * HOUR, None, None))), 0.0),
            Step::Finish(Ending::Fail(Why::SignIn(SignIn::NoRefreshToken)))
        );
        // The window never narrows the manager's own skew.
        let mut r = ahead(0.0);
        r.ahead_of_time(0.0);
        assert!(matches!(
            r.on(Event::Read(Some(set("a", 30_000.0, Some("r"), None))), 0.0),
            Step::AcquireLease { .. }
        ));
    }

    #[test]
    fn a_store_that_never_matches_ends_in_a_typed_failure_within_the_bound() {
        let mut r = Renewal::new(CFG, 0.0, start(None));
        let s = set("a", 0.0, Some("r"), None);
        let mut now = 0.0;
        let mut step = r.on(Event::Read(Some(s)), now);
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps < 100_000, "no end");
            let event = match step {
                Step::Read => Event::Read(Some(s)),
                Step::AcquireLease { .. } => Event::Lease(true),
                Step::Mark { .. } => Event::Swapped(false),
                Step::Release => Event::Released,
                Step::Sleep { ms } => {
                    assert!(ms > 0.0, "every loop waits");
                    now += ms;
                    Event::Slept
                }
                Step::Finish(ending) => {
                    assert_eq!(ending, Ending::Fail(Why::StoreNeverMatched));
                    assert!(now <= CFG.renewal_bound_ms() + CFG.poll_ms() + 1.0);
                    break;
                }
                other => panic!("unexpected {other:?}"),
            };
            step = r.on(event, now);
        }
    }

    #[test]
    fn client_credentials_need_no_mark() {
        let cfg = RenewalConfig {
            grant: RenewalGrant::ClientCredentials,
            ..CFG
        };
        let mut r = Renewal::new(cfg, 0.0, start(None));
        assert!(matches!(
            r.on(Event::Read(None), 0.0),
            Step::AcquireLease { .. }
        ));
        r.on(Event::Lease(true), 0.0);
        assert!(matches!(r.on(Event::Read(None), 0.0), Step::Request { .. }));
        assert_eq!(
            r.on(Event::Answered(Answer::Tokens { rotated: true }), 1.0),
            Step::StoreTokens {
                over: Expected::LastRead,
                keep_refresh_token: false
            }
        );
    }

    #[test]
    fn what_a_failed_request_means_for_its_token() {
        let f = |kind, status: Option<u16>, error: Option<&str>, not_sent| {
            let delivery = if not_sent {
                Delivery::NotSent
            } else {
                Delivery::MayHaveArrived
            };
            let response = status.map(|status| Response {
                status,
                body: String::new(),
                body_end: crate::oauth::redact::TextEnd::Whole,
                retry_after_ms: None,
            });
            let error = error.map(str::to_owned);
            match kind {
                Kind::OAuth => Failure::OAuth {
                    error: error.unwrap_or_default(),
                    error_description: None,
                    response,
                },
                Kind::Http => Failure::Http {
                    response: response.expect("an HTTP failure has a status"),
                    error,
                    error_description: None,
                    retryable: false,
                },
                Kind::InvalidResponse => Failure::InvalidResponse {
                    detail: String::new(),
                    error_description: None,
                    response,
                },
                Kind::Network => Failure::Network {
                    detail: String::new(),
                    code: error,
                    delivery,
                    retryable: false,
                },
                Kind::Timeout => Failure::timeout("", delivery),
                Kind::Aborted => Failure::aborted("", delivery),
                Kind::InvalidArgument => Failure::InvalidArgument {
                    detail: String::new(),
                    error,
                },
                Kind::Store => Failure::store(""),
                Kind::SignInRequired => Failure::sign_in(""),
            }
        };
        let cases = [
            (
                f(Kind::OAuth, Some(400), Some("invalid_grant"), false),
                Answer::Refused,
            ),
            (
                f(Kind::OAuth, Some(401), Some("invalid_client"), false),
                Answer::Declined,
            ),
            (f(Kind::InvalidArgument, None, None, false), Answer::NotSent),
            (f(Kind::SignInRequired, None, None, false), Answer::NotSent),
            (f(Kind::Http, Some(429), None, false), Answer::NotSent),
            (f(Kind::Http, Some(503), None, false), Answer::NotSent),
            (f(Kind::Network, None, None, true), Answer::NotSent),
            (f(Kind::Aborted, None, None, true), Answer::NotSent),
            (f(Kind::Http, Some(500), None, false), Answer::Uncertain),
            (f(Kind::Http, Some(502), None, false), Answer::Uncertain),
            (f(Kind::Network, None, None, false), Answer::Uncertain),
            (f(Kind::Timeout, None, None, false), Answer::Uncertain),
            (f(Kind::Aborted, None, None, false), Answer::Uncertain),
            (
                f(Kind::InvalidResponse, Some(200), None, false),
                Answer::Uncertain,
            ),
        ];
        for (failure, answer) in cases {
            assert_eq!(answer_of(&failure), answer, "{failure:?}");
        }
    }

    #[test]
    fn a_sign_out_ends_the_renewal_and_discards_what_it_delivered() {
        let tombstone = StoredSet {
            signed_out_at: Some(5.0),
            ..StoredSet::default()
        };
        let signed_out = Step::Finish(Ending::Fail(Why::SignIn(SignIn::SignedOut)));
        let mut r = Renewal::new(CFG, 0.0, start(None));
        assert_eq!(r.on(Event::Read(Some(tombstone)), 0.0), signed_out);
        // Delivered tokens whose write lost to a sign-out are not written over it.
        let mut r = Renewal::new(CFG, 0.0, start(None));
        to_request(&mut r, set("a", 0.0, Some("r"), None), 1.0);
        r.on(Event::Answered(Answer::Tokens { rotated: true }), 2.0);
        assert_eq!(r.on(Event::Swapped(false), 3.0), Step::Read);
        assert_eq!(r.on(Event::Read(Some(tombstone)), 3.0), Step::Release);
        assert_eq!(r.on(Event::Released, 3.0), signed_out);
        // A store emptied since this manager read it is signed out too; an empty store it never
        // read is seeded when it has a seed, else asks for a sign-in.
        let seen = Start {
            seen_a_set: true,
            ..start(None)
        };
        let mut r = Renewal::new(CFG, 0.0, seen);
        assert_eq!(r.on(Event::Read(None), 0.0), signed_out);
        let seeded = Start {
            has_seed: true,
            ..start(None)
        };
        let mut r = Renewal::new(CFG, 0.0, seeded);
        assert_eq!(r.on(Event::Read(None), 0.0), Step::Seed);
        assert_eq!(r.on(Event::Swapped(false), 0.0), Step::Read);
        // Empty again after the seed's write: never seeded twice; nothing usable is stored.
        assert_eq!(
            r.on(Event::Read(None), 0.0),
            Step::Finish(Ending::Fail(Why::SignIn(SignIn::NoRefreshToken)))
        );
    }

    #[test]
    fn a_delivered_set_the_store_failed_to_take_is_handed_out_and_written_on() {
        let mut r = Renewal::new(CFG, 0.0, start(None));
        to_request(&mut r, set("a", 0.0, Some("r"), None), 1.0);
        r.on(Event::Answered(Answer::Tokens { rotated: true }), 2.0);
        assert_eq!(r.on(Event::StoreFailed, 3.0), Step::Release);
        assert_eq!(
            r.on(Event::Released, 3.0),
            Step::Finish(Ending::UseTokens { persist: true })
        );
    }

    #[test]
    fn bounds() {
        let policy = crate::oauth::retry::RetryPolicy::default();
        assert_eq!(request_budget_ms(30_000.0, &policy), 110_000.0);
        assert_eq!(CFG.lease_ttl_ms(), 31_000.0);
        assert_eq!(CFG.poll_ms(), 100.0);
        assert!(is_usable(
            &set("a", 100_000.0, None, None),
            None,
            30_000.0,
            60_000.0
        ));
        assert!(!is_usable(
            &set("a", 100_000.0, None, None),
            None,
            40_000.0,
            60_000.0
        ));
    }
}
