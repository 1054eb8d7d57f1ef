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
//   reset_before                    socket destroyed before processing: nothing is spent
//   reset_after                     processed (a refresh token ROTATED), then the socket destroyed:
//                                   the client lost the new tokens — the lost-rotation hazard
//   hang                            never answered, never processed (the client must time out)
//   slow                            answered normally after a delay (below the client's timeout; if
//                                   the client gave up meanwhile, dropped unprocessed)
// `hold` (one or a list) stops the n-th (or the next) refresh request presenting a live token,
// before processing, and calls `onHold({ worker, … })` (the soak kills the process that sent
// it); then the request is processed anyway ("processed": what a server that got the whole
// request does — the rotation is lost with the client) or dropped ("dropped").
// Faults are drawn only while faults are on (`setFaults(false)` gives a fault-free tail).
//
// The log: every /token request (grant, the refresh token presented, the worker from the
// `x-soak-worker` header, the fault, the outcome, the refresh token issued), every token issued
// (via rotation or sign-in, delivered or lost), every fault. `analyze({ store })` checks the
// invariants from it.
import http from "node:http";
import { randomBytes } from "node:crypto";
import { prng } from "./prng.mjs";

export const FAULT_TYPES = ["http_500", "http_502", "http_503", "reset_before", "reset_after", "hang", "slow"];
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
  const holds = [].concat(o.hold ?? []);
  const holdStates = []; // per hold: { request, worker, heldAt, clientGone, releasedAt }

  const issueAccess = () => {
    const at = tok("at");
    access.set(at, Date.now() + o.expiresIn * 1000);
    return at;
  };
  const issueRefresh = (via, from, chain, requestIndex) => {
    const rt = tok("rt");
    refresh.set(rt, { state: "live", via, from, chain, at: Date.now(), delivered: null, requestIndex });
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
      case "http_500": case "http_502": case "http_503": {
        const status = Number(fault.slice(5));
        rec.outcome = "unprocessed";
        rec.end = Date.now();
        const body = status === 502 ? "<html><body>502 Bad Gateway</body></html>" : JSON.stringify({ error: { code: status, message: "temporarily unavailable" } });
        res.writeHead(status, { "content-type": status === 502 ? "text/html" : "application/json", "content-length": Buffer.byteLength(body) });
        return res.end(body);
      }
      case "reset_before":
        rec.outcome = "unprocessed";
        rec.end = Date.now();
        return req.socket.destroy();
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
        if (rec.outcome === "pending") rec.outcome = "lost"; // client_credentials: an access token lost
        req.socket.destroy();
        return settle(rec, false);
      }
      case "slow": {
        const [lo, hi] = o.slowMs;
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
   * A user signing in again: a new refresh-token chain. `replacing` is the refresh token the
   * fleet's store held: it is revoked if still live (the old session ends), and a sign-in is
   * refused (409) when `replacing` itself came from a sign-in under `freshMs` ago (another
   * process already signed in for the same failure).
   */
  function signIn({ replacing, via = "signin", freshMs = 1500 } = {}) {
    const old = replacing ? refresh.get(replacing) : undefined;
    if (old && old.via !== "rotation" && old.state === "live" && Date.now() - old.at < freshMs) return null;
    const replacedState = !replacing ? "none" : old ? old.state : "unknown";
    if (old?.state === "live") old.state = "revoked";
    const rt = issueRefresh(via, null, ++chains, null);
    refresh.get(rt).delivered = true;
    signIns.push({ at: Date.now(), rt, chain: chains, via, replacedState });
    return { access_token: issueAccess(), refresh_token: rt, expires_in: o.expiresIn, token_type: "Bearer", scope: "messenger:read" };
  }

  function revoke(rt) {
    const r = refresh.get(rt);
    if (r && r.state === "live") r.state = "revoked";
    return !!r;
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
        const ts = signIn({ replacing: body.replacing, via: body.via ?? "signin" });
        return ts ? send(res, 200, ts) : send(res, 409, { skipped: "a sign-in just replaced that token" });
      }
      if (url.pathname === "/__revoke" && req.method === "POST") return send(res, 200, { revoked: revoke(body.refresh_token) });
      api.other++;
      send(res, 404, { error: { code: 404, message: "Not found" } });
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;

  /** The last refresh token issued that was not revoked (the one the store should end with). */
  function latestIssued() {
    for (let k = issuedOrder.length - 1; k >= 0; k--) {
      const r = refresh.get(issuedOrder[k]);
      if (r.state !== "revoked") return { rt: issuedOrder[k], ...r };
    }
    return undefined;
  }

  /**
   * The invariants, from the server's own log. `store` is what the fleet's store holds at the end.
   * Returns { checks: [{ name, ok, detail }], figures }.
   */
  function analyze({ store } = {}) {
    const checks = [];
    const refreshReqs = requests.filter((r) => r.grant === "refresh_token");
    const spentOutcomes = new Set(["rotated", "rotated_lost", "rotated_pending"]);

    // 1. No refresh token is presented again once a request that spent it was sent, nor twice at
    //    once. Re-sending a token the server never processed (5xx, reset before processing, a
    //    hang, a dropped request) is counted apart: on the wire it is a second presentation too.
    const byRt = new Map();
    for (const r of refreshReqs) {
      if (!byRt.has(r.rt)) byRt.set(r.rt, []);
      byRt.get(r.rt).push(r);
    }
    const reuse = [];
    const resentUnprocessed = [];
    const unknown = [];
    for (const [rt, list] of byRt) {
      if (!refresh.has(rt)) unknown.push({ rt: short(rt), worker: list[0].worker });
      const spender = list.find((r) => spentOutcomes.has(r.outcome));
      for (let k = 1; k < list.length; k++) {
        const p = list[k];
        const prev = list[k - 1];
        const overlapping = list.slice(0, k).find((q) => q.end === null || q.end > p.at);
        if (spender && spender !== p && p.at >= spender.at) {
          reuse.push({
            rt: short(rt), why: spender.outcome === "rotated" ? "after_delivered_rotation" : "after_lost_rotation",
            concurrent: spender.end === null || spender.end > p.at,
            spentBy: { worker: spender.worker, fault: spender.fault, at: spender.at - t0 }, worker: p.worker, at: p.at - t0, outcome: p.outcome,
          });
        } else if (overlapping) {
          reuse.push({ rt: short(rt), why: "concurrent", with: { worker: overlapping.worker, fault: overlapping.fault }, worker: p.worker, at: p.at - t0, outcome: p.outcome });
        } else {
          resentUnprocessed.push({ rt: short(rt), after: prev.fault ?? prev.outcome, worker: p.worker, outcome: p.outcome });
        }
      }
    }
    const lostReuse = reuse.filter((x) => x.why === "after_lost_rotation");
    checks.push({
      name: "no refresh token presented after a request that spent it, nor twice at once",
      ok: reuse.length === 0 && unknown.length === 0,
      detail: reuse.length || unknown.length
        ? `${reuse.length} re-presentation(s): ${lostReuse.length} after a LOST rotation (reset after rotation / killed renewer: the fleet re-sent the spent token instead of surfacing signInRequired without sending), ${reuse.length - lostReuse.length - reuse.filter((x) => x.why === "concurrent").length} after a DELIVERED rotation, ${reuse.filter((x) => x.why === "concurrent").length} concurrent; ${unknown.length} never-issued token(s). First: ${JSON.stringify(reuse.slice(0, 4))}`
        : `${byRt.size} refresh tokens presented, none after being spent`,
    });

    // 2. The store ends holding the newest token the server issued.
    const latest = latestIssued();
    const storeRt = store?.refresh_token;
    let storeCheck;
    if (!latest) storeCheck = { ok: false, detail: "the server issued no refresh token" };
    else if (storeRt === latest.rt) storeCheck = { ok: true, detail: `the store holds the newest refresh token (${latest.via}, ${short(latest.rt)})` };
    else if (latest.via === "rotation" && latest.delivered === false) {
      storeCheck = { ok: true, lastRotationLost: true, detail: `the LAST rotation's answer was lost (${short(latest.rt)}, request ${latest.requestIndex}: ${requests[latest.requestIndex]?.fault ?? "client gone"}); the store holds ${storeRt ? `${short(storeRt)} (${refresh.get(storeRt)?.state ?? "unknown to the server"})` : "nothing"} — reported, not a store failure` };
    } else {
      const held = storeRt ? refresh.get(storeRt) : undefined;
      storeCheck = { ok: false, detail: `the store holds ${storeRt ? `${short(storeRt)} (${held ? `${held.state}, via ${held.via}` : "never issued"})` : "no refresh token"} but the newest issued is ${short(latest.rt)} (via ${latest.via}, delivered: ${latest.delivered})` };
    }
    checks.push({ name: "the store ends holding the newest issued refresh token", ...storeCheck });

    // 3. A delivered token is never dropped: every rotation answered in full (and every sign-in)
    //    is later presented or is what the store holds at the end.
    const presented = new Set(refreshReqs.map((r) => r.rt));
    const dropped = [];
    for (const rt of issuedOrder) {
      const r = refresh.get(rt);
      if (r.state === "revoked" || r.delivered !== true || presented.has(rt) || rt === storeRt) continue;
      dropped.push({ rt: short(rt), via: r.via, at: r.at - t0, requestIndex: r.requestIndex, worker: r.requestIndex != null ? requests[r.requestIndex].worker : "signin" });
    }
    checks.push({
      name: "no delivered refresh token dropped (each is presented later or ends in the store)",
      ok: dropped.length === 0,
      detail: dropped.length ? `${dropped.length} dropped: ${JSON.stringify(dropped.slice(0, 4))}` : `${issuedOrder.length} issued, none dropped`,
    });

    // Figures.
    const byType = {};
    for (const f of faults) {
      const key = `${f.grant === "refresh_token" ? "refresh" : "cc"}:${f.type}`;
      byType[key] = (byType[key] ?? 0) + 1;
    }
    // A fault is survived when the fleet later completed a request of the same grant.
    const okTimes = { refresh_token: [], client_credentials: [] };
    for (const r of requests) if (r.outcome === "rotated" || r.outcome === "ok") okTimes[r.grant].push(r.end);
    for (const s of signIns) okTimes.refresh_token.push(s.at);
    const survived = faults.filter((f) => okTimes[f.grant].some((t) => t > f.at)).length;
    const outcomes = {};
    for (const r of requests) {
      const k = `${r.grant === "refresh_token" ? "refresh" : "cc"}:${r.outcome}`;
      outcomes[k] = (outcomes[k] ?? 0) + 1;
    }
    const resentBy = {};
    for (const x of resentUnprocessed) resentBy[x.after] = (resentBy[x.after] ?? 0) + 1;
    return {
      checks,
      lastRotationLost: !!storeCheck.lastRotationLost,
      figures: {
        tokenRequests: requests.length,
        refreshRequests: refreshReqs.length,
        ccRequests: requests.length - refreshReqs.length,
        rotationsDelivered: refreshReqs.filter((r) => r.outcome === "rotated").length,
        rotationsLost: refreshReqs.filter((r) => r.outcome === "rotated_lost").length,
        invalidGrant: refreshReqs.filter((r) => r.outcome === "invalid_grant").length,
        ccIssued: requests.filter((r) => r.grant === "client_credentials" && r.outcome === "ok").length,
        signIns: signIns.length,
        signInsReplacing: signIns.reduce((m, x) => ((m[x.replacedState] = (m[x.replacedState] ?? 0) + 1), m), {}),
        faults: faults.length,
        faultsByType: byType,
        faultsSurvived: survived,
        outcomes,
        reuse,
        resentUnprocessed: resentUnprocessed.length,
        resentUnprocessedBy: resentBy,
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
    latestIssued,
    analyze,
    holdStates,
    close() {
      for (const s of hung) s.destroy();
      server.closeAllConnections?.();
      return new Promise((r) => server.close(r));
    },
  };
}
