// One Node process of the Redis soak fleet (tests/support/soak-fleet.mjs forks 8 of them): the
// packed avito-auth from the scratch project, a RedisTokenStore shared with the others, a
// refresh_token TokenManager on it and a client_credentials one of its own, looping
// getAccessToken() / tm.fetch() / client_credentials under per-call deadlines.
// Protocol (IPC): → { ready } ; ← { go } ; → { result }. Config: JSON in argv[2].
import path from "node:path";
import { pathToFileURL } from "node:url";
import { runLoop, signInAgain } from "./soak-loop.mjs";

const cfg = JSON.parse(process.argv[2]);
const worker = `p${cfg.index}`;
const { AvitoAuth, TokenManager, ApiException } = await import(pathToFileURL(path.join(cfg.scratch, "esm.mjs")).href);
const { RedisTokenStore } = await import(pathToFileURL(path.join(cfg.scratch, "redis.mjs")).href);
const { createClient } = await import("redis");

const client = await createClient({ url: cfg.redisUrl }).on("error", () => {}).connect();
const store = new RedisTokenStore({ client, key: cfg.key });
const authOptions = {
  clientId: cfg.clientId, clientSecret: cfg.clientSecret, host: cfg.host,
  timeoutMs: cfg.timeoutMs, retries: cfg.retries, headers: { "x-soak-worker": worker },
};
const user = new TokenManager({ auth: new AvitoAuth(authOptions), grant: "refresh_token", store, leaseMs: cfg.leaseMs, refreshSkewMs: cfg.skewMs });
const app = new TokenManager({ auth: new AvitoAuth(authOptions), grant: "client_credentials", refreshSkewMs: cfg.skewMs });
const apiUrl = `${cfg.host}/core/v1/accounts/self`;

process.send({ ready: true, pid: process.pid });
await new Promise((resolve) => process.once("message", (m) => m?.go && resolve()));

const stats = await runLoop({
  worker,
  cfg,
  ApiException,
  ops: {
    token: (signal) => user.getAccessToken({ signal }),
    fetch: (signal) => user.fetch(apiUrl, { signal }),
    cc: (signal) => app.getAccessToken({ signal }),
  },
  onSignInRequired: (stats) => signInAgain({ store, host: cfg.host, worker, stats }),
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
