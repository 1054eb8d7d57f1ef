// The fleet soak of the token lifecycle, shared by tests/fleet/soak.test.mjs (short) and
// bench/soak.mjs (full): a rotating, fault-injecting token server (rotating-token-server.mjs)
// and two fleets sharing one Avito account's tokens —
//   redis:  N Node processes (soak-node-worker.mjs) over a RedisTokenStore on a redis-server
//           started here (127.0.0.1, no persistence), some of their compare-and-sets lost or
//           misreported (a fault wrapper); renewers SIGKILLed mid-request;
//   worker: N concurrent requests to a Worker under workerd (soak-worker.mjs, bundled by
//           wrangler) over one AvitoTokensDurableObject.
// Each returns the figures and a list of checks { name, ok, detail }; nothing here asserts.
import { fork, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { ROOT, closedPort } from "./load.mjs";
import { startRotatingTokenServer } from "./rotating-token-server.mjs";
import { bundleWithWrangler, startWorker } from "./worker.mjs";

const HERE = path.join(ROOT, "tests/support");
const CLIENT = { clientId: "soak-client", clientSecret: "soak-secret" };
const MB = 1024 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Resolves to `true` when `promise` settles within `ms`, `false` otherwise (the timer is cleared either way). */
const within = (promise, ms) => {
  let timer;
  return Promise.race([promise.then(() => true), new Promise((r) => (timer = setTimeout(() => r(false), ms)))]).finally(() => clearTimeout(timer));
};
const mb = (n) => (typeof n === "number" ? `${(n / MB).toFixed(1)} MB` : "—");

/** SOAK_DEBUG=1: every refresh request and sign-in, in order, on stderr. */
function dumpLog(server, members = []) {
  const t = server.requests[0]?.at ?? 0;
  const names = new Map();
  const name = (rt) => rt && (names.get(rt) ?? (names.set(rt, `R${names.size}`), names.get(rt)));
  const rows = [
    ...server.requests.filter((r) => r.grant === "refresh_token").map((r) => ({ at: r.at, s: `#${r.n} ${r.worker} presents ${name(r.rt)} fault=${r.fault ?? "-"} → ${r.outcome}${r.issued ? ` ${name(r.issued)}` : ""} (ends +${r.end === null ? "∞" : r.end - r.at} ms)` })),
    ...server.signIns.map((x) => ({ at: x.at, s: `sign-in by ${x.worker} → ${name(x.rt)} (cause ${x.cause}${x.abandoned ? ", abandoned" : ""})` })),
    ...members.flatMap((m) => (m.storeFaults ?? []).map((f) => ({ at: f.at, s: `${m.worker} store fault ${f.mode} on its ${f.write} write (expected ${name(f.rt)}, applied: ${f.applied})` }))),
    ...members.flatMap((m) => (m.failures ?? []).filter((f) => f.op !== "cc").map((f) => ({ at: f.at, s: `${m.worker} ${f.op} failed after ${f.at - f.start} ms: ${f.key}` }))),
  ].sort((a, b) => a.at - b.at);
  for (const r of rows) console.error(`${String(r.at - t).padStart(6)} ${r.s}`);
}

/** RSS of a process from /proc (bytes), or undefined. */
export function rssOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The workerd processes Miniflare started (children of this process). */
export function workerdPids() {
  const pids = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const comm = /\((.*)\)/.exec(stat)?.[1];
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm === "workerd" && ppid === process.pid) pids.push(Number(d));
    } catch { /* gone */ }
  }
  return pids;
}

/** redis-server on a free 127.0.0.1 port, no persistence (as tests/fleet/redis.test.mjs). */
export async function startRedis() {
  if (!existsSync("/usr/bin/redis-server")) throw new Error("redis-server is missing: scripts/test.sh installs Debian's redis-server");
  const port = await closedPort();
  const proc = spawn("/usr/bin/redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const exited = new Promise((r) => proc.once("exit", r));
  const url = `redis://127.0.0.1:${port}`;
  const { createClient } = await import("redis");
  let client;
  for (let i = 0; i < 50 && !client; i++) {
    try { client = await createClient({ url }).on("error", () => {}).connect(); } catch { await sleep(100); }
  }
  const onExit = () => proc.kill("SIGKILL");
  process.on("exit", onExit);
  const stop = async () => {
    process.off("exit", onExit);
    await client?.quit().catch(() => {});
    proc.kill("SIGTERM");
    await Promise.race([exited, sleep(3000)]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  };
  if (!client) { await stop(); throw new Error("redis-server did not start"); }
  return { url, client, pid: proc.pid, stop };
}

const pct = (xs, p) => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Sums the loop statistics of every fleet member. */
function aggregate(results) {
  const t = { members: results.length, iters: 0, ok: 0, failed: 0, errors: {}, byOp: {}, untyped: [], overDeadline: [], maxWaitMs: 0, waits: [], apiFinal403: 0, signInRequired: 0, signIns: 0, signInSkipped: 0, signInCasLost: 0, signInFailed: 0, signInDeclined: 0, storeFaults: 0, notes: [] };
  for (const r of results) {
    for (const k of ["iters", "ok", "failed", "apiFinal403", "signInRequired", "signIns", "signInSkipped", "signInCasLost", "signInFailed"]) t[k] += r[k];
    for (const [k, v] of Object.entries(r.errors)) t.errors[k] = (t.errors[k] ?? 0) + v;
    for (const [op, v] of Object.entries(r.byOp)) {
      const o = (t.byOp[op] ??= { ok: 0, err: 0 });
      o.ok += v.ok; o.err += v.err;
    }
    t.untyped.push(...r.untyped.map((u) => ({ worker: r.worker, ...u })));
    t.overDeadline.push(...r.overDeadline.map((u) => ({ worker: r.worker, ...u })));
    t.signInDeclined += r.signInDeclined?.length ?? 0;
    t.storeFaults += r.storeFaults?.length ?? 0;
    t.maxWaitMs = Math.max(t.maxWaitMs, r.maxWaitMs);
    t.waits.push(...r.waits);
    t.notes.push(...r.notes.map((n) => `${r.worker}: ${n}`));
  }
  t.p50WaitMs = pct(t.waits, 50);
  t.p99WaitMs = pct(t.waits, 99);
  delete t.waits;
  return t;
}

/** The checks every fleet shares (client side). */
function clientChecks(o, agg) {
  return [
    {
      name: "every failure is a typed ApiException (instanceof, name, kind)",
      ok: agg.untyped.length === 0,
      detail: agg.untyped.length ? `${agg.untyped.length} untyped: ${JSON.stringify(agg.untyped.slice(0, 4))}` : `${agg.failed} failures, all typed: ${JSON.stringify(agg.errors)}`,
    },
    {
      name: `no caller waited past its deadline (${o.deadlineMs} ms AbortSignal + ${o.slackMs} ms slack)`,
      ok: agg.overDeadline.length === 0,
      detail: agg.overDeadline.length ? `${agg.overDeadline.length} over: ${JSON.stringify(agg.overDeadline.slice(0, 4))}` : `max wait ${agg.maxWaitMs} ms (p50 ${agg.p50WaitMs}, p99 ${agg.p99WaitMs})`,
    },
  ];
}

const baseOptions = {
  seed: 1,
  expiresIn: 2, // s
  skewMs: 1500, // renew 0.5 s after each issue
  timeoutMs: 1000,
  retries: { maxAttempts: 2, baseDelayMs: 100, maxDelayMs: 200 },
  // Below the timeout, so that "slow_past_lease" answers (slowPastLeaseMs) come after leaseMs and
  // before the timeout: the TokenManager's lease must cover its whole request (timeout × attempts
  // + delays), not leaseMs.
  leaseMs: 600,
  slowPastLeaseMs: [700, 900],
  downMs: 300,
  deadlineMs: 1500,
  slackMs: 300,
  pauseMs: 25,
  warmIters: 10,
  durationMs: 5000,
  // Faults off at the end: every member must be working again by then. A lost answer holds the
  // others off until its mark's answer_by (timeout × attempts + delays, 2.2 s) + 2 s of clock
  // margin, so the quiet end is longer than that.
  quietMs: 5000,
  tailOkMs: 500, // …with a success in its last 500 ms
  maxIters: 400,
  slowMs: [100, 400],
  rssGrowthLimit: 24 * MB,
  heapGrowthLimit: 3 * MB,
};

/** The Redis fleet. o: baseOptions + { processes, scratch, kill: { nth, holdMs, mode } or a list of them (renewers to SIGKILL), heapTailLimit? }. */
export async function runRedisFleet(options) {
  const o = { ...baseOptions, processes: 8, key: "avito:tokens:soak", ...options };
  const t0 = Date.now();
  const children = new Map(); // worker → ChildProcess
  const killAll = () => { for (const c of children.values()) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL"); };
  process.on("exit", killAll);
  const kills = []; // per entry of o.kill (one or a list of { nth, holdMs, mode })
  const killPlan = [].concat(o.kill ?? []);
  const server = await startRotatingTokenServer({
    seed: o.seed, expiresIn: o.expiresIn, rates: o.rates, schedule: o.schedule, slowMs: o.slowMs, slowPastLeaseMs: o.slowPastLeaseMs, downMs: o.downMs, ...CLIENT,
    hold: killPlan.map((k) => ({
      ...k,
      onHold: ({ worker, hold }) => {
        const c = children.get(worker);
        kills[hold] = { worker, mode: k.mode, at: Date.now(), pid: c?.pid, sent: !!c && c.exitCode === null && c.signalCode === null && c.kill("SIGKILL") };
      },
    })),
  });
  let redis;
  try {
    redis = await startRedis();
    const seed = server.signIn({ via: "seed" });
    // The signed-in user's tokens, access token already stale: the first call renews.
    await redis.client.set(o.key, JSON.stringify({ ...seed, expires_at: Date.now() - 1 }));
    const cfgOf = (index) => ({
      index, scratch: o.scratch, redisUrl: redis.url, host: server.url, key: o.key, ...CLIENT,
      timeoutMs: o.timeoutMs, retries: o.retries, leaseMs: o.leaseMs, skewMs: o.skewMs,
      cycle: ["token", "fetch", "token", "cc"], durationMs: o.durationMs, maxIters: o.maxIters,
      deadlineMs: o.deadlineMs, slackMs: o.slackMs, pauseMs: o.pauseMs, warmIters: o.warmIters,
      quietMs: o.quietMs, seed: o.seed, casFaults: o.casFaults, strictRotation: o.strictRotation,
    });
    const outputs = new Map();
    const results = new Map();
    const ready = [];
    const done = [];
    for (let i = 0; i < o.processes; i++) {
      const worker = `p${i}`;
      const c = fork(path.join(HERE, "soak-node-worker.mjs"), [JSON.stringify(cfgOf(i))], { cwd: ROOT, silent: true, execArgv: ["--expose-gc"] });
      children.set(worker, c);
      let out = "";
      const keep = (d) => { if (out.length < 8000) out += d; };
      c.stdout.on("data", keep);
      c.stderr.on("data", keep);
      ready.push(new Promise((resolve) => {
        c.on("message", (m) => {
          if (m?.ready) resolve();
          if (m?.result) results.set(worker, m.result);
        });
        c.once("exit", resolve);
      }));
      done.push(new Promise((resolve) => c.once("exit", (code, signal) => { outputs.set(worker, { code, signal, out }); resolve(); })));
    }
    await within(Promise.all(ready), 30_000);
    const startedAt = Date.now();
    const startupMs = startedAt - t0;
    server.markStart();
    for (const c of children.values()) if (c.connected) c.send({ go: true });
    const quiet = setTimeout(() => server.setFaults(false), o.durationMs - o.quietMs);
    const bound = o.durationMs + 2 * o.leaseMs + 20_000; // the loop, the final settle, start-up
    const allDone = await within(Promise.all(done), bound);
    clearTimeout(quiet);
    killAll();
    await Promise.all(done);
    const wallMs = Date.now() - startedAt;

    const store = JSON.parse((await redis.client.get(o.key)) ?? "null");
    // The store faults, from the log the members keep in Redis (soak-node-worker.mjs): a killed
    // member's too, which shaped the store as much as anyone's (it stands in the analysis as a
    // member with nothing else to report).
    const faultLog = (await redis.client.lRange(`${o.key}:soak-cas-faults`, 0, -1)).map((line) => JSON.parse(line));
    const faultsOf = (worker) => faultLog.filter((f) => f.worker === worker).map(({ worker: _, ...f }) => f);
    for (const m of results.values()) m.storeFaults = faultsOf(m.worker);
    const members = [...results.values()];
    const silent = [...children.keys()].filter((w) => !results.has(w)).map((worker) => ({ worker, storeFaults: faultsOf(worker), silent: true }));
    const analysis = server.analyze({ store, members: [...members, ...silent] });
    if (process.env.SOAK_DEBUG) dumpLog(server, [...members, ...silent]);
    const agg = aggregate(members);
    const checks = [...analysis.checks, ...clientChecks(o, agg)];

    // Every process that was not killed finished its loop and reported.
    const killed = new Set(kills.filter(Boolean).map((k) => k.worker));
    const missing = [...children.keys()].filter((w) => !killed.has(w) && !results.has(w));
    checks.push({
      name: `every process (${o.processes}${killPlan.length ? `, ${killPlan.length} to be killed` : ""}) not killed finished its bounded loop and reported`,
      ok: allDone && missing.length === 0,
      detail: missing.length ? `no result from ${missing.join(", ")}: ${missing.map((w) => JSON.stringify(outputs.get(w))).join(" | ").slice(0, 1500)}` : `${members.length} reports in ${wallMs} ms`,
    });
    // Memory: RSS after the warm-up iterations vs at the end of the loop, per process.
    // Memory, per process: the JS heap after a full GC (the leak detector) and RSS (a gross
    // bound), from after the warm-up iterations to the end of the loop.
    const rss = members.map((m) => ({ worker: m.worker, ...Object.fromEntries(["start", "warm", "mid", "end"].map((k) => [k, m.memory[k]?.rss])), heap: Object.fromEntries(["warm", "mid", "end"].map((k) => [k, m.memory[k]?.heap])) }));
    const tail = o.heapTailLimit;
    const grew = rss.filter((r) => !(r.end - r.warm <= o.rssGrowthLimit) || !(r.heap.end - r.heap.warm <= o.heapGrowthLimit) || (tail !== undefined && !(r.heap.end - r.heap.mid <= tail)));
    checks.push({
      name: `memory flat: in each process, the JS heap after GC grows less than ${mb(o.heapGrowthLimit)}${tail !== undefined ? ` (${mb(tail)} over the second half)` : ""} and RSS less than ${mb(o.rssGrowthLimit)}, warm-up to end`,
      ok: grew.length === 0 && rss.length > 0,
      detail: `heap ${rss.map((r) => `${r.worker} ${mb(r.heap.warm)}→${mb(r.heap.mid)}→${mb(r.heap.end)}`).join(", ")}; RSS ${rss.map((r) => `${r.worker} ${mb(r.warm)}→${mb(r.end)}`).join(", ")}${grew.length ? `; grew: ${grew.map((r) => r.worker).join(", ")}` : ""}`,
    });
    // The fleet works again once faults stop: every process succeeded in the quiet end.
    const stale = members.filter((m) => !(m.lastOkAt !== null && m.lastOkAt >= m.elapsedMs - o.tailOkMs));
    checks.push({
      name: `every process was working again at the end (a success in its last ${o.tailOkMs} ms, faults off for ${o.quietMs} ms)`,
      ok: stale.length === 0 && members.length > 0,
      detail: stale.length ? stale.map((m) => `${m.worker}: last success at ${m.lastOkAt} of ${m.elapsedMs} ms; ${JSON.stringify(m.errors)}`).join(" | ") : "all",
    });
    // The killed renewers. Their mark holds the others off until its answer_by (the whole
    // request budget) + the clock margin; then the same refresh token is presented again and the
    // server decides: a request it never processed → the token is live → renewed (no
    // signInRequired); one it processed → invalid_grant → signInRequired → one sign-in. (The
    // re-presentation may meet an injected fault of its own: the first one the server processed
    // is judged.)
    const budget = o.timeoutMs * o.retries.maxAttempts + (o.retries.maxDelayMs ?? 0) * (o.retries.maxAttempts - 1);
    const killBound = budget + 2000 + 1000;
    const processed = new Set(["rotated", "rotated_lost", "invalid_grant"]);
    killPlan.forEach((plan, k) => {
      const kill = kills[k];
      const held = server.holdStates[k];
      const killedReq = held ? server.requests[held.request] : undefined;
      let again, judged;
      if (kill && killedReq) {
        const later = server.requests.filter((r) => r.grant === "refresh_token" && r.rt === killedReq.rt && r.i > killedReq.i);
        again = later[0];
        judged = later.find((r) => processed.has(r.outcome));
        const recovered = [
          ...server.requests.filter((r) => r.grant === "refresh_token" && r.at > kill.at && r.outcome === "rotated").map((r) => r.end),
          ...server.signIns.filter((x) => x.at > kill.at && !x.abandoned).map((x) => x.at),
        ].sort((a, b) => a - b)[0];
        Object.assign(kill, {
          atMs: kill.at - startedAt,
          nextPresentationMs: again ? again.at - kill.at : null,
          nextPresentationBy: again?.worker ?? null,
          presentationsAgain: later.map((r) => `${r.worker} ${r.fault ?? ""}→${r.outcome}`),
          recoveredMs: recovered ? recovered - kill.at : null,
        });
      }
      // A mark whose compare-and-set was applied but reported lost (a store fault) holds the fleet
      // off for its own answer_by + margin as well (the failing test "a lost reply to the
      // compare-and-set that wrote the mark…" in tests/node/token-manager.test.mjs): each such
      // fault in between extends the bound by one more mark, and is named.
      const markStalls = kill && again ? [...members, ...silent].flatMap((m) => (m.storeFaults ?? []).filter((f) => f.applied && (f.write === "mark" || f.write === "remark") && f.at >= kill.at && f.at <= again.at)) : [];
      const bound = killBound + markStalls.length * (budget + 2000);
      const expected = plan.mode === "processed" ? ["invalid_grant"] : ["rotated", "rotated_lost"];
      checks.push({
        name: `renewer SIGKILLed mid-request (the server ${plan.mode === "processed" ? "completes" : "drops"} its refresh): within ${killBound} ms (request budget + 2 s margin + 1 s; one more mark for each lost reply to a mark's compare-and-set meanwhile) another process presents the same refresh token again, and the server ${plan.mode === "processed" ? "refuses it (invalid_grant → one sign-in)" : "renews it (no sign-in)"}`,
        ok: !!kill?.sent && !!again && again.worker !== kill.worker && kill.nextPresentationMs <= bound && !!judged && expected.includes(judged.outcome),
        detail: kill ? `killed ${kill.worker} (pid ${kill.pid}) ${kill.atMs} ms into the run while the server held its refresh (${plan.mode}); presented again by ${kill.nextPresentationBy} after ${kill.nextPresentationMs} ms${markStalls.length ? ` (bound ${bound} ms: ${markStalls.length} mark compare-and-set(s) applied but reported lost meanwhile, each holding the fleet off for its own mark)` : ""} (${kill.presentationsAgain.join(", ")}); tokens again (rotation or sign-in) after ${kill.recoveredMs} ms` : `refresh #${plan.nth} never came: no renewer was killed`,
      });
    });
    return { fleet: "redis", options: o, startupMs, wallMs, totalMs: Date.now() - t0, server: analysis.figures, clients: agg, rss, kills, checks, harnessRss: process.memoryUsage().rss };
  } finally {
    killAll();
    process.off("exit", killAll);
    await redis?.stop();
    await server.close();
  }
}

/**
 * The Durable Object fleet under workerd. o: baseOptions + { concurrency, batchMs, scratch }.
 * Each of the `concurrency` members keeps one Worker request in flight at all times: a request
 * loops for `batchMs` with its own TokenManager (as a Worker does), returns its statistics, and
 * the member sends the next, until `durationMs` is over.
 */
export async function runWorkerFleet(options) {
  const o = { ...baseOptions, concurrency: 60, pauseMs: 50, batchMs: 1000, ...options };
  const t0 = Date.now();
  const server = await startRotatingTokenServer({ seed: o.seed, expiresIn: o.expiresIn, rates: o.rates, schedule: o.schedule, slowMs: o.slowMs, slowPastLeaseMs: o.slowPastLeaseMs, downMs: o.downMs, ...CLIENT });
  let mf;
  try {
    const dir = path.join(o.scratch, "soak-worker");
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(HERE, "soak-loop.mjs"), path.join(o.scratch, "soak-loop.mjs"));
    copyFileSync(path.join(HERE, "soak-worker.mjs"), path.join(o.scratch, "soak-worker.mjs"));
    const script = await bundleWithWrangler(path.join(o.scratch, "soak-worker.mjs"), dir);
    mf = await startWorker(script, {
      modulesRoot: dir, // module names relative to the bundle, wherever the scratch project is
      durableObjects: { AVITO_TOKENS: "AvitoTokensDurableObject" },
      bindings: { AVITO_CLIENT_ID: CLIENT.clientId, AVITO_CLIENT_SECRET: CLIENT.clientSecret, AVITO_HOST: server.url },
    });
    const seed = server.signIn({ via: "seed" });
    const seeded = await (await mf.dispatchFetch("http://w/seed?account=soak", { method: "POST", body: JSON.stringify({ ...seed, expires_at: Date.now() - 1 }) })).json(); // stale: the first call renews
    if (!seeded.stored) throw new Error("could not seed the Durable Object");
    const pids = workerdPids();
    const rssNow = () => (pids.length ? pids.map(rssOf).reduce((a, b) => a + (b ?? 0), 0) : undefined);
    const rss = { start: rssNow() };
    const cfgOf = (index, durationMs) => ({
      index, timeoutMs: o.timeoutMs, retries: o.retries, leaseMs: o.leaseMs, skewMs: o.skewMs,
      cycle: o.cycle ?? ["token", "fetch"], durationMs, maxIters: o.maxIters,
      deadlineMs: o.deadlineMs, slackMs: o.slackMs, pauseMs: o.pauseMs, warmIters: o.warmIters,
    });
    const startedAt = Date.now();
    const startupMs = startedAt - t0;
    server.markStart();
    const end = startedAt + o.durationMs;
    const quiet = setTimeout(() => server.setFaults(false), o.durationMs - o.quietMs);
    // RSS after the warm-up (a quarter of the run), at the middle and at the end.
    const warm = setTimeout(() => (rss.warm = rssNow()), o.durationMs / 4);
    const mid = setTimeout(() => (rss.mid = rssNow()), o.durationMs / 2);
    const series = [];
    const sampler = setInterval(() => series.push(Math.round((rssNow() ?? 0) / MB)), 1000);
    const perRequestBound = o.batchMs + o.deadlineMs + 2 * o.leaseMs + 10_000;
    let longestRequest = 0;
    const failures = [];
    const members = await Promise.all(Array.from({ length: o.concurrency }, async (_, i) => {
      const batches = [];
      for (let b = 0; b < Math.ceil(o.durationMs / o.batchMs) + 1 && Date.now() < end; b++) {
        const s0 = performance.now();
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(), perRequestBound);
        try {
          const res = await mf.dispatchFetch("http://w/loop?account=soak", { method: "POST", body: JSON.stringify(cfgOf(i, Math.min(o.batchMs, end - Date.now()))), signal: ac.signal });
          const text = await res.text();
          longestRequest = Math.max(longestRequest, performance.now() - s0);
          let stats;
          try { stats = JSON.parse(text); } catch { /* below */ }
          if (res.status !== 200 || !stats) { failures.push(`w${i}: HTTP ${res.status}: ${text.slice(0, 300)}`); break; }
          batches.push(stats);
        } catch (e) {
          failures.push(`w${i}: ${e?.name}: ${e?.message}`);
          break;
        } finally {
          clearTimeout(timer);
        }
      }
      return batches;
    }));
    clearTimeout(quiet);
    clearTimeout(warm);
    clearTimeout(mid);
    clearInterval(sampler);
    const wallMs = Date.now() - startedAt;
    await sleep(500); // the requests' waitUntil renewals
    rss.end = rssNow();
    const store = await (await mf.dispatchFetch("http://w/store?account=soak")).json();
    const batches = members.flat();
    const analysis = server.analyze({ store, members: batches });
    if (process.env.SOAK_DEBUG) dumpLog(server);
    const agg = aggregate(batches);
    agg.members = o.concurrency;
    agg.requests = batches.length;
    const checks = [...analysis.checks, ...clientChecks(o, agg)];
    checks.push({
      name: `all ${o.concurrency} members kept a Worker request in flight to the end; every request finished its bounded loop and reported`,
      ok: failures.length === 0 && members.every((m) => m.length > 0),
      detail: failures.length ? `${failures.length} failed: ${failures.slice(0, 3).join(" | ")}` : `${batches.length} requests, the longest ${Math.round(longestRequest)} ms (loops of ${o.batchMs} ms)`,
    });
    // The last request of every member succeeded at the end.
    const stale = members.map((m) => m.at(-1)).filter((m) => !m || !(m.lastOkAt !== null && m.lastOkAt >= m.elapsedMs - o.tailOkMs));
    checks.push({
      name: `every member was working again at the end (a success in its last ${o.tailOkMs} ms, faults off for ${o.quietMs} ms)`,
      ok: stale.length === 0 && batches.length > 0,
      detail: stale.length ? `${stale.length} stale, e.g. ${stale.slice(0, 3).map((m) => (m ? `${m.worker}: last success at ${m.lastOkAt} of ${m.elapsedMs} ms; ${JSON.stringify(m.errors)}` : "no request")).join(" | ")}` : "all",
    });
    // workerd's RSS climbs under this load with or without avito-auth (a loop of plain fetches
    // grows as much under Miniflare): it is compared with a baseline run of the same shape
    // without the package (`rssBaseline`: that run's growth), when one is given.
    const growth = rss.end - rss.warm;
    if (o.rssBaseline !== undefined) {
      const allowed = o.rssBaseline * 1.5 + 16 * MB;
      checks.push({
        name: "memory: workerd's RSS grows no more than a baseline without avito-auth (× 1.5 + 16 MB), warm-up to end",
        ok: pids.length > 0 && growth <= allowed,
        detail: `avito-auth fleet +${mb(growth)} (${mb(rss.warm)} → ${mb(rss.end)}) vs baseline +${mb(o.rssBaseline)}: allowed ${mb(allowed)}; every second: ${series.join(" ")} MB`,
      });
    }
    return { fleet: "worker", options: o, startupMs, wallMs, totalMs: Date.now() - t0, server: analysis.figures, clients: agg, rss: { workerd: rss }, checks, harnessRss: process.memoryUsage().rss };
  } finally {
    await mf?.dispose().catch(() => {});
    await server.close();
  }
}

/** The figures and checks of one fleet, as lines of text. */
export function report(r) {
  const s = r.server, c = r.clients, o = r.options;
  const faults = Object.entries(s.faultsByType).sort().map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const lines = [
    `### ${r.fleet === "redis" ? `Redis fleet: ${o.processes} Node processes, one RedisTokenStore` : `Durable Object fleet: ${o.concurrency} concurrent workerd requests, one AvitoTokensDurableObject`}`,
    "",
    `- run: ${o.durationMs} ms of loops (faults off for the last ${o.quietMs} ms); wall ${r.wallMs} ms (+ ${r.startupMs} ms start-up${r.fleet === "worker" ? ", wrangler bundle included" : ""}); expires_in ${o.expiresIn} s, refreshSkewMs ${o.skewMs}, timeoutMs ${o.timeoutMs}, retries ${o.retries.maxAttempts}, leaseMs ${o.leaseMs}, deadline ${o.deadlineMs} ms, seed ${o.seed}`,
    `- calls: ${c.iters} (${c.ok} ok, ${c.failed} failed) by ${c.members} members${c.requests ? ` in ${c.requests} Worker requests` : ""}; per op ${Object.entries(c.byOp).map(([k, v]) => `${k} ${v.ok}/${v.ok + v.err}`).join(", ")}`,
    `- token server: ${s.tokenRequests} /token requests (${s.refreshRequests} refresh presentations, ${s.ccRequests} client_credentials); rotations delivered ${s.rotationsDelivered}, rotations lost after processing ${s.rotationsLost} ${JSON.stringify(s.rotationsLostBy)}, invalid_grant ${s.invalidGrant}, client_credentials issued ${s.ccIssued}; API ${s.api[200]}×200, ${s.api[403]}×403 (${s.api.expired} expired, ${s.api.unknown} unknown); tm.fetch handed back ${c.apiFinal403} 403s`,
    `- faults injected at the token server: ${s.faults} (${faults})${s.downs ? `, ${s.downs} listener outage(s)` : ""}; survived (a later success of the same grant): ${s.faultsSurvived}/${s.faults}`,
    `- store faults (lost or misreported compare-and-sets): ${s.storeFaults}${s.storeFaults ? ` ${JSON.stringify(s.storeFaultsByMode)}` : ""}`,
    `- refresh outcomes: ${JSON.stringify(s.outcomes)}; the same refresh token presented again after an unprocessed attempt ${s.presentedAgain.after_unprocessed}×, after a lost rotation ${s.presentedAgain.after_lost_rotation}× ${JSON.stringify(s.presentedAgainBy)}`,
    `- sign-ins (a counted test double of the person, only after the server refused the refresh token): ${s.signIns} by cause ${JSON.stringify(s.signInsByCause)}${s.signInsAbandoned ? `, ${s.signInsAbandoned} abandoned (lost CAS, revoked)` : ""}; signInRequired surfaced ${c.signInRequired}×, of which met a stored refresh token ${c.signInDeclined}×, answered by another member's sign-in ${c.signInSkipped}×`,
    `- calls failed: ${s.userFailures} user calls (getAccessToken / tm.fetch), ${s.failedWhileLive} of them while the account was live (a delivered refresh token live at the server from the call's start to its failure) ${JSON.stringify(s.failedWhileLiveBy)}`,
    `- errors by kind: ${JSON.stringify(c.errors)}`,
    `- waits: max ${c.maxWaitMs} ms vs deadline ${o.deadlineMs} ms (p50 ${c.p50WaitMs}, p99 ${c.p99WaitMs})`,
  ];
  if (r.fleet === "redis") {
    lines.push(`- RSS per process (start → warm → mid → end): ${r.rss.map((x) => `${x.worker} ${mb(x.start)}→${mb(x.warm)}→${mb(x.mid)}→${mb(x.end)}`).join(", ")}`);
    lines.push(`- JS heap after GC per process (warm → mid → end): ${r.rss.map((x) => `${x.worker} ${mb(x.heap.warm)}→${mb(x.heap.mid)}→${mb(x.heap.end)}`).join(", ")}`);
  }
  else lines.push(`- RSS workerd (start → warm → mid → end): ${mb(r.rss.workerd.start)} → ${mb(r.rss.workerd.warm)} → ${mb(r.rss.workerd.mid)} → ${mb(r.rss.workerd.end)}${r.options.rssBaseline === undefined ? " (reported; compared with a baseline in the full soak)" : ""}`);
  lines.push(`- RSS harness (token server${r.fleet === "worker" ? ", Miniflare" : ""}): ${mb(r.harnessRss)}`);
  for (const k of (r.kills ?? []).filter(Boolean)) lines.push(`- killed renewer (server ${k.mode}): ${k.worker} at ${k.atMs} ms; its refresh token presented again by ${k.nextPresentationBy} after ${k.nextPresentationMs} ms (${(k.presentationsAgain ?? []).join(", ")}); tokens again after ${k.recoveredMs} ms`);
  if (c.notes.length) lines.push(`- notes: ${c.notes.slice(0, 5).join(" | ")}`);
  lines.push("", "| invariant | result | detail |", "| --- | --- | --- |");
  for (const ch of r.checks) lines.push(`| ${ch.name} | ${ch.ok ? "PASS" : "**FAIL**"} | ${String(ch.detail).replace(/\|/g, "\\|").replace(/\n/g, " ")} |`);
  return lines;
}
