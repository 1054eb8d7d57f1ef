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
//! - the machine never asks to send a request whose mark has passed.
//!
//! Every step the edge performs is driven here: seeding an empty store from the manager's
//! `tokens` (some worlds start empty), the re-read after a mark's lost reply, servers that do not
//! rotate (some worlds), and the seller's sign-in, which goes through the core's sign-in write
//! (`avito_auth::oauth::sign_in`) with the same store faults. With the `model-mutants` feature,
//! `removing_any_guard_fails_the_model` removes each guard in turn and shows that the model fails.

use avito_auth::oauth::renewal::{
    Answer, Ending, Event, Expected, Mark, Renewal, RenewalConfig, RenewalGrant, SignIn, Start,
    Step, StoredSet, Why, CLOCK_MARGIN_MS,
};
use avito_auth::oauth::sign_in::{self, SignInEvent, SignInStep, SignInWrite};

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
}

impl Set {
    fn view(&self) -> StoredSet<'static> {
        // Tokens are numbers here; the view needs strings: leak small ones (tests only).
        let s = |n: u64| -> &'static str { Box::leak(n.to_string().into_boxed_str()) };
        StoredSet {
            access_token: Some(s(self.access)),
            expires_at: Some(self.expires_at),
            refresh_token: self.refresh.map(s),
            renewal: self.mark.as_ref().map(|(_, m)| *m),
            renewal_id: self
                .mark
                .as_ref()
                .map(|(id, _)| &*Box::leak(id.clone().into_boxed_str())),
            refused_earlier: self.refused_at.is_some(),
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
    /// The seller's sign-in in progress (a person's action, counted), its set, what it read.
    signing_in: Option<(SignInWrite, SignInStep, Set, Option<Set>)>,
}

impl Renewer {
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
            signing_in: None,
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
    /// A seller's sign-in is being stored.
    signing_in: bool,
    /// The first refresh token of the server's current family.
    family_start: u64,
    /// The server rotates refresh tokens (some worlds' servers do not).
    rotates: bool,
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
        signing_in: false,
        family_start: 0,
        rotates: kind.rotates,
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
    let mut rs: Vec<Renewer> = (0..renewers).map(|_| Renewer::process(0.0)).collect();
    let horizon = 4_000.0;
    let bound = cfg.renewal_bound_ms() + cfg.request_budget_ms + cfg.lease_ttl_ms() + 50.0;
    let mut guard = 0u32;
    loop {
        guard += 1;
        assert!(guard < 2_000_000, "seed {seed}: the world did not settle");
        // The renewer whose step completes first (ties in random order).
        let quiet = w.now > horizon;
        let next = (0..rs.len())
            .filter(|&i| !(quiet && rs[i].machine.is_none() && rs[i].signing_in.is_none()))
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
        *r = Renewer::process(w.now + w.rng.range(0.0, 5.0));
        return;
    }
    if r.signing_in.is_some() {
        step_sign_in(w, r, seed);
        return;
    }
    let Some(machine) = r.machine.as_mut() else {
        // A call: renew only when the cached token is not usable.
        let usable = r
            .cached
            .as_ref()
            .is_some_and(|c| c.expires_at - w.cfg.skew_ms > w.now);
        if usable {
            r.due = w.now + w.rng.range(5.0, 30.0);
            return;
        }
        let nonce = format!("p{}", w.id());
        let start = Start {
            refused: None,
            may_seed: w.seed.is_some() && !r.read_a_set,
            nonce,
        };
        let m = Renewal::new(w.cfg, w.now, start);
        r.step = m.start();
        r.machine = Some(m);
        r.started = w.now;
        r.paused = 0.0;
        r.mark_pending = None;
        r.mark_reply_lost = false;
        r.unverifiable = false;
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
    // The pending step completes now: compute its event and the next step.
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
            let seed_set = w.seed.clone().expect("a seeded world");
            let won = w.cas(None, seed_set);
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
                r.tokens = Some(tokens.clone());
            }
            let replaced = w.store.as_ref().and_then(|s| s.refresh);
            let won = w.cas(expected.as_ref(), tokens.clone());
            let mark_passed = r
                .marked
                .as_ref()
                .and_then(|m| m.mark.as_ref())
                .is_some_and(|(_, m)| w.now > m.answer_by + CLOCK_MARGIN_MS);
            if won && mark_passed {
                // Stored after its mark had passed (the renewer stalled): someone may have
                // presented the old token again meanwhile — as good as lost.
                w.stored_late += 1;
            }
            if won {
                if let Some(old) = replaced.filter(|&o| Some(o) != tokens.refresh) {
                    w.retired.push((old, w.now));
                }
                w.issued_by_lost.retain(|&t| Some(t) != tokens.refresh);
                r.cached = Some(tokens);
            }
            cas_event(w, won)
        }
        Step::Unmark => {
            r.mark_pending = None;
            let base = unmarked(r.last_read.as_ref().expect("a set was read"));
            let expected = r.marked.clone();
            let won = w.cas(expected.as_ref(), base);
            cas_event(w, won)
        }
        Step::RecordRefused { at } => {
            let base = unmarked(r.last_read.as_ref().expect("a set was read"));
            let refused = base.refresh;
            let next = Set {
                refresh: None,
                refused_at: Some(at),
                ..base
            };
            let expected = r.marked.clone();
            let won = w.cas(expected.as_ref(), next);
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
                ..marked.clone()
            };
            let won = w.cas(Some(&marked), next);
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

/// The seller signs in again (a person's action, counted in `sign_ins`) when no usable refresh
/// token remains and nobody is signing in already: the server issues a new token family, and the
/// sign-in's set is stored through the core's sign-in write, with the world's store faults.
fn begin_sign_in(w: &mut World, r: &mut Renewer) {
    let dead = w
        .store
        .as_ref()
        .map_or(true, |s| s.refresh.is_none() || w.cfg.strict);
    let busy = w.signing_in;
    if !dead || busy {
        r.due = w.now + w.rng.range(1.0, 20.0);
        return;
    }
    w.sign_ins += 1;
    w.signing_in = true;
    let family = w.id();
    w.server_current = Some(family);
    w.family_start = family;
    let set = w.fresh_set(family);
    let write = SignInWrite::new(
        &family.to_string(),
        w.now,
        sign_in::bound_ms(w.cfg.lease_ms),
    );
    let step = write.start();
    r.signing_in = Some((write, step, set, None));
    r.due = w.now + w.store_latency();
}

fn step_sign_in(w: &mut World, r: &mut Renewer, seed: u64) {
    let (mut write, step, set, mut read) = r.signing_in.take().expect("a sign-in");
    let holder;
    let event = match step {
        SignInStep::Read if w.rng.chance(w.faults.store_fail) => SignInEvent::StoreFailed,
        SignInStep::Read => {
            read = w.store.clone();
            holder = read.as_ref().map(Set::view);
            SignInEvent::Read(holder)
        }
        SignInStep::Write => {
            let won = w.cas(read.as_ref(), set.clone());
            match cas_event(w, won) {
                Event::Swapped(won) => SignInEvent::Swapped(won),
                _ => SignInEvent::StoreFailed,
            }
        }
        SignInStep::Sleep { .. } => SignInEvent::Slept,
        SignInStep::Finish { .. } => unreachable!("a finished sign-in has no pending step"),
    };
    let next = write.on(event, w.now);
    match next {
        SignInStep::Finish { stored } => {
            assert!(stored, "seed {seed}: a sign-in's set was not stored");
            w.signing_in = false;
            r.cached = None;
            r.due = w.now + w.rng.range(1.0, 20.0);
        }
        SignInStep::Sleep { ms } => {
            r.due = w.now + ms;
            r.signing_in = Some((write, next, set, read));
        }
        _ => {
            r.due = w.now + w.store_latency();
            r.signing_in = Some((write, next, set, read));
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
        r.due = if quiet {
            f64::INFINITY
        } else {
            w.now + w.rng.range(1.0, 20.0)
        };
        match ending {
            Ending::UseLastRead => r.cached = r.last_read.clone(),
            Ending::UseTokens => r.cached = r.tokens.clone(),
            Ending::Fail(why) => {
                w.failures += 1;
                r.cached = None;
                if let Why::SignIn(kind) = why {
                    assert!(
                        kind != SignIn::LostAnswer || w.cfg.strict,
                        "seed {seed}: only strict mode signs in after a lost answer"
                    );
                    assert!(
                        w.server_refusals > 0 || kind == SignIn::LostAnswer,
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
    }
    fn report(&self, name: &str, started: std::time::Instant) {
        eprintln!(
            "{name}: {} worlds, {} distinct interleavings, {} steps, {} renewals, {} presentations, {} rotations lost after processing, {} sign-ins (the counted test double), in {:.2} s",
            self.worlds,
            self.interleavings.len(),
            self.steps,
            self.renewals,
            self.presentations,
            self.lost,
            self.sign_ins,
            started.elapsed().as_secs_f64()
        );
    }
}

fn fault_free(seed: u64) -> World {
    let w = run(seed, Kind::of(seed, false), NO_FAULTS);
    assert_eq!(w.failures, 0, "seed {seed}");
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
    let w = run(seed, Kind::of(seed, false), ALL_FAULTS);
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
    let bound = sign_in::bound_ms(60.0);
    let mut write = SignInWrite::new("r", 0.0, bound);
    let mut step = write.start();
    let mut now = 0.0;
    for _ in 0..10_000 {
        step = match step {
            SignInStep::Finish { stored } => {
                assert!(!stored && now <= bound + 1.0, "ended at {now}");
                return;
            }
            SignInStep::Sleep { ms } => {
                now += ms;
                write.on(SignInEvent::Slept, now)
            }
            SignInStep::Read => write.on(SignInEvent::Read(None), now),
            SignInStep::Write => write.on(SignInEvent::Swapped(false), now),
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
