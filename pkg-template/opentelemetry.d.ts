import type { MeterProvider, TracerProvider } from "@opentelemetry/api";

/** The node:diagnostics_channel channel every avito-auth event is published on. */
export const EVENT_CHANNEL: "avito-auth:event";

export interface InstrumentOptions {
  /** Where the span of each renewal goes; default: the global one (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
  /** Where the counters and the duration histogram go; default: the global one (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** Subscribe to the "avito-auth:event" channel (where the runtime has node:diagnostics_channel); default true. Set false when you pass `onEvent` to the managers instead, so that no event counts twice. */
  channel?: boolean;
}

export interface Instrumentation {
  /** Records one event: pass it as TokenManager's or AccountTokens' `onEvent` option where the runtime has no diagnostics_channel. Never throws. */
  onEvent(event: { type: string; at: number; accountId?: string }): void;
  /** Whether the channel subscription is in place (false with `channel: false`, or without node:diagnostics_channel). */
  readonly subscribed: Promise<boolean>;
  /** Unsubscribes, and ends the spans of renewals still open (marked `avito.renewal.abandoned`). */
  close(): void;
}

/**
 * Records avito-auth's events with OpenTelemetry: a span "avito-auth renewal" per renewal
 * (`avito.renewal.outcome`, `avito.renewal.kind`, `avito.account_id` when the manager serves an
 * account, …), the counters `avito_auth.renewals` (outcome, kind), `avito_auth.sign_ins_required`
 * (reason), `avito_auth.api_refusals` (reason, action, status), `avito_auth.store_errors` (call),
 * `avito_auth.sign_outs`, and the histogram `avito_auth.renewal.duration` (ms, outcome).
 * Bad options: ApiException `invalid_argument`.
 */
export function instrument(options?: InstrumentOptions): Instrumentation;
