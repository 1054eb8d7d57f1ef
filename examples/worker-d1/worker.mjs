// A Cloudflare Worker that calls the Avito API with a seller's token, kept in D1: one table for
// every seller, renewals serialised across isolates by a lease on SQLite's clock, and a rotated
// refresh token written only over the set its renewal started from.
//
// Bindings (wrangler.toml): DB (D1), secrets AVITO_CLIENT_ID and AVITO_CLIENT_SECRET, and
// optionally AVITO_HOST (tests point it at a mock). The table: `createTable(env.DB)` below, or the
// DDL from the README in a D1 migration.
//   POST /tokens?account=…   body: a TokenSet from auth.exchangeCode()  → stores it for the account
//   GET  /token?account=…    → a valid access token (renewed when needed; one renewal at a time)
//   GET  /self?account=…     → GET {host}/core/v1/accounts/self with the token (renews once on 401/403)
import { AvitoAuth, ApiException, TokenManager } from "avito-auth";
import { D1TokenStore, createTable } from "avito-auth/d1";

let tableReady;

export default {
  async fetch(request, env) {
    tableReady ??= createTable(env.DB).catch((e) => { tableReady = undefined; throw e; });
    await tableReady;
    const url = new URL(request.url);
    const account = url.searchParams.get("account") ?? "default";
    const store = new D1TokenStore({ db: env.DB, key: `avito:${account}` });
    if (url.pathname === "/tokens" && request.method === "POST") {
      const tokens = await request.json();
      // Over whatever is stored; another writer in between makes us read again (bounded).
      for (let i = 0; i < 8; i++) if (await store.compareAndSet(await store.get(), tokens)) return new Response("stored\n");
      return new Response("the store kept changing\n", { status: 409 });
    }
    const auth = new AvitoAuth({ clientId: env.AVITO_CLIENT_ID, clientSecret: env.AVITO_CLIENT_SECRET, host: env.AVITO_HOST || undefined });
    // A TokenManager per request is fine: D1 holds the tokens and the lease.
    const tm = new TokenManager({ auth, grant: "refresh_token", store });
    try {
      if (url.pathname === "/token") return new Response(await tm.getAccessToken());
      if (url.pathname === "/self") return await tm.fetch(`${env.AVITO_HOST || "https://api.avito.ru"}/core/v1/accounts/self`);
    } catch (e) {
      if (!(e instanceof ApiException)) throw e;
      const status = e.signInRequired ? 401 : 502;
      return Response.json({ kind: e.kind, error: e.error, message: e.message }, { status });
    }
    return new Response("not found\n", { status: 404 });
  },
};
