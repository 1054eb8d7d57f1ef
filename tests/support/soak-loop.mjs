// The loop every member of a soak fleet runs (a Node process of the Redis fleet, a Worker request
// of the Durable Object fleet): bounded in iterations and time, every call under its own
// AbortSignal deadline, every failure classified (a typed ApiException or not), and the user's
// answer to `signInRequired` — signing in again — done through the token server's /__signin.
// Runs in Node and in workerd: web-standard APIs only.

export const KINDS = ["oauth", "http", "invalid_response", "network", "timeout", "aborted", "invalid_argument", "store", "sign_in_required"];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());

/** Is `e` the typed error the README promises? (`instanceof` the entry's class, name, a known kind.) */
export function isTyped(e, ApiException) {
  return e instanceof ApiException && e instanceof Error && e.name === "ApiException" && KINDS.includes(e.kind);
}

/**
 * The person behind the account signs in again — the soak's test double of that action, counted
 * and reported, never silent — only when the server refused the account's refresh token: the
 * error is the server's `invalid_grant` (or `sign_in_required` meeting its record) and the store
 * holds no refresh token (the TokenManager removed it and recorded `refresh_refused_at`). A `signInRequired` while the store holds a refresh token is
 * recorded instead (`signInDeclined`: the stored token and the time), for the analysis to judge
 * (a token a sign-in just stored is fine; any other is the protocol giving up on a live account).
 * One sign-in per refusal (the token server answers 409 to the second member asking for the same
 * `refresh_refused_at`); the new set is written with compare-and-set from what the store held (a
 * lost race revokes the new tokens).
 */
export async function signInAgain({ store, host, worker, stats, error }) {
  try {
    const expected = await store.get();
    const refused = !!expected && typeof expected.refresh_token !== "string";
    // The server's own refusal (oauth, invalid_grant), or its record in the store that another
    // member met (sign_in_required: refused earlier).
    const serverRefused = error?.error === "invalid_grant" || (error?.kind === "sign_in_required" && typeof expected?.refresh_refused_at === "number");
    if (!serverRefused || !refused) {
      stats.signInDeclined.push({ at: Date.now(), storedRt: expected?.refresh_token ?? null, marked: !!expected?.renewal, message: String(error?.message).slice(0, 160) });
      return;
    }
    const res = await fetch(`${host}/__signin`, {
      method: "POST", headers: { "content-type": "application/json", "x-soak-worker": worker },
      body: JSON.stringify({ forRefusal: String(expected.refresh_refused_at ?? "none"), reason: `${error.kind}/${error.error}: ${String(error.message).slice(0, 140)}` }),
    });
    if (res.status === 409) { await res.arrayBuffer(); stats.signInSkipped++; return; }
    const ts = await res.json();
    const next = { ...ts, expires_at: Date.now() + ts.expires_in * 1000 };
    if (await store.compareAndSet(expected, next)) stats.signIns++;
    else {
      stats.signInCasLost++;
      await (await fetch(`${host}/__revoke`, { method: "POST", body: JSON.stringify({ refresh_token: ts.refresh_token }) })).arrayBuffer();
    }
  } catch (e) {
    stats.signInFailed++;
    stats.notes.push(`sign-in failed: ${e?.name}: ${String(e?.message).slice(0, 120)}`);
  }
}

/** Failed calls kept per member (with their time) for the "failed while live" figure. */
const FAILURES_KEPT = 1000;

/**
 * ops: { token(signal) → string, fetch(signal) → Response, cc?(signal) → string }.
 * cfg: { cycle, durationMs, maxIters, deadlineMs, slackMs, pauseMs, warmIters }.
 * memory (optional): () → { rss, heap }, sampled at the start, after warmIters, mid-run, at the end.
 */
export async function runLoop({ worker, ops, cfg, ApiException, onSignInRequired, memory }) {
  const stats = {
    worker, iters: 0, ok: 0, failed: 0,
    byOp: {}, errors: {}, untyped: [], signInRequired: 0,
    signIns: 0, signInSkipped: 0, signInCasLost: 0, signInFailed: 0, signInDeclined: [],
    failures: [], failuresNotKept: 0,
    apiFinal403: 0, maxWaitMs: 0, deadlineMs: cfg.deadlineMs, overDeadline: [], waits: [],
    memory: {}, firstOkAt: null, lastOkAt: null, notes: [],
  };
  const t0 = Date.now();
  const end = t0 + cfg.durationMs;
  if (memory) stats.memory.start = memory();
  for (let i = 0; i < cfg.maxIters && Date.now() < end; i++) {
    const op = cfg.cycle[i % cfg.cycle.length];
    const s = (stats.byOp[op] ??= { ok: 0, err: 0 });
    const started = now();
    const startedAt = Date.now();
    let err;
    const signal = AbortSignal.timeout(cfg.deadlineMs);
    try {
      const r = await ops[op](signal);
      if (op === "bare") {
        await r.arrayBuffer(); // the baseline: a plain fetch, any answer will do
      } else if (op === "fetch") {
        await r.arrayBuffer();
        if (r.status !== 200) {
          if (r.status === 403) stats.apiFinal403++;
          throw Object.assign(new Error(`the API answered ${r.status} after tm.fetch's renewal`), { soakApiStatus: r.status });
        }
      } else if (typeof r !== "string" || !r) {
        throw new Error(`${op} resolved to ${typeof r}, not a token`);
      }
      s.ok++;
      stats.ok++;
      stats.lastOkAt = Date.now() - t0;
      stats.firstOkAt ??= stats.lastOkAt;
    } catch (e) {
      err = e;
      s.err++;
      stats.failed++;
      let k = `${op}:untyped`;
      if (e?.soakApiStatus) {
        k = `${op}:api_${e.soakApiStatus}`;
        stats.errors[k] = (stats.errors[k] ?? 0) + 1;
      } else if (op === "fetch" && signal.aborted && (e === signal.reason || e?.name === "AbortError" || e?.name === "TimeoutError")) {
        // The API leg itself (the request to the API, or reading its body) ended by the member's
        // own deadline: the platform's rejection — the member's abort reason (workerd makes a new
        // TimeoutError), or undici's
        // AbortError for a body cut short — as fetch gives it; not a failure of the token
        // client, which would be an ApiException. Only counted when the deadline did fire.
        k = `${op}:deadline_in_api_call`;
        stats.errors[k] = (stats.errors[k] ?? 0) + 1;
      } else if (isTyped(e, ApiException)) {
        k = `${op}:${e.kind}${e.error ? `:${e.error}` : ""}${e.signInRequired ? ":signInRequired" : ""}`;
        stats.errors[k] = (stats.errors[k] ?? 0) + 1;
      } else {
        stats.untyped.push({ op, name: e?.name, kind: e?.kind, ctor: e?.constructor?.name, message: String(e?.message ?? e).slice(0, 200) });
      }
      if (stats.failures.length < FAILURES_KEPT) stats.failures.push({ start: startedAt, at: Date.now(), op, key: k });
      else stats.failuresNotKept++;
    }
    const waited = now() - started;
    stats.waits.push(Math.round(waited));
    if (waited > stats.maxWaitMs) stats.maxWaitMs = waited;
    if (waited > cfg.deadlineMs + cfg.slackMs) stats.overDeadline.push({ op, waitedMs: Math.round(waited), at: Date.now() - t0, error: err ? `${err.name}/${err.kind}` : null });
    stats.iters++;
    if (err?.signInRequired) {
      stats.signInRequired++;
      await onSignInRequired(stats, err);
    }
    if (memory && i === cfg.warmIters) stats.memory.warm = memory();
    if (memory && stats.memory.mid === undefined && Date.now() - t0 >= cfg.durationMs / 2) stats.memory.mid = memory();
    await sleep(cfg.pauseMs);
  }
  if (memory) stats.memory.end = memory();
  stats.maxWaitMs = Math.round(stats.maxWaitMs);
  stats.elapsedMs = Date.now() - t0;
  return stats;
}
