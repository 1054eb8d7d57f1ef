//! A seeded randomised exploration of the renewal protocol (`avito_auth::oauth::renewal`): 2–4
//! renewers share one store and one rotating token server in virtual time, with lost answers
//! (resets before and after processing, hangs past the timeout), 503s, renewers that die (and
//! whose requests may still be processed), leases that expire mid-request, compare-and-sets that
//! lose or whose store call fails, and store reads that fail. Every renewer runs the real state
//! machine; the world performs its steps. Asserted, online and at the end:
//! - never two presentations of one refresh token that could both be in flight;
//! - a refresh token the server refused, or whose rotation was stored, is never presented again;
//! - `signInRequired` only after the server refused the refresh token (or none is stored), and
//!   sign-ins are at most the rotations lost after processing (none in strict=false runs without
//!   such losses);
//! - the store ends with the newest delivered rotation;
//! - every renewal ends within its bound;
//! - a mark that was written is followed by its request or taken back (no orphan mark holds
//!   everyone off), unless the store failed the very read that checks it;
//! - the machine never asks to send a request whose mark has passed;
//! - a renewal's write that ends a presentation counts the account's failures on from the stored
//!   count (one more after a failure, none after delivered tokens): no interleaving loses or
//!   double-counts health.
//!
//! Every step the edge performs is driven here: seeding an empty store from the manager's
//! `tokens` (some worlds start empty), the re-read after a mark's lost reply, servers that do not
//! rotate (some worlds), the seller's sign-in and sign-out, which go through the core's overwrite
//! (`avito_auth::oauth::overwrite`), an application deleting the row, and the background write of
//! delivered tokens that met a failing store (`avito_auth::oauth::persist`), all with the same
//! store faults. After a sign-out or a deleted row no renewal writes tokens into the store. With the `model-mutants` feature,
//! `removing_any_guard_fails_the_model` removes each guard in turn and shows that the model fails.

use avito_auth::oauth::health;
use avito_auth::oauth::overwrite::{self, Overwrite, OverwriteEvent, OverwriteStep, Written};
use avito_auth::oauth::persist::{Persist, PersistEvent, PersistStep, Persisted};
use avito_auth::oauth::renewal::{
    Answer, Ending, Event, Expected, Mark, Renewal, RenewalConfig, RenewalGrant, SignIn, Start,
    Step, StoredSet, Why, CLOCK_MARGIN_MS,
};

#[path = "prng.rs"]
mod prng;
use prng::Rng;

#[derive(Debug, Clone, PartialEq)]
struct Set {
    access: u64,
    expires_at: f64,
    refresh: Option<u64>,
    mark: Option<(String, Mark)>,
    refused_at: Option<f64>,
    /// A sign-out's tombstone (with `access` 0 and no refresh token).
    signed_out_at: Option<f64>,
    /// `health.consecutive_failures`, as the core's rule (`avito_auth::oauth::health`) writes it.
    failures: f64,
}

impl Set {
    fn view(&self) -> StoredSet<'static> {
        // Tokens are numbers here; the view needs strings: leak small ones (tests only).
        let s = |n: u64| -> &'static str { Box::leak(n.to_string().into_boxed_str()) };
        StoredSet {
            access_token: (self.access != 0).then(|| s(self.access)),
            expires_at: Some(self.expires_at),
            refresh_token: self.refresh.map(s),
            renewal: self.mark.as_ref().map(|(_, m)| *m),
            renewal_id: self
                .mark
                .as_ref()
                .map(|(id, _)| &*Box::leak(id.clone().into_boxed_str())),
            refused_earlier: self.refused_at.is_some(),
            signed_out_at: self.signed_out_at,
        }
    }
    fn tombstone(at: f64) -> Set {
        Set {
            access: 0,
            expires_at: 0.0,
            refresh: None,
            mark: None,
            refused_at: None,
            signed_out_at: Some(at),
            failures: 0.0,
        }
    }
    fn key(&self) -> (u64, Option<u64>, Option<&str>) {
        (
            self.access,
            self.refresh,
            self.mark.as_ref().map(|(id, _)| id.as_str()),
        )
    }
}

/// A background write of delivered tokens: the machine, its step, the tokens, the marked set they
/// answered, what it read last.
type Persisting = (Persist, PersistStep, Set, Option<Set>, Option<Set>);

struct Presentation {
    refresh: u64,
    start: f64,
    /// When the client stops listening (answer, failure or abandonment).
    end: f64,
}

#[derive(Clone, Copy)]
struct Faults {
    reset_before: f64,
    lost_after: f64,
    hang: f64,
    unavailable: f64,
    die: f64,
    store_fail: f64,
    cas_lost_reply: f64,
    slow_store: f64,
    /// A process stalls (GC, a frozen VM) past its lease before a step takes effect.
    pause: f64,
}

struct Renewer {
    machine: Option<Renewal>,
    started: f64,
    step: Step,
    due: f64,
    alive: bool,
    last_read: Option<Set>,
    marked: Option<Set>,
    tokens: Option<Set>,
    lease: Option<u64>,
    /// The answer the pending request will give, decided when it was sent.
    pending_answer: Option<(Answer, Option<Set>)>,
    cached: Option<Set>,
    /// Time this renewal spent stalled (not the protocol's doing).
    paused: f64,
    /// A request whose sending was delayed by a pause.
    deferred_send: bool,
    /// Whether this process has read a set (from then on it never seeds).
    read_a_set: bool,
    /// The id of a mark this renewal wrote that no request or unmark has followed yet.
    mark_pending: Option<String>,
    /// The last mark's compare-and-set reply was lost; `unverifiable`: so was the read checking it.
    mark_reply_lost: bool,
    unverifiable: bool,
    /// The refresh token the pending request presents (kept with a non-rotating answer).
    presented: Option<u64>,
    /// The seller's sign-in or sign-out in progress (a person's action, counted): the write, its
    /// step, its set, what it read.
    overwriting: Option<(Overwrite, OverwriteStep, Set, Option<Set>)>,
    /// Delivered tokens being written in the background: the machine, its step, the tokens, the
    /// mark they answered, what it read.
    persisting: Option<Persisting>,
    /// This process is the seller's (it carries out the world's planned sign-out).
    person: bool,
    /// The manager's `tokens` option (a process made while the world still had a seed).
    seed: Option<Set>,
}

impl Renewer {
    /// Nothing in progress: no renewal, no sign-in or sign-out, no background write, nothing
    /// the person still plans.
    fn is_idle(&self, w: &World) -> bool {
        let plans = self.person && (w.sign_out_plan.is_some() || w.resign_in_at.is_some());
        self.machine.is_none() && self.overwriting.is_none() && self.persisting.is_none() && !plans
    }

    /// A new process, idle until `due`.
    fn process(due: f64) -> Renewer {
        Renewer {
            machine: None,
            started: due,
            step: Step::Read,
            due,
            alive: true,
            last_read: None,
            marked: None,
            tokens: None,
            lease: None,
            pending_answer: None,
            cached: None,
            paused: 0.0,
            deferred_send: false,
            read_a_set: false,
            mark_pending: None,
            mark_reply_lost: false,
            unverifiable: false,
            presented: None,
            overwriting: None,
            persisting: None,
            person: false,
            seed: None,
        }
    }
}

struct World {
    rng: Rng,
    now: f64,
    cfg: RenewalConfig,
    faults: Faults,
    store: Option<Set>,
    lease: Option<(u64, f64)>,
    next_id: u64,
    server_current: Option<u64>,
    /// Refresh token → whether the rotation that issued it reached a store write.
    issued_by_lost: Vec<u64>,
    presentations: Vec<Presentation>,
    retired: Vec<(u64, f64)>,
    server_refusals: u32,
    sign_ins: u32,
    stored_late: u32,
    renewals: u32,
    failures: u32,
    revoke_family_on_replay: bool,
    /// A seller's sign-in or sign-out is being stored (one person: one at a time).
    person_busy: bool,
    /// The sign-in being written now may write over a signed-out store (nothing else may).
    writing_sign_in: bool,

    /// The account is signed out (a stored tombstone, or the row deleted) until a sign-in lands.
    signed_out: bool,
    /// The row was deleted by the application (the store is empty on purpose).
    deleted: bool,
    /// The world's planned sign-out: when, and whether the application deletes the row instead.
    sign_out_plan: Option<(f64, bool)>,
    /// When the seller signs in again after the sign-out (a person's choice, not harm).
    resign_in_at: Option<f64>,
    sign_outs: u32,
    /// Calls that failed because the account was signed out (what a sign-out is for).
    signed_out_failures: u32,
    /// Delivered rotations dropped because they met a sign-out.
    discarded: u32,
    voluntary_sign_ins: u32,
    seed_no: u64,
    /// The first refresh token of the server's current family.
    family_start: u64,
    /// The server rotates refresh tokens (some worlds' servers do not).
    rotates: bool,
    /// Renewals ahead of time run beside the callers' (`Kind::ahead`).
    ahead: bool,
    /// The managers' `tokens` option: the world starts with an empty store and this seed.
    seed: Option<Set>,
    /// Steps performed, for the report.
    steps: u64,
    /// A hash of the order in which renewers' steps completed: one per distinct interleaving.
    trace: u64,
}

impl World {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn fresh_set(&mut self, refresh: u64) -> Set {
        Set {
            access: self.id(),
            expires_at: self.now + 400.0,
            refresh: Some(refresh),
            mark: None,
            refused_at: None,
            signed_out_at: None,
            failures: 0.0,
        }
    }

    /// The server processes a presentation of `refresh` now.
    fn process(&mut self, refresh: u64) -> (Answer, Option<Set>) {
        if self.server_current == Some(refresh) && !self.rotates {
            // The answer holds no refresh token: the presented one stays valid.
            let set = Set {
                refresh: None,
                ..self.fresh_set(refresh)
            };
            (Answer::Tokens { rotated: false }, Some(set))
        } else if self.server_current == Some(refresh) {
            let next = self.id();
            self.server_current = Some(next);
            let set = self.fresh_set(next);
            (Answer::Tokens { rotated: true }, Some(set))
        } else {
            // Replay detection revokes the replayed token's family: the current one only if the
            // token is of it (ids grow, and a sign-in starts a family at a new id).
            if self.revoke_family_on_replay && refresh >= self.family_start {
                self.server_current = None;
            }
            self.server_refusals += 1;
            (Answer::Refused, None)
        }
    }

    fn cas(&mut self, expected: Option<&Set>, next: Set) -> bool {
        let matches = match (&self.store, expected) {
            (None, None) => true,
            (Some(s), Some(e)) => s.key() == e.key(),
            _ => false,
        };
        if matches && next.signed_out_at.is_none() && !self.writing_sign_in {
            let into_signed_out = match &self.store {
                Some(s) => s.signed_out_at.is_some(),
                None => self.deleted,
            };
            assert!(
                !into_signed_out,
                "seed {}: tokens written into a signed-out or emptied store",
                self.seed_no
            );
        }
        if matches {
            self.store = Some(next);
        }
        matches
    }

    fn store_latency(&mut self) -> f64 {
        if self.rng.chance(self.faults.slow_store) {
            self.rng.range(20.0, 150.0) // past a lease
        } else {
            self.rng.range(0.0, 4.0)
        }
    }
}

fn unmarked(s: &Set) -> Set {
    Set {
        mark: None,
        ..s.clone()
    }
}

/// How a world is set up beside its faults.
#[derive(Clone, Copy)]
struct Kind {
    renewers: usize,
    strict: bool,
    revoke: bool,
    /// The store starts empty, and every manager has the first set as its `tokens`.
    seeded: bool,
    rotates: bool,
    /// The seller signs out mid-run (`Some(true)`: the application deletes the row instead).
    sign_out: Option<bool>,
    /// Processes also renew ahead of time (`accounts.renewDue`) beside their callers' renewals.
    ahead: bool,
}

impl Kind {
    /// The mix every suite runs: 2–4 renewers, every other world revoking the family on a
    /// replay, one in three starting from a seed, one in four with a server that does not rotate.
    fn of(seed: u64, strict: bool) -> Kind {
        Kind {
            renewers: 2 + (seed % 3) as usize,
            strict,
            revoke: seed % 2 == 0,
            seeded: seed % 3 == 1,
            rotates: strict || seed % 4 != 3,
            // A manager given `tokens` that has read nothing cannot tell a row deleted since from
            // one never written (CAS from `undefined` succeeds on both): worlds that delete the
            // row start from a stored set; seeded worlds sign out with a tombstone (README).
            sign_out: match seed % 5 {
                2 => Some(false),
                4 => Some(seed % 3 != 1),
                _ => None,
            },
            ahead: false,
        }
    }
}

fn run(seed: u64, kind: Kind, faults: Faults) -> World {
    let Kind {
        renewers,
        strict,
        revoke,
        ..
    } = kind;
    let cfg = RenewalConfig {
        grant: RenewalGrant::RefreshToken,
        skew_ms: 50.0,
        lease_ms: 60.0,
        request_budget_ms: 100.0,
        strict,
    };
    let mut w = World {
        rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        now: 0.0,
        cfg,
        faults,
        store: None,
        lease: None,
        next_id: 0,
        server_current: None,
        issued_by_lost: Vec::new(),
        presentations: Vec::new(),
        retired: Vec::new(),
        server_refusals: 0,
        sign_ins: 0,
        stored_late: 0,
        renewals: 0,
        failures: 0,
        revoke_family_on_replay: revoke,
        person_busy: false,
        writing_sign_in: false,

        signed_out: false,
        deleted: false,
        sign_out_plan: None,
        resign_in_at: None,
        sign_outs: 0,
        signed_out_failures: 0,
        discarded: 0,
        voluntary_sign_ins: 0,
        seed_no: seed,
        family_start: 0,
        rotates: kind.rotates,
        ahead: kind.ahead,
        seed: None,
        steps: 0,
        trace: 0,
    };
    let first = w.id();
    w.server_current = Some(first);
    let set = w.fresh_set(first);
    if kind.seeded {
        w.seed = Some(set);
    } else {
        w.store = Some(set);
    }
    if let Some(delete) = kind.sign_out {
        let at = w.rng.range(300.0, 2_500.0);
        w.sign_out_plan = Some((at, delete));
    }
    let mut rs: Vec<Renewer> = (0..renewers).map(|_| Renewer::process(0.0)).collect();
    rs[0].person = true;
    let horizon = 4_000.0;
    let bound = cfg.renewal_bound_ms() + cfg.request_budget_ms + cfg.lease_ttl_ms() + 50.0;
    let mut guard = 0u32;
    loop {
        guard += 1;
        assert!(guard < 2_000_000, "seed {seed}: the world did not settle");
        // The renewer whose step completes first (ties in random order).
        let quiet = w.now > horizon;
        let next = (0..rs.len())
            .filter(|&i| !(quiet && rs[i].is_idle(&w)))
            .min_by(|&a, &b| rs[a].due.total_cmp(&rs[b].due));
        let Some(i) = next else { break };
        w.now = w.now.max(rs[i].due);
        w.steps += 1;
        w.trace = w.trace.wrapping_mul(31).wrapping_add(i as u64 + 1);
        step_renewer(&mut w, &mut rs[i], seed, bound, quiet);
    }
    // Quiescent: check the store against the server.
    let server = w.server_current;
    match &w.store {
        Some(s) => {
            if let Some(current) = server {
                if !w.issued_by_lost.contains(&current) {
                    assert_eq!(
                        s.refresh,
                        Some(current),
                        "seed {seed}: the store must end with the newest delivered rotation"
                    );
                }
            }
        }
        None => panic!("seed {seed}: the store lost its set"),
    }
    w
}

fn step_renewer(w: &mut World, r: &mut Renewer, seed: u64, bound: f64, quiet: bool) {
    if std::env::var("MODEL_TRACE").is_ok_and(|t| t == seed.to_string()) {
        eprintln!(
            "{:9.2} {:p} {:?} store={:?} lease={:?}",
            w.now, r as *const Renewer, r.step, w.store, w.lease
        );
    }
    if !r.alive {
        // A new process takes the dead one's place.
        let person = r.person;
        *r = Renewer::process(w.now + w.rng.range(0.0, 5.0));
        r.person = person;
        return;
    }
    if r.overwriting.is_some() {
        step_overwrite(w, r, seed);
        return;
    }
    if r.persisting.is_some() {
        step_persist(w, r, seed);
        return;
    }
    if r.person && r.machine.is_none() && person_acts(w, r) {
        return;
    }
    let Some(machine) = r.machine.as_mut() else {
        // A call: renew only when the cached token is not usable.
        let usable = r
            .cached
            .as_ref()
            .is_some_and(|c| c.expires_at - w.cfg.skew_ms > w.now);
        // A renewal ahead of time (`renewDue`) runs whatever this process holds: the window is
        // read from the store by the machine.
        let ahead = w.ahead && w.rng.chance(0.3);
        if usable && !ahead {
            r.due = w.now + w.rng.range(5.0, 30.0);
            return;
        }
        let nonce = format!("p{}", w.id());
        if r.seed.is_none() && !r.read_a_set {
            r.seed = w.seed.clone();
        }
        let start = Start {
            refused: None,
            has_seed: r.seed.is_some(),
            seen_a_set: r.read_a_set,
            nonce,
        };
        let mut m = Renewal::new(w.cfg, w.now, start);
        if ahead {
            m.ahead_of_time(w.rng.range(100.0, 350.0));
        }
        r.step = m.start();
        r.machine = Some(m);
        r.started = w.now;
        r.paused = 0.0;
        r.mark_pending = None;
        r.mark_reply_lost = false;
        r.unverifiable = false;
        // What this renewal delivers (a sign-out may discard it).
        r.tokens = None;
        w.renewals += 1;
        r.due = w.now; // perform the first step now
        perform(w, r, seed, bound, quiet);
        return;
    };
    if r.deferred_send {
        r.deferred_send = false;
        if let Step::Request { abandon_at } = r.step {
            r.due = send(w, r, seed, abandon_at, false);
            return;
        }
    }
    // The pending step completes now: compute its event and the next step. A write that ends a
    // presentation records its outcome in the set's health, as the core's rule says.
    let note = health::note_of(&r.step);
    let recorded = |from: &Set| {
        note.map_or(from.failures, |n| {
            health::failures_after(Some(from.failures), n)
        })
    };
    let event_holder;
    let event = match r.step {
        Step::Read => {
            if w.rng.chance(w.faults.store_fail) {
                if r.mark_reply_lost {
                    r.unverifiable = true;
                }
                Event::StoreFailed
            } else {
                r.last_read = w.store.clone();
                r.read_a_set |= r.last_read.is_some();
                event_holder = r.last_read.as_ref().map(Set::view);
                Event::Read(event_holder)
            }
        }
        Step::Seed => {
            let seed_set = r.seed.clone().expect("a manager with a seed");
            let won = w.cas(None, seed_set);
            if won {
                // Processes made from now on are made from the stored set, without a seed.
                w.seed = None;
            }
            cas_event(w, won)
        }
        Step::AcquireLease { ttl_ms } => {
            let free = w.lease.map_or(true, |(_, until)| until <= w.now);
            if free {
                let id = w.id();
                w.lease = Some((id, w.now + ttl_ms));
                r.lease = Some(id);
            }
            Event::Lease(free)
        }
        Step::Mark { mark, over } => {
            let expected = match over {
                Expected::LastRead => r.last_read.clone(),
                Expected::Marked => r.marked.clone(),
            };
            let base = unmarked(r.last_read.as_ref().expect("a set was read"));
            let next = Set {
                mark: Some((machine.mark_id(), mark)),
                ..base
            };
            let won = w.cas(expected.as_ref(), next.clone());
            if won {
                r.mark_pending = next.mark.as_ref().map(|(id, _)| id.clone());
            }
            // The edge keeps what it wrote whatever the reply: the machine re-reads to decide.
            r.marked = Some(next);
            let event = cas_event(w, won);
            r.mark_reply_lost = matches!(event, Event::StoreFailed);
            event
        }
        Step::Request { .. } => {
            let (answer, tokens) = r.pending_answer.take().expect("a request was sent");
            r.tokens = tokens;
            Event::Answered(answer)
        }
        Step::StoreTokens {
            over,
            keep_refresh_token,
        } => {
            let expected = match over {
                Expected::LastRead => r.last_read.clone(),
                Expected::Marked => r.marked.clone(),
            };
            let mut tokens = r.tokens.clone().expect("tokens were delivered");
            if keep_refresh_token && tokens.refresh.is_none() {
                tokens.refresh = r.presented;
            }
            tokens.failures = recorded(r.last_read.as_ref().unwrap_or(&tokens));
            r.tokens = Some(tokens.clone());
            let replaced = w.store.as_ref().and_then(|s| s.refresh);
            let before = w.store.clone();
            let won = w.cas(expected.as_ref(), tokens.clone());
            health_kept(w, won, before.as_ref(), &tokens, note);
            if won {
                record_stored(w, &tokens, replaced, r.marked.as_ref());
                r.cached = Some(tokens);
            }
            cas_event(w, won)
        }
        Step::Unmark => {
            r.mark_pending = None;
            let mut base = unmarked(r.last_read.as_ref().expect("a set was read"));
            base.failures = recorded(&base);
            let expected = r.marked.clone();
            let before = w.store.clone();
            let won = w.cas(expected.as_ref(), base.clone());
            health_kept(w, won, before.as_ref(), &base, note);
            cas_event(w, won)
        }
        Step::RecordRefused { at } => {
            let base = unmarked(r.last_read.as_ref().expect("a set was read"));
            let refused = base.refresh;
            let next = Set {
                refresh: None,
                refused_at: Some(at),
                failures: recorded(&base),
                ..base
            };
            let expected = r.marked.clone();
            let before = w.store.clone();
            let won = w.cas(expected.as_ref(), next.clone());
            health_kept(w, won, before.as_ref(), &next, note);
            if won {
                if let Some(old) = refused {
                    w.retired.push((old, w.now));
                }
            }
            cas_event(w, won)
        }
        Step::RecordUncertain(mark) => {
            let marked = r.marked.clone().expect("a set was marked");
            let next = Set {
                mark: marked.mark.clone().map(|(id, _)| (id, mark)),
                failures: recorded(&marked),
                ..marked.clone()
            };
            let before = w.store.clone();
            let won = w.cas(Some(&marked), next.clone());
            health_kept(w, won, before.as_ref(), &next, note);
            cas_event(w, won)
        }
        Step::Release => {
            if let (Some(id), Some((held, _))) = (r.lease, w.lease) {
                if id == held {
                    w.lease = None;
                }
            }
            r.lease = None;
            Event::Released
        }
        Step::Sleep { .. } => Event::Slept,
        Step::Finish(_) => unreachable!("finished renewals have no pending step"),
    };
    let step = machine.on(event, w.now);
    r.step = step;
    perform(w, r, seed, bound, quiet);
}

/// A renewal's write that won over `before` counts the account's failures on from what the store
/// held, whatever was written in between: one more after a failed presentation, none after
/// delivered tokens (health is neither lost nor counted twice by any interleaving).
fn health_kept(
    w: &World,
    won: bool,
    before: Option<&Set>,
    written: &Set,
    note: Option<health::Note>,
) {
    let (Some(before), Some(note), true) = (before, note, won) else {
        return;
    };
    let expected = match note {
        health::Note::Renewed => 0.0,
        health::Note::Failed => before.failures + 1.0,
    };
    assert_eq!(
        written.failures, expected,
        "seed {}: the write's health does not follow the stored one ({note:?})",
        w.seed_no
    );
}

/// Delivered tokens reached the store: the token they replaced is retired, they are no longer
/// lost, and a write after their mark had passed (the writer stalled) counts as lost — someone may
/// have presented the old token again meanwhile.
fn record_stored(w: &mut World, tokens: &Set, replaced: Option<u64>, marked: Option<&Set>) {
    let mark_passed = marked
        .and_then(|m| m.mark.as_ref())
        .is_some_and(|(_, m)| w.now > m.answer_by + CLOCK_MARGIN_MS);
    if mark_passed {
        w.stored_late += 1;
    }
    if let Some(old) = replaced.filter(|&o| Some(o) != tokens.refresh) {
        w.retired.push((old, w.now));
    }
    w.issued_by_lost.retain(|&t| Some(t) != tokens.refresh);
}

/// Delivered tokens that met a sign-out are dropped with it: not lost, discarded on purpose.
fn discard(w: &mut World, tokens: Option<Set>) {
    if let Some(refresh) = tokens.and_then(|t| t.refresh) {
        if w.issued_by_lost.contains(&refresh) {
            w.issued_by_lost.retain(|&t| t != refresh);
            w.discarded += 1;
        }
    }
}

/// The seller's planned sign-out (or the application deleting the row), then, a while later, a
/// new sign-in: the person's own choices, counted apart from the harm counters. `true` when the
/// person acted.
fn person_acts(w: &mut World, r: &mut Renewer) -> bool {
    if w.person_busy {
        return false;
    }
    if let Some((at, delete)) = w.sign_out_plan.filter(|(at, _)| w.now >= *at) {
        w.sign_out_plan = None;
        if delete {
            w.store = None;
            w.deleted = true;
            w.signed_out = true;
            w.sign_outs += 1;
            w.resign_in_at = Some(w.now + 300.0);
            r.due = w.now + 1.0;
        } else {
            let write = Overwrite::new(
                Written::SignOut { at },
                w.now,
                overwrite::bound_ms(w.cfg.lease_ms),
            );
            r.overwriting = Some((write.clone(), write.start(), Set::tombstone(at), None));
            w.person_busy = true;
            r.due = w.now + w.store_latency();
        }
        return true;
    }
    if w.resign_in_at.is_some_and(|at| w.now >= at) {
        w.resign_in_at = None;
        w.voluntary_sign_ins += 1;
        start_sign_in(w, r);
        return true;
    }
    false
}

/// The seller signs in again (a person's action, counted in `sign_ins`) when no usable refresh
/// token remains and nobody is signing in already: the server issues a new token family, and the
/// sign-in's set is stored through the core's overwrite, with the world's store faults.
fn begin_sign_in(w: &mut World, r: &mut Renewer) {
    let dead = w
        .store
        .as_ref()
        .map_or(true, |s| s.refresh.is_none() || w.cfg.strict);
    if !dead || w.person_busy || w.signed_out {
        r.due = w.now + w.rng.range(1.0, 20.0);
        return;
    }
    w.sign_ins += 1;
    start_sign_in(w, r);
}

fn start_sign_in(w: &mut World, r: &mut Renewer) {
    w.person_busy = true;
    let family = w.id();
    w.server_current = Some(family);
    w.family_start = family;
    let set = w.fresh_set(family);
    let written = Written::SignIn {
        refresh_token: family.to_string(),
    };
    let write = Overwrite::new(written, w.now, overwrite::bound_ms(w.cfg.lease_ms));
    r.overwriting = Some((write.clone(), write.start(), set, None));
    r.due = w.now + w.store_latency();
}

fn step_overwrite(w: &mut World, r: &mut Renewer, seed: u64) {
    let (mut write, step, set, mut read) = r.overwriting.take().expect("an overwrite");
    let holder;
    let event = match step {
        OverwriteStep::Read if w.rng.chance(w.faults.store_fail) => OverwriteEvent::StoreFailed,
        OverwriteStep::Read => {
            read = w.store.clone();
            holder = read.as_ref().map(Set::view);
            OverwriteEvent::Read(holder)
        }
        OverwriteStep::Write => {
            w.writing_sign_in = set.signed_out_at.is_none();
            let won = w.cas(read.as_ref(), set.clone());
            w.writing_sign_in = false;
            // The account is signed out, or in again, from the moment the write lands.
            if won && set.signed_out_at.is_some() {
                w.signed_out = true;
                w.sign_outs += 1;
            } else if won {
                w.signed_out = false;
                w.deleted = false;
            }
            match cas_event(w, won) {
                Event::Swapped(won) => OverwriteEvent::Swapped(won),
                _ => OverwriteEvent::StoreFailed,
            }
        }
        OverwriteStep::Sleep { .. } => OverwriteEvent::Slept,
        OverwriteStep::Finish { .. } => unreachable!("a finished overwrite has no pending step"),
    };
    let next = write.on(event, w.now);
    match next {
        OverwriteStep::Finish { stored } => {
            assert!(
                stored,
                "seed {seed}: a sign-in's or sign-out's set was not stored"
            );
            w.person_busy = false;
            if set.signed_out_at.is_some() {
                w.resign_in_at = Some(w.now + 300.0);
            }
            r.cached = None;
            r.due = w.now + w.rng.range(1.0, 20.0);
        }
        OverwriteStep::Sleep { ms } => {
            r.due = w.now + ms;
            r.overwriting = Some((write, next, set, read));
        }
        _ => {
            r.due = w.now + w.store_latency();
            r.overwriting = Some((write, next, set, read));
        }
    }
}

fn step_persist(w: &mut World, r: &mut Renewer, seed: u64) {
    let (mut machine, step, tokens, marked, mut read) = r.persisting.take().expect("a persist");
    let holder;
    let event = match step {
        PersistStep::Read if w.rng.chance(w.faults.store_fail) => PersistEvent::StoreFailed,
        PersistStep::Read => {
            read = w.store.clone();
            holder = read.as_ref().map(Set::view);
            PersistEvent::Read(holder)
        }
        PersistStep::Write => {
            let replaced = w.store.as_ref().and_then(|s| s.refresh);
            let won = w.cas(read.as_ref(), tokens.clone());
            if won {
                record_stored(w, &tokens, replaced, marked.as_ref());
            }
            match cas_event(w, won) {
                Event::Swapped(won) => PersistEvent::Swapped(won),
                _ => PersistEvent::StoreFailed,
            }
        }
        PersistStep::Sleep { .. } => PersistEvent::Slept,
        PersistStep::Finish(_) => unreachable!("a finished persist has no pending step"),
    };
    let next = machine.on(event, w.now);
    match next {
        PersistStep::Finish(how) => {
            assert!(
                how != Persisted::GaveUp,
                "seed {seed}: delivered tokens were given up"
            );
            if how == Persisted::SignedOut {
                r.cached = None;
                discard(w, Some(tokens));
            }
            r.due = w.now + w.rng.range(1.0, 20.0);
        }
        PersistStep::Sleep { ms } => {
            r.due = w.now + ms;
            r.persisting = Some((machine, next, tokens, marked, read));
        }
        _ => {
            r.due = w.now + w.store_latency();
            r.persisting = Some((machine, next, tokens, marked, read));
        }
    }
}

fn cas_event(w: &mut World, won: bool) -> Event<'static> {
    if won && w.rng.chance(w.faults.cas_lost_reply) {
        // Applied, but the reply was lost.
        Event::StoreFailed
    } else if !won && w.rng.chance(w.faults.store_fail) {
        Event::StoreFailed
    } else {
        Event::Swapped(won)
    }
}

/// Starts the renewer's current step: decides when it completes (and, for a request, its fate).
fn perform(w: &mut World, r: &mut Renewer, seed: u64, bound: f64, quiet: bool) {
    if let Step::Finish(ending) = r.step {
        let took = w.now - r.started - r.paused;
        assert!(
            took <= bound,
            "seed {seed}: a renewal took {took} ms (bound {bound})"
        );
        let mark_in_store = w
            .store
            .as_ref()
            .and_then(|s| s.mark.as_ref())
            .map(|(id, _)| id);
        assert!(
            r.mark_pending.is_none() || mark_in_store != r.mark_pending.as_ref() || r.unverifiable,
            "seed {seed}: a renewal ended ({ending:?}) leaving its mark in the store with no request sent"
        );
        r.machine = None;
        r.due = if quiet && r.is_idle(w) {
            f64::INFINITY
        } else {
            w.now + w.rng.range(1.0, 20.0)
        };
        match ending {
            Ending::UseLastRead => r.cached = r.last_read.clone(),
            Ending::UseTokens { persist } => {
                r.cached = r.tokens.clone();
                if persist {
                    let tokens = r.tokens.clone().expect("tokens were delivered");
                    let access = tokens.access.to_string();
                    let presented = r.presented.map(|p| p.to_string());
                    let mut machine =
                        Persist::new(w.cfg.grant, &access, presented.as_deref(), w.now);
                    let step = machine.start(w.now);
                    let PersistStep::Sleep { ms } = step else {
                        panic!("seed {seed}: a persist starts with a pause")
                    };
                    r.due = w.now + ms;
                    r.persisting = Some((machine, step, tokens, r.marked.clone(), None));
                }
            }
            Ending::Fail(why) => {
                w.failures += 1;
                r.cached = None;
                if let Why::SignIn(kind) = why {
                    assert!(
                        kind != SignIn::LostAnswer || w.cfg.strict,
                        "seed {seed}: only strict mode signs in after a lost answer"
                    );
                    assert!(
                        kind != SignIn::SignedOut || w.sign_outs > 0,
                        "seed {seed}: signed out without a sign-out"
                    );
                    if kind == SignIn::SignedOut || w.signed_out {
                        w.signed_out_failures += 1;
                    }
                    if kind == SignIn::SignedOut {
                        discard(w, r.tokens.take());
                    }
                    assert!(
                        w.server_refusals > 0 || w.sign_outs > 0 || kind == SignIn::LostAnswer,
                        "seed {seed}: signInRequired ({kind:?}) without a server refusal"
                    );
                    begin_sign_in(w, r);
                }
            }
        }
        return;
    }
    if let Step::Request { abandon_at } = r.step {
        assert!(
            abandon_at > w.now,
            "seed {seed}: asked to send a request whose mark passed at {abandon_at} (now {})",
            w.now
        );
        r.mark_pending = None;
    }
    // A renewer may die as it starts any step; its lease stays until it expires, and a request
    // it sent may still be processed.
    if !quiet && w.rng.chance(w.faults.die) {
        if let Step::Request { abandon_at } = r.step {
            send(w, r, seed, abandon_at, true);
        }
        r.alive = false;
        r.due = w.now + w.rng.range(50.0, 200.0);
        return;
    }
    let pause = if w.rng.chance(w.faults.pause) {
        w.rng.range(1_200.0, 2_500.0)
    } else {
        0.0
    };
    r.paused += pause;
    r.due = match r.step {
        Step::Sleep { ms } => w.now + ms,
        Step::Request { .. } if pause > 0.0 => {
            r.deferred_send = true;
            w.now + pause
        }
        Step::Request { abandon_at } => send(w, r, seed, abandon_at, false),
        _ => w.now + w.store_latency() + pause,
    };
}

/// Sends the refresh request: records the presentation, decides its fate; the client's end time.
fn send(w: &mut World, r: &mut Renewer, seed: u64, abandon_at: f64, dead: bool) -> f64 {
    let refresh = r
        .last_read
        .as_ref()
        .and_then(|s| s.refresh)
        .expect("a refresh token is presented");
    r.presented = Some(refresh);
    let start = w.now;
    if start >= abandon_at {
        // The process stalled between the step and the send: the edge's abort timer has fired
        // by then, so fetch rejects before anything is sent.
        r.pending_answer = Some((Answer::NotSent, None));
        return start;
    }
    for p in w.presentations.iter().filter(|p| p.refresh == refresh) {
        assert!(
            p.end <= start,
            "seed {seed}: refresh token {refresh} presented at {start} while an earlier presentation (from {}) could be in flight until {}",
            p.start,
            p.end
        );
    }
    if let Some((_, at)) = w.retired.iter().find(|(t, _)| *t == refresh) {
        panic!("seed {seed}: refresh token {refresh} presented at {start}, retired at {at}");
    }
    if w.cfg.strict {
        assert!(
            w.presentations.iter().all(|p| p.refresh != refresh),
            "seed {seed}: strict mode presented refresh token {refresh} twice"
        );
    }
    // The edge abandons the request at `abandon_at` whatever the network does.
    let latency = w.rng.range(1.0, 40.0).min(abandon_at - start);
    let cut_short = latency >= abandon_at - start;
    let f = w.faults;
    let roll = w.rng.unit();
    let (end, answer) = if dead {
        // Nobody listens; the server may still process it before the request is abandoned.
        if w.rng.chance(0.5) {
            let (_, tokens) = w.process(refresh);
            if let Some(t) = tokens {
                w.issued_by_lost.extend(t.refresh);
            }
        }
        (abandon_at, (Answer::Uncertain, None))
    } else if roll < f.reset_before {
        (start + latency, (Answer::Uncertain, None))
    } else if roll < f.reset_before + f.lost_after {
        let (_, tokens) = w.process(refresh);
        if let Some(t) = tokens {
            w.issued_by_lost.extend(t.refresh);
        }
        (start + latency, (Answer::Uncertain, None))
    } else if roll < f.reset_before + f.lost_after + f.hang {
        if w.rng.chance(0.5) {
            let (_, tokens) = w.process(refresh);
            if let Some(t) = tokens {
                w.issued_by_lost.extend(t.refresh);
            }
        }
        (abandon_at, (Answer::Uncertain, None))
    } else if roll < f.reset_before + f.lost_after + f.hang + f.unavailable {
        (start + latency, (Answer::NotSent, None))
    } else if cut_short {
        // Processed, but the answer came after the request was abandoned.
        let (_, tokens) = w.process(refresh);
        w.issued_by_lost.extend(tokens.and_then(|t| t.refresh));
        (abandon_at, (Answer::Uncertain, None))
    } else {
        (start + latency, w.process(refresh))
    };
    assert!(
        end <= abandon_at + 1e-9,
        "seed {seed}: a request outlived its mark"
    );
    if let (Answer::Tokens { .. }, Some(t)) = &answer {
        // Delivered to a live renewer; counted as lost until a store write carries it.
        w.issued_by_lost.extend(t.refresh);
    }
    w.presentations.push(Presentation {
        refresh,
        start,
        end,
    });
    r.pending_answer = Some(answer);
    end
}

const NO_FAULTS: Faults = Faults {
    reset_before: 0.0,
    lost_after: 0.0,
    hang: 0.0,
    unavailable: 0.0,
    die: 0.0,
    store_fail: 0.0,
    cas_lost_reply: 0.0,
    slow_store: 0.0,
    pause: 0.0,
};

/// Every fault at once.
const ALL_FAULTS: Faults = Faults {
    reset_before: 0.05,
    lost_after: 0.05,
    hang: 0.04,
    unavailable: 0.05,
    die: 0.02,
    store_fail: 0.03,
    cas_lost_reply: 0.05,
    slow_store: 0.05,
    pause: 0.02,
};

/// What a suite of worlds covered, for the report.
#[derive(Default)]
struct Coverage {
    worlds: u64,
    interleavings: std::collections::HashSet<u64>,
    steps: u64,
    renewals: u64,
    presentations: u64,
    lost: u64,
    sign_ins: u64,
    sign_outs: u64,
    discarded: u64,
}

impl Coverage {
    fn add(&mut self, w: &World) {
        self.worlds += 1;
        self.interleavings.insert(w.trace);
        self.steps += w.steps;
        self.renewals += u64::from(w.renewals);
        self.presentations += w.presentations.len() as u64;
        self.lost += u64::from(w.issued_by_lost.len() as u32 + w.stored_late);
        self.sign_ins += u64::from(w.sign_ins);
        self.sign_outs += u64::from(w.sign_outs);
        self.discarded += u64::from(w.discarded);
    }
    fn report(&self, name: &str, started: std::time::Instant) {
        eprintln!(
            "{name}: {} worlds, {} distinct interleavings, {} steps, {} renewals, {} presentations, {} rotations lost after processing, {} sign-ins (the counted test double), {} sign-outs or deleted rows ({} delivered rotations discarded with them), in {:.2} s",
            self.worlds,
            self.interleavings.len(),
            self.steps,
            self.renewals,
            self.presentations,
            self.lost,
            self.sign_ins,
            self.sign_outs,
            self.discarded,
            started.elapsed().as_secs_f64()
        );
    }
}

fn fault_free(seed: u64) -> World {
    fault_free_beside(seed, false)
}

/// The suites' mix, with renewals ahead of time beside the callers' when `ahead`.
fn mix(seed: u64, ahead: bool) -> Kind {
    Kind {
        ahead,
        ..Kind::of(seed, false)
    }
}

fn fault_free_beside(seed: u64, ahead: bool) -> World {
    let w = run(seed, mix(seed, ahead), NO_FAULTS);
    assert_eq!(w.failures, w.signed_out_failures, "seed {seed}");
    assert_eq!(w.server_refusals, 0, "seed {seed}");
    assert_eq!(w.sign_ins, 0, "seed {seed}");
    let n = w.presentations.len();
    if w.rotates {
        let mut tokens: Vec<u64> = w.presentations.iter().map(|p| p.refresh).collect();
        tokens.sort_unstable();
        tokens.dedup();
        assert_eq!(
            tokens.len(),
            n,
            "seed {seed}: a refresh token presented twice"
        );
    }
    assert!(
        n >= 5,
        "seed {seed}: only {n} refreshes in 4 s of 400 ms tokens"
    );
    w
}

fn spending_nothing(seed: u64) -> World {
    let faults = Faults {
        reset_before: 0.08,
        hang: 0.0,
        unavailable: 0.08,
        slow_store: 0.05,
        store_fail: 0.03,
        ..NO_FAULTS
    };
    let w = run(seed, Kind::of(seed, false), faults);
    // A request that a slow store delayed until its mark passed is processed and its answer
    // lost: that is the only way a token is spent here.
    let lost_rotations = w.issued_by_lost.len() as u32 + w.stored_late;
    assert!(
        w.sign_ins <= lost_rotations && (lost_rotations > 0 || w.server_refusals == 0),
        "seed {seed}: {} sign-ins, {} refusals, {lost_rotations} rotations lost",
        w.sign_ins,
        w.server_refusals
    );
    w
}

fn every_fault(seed: u64) -> World {
    every_fault_beside(seed, false)
}

fn every_fault_beside(seed: u64, ahead: bool) -> World {
    let w = run(seed, mix(seed, ahead), ALL_FAULTS);
    let lost_rotations = w.issued_by_lost.len() as u32 + w.stored_late;
    assert!(
        w.sign_ins <= lost_rotations,
        "seed {seed}: {} sign-ins, {lost_rotations} rotations lost after processing",
        w.sign_ins
    );
    w
}

fn strict(seed: u64) -> World {
    let faults = Faults {
        unavailable: 0.0,
        store_fail: 0.0,
        ..ALL_FAULTS
    };
    run(seed, Kind::of(seed, true), faults)
}

/// A sign-in against a store whose compare-and-set never matches ends, within its deadline.
fn sign_in_against_a_store_that_never_matches() {
    let bound = overwrite::bound_ms(60.0);
    let written = Written::SignIn {
        refresh_token: "r".to_owned(),
    };
    let mut write = Overwrite::new(written, 0.0, bound);
    let mut step = write.start();
    let mut now = 0.0;
    for _ in 0..10_000 {
        step = match step {
            OverwriteStep::Finish { stored } => {
                assert!(!stored && now <= bound + 1.0, "ended at {now}");
                return;
            }
            OverwriteStep::Sleep { ms } => {
                now += ms;
                write.on(OverwriteEvent::Slept, now)
            }
            OverwriteStep::Read => write.on(OverwriteEvent::Read(None), now),
            OverwriteStep::Write => write.on(OverwriteEvent::Swapped(false), now),
        };
    }
    panic!("a sign-in never ended (at {now} ms)");
}

/// Runs `suite` over `seeds` worlds and reports what they covered.
fn cover(name: &str, seeds: u64, suite: fn(u64) -> World) {
    let (started, mut c) = (std::time::Instant::now(), Coverage::default());
    for seed in 0..seeds {
        c.add(&suite(seed));
    }
    c.report(name, started);
}

#[test]
fn without_faults_every_renewal_succeeds_and_each_token_is_presented_once() {
    cover("fault-free", 300, fault_free);
}

#[test]
fn faults_that_spend_nothing_never_sign_anyone_in() {
    cover("faults that spend nothing", 600, spending_nothing);
}

#[test]
fn every_fault_at_once_keeps_the_invariants() {
    cover("every fault at once", 5_000, every_fault);
}

/// Renewals ahead of time (`renewDue`: a window up to most of the token's life, never taking the
/// still-valid token instead) beside the callers' renewals: the same invariants.
#[test]
fn renewals_ahead_of_time_beside_callers_keep_the_invariants() {
    cover("ahead of time, fault-free", 300, |seed| {
        fault_free_beside(seed, true)
    });
    cover("ahead of time, every fault", 3_000, |seed| {
        every_fault_beside(seed, true)
    });
}

#[test]
fn strict_mode_never_presents_a_refresh_token_twice() {
    cover("strict", 2_000, strict);
}

#[test]
fn a_sign_in_ends_against_a_store_that_never_matches() {
    sign_in_against_a_store_that_never_matches();
}

/// Removes each guard of the protocol in turn (`avito_auth::oauth::mutants`) and shows that the
/// model then fails: every guard is needed, and the model is able to see it go.
#[cfg(feature = "model-mutants")]
#[test]
fn removing_any_guard_fails_the_model() {
    use avito_auth::oauth::mutants::{self, Mutant};
    type Suite = fn(u64) -> World;
    let suites: [(&str, Suite); 4] = [
        ("fault-free", fault_free),
        ("spending nothing", spending_nothing),
        ("every fault", every_fault),
        ("strict", strict),
    ];
    let quiet_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut survivors = Vec::new();
    for mutant in [
        Mutant::NoMarkCheck,
        Mutant::NoSeed,
        Mutant::NoKeptRefreshToken,
        Mutant::NoSendDeadline,
        Mutant::NoLiveMarkWait,
        Mutant::NoSignInDeadline,
        Mutant::NoSignOutGuard,
        Mutant::NoPersistSignOutGuard,
    ] {
        mutants::set(Some(mutant));
        let caught = std::panic::catch_unwind(sign_in_against_a_store_that_never_matches)
            .err()
            .map(|_| ("sign-in against a never-matching store".to_owned(), 0))
            .or_else(|| {
                (0..2_000).find_map(|seed| {
                    suites.iter().find_map(|(name, suite)| {
                        std::panic::catch_unwind(|| drop(suite(seed)))
                            .err()
                            .map(|_| ((*name).to_owned(), seed))
                    })
                })
            });
        mutants::set(None);
        match caught {
            Some((suite, seed)) => eprintln!("{mutant:?}: fails {suite}, seed {seed}"),
            None => survivors.push(mutant),
        }
    }
    std::panic::set_hook(quiet_hook);
    assert!(
        survivors.is_empty(),
        "the model does not see these guards go: {survivors:?}"
    );
}
