// A token server on 127.0.0.1 that behaves like Avito's for the fleet soak
// (tests/fleet/soak.test.mjs, bench/soak.mjs), and keeps a log to check the fleet against.
//
//   POST /token                  refresh_token grant ROTATES: a new refresh token and access token;
//                                the presented refresh token is spent, presenting it again is
//                                400 {"error":"invalid_grant"}. client_credentials: an access token.
//   GET  /core/v1/accounts/self  200 with a current access token, 403 (Avito's shape) with an
//                                expired or unknown one: what TokenManager.fetch() talks to.
//   POST /__signin               a user signing in again (a fresh refresh-token chain), never faulted
//   POST /__revoke               {"refresh_token"}: a sign-in's tokens the fleet did not keep
//
// Faults are drawn from a seeded PRNG (per-grant rates) or forced on the n-th request of a grant
// (`schedule`), on /token only:
//   http_500 / http_502 / http_503  answered BEFORE processing: nothing is spent
//   http_429                        "too many requests" (Retry-After: 0) before processing
//   reset_before                    socket destroyed before processing: nothing is spent
//   down                            socket destroyed before processing AND the listener closed for
//                                   `downMs` (every request meanwhile: connection refused)
//   reset_after                     processed (a refresh token ROTATED), then the socket destroyed:
//                                   the client lost the new tokens — the lost-rotation hazard
//   hang                            never answered, never processed (the client must time out)
//   hang_processed                  processed (ROTATED), then never answered: the client times out
//                                   and the rotation is lost with it
//   slow                            answered normally after a delay (below the client's timeout; if
//                                   the client gave up meanwhile, dropped unprocessed)
//   slow_past_lease                 the same with a delay from `slowPastLeaseMs` (set it past the
//                                   client's leaseMs and below its timeoutMs)
// Faults that spend nothing: http_*, reset_before, down, hang (and slow* dropped when the client
// went away). Faults that lose a rotation: reset_after, hang_processed, a killed renewer's
// request processed ("hold_processed").
// `hold` (one or a list) stops the n-th (or the next) refresh request presenting a live token,
// before processing, and calls `onHold({ worker, … })` (the soak kills the process that sent
// it); then the request is processed anyway ("processed": what a server that got the whole
// request does — the rotation is lost with the client) or dropped ("dropped").
// Faults are drawn only while faults are on (`setFaults(false)` gives a fault-free tail).
//
// The log: every /token request — a presentation, with its start (`at`) and its end at the
// server (`end`: answered, reset, or the client's socket closed) — (grant, the refresh token
// presented, the worker from the `x-soak-worker` header, the fault, the outcome, the refresh
// token issued), every token issued (via rotation or sign-in, delivered or lost; when it was
// spent or revoked), every fault, every sign-in with its cause (the refusal it answers and the
// request that spent the refused token). `analyze({ store, members })` checks the invariants.
import http from "node:http";
import { randomBytes } from "node:crypto";
import { prng } from "./prng.mjs";

export const FAULT_TYPES = ["http_500", "http_502", "http_503", "http_429", "reset_before", "down", "reset_after", "hang", "hang_processed", "slow", "slow_past_lease"];
/** Faults after which the server has spent nothing: a sign-in they cause is a client's fault. */
export const SPENT_NOTHING = new Set(["http_500", "http_502", "http_503", "http_429", "reset_before", "down", "hang", "hold_dropped"]);
/** Faults that lose a rotation the server performed (the client never gets the new tokens). */
export const LOSE_ROTATION = new Set(["reset_after", "hang_processed", "hold_processed"]);
const GRANTS = ["refresh_token", "client_credentials"];


const tok = (prefix) => `${prefix}_${randomBytes(16).toString("base64url")}`;
/** A short, stable name for a token in reports (never the token itself). */
export const short = (t) => (typeof t === "string" ? `${t.slice(0, 3)}…${t.slice(-6)}` : String(t));

export async function startRotatingTokenServer(options = {}) {
  const o = {
    seed: 1,
    expiresIn: 2, // seconds: renewals every (expiresIn − the client's refreshSkewMs)
    clientId: "soak-client",
    clientSecret: "soak-secret",
    rates: {}, // { refresh_token: { http_503: 0.02, … }, client_credentials: { … } }
    schedule: {}, // { refresh_token: { 3: "reset_after" }, client_credentials: { 1: "http_502" } } (1-based)
    slowMs: [100, 400],
    slowPastLeaseMs: [700, 900],
    downMs: 300,
    hangMs: 60_000, // a hung socket is destroyed after this, if the client has not gone
    hold: null, // { nth, holdMs, mode: "processed" | "dropped", onHold(info) } or a list of them
    ...options,
  };
  const random = prng(o.seed);
  let t0 = Date.now(); // times in reports are relative to this (markStart() moves it)
  let faultsOn = true;

  const refresh = new Map(); // rt → { state: live|spent|revoked, via, chain, at, from, delivered, requestIndex }
  const access = new Map(); // at → expiresAt
  const issuedOrder = []; // refresh tokens in the order issued
  const requests = []; // every /token request
  const faults = []; // { at, type, grant, worker, i }
  const signIns = []; // { at, rt, chain, via }
  const api = { 200: 0, 403: 0, expired: 0, unknown: 0, other: 0 };
  const grantCount = { refresh_token: 0, client_credentials: 0 };
  const hung = new Set();
  let chains = 0;
  const downs = [];
  const holds = [].concat(o.hold ?? []);
  const holdStates = []; // per hold: { request, worker, heldAt, clientGone, releasedAt }

  const issueAccess = () => {
    const at = tok("at");
    access.set(at, Date.now() + o.expiresIn * 1000);
    return at;
  };
  const issueRefresh = (via, from, chain, requestIndex) => {
    const rt = tok("rt");
    refresh.set(rt, { state: "live", via, from, chain, at: Date.now(), delivered: null, requestIndex, spentAt: null, revokedAt: null });
    issuedOrder.push(rt);
    return rt;
  };

  const send = (res, status, obj, onDone) => {
    const body = JSON.stringify(obj);
    let finished = false;
    res.on("finish", () => { finished = true; onDone?.(true); });
    res.on("close", () => { if (!finished) onDone?.(false); });
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };

  function drawFault(grant, n) {
    if (!faultsOn) return null;
    const forced = o.schedule?.[grant]?.[n];
    if (forced) return forced;
    const rates = o.rates?.[grant] ?? {};
    const r = random();
    let acc = 0;
    for (const type of FAULT_TYPES) {
      acc += rates[type] ?? 0;
      if (r < acc) return type;
    }
    return null;
  }

  /** Processes a valid grant: returns [status, body, rtIssued]; the spend happens here. */
  function process_(form, rec) {
    if (form.grant_type === "client_credentials") {
      return [200, { access_token: issueAccess(), expires_in: o.expiresIn, token_type: "Bearer" }];
    }
    const cur = refresh.get(form.refresh_token);
    if (!cur || cur.state !== "live") {
      rec.outcome = "invalid_grant";
      rec.spentState = cur ? cur.state : "unknown";
      return [400, { error: "invalid_grant", error_description: "refresh token is invalid or spent" }];
    }
    cur.state = "spent";
    cur.spentBy = rec.i;
    cur.spentAt = Date.now();
    const rt = issueRefresh("rotation", form.refresh_token, cur.chain, rec.i);
    rec.issued = rt;
    rec.outcome = "rotated_pending";
    return [200, { access_token: issueAccess(), expires_in: o.expiresIn, token_type: "Bearer", refresh_token: rt, scope: "messenger:read" }, rt];
  }

  const settle = (rec, delivered) => {
    rec.end = Date.now();
    if (rec.grant === "refresh_token" && rec.issued) {
      rec.outcome = delivered ? "rotated" : "rotated_lost";
      refresh.get(rec.issued).delivered = delivered;
    } else if (rec.outcome === "pending") rec.outcome = delivered ? "ok" : "lost";
  };

  async function handleToken(req, res, raw) {
    const form = Object.fromEntries(new URLSearchParams(raw));
    const grant = form.grant_type;
    const rec = {
      i: requests.length, at: Date.now(), grant, worker: String(req.headers["x-soak-worker"] ?? "?"),
      rt: grant === "refresh_token" ? form.refresh_token : undefined, fault: null, outcome: "pending", end: null,
    };
    requests.push(rec);
    // When the client goes away (its timeout, a killed process) before we answer.
    let goneAt = null;
    res.once("close", () => { if (!res.writableFinished) goneAt = Date.now(); });
    if (req.method !== "POST" || form.client_id !== o.clientId || form.client_secret !== o.clientSecret || !GRANTS.includes(grant)) {
      rec.outcome = "bad_request";
      rec.end = Date.now();
      return send(res, 400, { error: !GRANTS.includes(grant) ? "unsupported_grant_type" : "invalid_client" });
    }
    const n = ++grantCount[grant];
    rec.n = n;

    // The renewal the soak kills mid-flight.
    const live = grant === "refresh_token" && refresh.get(form.refresh_token)?.state === "live";
    const h = live && faultsOn ? holds.findIndex((x, k) => !holdStates[k] && n >= x.nth) : -1;
    if (h >= 0) {
      const hold = holds[h];
      const holdState = (holdStates[h] = { request: rec.i, worker: rec.worker, mode: hold.mode, heldAt: Date.now() });
      rec.fault = `hold_${hold.mode}`;
      faults.push({ at: Date.now(), type: rec.fault, grant, worker: rec.worker, i: rec.i });
      let gone = req.socket.destroyed;
      const closed = new Promise((r) => (gone ? r() : req.socket.once("close", () => { gone = true; r(); })));
      try { hold.onHold?.({ worker: rec.worker, request: rec.i, hold: h }); } catch { /* the harness's business */ }
      await Promise.race([closed, new Promise((r) => setTimeout(r, hold.holdMs ?? 500))]);
      holdState.clientGone = gone;
      holdState.releasedAt = Date.now();
      if (hold.mode !== "processed" && gone) {
        rec.outcome = "unprocessed";
        rec.end = goneAt ?? Date.now();
        return;
      }
      const [status, body] = process_(form, rec);
      if (req.socket.destroyed) return settle(rec, false);
      return send(res, status, body, (d) => settle(rec, d));
    }

    const fault = drawFault(grant, n);
    if (fault) {
      rec.fault = fault;
      faults.push({ at: Date.now(), type: fault, grant, worker: rec.worker, i: rec.i });
    }
    switch (fault) {
      case "http_500": case "http_502": case "http_503": case "http_429": {
        const status = Number(fault.slice(5));
        rec.outcome = "unprocessed";
        rec.end = Date.now();
        const body = status === 502 ? "<html><body>502 Bad Gateway</body></html>" : JSON.stringify({ error: { code: status, message: "temporarily unavailable" } });
        res.writeHead(status, { "content-type": status === 502 ? "text/html" : "application/json", "content-length": Buffer.byteLength(body), ...(status === 429 ? { "retry-after": "0" } : {}) });
        return res.end(body);
      }
      case "reset_before":
        rec.outcome = "unprocessed";
        rec.end = Date.now();
        return req.socket.destroy();
      case "down":
        rec.outcome = "unprocessed";
        rec.end = Date.now();
        req.socket.destroy();
        return goDown(o.downMs);
      case "hang_processed": {
        process_(form, rec);
        rec.answerLost = true;
        if (rec.outcome === "pending") rec.outcome = "lost";
        const s = req.socket;
        hung.add(s);
        const timer = setTimeout(() => s.destroy(), o.hangMs);
        s.once("close", () => { clearTimeout(timer); hung.delete(s); settle(rec, false); });
        return;
      }
      case "hang": {
        rec.outcome = "unprocessed";
        const s = req.socket;
        hung.add(s);
        const timer = setTimeout(() => s.destroy(), o.hangMs);
        s.once("close", () => { clearTimeout(timer); hung.delete(s); rec.end = Date.now(); });
        return;
      }
      case "reset_after": {
        process_(form, rec);
        rec.answerLost = true;
        if (rec.outcome === "pending") rec.outcome = "lost"; // client_credentials: an access token lost
        req.socket.destroy();
        return settle(rec, false);
      }
      case "slow":
      case "slow_past_lease": {
        const [lo, hi] = fault === "slow" ? o.slowMs : o.slowPastLeaseMs;
        rec.delayMs = Math.round(lo + random() * (hi - lo));
        await new Promise((r) => setTimeout(r, rec.delayMs));
        // The client gave up first (its timeout): this server then drops the request.
        if (req.socket.destroyed) { rec.outcome = "unprocessed"; rec.clientGone = true; rec.end = goneAt ?? Date.now(); return; }
        break;
      }
    }
    const [status, body] = process_(form, rec);
    return send(res, status, body, (d) => settle(rec, d));
  }

  function handleApi(req, res) {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
    const exp = m ? access.get(m[1]) : undefined;
    if (exp !== undefined && exp > Date.now()) {
      api[200]++;
      return send(res, 200, { id: 1, name: "Soak account" });
    }
    api[403]++;
    if (exp === undefined) api.unknown++;
    else api.expired++;
    return send(res, 403, { error: { code: 403, message: "Forbidden" } });
  }

  /**
   * A person signing in again (the soak's test double of that action): a new refresh-token
   * chain. `forRefusal` names the refusal it answers (the store's `refresh_refused_at`): one
   * person signs in once per refusal, so a second member asking for the same one gets null (409).
   * Each sign-in records its cause: the last refresh refused (invalid_grant) before it, and the
   * request that had spent that refresh token (its fault, or a delivered rotation).
   */
  const signedInFor = new Set();
  function causeNow() {
    const refusal = [...requests].reverse().find((r) => r.grant === "refresh_token" && r.outcome === "invalid_grant");
    if (!refusal) return { cause: "no_refusal" };
    const spentToken = refresh.get(refusal.rt);
    const spender = spentToken?.spentBy != null ? requests[spentToken.spentBy] : undefined;
    let cause;
    if (!spentToken) cause = "unknown_token";
    else if (!spender) cause = spentToken.state === "revoked" ? "revoked_token" : "token_not_spent";
    else if (spender.outcome === "rotated") cause = "delivered_rotation";
    else cause = spender.fault ?? (spender.outcome === "rotated_lost" ? "client_gone" : spender.outcome);
    return { cause, refusal: refusal.i, spender: spender?.i, refusedBy: refusal.worker, spentByWorker: spender?.worker };
  }
  function signIn({ forRefusal, via = "signin", worker = "?", reason } = {}) {
    if (forRefusal != null) {
      if (signedInFor.has(String(forRefusal))) return null;
      signedInFor.add(String(forRefusal));
    }
    const rt = issueRefresh(via, null, ++chains, null);
    refresh.get(rt).delivered = true;
    signIns.push({ at: Date.now(), rt, chain: chains, via, worker, reason, abandoned: false, ...(via === "seed" ? { cause: "seed" } : causeNow()) });
    return { access_token: issueAccess(), refresh_token: rt, expires_in: o.expiresIn, token_type: "Bearer", scope: "messenger:read" };
  }

  /** A sign-in's tokens the fleet did not keep (the member's compare-and-set lost). */
  function revoke(rt) {
    const r = refresh.get(rt);
    if (r && r.state === "live") { r.state = "revoked"; r.revokedAt = Date.now(); }
    for (const x of signIns) if (x.rt === rt) x.abandoned = true;
    return !!r;
  }

  /** Whether a refresh token delivered to the fleet (rotation answered in full, sign-in, seed) was live at the server at `t`. */
  function liveAt(t) {
    for (const r of refresh.values()) {
      if (r.delivered !== true || r.at > t) continue;
      if ((r.spentAt ?? Infinity) > t && (r.revokedAt ?? Infinity) > t) return true;
    }
    return false;
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url, "http://127.0.0.1");
      const raw = Buffer.concat(chunks).toString("utf8");
      if (url.pathname === "/token") return void handleToken(req, res, raw).catch((e) => { res.destroy(); console.error(e); });
      if (url.pathname.startsWith("/core/")) return handleApi(req, res);
      let body = {};
      try { body = raw ? JSON.parse(raw) : {}; } catch { /* not JSON */ }
      if (url.pathname === "/__signin" && req.method === "POST") {
        const ts = signIn({ forRefusal: body.forRefusal, via: "signin", worker: String(req.headers["x-soak-worker"] ?? "?"), reason: String(body.reason ?? "").slice(0, 200) });
        return ts ? send(res, 200, ts) : send(res, 409, { skipped: "a sign-in just replaced that token" });
      }
      if (url.pathname === "/__revoke" && req.method === "POST") return send(res, 200, { revoked: revoke(body.refresh_token) });
      api.other++;
      send(res, 404, { error: { code: 404, message: "Not found" } });
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = server.address().port;
  const url = `http://127.0.0.1:${port}`;
  // "down": nothing listens on the port for `ms` (connections refused), idle keep-alive sockets
  // are closed so that clients must connect anew. Then the same port listens again.
  let downUntil = 0;
  let closing = false;
  function goDown(ms) {
    if (downUntil > Date.now() || closing) return;
    downUntil = Date.now() + ms;
    downs.push({ at: Date.now(), ms });
    server.close();
    server.closeIdleConnections?.();
    setTimeout(() => { if (!closing) server.listen(port, "127.0.0.1"); }, ms);
  }

  /** The last refresh token issued that was not revoked (the one the store should end with). */
  function latestIssued() {
    for (let k = issuedOrder.length - 1; k >= 0; k--) {
      const r = refresh.get(issuedOrder[k]);
      if (r.state !== "revoked") return { rt: issuedOrder[k], ...r };
    }
    return undefined;
  }

  /**
   * The invariants, from the server's own log. `store` is what the fleet's store holds at the
   * end; `members` the members' reports (soak-loop.mjs): their failed calls (time, op, error),
   * and the store faults they injected (`storeFaults`: compare-and-sets lost or misreported).
   * Returns { checks: [{ name, ok, detail }], figures }.
   */
  function analyze({ store, members = [] } = {}) {
    const checks = [];
    const refreshReqs = requests.filter((r) => r.grant === "refresh_token");
    const spentOutcomes = new Set(["rotated", "rotated_lost", "rotated_pending"]);
    // Store writes a member's fault wrapper LOST (not applied, reported failed): they explain a
    // token presented again (a refusal or a delivered rotation that never reached the store).
    const lostWrites = members.flatMap((m) => m.storeFaults ?? []).filter((f) => f.mode === "unapplied_throw");
    const lostRefusalRecord = new Set(lostWrites.filter((f) => f.write === "refused").map((f) => f.rt));
    const lostRotationWrite = new Set(lostWrites.filter((f) => f.write === "tokens").map((f) => f.nextRt));

    // 1. Presentations of one refresh token (each request's start `at` and its end at the
    //    server `end`: answered, reset, or its client's socket closed — until then its client may
    //    still be waiting for the answer):
    //    - never two at once: one starting while an earlier one is still open is a violation;
    //    - never after its rotation was delivered, never after the server refused it;
    //    - allowed, and counted: again after an attempt the server did not process (5xx, 429,
    //      reset before processing, a hang, a dropped request), and again after a LOST rotation
    //      (reset after processing, a processed hang, a killed renewer whose request was
    //      processed): the server decides (invalid_grant → sign in).
    const byRt = new Map();
    for (const r of refreshReqs) {
      if (!byRt.has(r.rt)) byRt.set(r.rt, []);
      byRt.get(r.rt).push(r);
    }
    const violations = [];
    const explained = [];
    const represented = { after_unprocessed: 0, after_lost_rotation: 0 };
    const representedBy = {};
    const unknown = [];
    for (const [rt, list] of byRt) {
      if (!refresh.has(rt)) unknown.push({ rt: short(rt), worker: list[0].worker });
      for (let k = 1; k < list.length; k++) {
        const p = list[k];
        const earlier = list.slice(0, k);
        const open = earlier.find((q) => q.end === null || q.end > p.at);
        const spender = earlier.find((q) => spentOutcomes.has(q.outcome));
        // A refusal whose answer the client got (not one lost to a reset after processing).
        const refusedBefore = earlier.find((q) => q.outcome === "invalid_grant" && !q.answerLost);
        const row = { rt: short(rt), worker: p.worker, at: p.at - t0, outcome: p.outcome };
        if (open) violations.push({ ...row, why: "concurrent", with: { worker: open.worker, fault: open.fault, at: open.at - t0, end: open.end === null ? null : open.end - t0 } });
        else if (spender?.outcome === "rotated") (lostRotationWrite.has(spender.issued) ? explained : violations).push({ ...row, why: "after_delivered_rotation", spentBy: { worker: spender.worker, at: spender.at - t0 } });
        else if (refusedBefore && !spender) (lostRefusalRecord.has(rt) ? explained : violations).push({ ...row, why: "after_refused", refusedFor: refusedBefore.worker });
        else if (spender) {
          represented.after_lost_rotation++;
          const k2 = `lost:${spender.fault ?? "client_gone"}`;
          representedBy[k2] = (representedBy[k2] ?? 0) + 1;
        } else {
          represented.after_unprocessed++;
          const prev = list[k - 1];
          const k2 = `unprocessed:${prev.fault ?? prev.outcome}`;
          representedBy[k2] = (representedBy[k2] ?? 0) + 1;
        }
      }
    }
    const count = (why) => violations.filter((x) => x.why === why).length;
    checks.push({
      name: "no concurrent presentations of one refresh token (a second one starting while an earlier one is still open at the server)",
      ok: count("concurrent") === 0,
      detail: count("concurrent") ? `${count("concurrent")} concurrent: ${JSON.stringify(violations.filter((x) => x.why === "concurrent").slice(0, 3))}` : `${refreshReqs.length} presentations of ${byRt.size} refresh tokens, none overlapping; presented again after an unprocessed attempt ${represented.after_unprocessed}×, after a lost rotation ${represented.after_lost_rotation}× (${JSON.stringify(representedBy)})`,
    });
    checks.push({
      name: "no refresh token presented after its rotation was delivered or after the server refused it",
      ok: count("after_delivered_rotation") + count("after_refused") === 0 && unknown.length === 0,
      detail: `${count("after_delivered_rotation")} after a delivered rotation, ${count("after_refused")} after a refusal, ${unknown.length} never issued${explained.length ? `; ${explained.length} more explained by a store write the fault wrapper lost` : ""}${violations.length ? `. First: ${JSON.stringify(violations.filter((x) => x.why !== "concurrent").slice(0, 3))}` : ""}`,
    });

    // 2. Sign-ins: only after a refusal, never for a fault that spent nothing, at most one per
    //    rotation lost after processing.
    const signInsDone = signIns.filter((x) => x.via !== "seed" && !x.abandoned);
    const byCause = {};
    for (const x of signInsDone) byCause[x.cause] = (byCause[x.cause] ?? 0) + 1;
    const rotationsLost = refreshReqs.filter((r) => r.outcome === "rotated_lost");
    const lostBy = {};
    for (const r of rotationsLost) { const k = r.fault ?? "client_gone"; lostBy[k] = (lostBy[k] ?? 0) + 1; }
    const badCause = signInsDone.filter((x) => !(LOSE_ROTATION.has(x.cause) || x.cause === "client_gone" || (x.cause === "delivered_rotation" && lostWrites.some((f) => f.write === "tokens"))));
    checks.push({
      name: "zero sign-ins caused by faults that spent nothing (each sign-in answers a refusal of a token whose rotation was lost after processing)",
      ok: badCause.length === 0,
      detail: `${signInsDone.length} sign-in(s) by cause ${JSON.stringify(byCause)}${badCause.length ? `; not explained by a lost rotation: ${JSON.stringify(badCause.slice(0, 3).map((x) => ({ ...x, rt: short(x.rt), at: x.at - t0 })))}` : ""}`,
    });
    checks.push({
      name: "sign-ins at most the number of rotations lost after processing",
      ok: signInsDone.length <= rotationsLost.length,
      detail: `${signInsDone.length} sign-in(s) ≤ ${rotationsLost.length} rotation(s) lost ${JSON.stringify(lostBy)}`,
    });

    // A member that got signInRequired while the store held a refresh token did not sign in
    // (soak-loop.mjs). That is fine when the server would refuse that token anyway (spent: a
    // refusal whose recording in the store was lost, or a rotation lost before it), or when a
    // sign-in had just stored it (another member answered the same refusal first: the token's
    // chain began with a sign-in in the few seconds before). A token live at the server and not
    // just signed in means the protocol gave up on an account the server never refused.
    const recentMs = 6000;
    const declined = members.flatMap((m) => (m.signInDeclined ?? []).map((d) => ({ worker: m.worker, ...d })));
    const unwarranted = declined.filter((d) => {
      const held = d.storedRt ? refresh.get(d.storedRt) : undefined;
      if (!held) return !!d.storedRt; // a token the server never issued
      const liveThen = (held.spentAt ?? Infinity) > d.at && (held.revokedAt ?? Infinity) > d.at;
      if (!liveThen) return false;
      const chainStart = signIns.find((x) => x.chain === held.chain && x.via === "signin");
      return !(chainStart && chainStart.at <= d.at && d.at - chainStart.at <= recentMs);
    });
    checks.push({
      name: "signInRequired only after the server refused the refresh token (never while the store held one it had not refused)",
      ok: unwarranted.length === 0,
      detail: `${declined.length} signInRequired met a stored refresh token (${declined.length - unwarranted.length} of them spent at the server, or stored by a sign-in just before)${unwarranted.length ? `; ${unwarranted.length} unwarranted: ${JSON.stringify(unwarranted.slice(0, 3).map((d) => ({ ...d, storedRt: short(d.storedRt), at: d.at - t0, state: refresh.get(d.storedRt)?.state })))}` : ""}`,
    });

    // 3. The store ends holding the newest token the server issued.
    const latest = latestIssued();
    const storeRt = store?.refresh_token;
    let storeCheck;
    if (!latest) storeCheck = { ok: false, detail: "the server issued no refresh token" };
    else if (storeRt === latest.rt) storeCheck = { ok: true, detail: `the store holds the newest refresh token (${latest.via}, ${short(latest.rt)})` };
    else {
      const held = storeRt ? refresh.get(storeRt) : undefined;
      storeCheck = { ok: false, detail: `the store holds ${storeRt ? `${short(storeRt)} (${held ? `${held.state}, via ${held.via}` : "never issued"})` : `no refresh token${store?.refresh_refused_at ? " (refused)" : ""}`} but the newest issued is ${short(latest.rt)} (via ${latest.via}, delivered: ${latest.delivered}${latest.requestIndex != null ? `, request ${latest.requestIndex}: ${requests[latest.requestIndex]?.fault ?? "no fault"}` : ""})` };
    }
    checks.push({ name: "the store ends holding the newest issued refresh token, unmarked", ...storeCheck, ok: storeCheck.ok && !store?.renewal, detail: `${storeCheck.detail}${store?.renewal ? `; a renewal mark is left: ${JSON.stringify(store.renewal)}` : ""}` });

    // 4. A delivered token is never dropped: every rotation answered in full (and every sign-in)
    //    is later presented or is what the store holds at the end.
    const presented = new Set(refreshReqs.map((r) => r.rt));
    const dropped = [];
    for (const rt of issuedOrder) {
      const r = refresh.get(rt);
      if (r.state === "revoked" || r.delivered !== true || presented.has(rt) || rt === storeRt) continue;
      dropped.push({ rt: short(rt), via: r.via, at: r.at - t0, requestIndex: r.requestIndex, worker: r.requestIndex != null ? requests[r.requestIndex].worker : "signin", lostWrite: lostRotationWrite.has(rt) });
    }
    checks.push({
      name: "no delivered refresh token dropped (each is presented later or ends in the store)",
      ok: dropped.filter((d) => !d.lostWrite).length === 0,
      detail: dropped.length ? `${dropped.length} dropped (${dropped.filter((d) => d.lostWrite).length} by a store write the fault wrapper lost): ${JSON.stringify(dropped.slice(0, 4))}` : `${issuedOrder.length} issued, none dropped`,
    });

    // Calls failed while the account was live: a delivered refresh token was live at the server
    // from the call's start to its failure.
    const userFailures = members.flatMap((m) => (m.failures ?? []).filter((f) => f.op !== "cc"));
    const whileLive = userFailures.filter((f) => liveAt(f.start ?? f.at) && liveAt(f.at));
    const whileLiveBy = {};
    for (const f of whileLive) whileLiveBy[f.key] = (whileLiveBy[f.key] ?? 0) + 1;

    // Figures.
    const byType = {};
    for (const f of faults) {
      const key = `${f.grant === "refresh_token" ? "refresh" : "cc"}:${f.type}`;
      byType[key] = (byType[key] ?? 0) + 1;
    }
    const storeFaultsByMode = {};
    for (const f of members.flatMap((m) => m.storeFaults ?? [])) {
      const key = `${f.mode}:${f.write}`;
      storeFaultsByMode[key] = (storeFaultsByMode[key] ?? 0) + 1;
    }
    // A fault is survived when the fleet later completed a request of the same grant.
    const okTimes = { refresh_token: [], client_credentials: [] };
    for (const r of requests) if (r.outcome === "rotated" || r.outcome === "ok") okTimes[r.grant].push(r.end);
    for (const x of signIns) okTimes.refresh_token.push(x.at);
    const survived = faults.filter((f) => okTimes[f.grant].some((t) => t > f.at)).length;
    const outcomes = {};
    for (const r of requests) {
      const k = `${r.grant === "refresh_token" ? "refresh" : "cc"}:${r.outcome}`;
      outcomes[k] = (outcomes[k] ?? 0) + 1;
    }
    return {
      checks,
      figures: {
        tokenRequests: requests.length,
        refreshRequests: refreshReqs.length,
        presentations: refreshReqs.length,
        ccRequests: requests.length - refreshReqs.length,
        rotationsDelivered: refreshReqs.filter((r) => r.outcome === "rotated").length,
        rotationsLost: rotationsLost.length,
        rotationsLostBy: lostBy,
        invalidGrant: refreshReqs.filter((r) => r.outcome === "invalid_grant").length,
        ccIssued: requests.filter((r) => r.grant === "client_credentials" && r.outcome === "ok").length,
        signIns: signInsDone.length,
        signInsByCause: byCause,
        signInsAbandoned: signIns.filter((x) => x.abandoned).length,
        signInList: signInsDone.map((x) => ({ at: x.at - t0, worker: x.worker, cause: x.cause, reason: x.reason })),
        userFailures: userFailures.length,
        failedWhileLive: whileLive.length,
        failedWhileLiveBy: whileLiveBy,
        faults: faults.length,
        faultsByType: byType,
        faultsSurvived: survived,
        downs: downs.length,
        storeFaults: Object.values(storeFaultsByMode).reduce((a, b) => a + b, 0),
        storeFaultsByMode,
        outcomes,
        violations,
        presentedAgain: represented,
        presentedAgainBy: representedBy,
        api: { ...api },
        holds: holdStates.map((x) => ({ ...x, heldAt: x.heldAt - t0, releasedAt: x.releasedAt && x.releasedAt - t0 })),
      },
    };
  }

  return {
    url,
    requests,
    faults,
    signIns,
    api,
    refresh,
    /** Times in analyze() are reported from now on. */
    markStart() { t0 = Date.now(); },
    /** Turns faults off (random, scheduled and the hold) for a quiet end of the run. */
    setFaults(on) { faultsOn = !!on; },
    signIn,
    revoke,
    liveAt,
    latestIssued,
    analyze,
    holdStates,
    downs,
    close() {
      closing = true;
      for (const s of hung) s.destroy();
      server.closeAllConnections?.();
      return new Promise((r) => (server.listening ? server.close(() => r()) : r()));
    },
  };
}
