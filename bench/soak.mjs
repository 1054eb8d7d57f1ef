// The full fleet soak of the token lifecycle (about a minute; the short one is
// tests/fleet/soak.test.mjs): a rotating, fault-injecting token server and
//   1. 8 Node processes on one RedisTokenStore for 25 s, two renewers SIGKILLed mid-renewal (the
//      server completes the first one's refresh, drops the second's);
//   2. a baseline Worker fleet without avito-auth (plain fetches), for workerd's memory figure;
//   3. 60 concurrent workerd requests on one AvitoTokensDurableObject for 15 s.
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
const rates = { http_500: 0.02, http_502: 0.02, http_503: 0.03, reset_before: 0.03, reset_after: 0.02, hang: 0.02, slow: 0.1 };
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
out("A token server on 127.0.0.1 rotates refresh tokens like Avito (a presented refresh token is spent; presenting it again is `400 invalid_grant`), issues 2-second tokens so renewals are constant, and injects faults from a seeded PRNG plus a forced schedule: 500/502/503 and resets before processing (nothing spent), resets AFTER a rotation (the client loses the new tokens), hangs (the client times out), slow answers. Every member loops `getAccessToken()` / `tm.fetch()` (Node: plus a client_credentials TokenManager) under a per-call `AbortSignal.timeout`; on `signInRequired` the member \"signs the user in again\" (a fresh chain from the server, stored with compare-and-set). The invariants are checked from the server's own log and the members' reports (`tests/support/soak-fleet.mjs`).");
out();

const results = [];
results.push(await runRedisFleet({
  scratch,
  processes: 8,
  durationMs: 25_000,
  quietMs: 3000,
  maxIters: 2000,
  seed: 20261126,
  rates: { refresh_token: rates, client_credentials: rates },
  schedule: {
    refresh_token: { 1: "http_503", 2: "reset_after", 6: "hang", 7: "reset_before", 8: "http_500", 9: "http_502", 10: "slow", 14: "reset_after" },
    client_credentials: { 1: "http_502", 2: "reset_after", 3: "hang", 4: "http_503", 5: "reset_before", 6: "http_500", 7: "slow" },
  },
  kill: [{ nth: 4, holdMs: 400, mode: "processed" }, { nth: 25, holdMs: 400, mode: "dropped" }],
  heapTailLimit: 1 * MB,
}));
const workerShape = { scratch, concurrency: 60, durationMs: 15_000, quietMs: 3000, batchMs: 1000, maxIters: 100 };
const baseline = await runWorkerFleet({ ...workerShape, cycle: ["idle", "bare"], rates: {}, schedule: {}, seed: 1 });
const baselineGrowth = baseline.rss.workerd.end - baseline.rss.workerd.warm;
results.push(await runWorkerFleet({
  ...workerShape,
  seed: 20261127,
  rates: { refresh_token: rates },
  schedule: { refresh_token: { 1: "http_503", 3: "reset_before", 4: "reset_after", 6: "hang", 7: "http_502", 8: "http_500", 9: "slow", 15: "reset_after" } },
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
row("/token requests: refresh / client_credentials", (r) => `${r.server.refreshRequests} / ${r.server.ccRequests}`);
row("renewals: rotations delivered / lost; cc issued", (r) => `${r.server.rotationsDelivered} / ${r.server.rotationsLost}; ${r.server.ccIssued}`);
row("API calls through tm.fetch: 200 / 403", (r) => `${r.server.api[200]} / ${r.server.api[403]}`);
row("faults injected (survived)", (r) => `${r.server.faults} (${r.server.faultsSurvived})`);
row("faults by type", (r) => Object.entries(r.server.faultsByType).sort().map(([k, v]) => `${k} ${v}`).join(", "));
row("refresh tokens re-sent after an unprocessed attempt", (r) => `${r.server.resentUnprocessed} ${JSON.stringify(r.server.resentUnprocessedBy)}`);
row("refresh tokens presented after being spent", (r) => `${r.server.reuse.length} (${r.server.reuse.filter((x) => x.why === "after_lost_rotation").length} after a lost rotation, ${r.server.reuse.filter((x) => x.why === "after_delivered_rotation").length} after a delivered one, ${r.server.reuse.filter((x) => x.why === "concurrent").length} concurrent)`);
row("sign-ins after signInRequired", (r) => `${r.server.signIns - 1}`);
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
