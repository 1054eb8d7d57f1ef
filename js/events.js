// Events (README "Watching your sellers"): the plain objects, built here from the values the
// crate hands over (object building is several times smaller in JavaScript than in the .wasm),
// delivered to a manager's `onEvent` and published on `node:diagnostics_channel` where the
// runtime entry handed the module over. The crate decides what happened and calls in only when
// someone listens (an `onEvent`, or a channel with subscribers).

/** Each event type's members, in the order the crate passes their values. */
const MEMBERS = {
  renewal_started: ["renewalId"],
  renewal_finished: ["renewalId", "outcome", "kind", "status", "error", "durationMs", "presentations", "waitedMs"],
  sign_in_required: ["reason"],
  signed_out: [],
  store_error: ["call", "error"],
  api_refused: ["status", "method", "path", "action", "reason", "missingScopes"],
  token_served: ["source"],
};

let events; // the channel "avito-auth:event"
let renewals; // the TracingChannel "avito-auth:renewal"

/** Called once by the runtime entries that have node:diagnostics_channel, with that module. */
export function setDiagnostics(dc) {
  try {
    events = dc.channel("avito-auth:event");
    renewals = typeof dc.tracingChannel === "function" ? dc.tracingChannel("avito-auth:renewal") : undefined;
  } catch {}
  return events !== undefined;
}

// Whether a channel has subscribers; workerd's channels do not say (no `hasSubscribers`): there
// every event is published.
const subscribed = (channel) => channel !== undefined && channel.hasSubscribers !== false;

/** Whether the event channel may have subscribers. */
export function channelListening() {
  return subscribed(events);
}

function fill(target, type, values) {
  MEMBERS[type].forEach((name, i) => {
    if (values[i] !== undefined) target[name] = values[i];
  });
  return target;
}

/**
 * Builds the event and delivers it (a listener's throw or rejection does not reach the crate);
 * `trace`: the TracingChannel context of the renewal this event ends, which gets the same members
 * (and ends with `error` when it carries the ApiException).
 */
export function deliver(listener, type, accountId, trace, ...values) {
  if (trace !== undefined) traceEnd(trace, values);
  const published = subscribed(events);
  if (typeof listener !== "function" && !published) return;
  const event = { type, at: Date.now() };
  if (accountId !== undefined) event.accountId = accountId;
  Object.freeze(fill(event, type, values));
  if (typeof listener === "function") {
    try {
      const returned = listener(event);
      if (typeof returned?.then === "function") returned.then(undefined, () => {});
    } catch {}
  }
  if (published) {
    try {
      events.publish(event);
    } catch {}
  }
}

const traced = () => renewals !== undefined && ["start", "end", "asyncStart", "asyncEnd", "error"].some((c) => subscribed(renewals[c]));

/** A renewal starts: its TracingChannel context (published on start and end), if traced. */
export function traceStart(renewalId, accountId) {
  if (!traced()) return undefined;
  const context = { renewalId };
  if (accountId !== undefined) context.accountId = accountId;
  try {
    renewals.start.publish(context);
    renewals.end.publish(context);
  } catch {}
  return context;
}

function traceEnd(context, values) {
  // As for any traced call, `error` is what it failed with (the ApiException, whose own `error`
  // is the OAuth code the event's `error` names).
  const thrown = context.error;
  fill(context, "renewal_finished", values);
  try {
    if (thrown !== undefined) {
      context.error = thrown;
      renewals.error.publish(context);
    }
    renewals.asyncStart.publish(context);
    renewals.asyncEnd.publish(context);
  } catch {}
}
