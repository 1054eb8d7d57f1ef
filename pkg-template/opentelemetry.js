// OpenTelemetry for avito-auth: `instrument({ tracerProvider, meterProvider })` turns the events
// every TokenManager and AccountTokens manager reports (README "Watching your sellers") into a
// span per renewal and metrics. The events arrive on the node:diagnostics_channel channel
// "avito-auth:event" where the runtime has it (Node, Deno, Bun, workerd with nodejs_compat), or
// through the `onEvent` function instrument() returns, passed as the managers' `onEvent` option.
// @opentelemetry/api is an optional peer dependency: the application's own. This module does not
// load the wasm.
import { metrics, trace, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { invalidArgument } from "./store-protocol.js";

/** The channel the package publishes every event on. */
export const EVENT_CHANNEL = "avito-auth:event";
const NAME = "avito-auth";
// A renewal whose end never comes (its process or isolate stopped) must not hold its span
// forever: past this many open at once, the oldest is ended as abandoned.
const MAX_OPEN_SPANS = 10_000;

/** node:diagnostics_channel without importing it (an import would not load in a browser, or in workerd without nodejs_compat). */
const builtinChannels = () => globalThis.process?.getBuiltinModule?.("node:diagnostics_channel");
async function importedChannels() {
  const name = "node:diagnostics_channel"; // a variable: bundlers for browsers leave it alone
  return import(/* webpackIgnore: true */ /* @vite-ignore */ name);
}

const provider = (given, what, method, fallback) => {
  if (given === undefined) return fallback();
  if (given === null || typeof given[method] !== "function") throw invalidArgument(`${what} must be an OpenTelemetry ${what[0].toUpperCase()}${what.slice(1)} (with ${method}())`);
  return given;
};
/** Attributes without the members an event does not have (OpenTelemetry drops undefined ones, but not every exporter does). */
const defined = (attributes) => {
  for (const k of Object.keys(attributes)) if (attributes[k] === undefined) delete attributes[k];
  return attributes;
};

/**
 * Subscribes to avito-auth's events and records them with OpenTelemetry. Returns
 * `{ onEvent, subscribed, close }`: `onEvent` is for runtimes without diagnostics_channel (pass
 * it as the managers' `onEvent`, with `channel: false` where the runtime has one, so that no
 * event counts twice); `subscribed` resolves to whether the channel subscription is in place.
 */
export function instrument(options = {}) {
  if (options === null || typeof options !== "object") throw invalidArgument("instrument options must be an object");
  const known = ["tracerProvider", "meterProvider", "channel"];
  for (const key of Object.keys(options)) if (!known.includes(key)) throw invalidArgument(`instrument: unknown option "${String(key).slice(0, 64)}" (known: ${known.join(", ")})`);
  const { channel = true } = options;
  if (typeof channel !== "boolean") throw invalidArgument("channel must be a boolean");
  const tracer = provider(options.tracerProvider, "tracerProvider", "getTracer", () => trace.getTracerProvider()).getTracer(NAME);
  const meter = provider(options.meterProvider, "meterProvider", "getMeter", () => metrics.getMeterProvider()).getMeter(NAME);

  const renewals = meter.createCounter("avito_auth.renewals", { description: "Renewals that ended, by outcome (and failure kind)" });
  const duration = meter.createHistogram("avito_auth.renewal.duration", { unit: "ms", description: "How long a renewal took, by outcome" });
  const signInsRequired = meter.createCounter("avito_auth.sign_ins_required", { description: "Sellers told to sign in again, by reason" });
  const refusals = meter.createCounter("avito_auth.api_refusals", { description: "401/403 answers of the API, by reason and what tm.fetch did" });
  const storeErrors = meter.createCounter("avito_auth.store_errors", { description: "Token store calls that failed, by call" });
  const signOuts = meter.createCounter("avito_auth.sign_outs", { description: "Sellers signed out" });

  /** renewalId → its span, oldest first. */
  const open = new Map();
  const startSpan = (event, startTime) => {
    if (open.size >= MAX_OPEN_SPANS) {
      const [oldest, span] = open.entries().next().value;
      open.delete(oldest);
      span.setAttribute("avito.renewal.abandoned", true);
      span.end();
    }
    const span = tracer.startSpan("avito-auth renewal", { kind: SpanKind.INTERNAL, startTime, attributes: defined({ "avito.account_id": event.accountId, "avito.renewal.id": event.renewalId }) });
    open.set(event.renewalId, span);
    return span;
  };

  const record = (event) => {
    switch (event.type) {
      case "renewal_started":
        startSpan(event, event.at);
        break;
      case "renewal_finished": {
        // A renewal that began before instrument() has no open span: it is made from its duration.
        const span = open.get(event.renewalId) ?? startSpan(event, event.at - event.durationMs);
        open.delete(event.renewalId);
        const failed = event.outcome !== "renewed";
        span.setAttributes(defined({
          "avito.renewal.outcome": event.outcome,
          "avito.renewal.kind": event.kind,
          "avito.renewal.status": event.status,
          "avito.renewal.error": event.error,
          "avito.renewal.presentations": event.presentations,
          "avito.renewal.waited_ms": event.waitedMs,
          "error.type": failed ? (event.kind ?? "failed") : undefined,
        }));
        span.setStatus(failed ? { code: SpanStatusCode.ERROR, message: event.kind } : { code: SpanStatusCode.OK });
        span.end(event.at);
        renewals.add(1, defined({ outcome: event.outcome, kind: event.kind }));
        if (Number.isFinite(event.durationMs)) duration.record(event.durationMs, { outcome: event.outcome });
        break;
      }
      case "sign_in_required":
        signInsRequired.add(1, defined({ reason: event.reason }));
        break;
      case "api_refused":
        refusals.add(1, defined({ reason: event.reason, action: event.action, status: event.status }));
        break;
      case "store_error":
        storeErrors.add(1, defined({ call: event.call }));
        break;
      case "signed_out":
        signOuts.add(1);
        break;
      default: // another type: not measured here
    }
  };
  let closed = false;
  // Never throws into the code that reported the event (a renewal, a request).
  const onEvent = (event) => {
    if (closed || event === null || typeof event !== "object") return;
    try {
      record(event);
    } catch {
      /* a broken exporter must not break a renewal */
    }
  };
  const listener = (message) => onEvent(message);

  let unsubscribe = () => {};
  const subscribe = (dc) => {
    if (closed || typeof dc?.subscribe !== "function") return false;
    dc.subscribe(EVENT_CHANNEL, listener);
    unsubscribe = () => dc.unsubscribe(EVENT_CHANNEL, listener);
    return true;
  };
  let subscribed;
  if (!channel) subscribed = Promise.resolve(false);
  else {
    // Synchronous where the runtime offers it, so that no event of this tick is missed.
    const builtin = builtinChannels();
    subscribed = builtin ? Promise.resolve(subscribe(builtin)) : importedChannels().then(subscribe, () => false);
  }
  return {
    onEvent,
    subscribed,
    /** Unsubscribes, and ends the spans of renewals still open (as abandoned). */
    close() {
      closed = true;
      unsubscribe();
      for (const span of open.values()) {
        span.setAttribute("avito.renewal.abandoned", true);
        span.end();
      }
      open.clear();
    },
  };
}
