// Events and health (README "Watching your sellers"): plain objects built from what the crate
// hands over (smaller here than in the .wasm); every decision is the crate's. A listener's throw
// or rejection never reaches it; stored values are read defensively (a store may hold anything).

const MEMBERS = {
  renewal_started: ["renewalId"],
  renewal_finished: ["renewalId", "outcome", "kind", "status", "error", "durationMs", "presentations", "waitedMs"],
  sign_in_required: ["reason"],
  signed_out: [],
  store_error: ["call", "error"],
  api_refused: ["status", "method", "path", "action", "reason", "missingScopes"],
  token_served: ["source"],
};
let events; // channel "avito-auth:event"
let renewals; // TracingChannel "avito-auth:renewal"

export function setDiagnostics(dc) {
  try {
    events = dc.channel("avito-auth:event");
    renewals = dc.tracingChannel?.("avito-auth:renewal");
  } catch {}
  return events !== undefined;
}

// workerd's channels have no `hasSubscribers`: there every event is published.
const subscribed = (channel) => channel !== undefined && channel.hasSubscribers !== false;
export const channelListening = () => subscribed(events);

const fill = (target, type, values) => {
  MEMBERS[type].forEach((name, i) => values[i] !== undefined && (target[name] = values[i]));
  return target;
};

/** The event, to `listener` and the channel; `trace`: the renewal's TracingChannel context it ends. */
export function deliver(listener, type, accountId, trace, ...values) {
  if (trace !== undefined) traceEnd(trace, values);
  const published = subscribed(events);
  if (typeof listener !== "function" && !published) return;
  const event = { type, at: Date.now() };
  if (accountId !== undefined) event.accountId = accountId;
  Object.freeze(fill(event, type, values));
  try {
    const returned = listener?.(event);
    if (typeof returned?.then === "function") returned.then(undefined, () => {});
  } catch {}
  try {
    if (published) events.publish(event);
  } catch {}
}

const PARTS = ["start", "end", "asyncStart", "asyncEnd", "error"];

export function traceStart(renewalId, accountId) {
  if (!PARTS.some((c) => subscribed(renewals?.[c]))) return undefined;
  const context = { renewalId };
  if (accountId !== undefined) context.accountId = accountId;
  try {
    renewals.start.publish(context);
    renewals.end.publish(context);
  } catch {}
  return context;
}

function traceEnd(context, values) {
  // `error` is what the renewal failed with (the ApiException; the event's `error` is its code).
  const thrown = context.error;
  fill(context, "renewal_finished", values);
  try {
    if (thrown !== undefined) renewals.error.publish(Object.assign(context, { error: thrown }));
    renewals.asyncStart.publish(context);
    renewals.asyncEnd.publish(context);
  } catch {}
}

const number = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
const text = (v) => (typeof v === "string" ? v : null);
const scopes = (v) => (Array.isArray(v) ? v.slice(0, 64).filter((s) => typeof s === "string") : []);
const read = (v) => {
  try {
    return v !== null && typeof v === "object" ? { ...v } : {};
  } catch {
    return {};
  }
};

/** The `health` a renewal's write records: `failures` in a row, and now as its renewal or `failure`'s. */
export function healthAfter(recorded, failures, failure) {
  const health = read(recorded);
  health.consecutive_failures = failures;
  const at = Date.now();
  if (failure === undefined) health.last_renewal_at = at;
  else health.last_failure = JSON.parse(JSON.stringify({ at, kind: failure.kind, status: failure.status, error: failure.error }));
  return health;
}

/** `recorded` with `missing` added to `missing_scopes`; undefined when it lists them all. */
export function withMissingScopes(recorded, missing) {
  const health = read(recorded);
  const known = scopes(health.missing_scopes);
  const added = missing.filter((s) => !known.includes(s));
  if (added.length) return Object.assign(health, { missing_scopes: [...known, ...added] });
}

/** `status()`: the crate's `state` and `failures`, and the stored `recorded` health (typed). */
export function statusOf(state, recorded, failures, expiresAt, granted, servedFromMemory, servedFromStore) {
  const health = read(recorded);
  const last = read(health.last_failure);
  const missing = scopes(health.missing_scopes);
  return {
    state,
    expiresAt: expiresAt ?? null,
    scopes: [...new Set(granted)],
    lastRenewalAt: number(health.last_renewal_at),
    lastFailure: number(last.at) === null ? null : { at: last.at, kind: text(last.kind), status: number(last.status), error: text(last.error) },
    consecutiveFailures: failures,
    ...(missing.length ? { missingScopes: missing } : {}),
    servedFromMemory,
    servedFromStore,
  };
}
