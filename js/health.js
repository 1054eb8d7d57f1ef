// The stored set's `health` and the object `status()` returns, shaped here: building plain
// objects member by member is several times smaller in JavaScript than in the .wasm (README
// "Performance"). Nothing is decided here: the state, the failure count and which write records
// what are the crate's (src/oauth/health.rs). Stored values are read defensively (a store may
// hold anything): only numbers and strings of the known members are copied out.

const number = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
const text = (v) => (typeof v === "string" ? v : null);
const scopes = (v) => (Array.isArray(v) ? v.slice(0, 64).filter((s) => typeof s === "string") : []);

function read(recorded) {
  try {
    return recorded !== null && typeof recorded === "object" ? { ...recorded } : {};
  } catch {
    return {};
  }
}

/**
 * The `health` a renewal's write records over `recorded` (the set's before): `failures`
 * consecutive failures, and `last_renewal_at` now, or `last_failure` now with the failure's
 * (an ApiException's) kind, status and error.
 */
export function healthAfter(recorded, failures, failure) {
  const health = read(recorded);
  health.consecutive_failures = failures;
  const at = Date.now();
  if (failure === undefined) health.last_renewal_at = at;
  else {
    const last = { at, kind: failure.kind };
    if (failure.status !== undefined) last.status = failure.status;
    if (failure.error !== undefined) last.error = failure.error;
    health.last_failure = last;
  }
  return health;
}

/** `recorded` with `missing` added to `missing_scopes`, or undefined when it lists them all. */
export function withMissingScopes(recorded, missing) {
  const health = read(recorded);
  const known = scopes(health.missing_scopes);
  const added = missing.filter((s) => !known.includes(s));
  if (added.length === 0) return undefined;
  health.missing_scopes = [...known, ...added];
  return health;
}

/**
 * `status()`: the crate's `state` and `failures` (the count it read), and what the stored
 * `recorded` health says (copied, typed).
 */
export function statusOf(state, recorded, failures, expiresAt, granted, servedFromMemory, servedFromStore) {
  const health = read(recorded);
  const last = read(health.last_failure);
  const status = {
    state,
    expiresAt: expiresAt ?? null,
    scopes: [...new Set(granted)],
    lastRenewalAt: number(health.last_renewal_at),
    lastFailure: number(last.at) === null ? null : { at: last.at, kind: text(last.kind), status: number(last.status), error: text(last.error) },
    consecutiveFailures: failures,
    servedFromMemory,
    servedFromStore,
  };
  const missing = scopes(health.missing_scopes);
  if (missing.length) status.missingScopes = missing;
  return status;
}
