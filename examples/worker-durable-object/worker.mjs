// A Cloudflare Worker that calls the Avito API with a user's token, renewed safely across every
// isolate: one AvitoTokensDurableObject per Avito account serialises renewals.
//
// Bindings (wrangler.toml): AVITO_TOKENS (Durable Object), secrets AVITO_CLIENT_ID and
// AVITO_CLIENT_SECRET, and optionally AVITO_HOST (tests point it at a mock).
//   POST /tokens   body: a TokenSet from auth.exchangeCode()  → stores it for the account
//   GET  /token    → a valid access token (renewed when needed; exactly one renewal at a time)
//   GET  /self     → GET {host}/core/v1/accounts/self with the token (renews once on 401/403)
import { AvitoAuth, ApiException, TokenManager } from "avito-auth";
import { AvitoTokensDurableObject, DurableObjectTokenStore } from "avito-auth/durable-object";

export { AvitoTokensDurableObject };

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const account = url.searchParams.get("account") ?? "default";
    const store = new DurableObjectTokenStore(env.AVITO_TOKENS.get(env.AVITO_TOKENS.idFromName(account)));
    if (url.pathname === "/tokens" && request.method === "POST") {
      await store.compareAndSet(await store.get(), await request.json());
      return new Response("stored\n");
    }
    const auth = new AvitoAuth({ clientId: env.AVITO_CLIENT_ID, clientSecret: env.AVITO_CLIENT_SECRET, host: env.AVITO_HOST || undefined });
    // A TokenManager per request is fine: the Durable Object holds the state and the lease.
    const tm = new TokenManager({ auth, grant: "refresh_token", store });
    try {
      if (url.pathname === "/token") return new Response(await tm.getAccessToken());
      if (url.pathname === "/self") return await tm.fetch(`${env.AVITO_HOST || "https://api.avito.ru"}/core/v1/accounts/self`);
    } catch (e) {
      if (!(e instanceof ApiException)) throw e;
      // signInRequired: no tokens stored, or the refresh token is dead (invalid_grant).
      const status = e.signInRequired ? 401 : 502;
      return Response.json({ kind: e.kind, error: e.error, message: e.message }, { status });
    }
    return new Response("not found\n", { status: 404 });
  },
};
