// avito-auth/opentelemetry from the packed tarball, recorded by the OpenTelemetry SDK's
// in-memory exporters: a span per renewal (outcome, kind, seller id), the counters (renewals by
// outcome, sign-ins required by reason, API refusals by reason), the duration histogram; the
// diagnostics_channel subscription and the `onEvent` function; bad options; an exporter that
// throws. The events are the contract's (README "Watching your sellers"), published here on the
// channel; the test "[events] a real AccountTokens…" runs the real managers once they report them.
import { it, beforeEach } from "node:test";
import assert from "node:assert/strict";
import diagnostics from "node:diagnostics_channel";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { SpanStatusCode } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { SCRATCH } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { mapStores } from "../support/map-store.mjs";

const otel = await import(pathToFileURL(path.join(SCRATCH, "opentelemetry.mjs")).href);
const { AccountTokens, AvitoAuth, ApiException } = await import(pathToFileURL(path.join(SCRATCH, "esm.mjs")).href);
const channel = diagnostics.channel("avito-auth:event");
let spans, tracerProvider, metricExporter, reader, meterProvider;

beforeEach(() => {
  spans = new InMemorySpanExporter();
  tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  meterProvider = new MeterProvider({ readers: [reader] });
});

/** name → [{ attributes, value }] of what the meter recorded so far. */
async function recorded() {
  await reader.forceFlush();
  const out = {};
  const batches = metricExporter.getMetrics();
  for (const scope of batches.at(-1)?.scopeMetrics ?? []) {
    for (const metric of scope.metrics) out[metric.descriptor.name] = metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }));
  }
  return out;
}
const count = (points, attributes) => points?.find((p) => JSON.stringify(p.attributes) === JSON.stringify(attributes))?.value;

const T = 1_700_000_000_000;
const contractEvents = () => [
  { type: "renewal_started", at: T, accountId: "seller-1", renewalId: "r1" },
  { type: "renewal_finished", at: T + 120, accountId: "seller-1", renewalId: "r1", outcome: "renewed", durationMs: 120, presentations: 1, waitedMs: 0 },
  { type: "renewal_started", at: T + 1000, renewalId: "r2" },
  { type: "renewal_finished", at: T + 1400, renewalId: "r2", outcome: "failed", kind: "oauth", status: 400, error: "invalid_grant", durationMs: 400, presentations: 1, waitedMs: 50 },
  // Began before instrument(): its span is made from its duration.
  { type: "renewal_finished", at: T + 5000, accountId: "seller-3", renewalId: "r3", outcome: "failed", kind: "network", durationMs: 1000, presentations: 2, waitedMs: 0 },
  { type: "sign_in_required", at: T + 1401, reason: "refused" },
  { type: "sign_in_required", at: T + 1402, accountId: "seller-4", reason: "signed_out" },
  { type: "sign_in_required", at: T + 1403, reason: "refused" },
  { type: "sign_in_required", at: T + 1404, reason: "none_stored" },
  { type: "api_refused", at: T + 2000, status: 403, method: "GET", path: "/messenger/v1/accounts/1/chats", action: "handed_back", reason: "missing_scopes", missingScopes: ["messenger:read"] },
  { type: "api_refused", at: T + 2001, status: 401, method: "GET", path: "/core/v1/accounts/self", action: "recovered", reason: "renewed" },
  { type: "store_error", at: T + 3000, call: "get", error: "connection refused" },
  { type: "signed_out", at: T + 4000, accountId: "seller-4" },
  { type: "token_served", at: T + 4001, source: "memory" }, // not measured
];

function assertRecordedContract(finished, metricsSeen) {
  const byId = Object.fromEntries(finished.map((s) => [s.attributes["avito.renewal.id"], s]));
  assert.deepEqual(Object.keys(byId).sort(), ["r1", "r2", "r3"]);
  for (const s of finished) assert.equal(s.name, "avito-auth renewal");
  const ms = (hr) => hr[0] * 1000 + hr[1] / 1e6;
  assert.equal(byId.r1.attributes["avito.account_id"], "seller-1");
  assert.equal(byId.r1.attributes["avito.renewal.outcome"], "renewed");
  assert.equal(byId.r1.status.code, SpanStatusCode.OK);
  assert.equal(ms(byId.r1.startTime), T);
  assert.equal(ms(byId.r1.endTime), T + 120);
  assert.equal(byId.r1.attributes["avito.renewal.kind"], undefined);
  assert.equal(byId.r2.attributes["avito.account_id"], undefined, "no seller id when none was given");
  assert.deepEqual(
    [byId.r2.attributes["avito.renewal.outcome"], byId.r2.attributes["avito.renewal.kind"], byId.r2.attributes["avito.renewal.status"], byId.r2.attributes["avito.renewal.error"], byId.r2.attributes["error.type"], byId.r2.attributes["avito.renewal.waited_ms"]],
    ["failed", "oauth", 400, "invalid_grant", "oauth", 50],
  );
  assert.equal(byId.r2.status.code, SpanStatusCode.ERROR);
  assert.equal(ms(byId.r3.startTime), T + 4000);
  assert.equal(byId.r3.attributes["avito.account_id"], "seller-3");
  assert.equal(byId.r3.attributes["avito.renewal.presentations"], 2);

  const renewals = metricsSeen["avito_auth.renewals"];
  assert.equal(count(renewals, { outcome: "renewed" }), 1);
  assert.equal(count(renewals, { outcome: "failed", kind: "oauth" }), 1);
  assert.equal(count(renewals, { outcome: "failed", kind: "network" }), 1);
  const signIns = metricsSeen["avito_auth.sign_ins_required"];
  assert.equal(count(signIns, { reason: "refused" }), 2);
  assert.equal(count(signIns, { reason: "signed_out" }), 1);
  assert.equal(count(signIns, { reason: "none_stored" }), 1);
  const refusals = metricsSeen["avito_auth.api_refusals"];
  assert.equal(count(refusals, { reason: "missing_scopes", action: "handed_back", status: 403 }), 1);
  assert.equal(count(refusals, { reason: "renewed", action: "recovered", status: 401 }), 1);
  assert.equal(count(metricsSeen["avito_auth.store_errors"], { call: "get" }), 1);
  assert.equal(count(metricsSeen["avito_auth.sign_outs"], {}), 1);
  const duration = metricsSeen["avito_auth.renewal.duration"];
  assert.equal(count(duration, { outcome: "renewed" }).count, 1);
  assert.equal(count(duration, { outcome: "renewed" }).sum, 120);
  assert.equal(count(duration, { outcome: "failed" }).count, 2);
  assert.equal(count(duration, { outcome: "failed" }).sum, 1400);
  // No seller id in any metric: a metric per seller would be a series per seller.
  assert.doesNotMatch(JSON.stringify(metricsSeen), /seller-/);
}

it("the contract's events on the avito-auth:event channel become spans and metrics", async () => {
  const instrumentation = otel.instrument({ tracerProvider, meterProvider });
  assert.equal(await instrumentation.subscribed, true);
  assert.equal(otel.EVENT_CHANNEL, "avito-auth:event");
  // The contract's first event went to the second renewal's, which began before instrument():
  // here r3 finishes without a start; r1 and r2 start and finish.
  for (const event of contractEvents()) channel.publish(event);
  // What is not an event of the contract is ignored.
  for (const junk of [null, "renewal_finished", 5, { type: "renewal_finished" }, { type: "something_new", at: T }]) channel.publish(junk);
  instrumentation.close();
  const finished = spans.getFinishedSpans().filter((s) => s.attributes["avito.renewal.id"]);
  assertRecordedContract(finished, await recorded());
  // Closed: nothing more is recorded.
  const before = spans.getFinishedSpans().length;
  channel.publish({ type: "renewal_finished", at: T, renewalId: "late", outcome: "renewed", durationMs: 1, presentations: 1, waitedMs: 0 });
  assert.equal(spans.getFinishedSpans().length, before);
  assert.equal(channel.hasSubscribers, false, "close() unsubscribed");
});

it("onEvent, for runtimes without diagnostics_channel: the same records, and channel: false keeps the channel out", async () => {
  const instrumentation = otel.instrument({ tracerProvider, meterProvider, channel: false });
  assert.equal(await instrumentation.subscribed, false);
  channel.publish({ type: "signed_out", at: T });
  for (const event of contractEvents()) instrumentation.onEvent(event);
  // A renewal still open when close() runs is ended as abandoned.
  instrumentation.onEvent({ type: "renewal_started", at: T, accountId: "seller-9", renewalId: "open" });
  instrumentation.close();
  const all = spans.getFinishedSpans();
  const abandoned = all.find((s) => s.attributes["avito.renewal.id"] === "open");
  assert.equal(abandoned.attributes["avito.renewal.abandoned"], true);
  assertRecordedContract(all.filter((s) => s !== abandoned), await recorded());
});

it("the CommonJS twin records the same, with the application's @opentelemetry/api", async () => {
  const require = createRequire(path.join(SCRATCH, "package.json"));
  const cjs = require("avito-auth/opentelemetry");
  assert.equal(typeof cjs.instrument, "function");
  const instrumentation = cjs.instrument({ tracerProvider, meterProvider, channel: false });
  for (const event of contractEvents()) instrumentation.onEvent(event);
  instrumentation.close();
  assertRecordedContract(spans.getFinishedSpans(), await recorded());
});

it("defaults to the global providers; bad options are refused; an exporter that throws never reaches the reporter", async () => {
  const { trace, metrics } = await import("@opentelemetry/api");
  assert.ok(trace.setGlobalTracerProvider(tracerProvider));
  assert.ok(metrics.setGlobalMeterProvider(meterProvider));
  try {
    const instrumentation = otel.instrument({ channel: false });
    instrumentation.onEvent(contractEvents()[1]);
    instrumentation.close();
    assert.equal(spans.getFinishedSpans().length, 1);
    assert.equal(count((await recorded())["avito_auth.renewals"], { outcome: "renewed" }), 1);
  } finally {
    trace.disable();
    metrics.disable();
  }
  const invalid = (pattern) => (e) => e instanceof ApiException && e.kind === "invalid_argument" && pattern.test(e.message);
  assert.throws(() => otel.instrument({ tracerProvider: {} }), invalid(/tracerProvider must be an OpenTelemetry TracerProvider \(with getTracer\(\)\)/));
  assert.throws(() => otel.instrument({ meterProvider: null }), invalid(/meterProvider must be/));
  assert.throws(() => otel.instrument({ channel: "yes" }), invalid(/channel must be a boolean/));
  assert.throws(() => otel.instrument({ tracerProvder: tracerProvider }), invalid(/unknown option "tracerProvder"/));
  assert.throws(() => otel.instrument(5), invalid(/instrument options must be an object/));
  const throwing = { getTracer: () => ({ startSpan() { throw new Error("exporter down"); } }) };
  const broken = otel.instrument({ tracerProvider: throwing, meterProvider, channel: true });
  assert.doesNotThrow(() => channel.publish(contractEvents()[0]));
  assert.doesNotThrow(() => broken.onEvent(contractEvents()[1]));
  broken.close();
});

// A real AccountTokens reporting through the channel: the entry against the events as shipped.
it("a real AccountTokens' renewals and refusals, through the channel", async () => {
  const mock = await startMockAvito();
  try {
    const auth = new AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: mock.url, retries: false });
    const make = mapStores();
    await make("good").compareAndSet(undefined, { access_token: "old", refresh_token: mock.grantRefresh(), token_type: "Bearer", expires_at: Date.now() - 1 });
    await make("dead").compareAndSet(undefined, { access_token: "old", refresh_token: "rt_unknown", token_type: "Bearer", expires_at: Date.now() - 1 });
    const instrumentation = otel.instrument({ tracerProvider, meterProvider });
    assert.equal(await instrumentation.subscribed, true);
    const accounts = new AccountTokens({ auth, store: make });
    await accounts.manager("good").getAccessToken();
    await assert.rejects(accounts.manager("dead").getAccessToken(), (e) => e.signInRequired);
    instrumentation.close();
    const finished = spans.getFinishedSpans();
    const good = finished.find((s) => s.attributes["avito.account_id"] === "good");
    const dead = finished.find((s) => s.attributes["avito.account_id"] === "dead");
    assert.equal(good.attributes["avito.renewal.outcome"], "renewed");
    assert.equal(dead.attributes["avito.renewal.outcome"], "failed");
    assert.equal(dead.attributes["avito.renewal.kind"], "oauth");
    const seen = await recorded();
    assert.equal(count(seen["avito_auth.renewals"], { outcome: "renewed" }), 1);
    assert.equal(count(seen["avito_auth.sign_ins_required"], { reason: "refused" }), 1);
    assert.equal(count(seen["avito_auth.renewal.duration"], { outcome: "renewed" }).count, 1);
  } finally {
    await mock.close();
  }
});
