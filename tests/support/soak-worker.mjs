// The Worker of the Durable Object soak fleet (bundled by wrangler with soak-loop.mjs and the
// packed avito-auth, run under workerd by Miniflare). Like examples/worker-durable-object: every
// request builds its own TokenManager over the account's AvitoTokensDurableObject.
//   POST /seed?account=…   body: a TokenSet → stored (compare-and-set from what is there)
//   GET  /store?account=…  → what the Durable Object holds
//   POST /loop?account=…   body: the loop config → the loop's statistics (JSON)
import { AvitoAuth, ApiException, TokenManager } from "avito-auth";
import { AvitoTokensDurableObject, DurableObjectTokenStore } from "avito-auth/durable-object";
import { runLoop, signInAgain } from "./soak-loop.mjs";

export { AvitoTokensDurableObject };

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const account = url.searchParams.get("account") ?? "soak";
    const store = new DurableObjectTokenStore(env.AVITO_TOKENS.get(env.AVITO_TOKENS.idFromName(account)));
    if (url.pathname === "/seed" && request.method === "POST") {
      return Response.json({ stored: await store.compareAndSet(await store.get(), await request.json()) });
    }
    if (url.pathname === "/store") return Response.json((await store.get()) ?? null);
    if (url.pathname !== "/loop" || request.method !== "POST") return new Response("not found\n", { status: 404 });

    const cfg = await request.json();
    const worker = `w${cfg.index}`;
    const host = env.AVITO_HOST;
    const auth = new AvitoAuth({
      clientId: env.AVITO_CLIENT_ID, clientSecret: env.AVITO_CLIENT_SECRET, host,
      timeoutMs: cfg.timeoutMs, retries: cfg.retries, headers: { "x-soak-worker": worker },
    });
    const tm = new TokenManager({ auth, grant: "refresh_token", store, leaseMs: cfg.leaseMs, refreshSkewMs: cfg.skewMs });
    const stats = await runLoop({
      worker,
      cfg,
      ApiException,
      ops: {
        token: (signal) => tm.getAccessToken({ signal }),
        fetch: (signal) => tm.fetch(`${host}/core/v1/accounts/self`, { signal }),
        // Baselines without avito-auth (memory comparisons): the same request with a fixed header, nothing.
        bare: (signal) => fetch(`${host}/core/v1/accounts/self`, { signal, headers: { authorization: "Bearer bare" } }),
        idle: async () => "idle",
      },
      onSignInRequired: (s, error) => signInAgain({ store, host, worker, stats: s, error }),
    });
    // A renewal that a caller's deadline abandoned goes on; keep the request alive until it lands
    // (joining it, or renewing once more without a deadline: bounded by the lease and timeouts).
    ctx.waitUntil(tm.getAccessToken().catch(() => {}));
    return Response.json(stats);
  },
};
