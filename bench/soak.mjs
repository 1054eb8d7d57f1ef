// The full fleet soak of the token lifecycle (about a minute; the short one is
// tests/fleet/soak.test.mjs): a rotating, fault-injecting token server and
//   1. 8 Node processes on one RedisTokenStore for 30 s, two renewers SIGKILLed mid-request (the
//      server completes the first one's refresh, drops the second's), some compare-and-sets lost
//      or misreported by a fault wrapper in each process;
//   2. a baseline Worker fleet without avito-auth (plain fetches), for workerd's memory figure;
//   3. 60 concurrent workerd requests on one AvitoTokensDurableObject for 20 s.
// Prints the figures and the invariants, writes them to bench/soak-results.md, exits 1 when an
// invariant failed. Usage: node bench/soak.mjs <scratchDir>   (scripts/soak.sh builds and installs first)
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runRedisFleet, runWorkerFleet, report } from "../tests/support/soak-fleet.mjs";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../..");
const scratch = path.resolve(process.argv[2] ?? path.join(ROOT, "tests/.scratch/node"));
if (!existsSync(path.join(scratch, "node_modules/avito-auth/package.json"))) {
  console.error(`avito-auth is not installed in ${scratch}: run scripts/soak.sh`);
  process.exit(2);
}
// Ctrl-C: the fleets' exit hooks kill their processes (Node processes, redis-server).
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

const MB = 1024 * 1024;
const rates = { http_500: 0.02, http_502: 0.02, http_503: 0.03, http_429: 0.02, reset_before: 0.03, down: 0.01, reset_after: 0.02, hang: 0.02, hang_processed: 0.02, slow: 0.08, slow_past_lease: 0.04 };
const ccRates = { http_500: 0.02, http_502: 0.02, http_503: 0.03, reset_before: 0.03, reset_after: 0.02, hang: 0.02, slow: 0.1 };
const lines = [];
const out = (s = "") => { console.log(s); lines.push(s); };
const version = JSON.parse(readFileSync(path.join(scratch, "node_modules/avito-auth/package.json"), "utf8")).version;
let commit = "unknown";
try { commit = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim(); } catch { /* not a checkout */ }
const t0 = Date.now();

out("# avito-auth fleet soak");
out();
out(`${new Date().toISOString()} · Node ${process.version} · ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length} · avito-auth ${version} (commit ${commit}) · \`bash scripts/soak.sh\``);
out();
out("A token server on 127.0.0.1 rotates refresh tokens like Avito (a presented refresh token is spent; presenting it again is `400 invalid_grant`), issues 2-second tokens so renewals are constant, logs every presentation of a refresh token with its start and its end at the server, and injects faults from a seeded PRNG plus a forced schedule. Faults that spend nothing: 500/502/503/429, resets before processing, the listener down (connections refused), hangs past the timeout. Faults that lose a rotation after processing: resets after processing, processed hangs, a renewer SIGKILLed while the server completes its request. Also: slow answers past `leaseMs` (below the timeout), a renewer SIGKILLed whose request the server drops, and (Redis) compare-and-sets applied but reported lost, applied but thrown, or lost on the way. Every member loops `getAccessToken()` / `tm.fetch()` (Node: plus a client_credentials TokenManager) under a per-call `AbortSignal.timeout`. Members never sign in on their own: only after the server refused the refresh token (`signInRequired` with `invalid_grant`, the store holding `refresh_refused_at` and no refresh token) does a member act as the person signing in again — a counted test double, one per refusal, reported with its cause. The invariants are checked from the server's own log and the members' reports (`tests/support/soak-fleet.mjs`, `tests/support/rotating-token-server.mjs`).");
out();

const results = [];
results.push(await runRedisFleet({
  scratch,
  processes: 8,
  durationMs: 30_000,
  quietMs: 6000,
  maxIters: 2000,
  seed: 20261126,
  rates: { refresh_token: rates, client_credentials: ccRates },
  schedule: {
    refresh_token: { 1: "http_503", 2: "reset_after", 5: "reset_before", 6: "hang", 7: "http_429", 9: "down", 10: "hang_processed", 11: "slow_past_lease", 12: "http_500", 13: "http_502", 15: "reset_after" },
    client_credentials: { 1: "http_502", 2: "reset_after", 3: "hang", 4: "http_503", 5: "reset_before", 6: "http_500", 7: "slow" },
  },
  // Each lost answer holds the fleet off for its mark (request budget + 2 s): about 20 refresh
  // presentations fit in the faulty part of the run, so the second kill comes early.
  kill: [{ nth: 4, holdMs: 400, mode: "processed" }, { nth: 8, holdMs: 400, mode: "dropped" }],
  casFaults: { rate: 0.1 },
  heapTailLimit: 1 * MB,
}));
const workerShape = { scratch, concurrency: 60, durationMs: 20_000, quietMs: 6000, batchMs: 1000, maxIters: 100 };
const baseline = await runWorkerFleet({ ...workerShape, cycle: ["idle", "bare"], rates: {}, schedule: {}, seed: 1 });
const baselineGrowth = baseline.rss.workerd.end - baseline.rss.workerd.warm;
results.push(await runWorkerFleet({
  ...workerShape,
  seed: 20261127,
  rates: { refresh_token: rates },
  schedule: { refresh_token: { 1: "http_503", 3: "reset_before", 4: "reset_after", 6: "hang", 7: "http_502", 8: "hang_processed", 9: "slow_past_lease", 10: "http_429", 11: "down", 15: "reset_after" } },
  rssBaseline: baselineGrowth,
}));

// Summary table.
const all = results.flatMap((r) => r.checks.map((c) => ({ fleet: r.fleet, ...c })));
const failed = all.filter((c) => !c.ok);
out("## Summary");
out();
out("| | Redis fleet (8 Node processes) | Durable Object fleet (60 workerd requests) |");
out("| --- | --- | --- |");
const [redis, worker] = results;
const row = (name, f) => out(`| ${name} | ${f(redis)} | ${f(worker)} |`);
row("calls (ok / failed)", (r) => `${r.clients.iters} (${r.clients.ok} / ${r.clients.failed})`);
row("user calls failed while the account was live (a delivered refresh token live at the server from the call's start to its failure)", (r) => `${r.server.failedWhileLive} of ${r.server.userFailures} failed ${JSON.stringify(r.server.failedWhileLiveBy)}`);
row("sign-ins (only after the server refused the refresh token), by cause", (r) => `${r.server.signIns} ${JSON.stringify(r.server.signInsByCause)}`);
row("rotations lost after processing, by fault", (r) => `${r.server.rotationsLost} ${JSON.stringify(r.server.rotationsLostBy)}`);
row("signInRequired surfaced (met a stored refresh token / answered by another member's sign-in)", (r) => `${r.clients.signInRequired} (${r.clients.signInDeclined} / ${r.clients.signInSkipped})`);
row("/token requests: refresh presentations / client_credentials", (r) => `${r.server.refreshRequests} / ${r.server.ccRequests}`);
row("a refresh token presented again: after an unprocessed attempt / after a lost rotation", (r) => `${r.server.presentedAgain.after_unprocessed} / ${r.server.presentedAgain.after_lost_rotation} ${JSON.stringify(r.server.presentedAgainBy)}`);
row("renewals: rotations delivered / lost; cc issued", (r) => `${r.server.rotationsDelivered} / ${r.server.rotationsLost}; ${r.server.ccIssued}`);
row("API calls through tm.fetch: 200 / 403", (r) => `${r.server.api[200]} / ${r.server.api[403]}`);
row("faults injected (survived)", (r) => `${r.server.faults} (${r.server.faultsSurvived})`);
row("faults by type", (r) => Object.entries(r.server.faultsByType).sort().map(([k, v]) => `${k} ${v}`).join(", "));
row("store faults (compare-and-sets lost or misreported)", (r) => `${r.server.storeFaults} ${JSON.stringify(r.server.storeFaultsByMode)}`);
row("violations: concurrent presentations / after a delivered rotation / after a refusal", (r) => ["concurrent", "after_delivered_rotation", "after_refused"].map((w) => r.server.violations.filter((x) => x.why === w).length).join(" / "));
row("killed renewers: presented again after / outcome", (r) => (r.kills ?? []).filter(Boolean).map((k) => `${k.mode}: ${k.nextPresentationMs} ms, ${(k.presentationsAgain ?? []).join(", ")}`).join("; ") || "—");
row("max wait vs deadline", (r) => `${r.clients.maxWaitMs} ms vs ${r.options.deadlineMs} ms (p99 ${r.clients.p99WaitMs} ms)`);
row("RSS start → end", (r) => (r.fleet === "redis"
  ? `per process ${Math.min(...r.rss.map((x) => x.start / MB)).toFixed(0)}–${Math.max(...r.rss.map((x) => x.start / MB)).toFixed(0)} MB at start, ${Math.min(...r.rss.map((x) => x.warm / MB)).toFixed(0)}–${Math.max(...r.rss.map((x) => x.warm / MB)).toFixed(0)} MB after warm-up → ${Math.min(...r.rss.map((x) => x.end / MB)).toFixed(0)}–${Math.max(...r.rss.map((x) => x.end / MB)).toFixed(0)} MB at the end; JS heap after GC ${Math.min(...r.rss.map((x) => x.heap.warm / MB)).toFixed(1)}–${Math.max(...r.rss.map((x) => x.heap.warm / MB)).toFixed(1)} → ${Math.min(...r.rss.map((x) => x.heap.end / MB)).toFixed(1)}–${Math.max(...r.rss.map((x) => x.heap.end / MB)).toFixed(1)} MB`
  : `workerd ${(r.rss.workerd.warm / MB).toFixed(0)} → ${(r.rss.workerd.end / MB).toFixed(0)} MB (baseline without avito-auth: ${(baseline.rss.workerd.warm / MB).toFixed(0)} → ${(baseline.rss.workerd.end / MB).toFixed(0)} MB)`));
row("invariants", (r) => `${r.checks.filter((c) => c.ok).length}/${r.checks.length} pass${r.checks.some((c) => !c.ok) ? ` — FAIL: ${r.checks.filter((c) => !c.ok).map((c) => c.name).join("; ")}` : ""}`);
out();
out(`Total ${((Date.now() - t0) / 1000).toFixed(1)} s (baseline Worker fleet: ${baseline.clients.iters} calls, workerd RSS ${(baseline.rss.workerd.start / MB).toFixed(0)} → ${(baseline.rss.workerd.warm / MB).toFixed(0)} → ${(baseline.rss.workerd.end / MB).toFixed(0)} MB).`);
out();
out("## Fleets");
out();
for (const r of results) {
  for (const l of report(r)) out(l);
  out();
}
if (failed.length) {
  out(`**${failed.length} invariant(s) failed:**`);
  out();
  for (const c of failed) out(`- ${c.fleet}: ${c.name} — ${c.detail}`);
  out();
}
writeFileSync(path.join(ROOT, "bench/soak-results.md"), lines.join("\n") + "\n");
console.log(`\nwrote bench/soak-results.md`);
process.exit(failed.length ? 1 : 0);
