// One Node process of the Redis soak fleet (tests/support/soak-fleet.mjs forks 8 of them): the
// packed avito-auth from the scratch project, a RedisTokenStore shared with the others, a
// refresh_token TokenManager on it and a client_credentials one of its own, looping
// getAccessToken() / tm.fetch() / client_credentials under per-call deadlines.
// Protocol (IPC): → { ready } ; ← { go } ; → { result }. Config: JSON in argv[2].
import path from "node:path";
import { pathToFileURL } from "node:url";
import { runLoop, signInAgain } from "./soak-loop.mjs";
import { prng } from "./prng.mjs";

const cfg = JSON.parse(process.argv[2]);
const worker = `p${cfg.index}`;
const { AvitoAuth, TokenManager, ApiException } = await import(pathToFileURL(path.join(cfg.scratch, "esm.mjs")).href);
const { RedisTokenStore } = await import(pathToFileURL(path.join(cfg.scratch, "redis.mjs")).href);
const { createClient } = await import("redis");

const client = await createClient({ url: cfg.redisUrl }).on("error", () => {}).connect();
const redisStore = new RedisTokenStore({ client, key: cfg.key });

/**
 * Lost compare-and-sets: the TokenManager's store, wrapped so that a compare-and-set sometimes
 *   applied_false    is applied and then reported as lost (false),
 *   applied_throw    is applied and then throws (the answer lost on the way back),
 *   unapplied_throw  is lost on the way (not applied) and throws.
 * Every fault is recorded with the write it hit (mark, tokens, unmark, refused, …) for the
 * analysis, in Redis as soon as its outcome is known (`record`): a member SIGKILLed later never
 * reports, and its faults still shaped the store the others met. (A kill lands only while the
 * token server holds a request, never between a compare-and-set and its record.) Faults stop
 * with the server's (the quiet end of the run).
 */
function withLostCompareAndSets(inner, { rate, modes, seed, activeUntil, forceCall, forcedMode, claimForced, record }) {
  const random = prng(seed);
  let calls = 0;
  let claimTried = false;
  const writeOf = (expected, next) => {
    if (next?.renewal) return expected?.renewal ? "remark" : "mark";
    if (typeof next?.refresh_token !== "string" && next?.refresh_refused_at != null) return "refused";
    if (next?.refresh_token !== expected?.refresh_token) return "tokens";
    return expected?.renewal ? "unmark" : "other";
  };
  return {
    get: () => inner.get(),
    acquireLease: (ttl) => inner.acquireLease(ttl),
    releaseLease: (id) => inner.releaseLease(id),
    async compareAndSet(expected, next) {
      calls++;
      // One forced fault in the whole fleet: the first member to reach its forceCall-th
      // compare-and-set claims it (SET NX in Redis).
      let forced = false;
      if (forceCall && calls >= forceCall && !claimTried && Date.now() <= activeUntil()) {
        claimTried = true;
        forced = await claimForced();
      }
      if (!forced && (!(rate > 0) || Date.now() > activeUntil() || random() >= rate)) return inner.compareAndSet(expected, next);
      const mode = forced ? forcedMode : modes[Math.floor(random() * modes.length)];
      const rec = { at: Date.now(), mode, write: writeOf(expected, next), rt: expected?.refresh_token ?? null, nextRt: next?.refresh_token ?? null, applied: false };
      if (mode === "unapplied_throw") {
        await record(rec);
        throw new Error("soak: the compare-and-set was lost on its way to Redis (not applied)");
      }
      rec.applied = await inner.compareAndSet(expected, next);
      await record(rec);
      if (mode === "applied_false") return false;
      throw new Error("soak: the compare-and-set's answer was lost on its way back (applied)");
    },
  };
}
let goAt = Infinity;
const store = withLostCompareAndSets(redisStore, {
  rate: cfg.casFaults?.rate ?? 0,
  modes: cfg.casFaults?.modes ?? ["applied_false", "applied_throw", "unapplied_throw"],
  seed: (cfg.seed ?? 1) * 31 + cfg.index,
  activeUntil: () => goAt + cfg.durationMs - cfg.quietMs,
  // One member's n-th compare-and-set fails for sure (applied, reported lost), so that a short
  // run exercises a store fault whatever the draws.
  forceCall: cfg.casFaults?.forceCall,
  forcedMode: "applied_false",
  claimForced: async () => (await client.set(`${cfg.key}:soak-forced-cas-fault`, worker, { NX: true })) === "OK",
  record: (rec) => client.rPush(`${cfg.key}:soak-cas-faults`, JSON.stringify({ worker, ...rec })),
});
const authOptions = {
  clientId: cfg.clientId, clientSecret: cfg.clientSecret, host: cfg.host,
  timeoutMs: cfg.timeoutMs, retries: cfg.retries, headers: { "x-soak-worker": worker },
};
const user = new TokenManager({ auth: new AvitoAuth(authOptions), grant: "refresh_token", store, leaseMs: cfg.leaseMs, refreshSkewMs: cfg.skewMs, strictRotation: !!cfg.strictRotation });
const app = new TokenManager({ auth: new AvitoAuth(authOptions), grant: "client_credentials", refreshSkewMs: cfg.skewMs });
const apiUrl = `${cfg.host}/core/v1/accounts/self`;

process.send({ ready: true, pid: process.pid });
await new Promise((resolve) => process.once("message", (m) => m?.go && resolve()));
goAt = Date.now();

const stats = await runLoop({
  worker,
  cfg,
  ApiException,
  ops: {
    token: (signal) => user.getAccessToken({ signal }),
    fetch: (signal) => user.fetch(apiUrl, { signal }),
    cc: (signal) => app.getAccessToken({ signal }),
  },
  // The person's sign-in goes to Redis directly (no injected faults: it is not the protocol's write).
  onSignInRequired: (stats, error) => signInAgain({ store: redisStore, host: cfg.host, worker, stats, error }),
  // RSS, and the JS heap after a full GC (forked with --expose-gc): a leak shows in the heap
  // without the GC's timing noise that RSS carries.
  memory: () => {
    globalThis.gc?.();
    const m = process.memoryUsage();
    return { rss: m.rss, heap: m.heapUsed };
  },
});
// Let renewals the deadlines abandoned finish (or fail) before the process goes — a process that
// exits mid-renewal would lose a rotation for reasons of its own: join them (or renew once more,
// without a deadline; bounded by the lease wait and the request timeouts).
const settleStart = performance.now();
await Promise.allSettled([user.getAccessToken(), app.getAccessToken()]);
stats.settleMs = Math.round(performance.now() - settleStart);
stats.pid = process.pid;
process.send({ result: stats }, () => {
  client.quit().catch(() => {}).finally(() => process.exit(0));
});
