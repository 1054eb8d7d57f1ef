// A Cloudflare Worker that calls the Avito API for your back office with a seller's token,
// renewed safely across every isolate: one AvitoTokensDurableObject per Avito account serialises
// renewals.
//
// What it exposes — to callers holding the ADMIN_TOKEN secret only (`Authorization: Bearer …`;
// anyone else gets 401 and learns nothing):
//   POST /tokens?account=…   body: a TokenSet from auth.exchangeCode()  → stores it for the account
//   GET  /profile?account=…  → the JSON of GET {host}/core/v1/accounts/self, called with the
//                              account's token (renewed when needed, once more on 401/403)
// It never answers with a token: callers get what the API call returns, not the means to call.
//
// Bindings (wrangler.toml): AVITO_TOKENS (Durable Object), secrets AVITO_CLIENT_ID,
// AVITO_CLIENT_SECRET and ADMIN_TOKEN (`wrangler secret put ADMIN_TOKEN`: a long random string,
// e.g. `openssl rand -base64 32`), and optionally AVITO_HOST (tests point it at a mock). Without
// ADMIN_TOKEN every request is refused.
// AVITO_SEAL_KEYS (a secret: `wrangler secret put AVITO_SEAL_KEYS`) seals every seller's tokens at
// rest (README "Tokens at rest"): the Durable Object's storage then holds fingerprints and
// ciphertext, never a token. `id:key` pairs, comma-separated; each key is 32 random bytes in
// base64 (`openssl rand -base64 32`), each id a name of yours ("2026-12"). The first key seals,
// every key opens. Rotating: add the new key LAST, deploy, then move it first, deploy; run
// `reseal()` over every seller; drop the old key.
// Without it the tokens are stored in plaintext (local development only).
import { AvitoAuth, ApiException, TokenManager, sealedStore } from "avito-auth";
import { AvitoTokensDurableObject, DurableObjectTokenStore } from "avito-auth/durable-object";

export { AvitoTokensDurableObject };

/** AVITO_SEAL_KEYS as `sealedStore`'s `keys`: "id:key,id:key" → [{ id, key }]. */
const sealKeysFrom = (text) => text.split(",").map((pair) => ({ id: pair.split(":")[0], key: pair.split(":")[1] }));

const encoder = new TextEncoder();
/**
 * Whether the request carries `Authorization: Bearer <ADMIN_TOKEN>`. Compared in constant time:
 * the SHA-256 digests of both strings (equal lengths whatever was sent, so neither the length nor
 * a matching prefix shows in the timing) through workerd's crypto.subtle.timingSafeEqual.
 */
async function authorized(request, adminToken) {
  if (typeof adminToken !== "string" || adminToken.length === 0) return false;
  const sent = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1] ?? "";
  const [a, b] = await Promise.all([sent, adminToken].map((s) => crypto.subtle.digest("SHA-256", encoder.encode(s))));
  return crypto.subtle.timingSafeEqual(a, b);
}

export default {
  async fetch(request, env) {
    if (!(await authorized(request, env.ADMIN_TOKEN))) {
      return new Response("unauthorized\n", { status: 401, headers: { "www-authenticate": "Bearer" } });
    }
    const url = new URL(request.url);
    const account = url.searchParams.get("account") ?? "default";
    const plain = new DurableObjectTokenStore(env.AVITO_TOKENS.get(env.AVITO_TOKENS.idFromName(account)));
    // Sealed with the account id as the context: a record copied to another seller does not open.
    const store = env.AVITO_SEAL_KEYS ? sealedStore(plain, { keys: sealKeysFrom(env.AVITO_SEAL_KEYS), context: account }) : plain;
    if (url.pathname === "/tokens" && request.method === "POST") {
      await store.compareAndSet(await store.get(), await request.json());
      return new Response("stored\n");
    }
    if (url.pathname !== "/profile" || request.method !== "GET") return new Response("not found\n", { status: 404 });
    const host = env.AVITO_HOST || "https://api.avito.ru";
    const auth = new AvitoAuth({ clientId: env.AVITO_CLIENT_ID, clientSecret: env.AVITO_CLIENT_SECRET, host });
    // A TokenManager per request is fine: the Durable Object holds the state and the lease.
    const tm = new TokenManager({ auth, grant: "refresh_token", store });
    try {
      const answer = await tm.fetch(`${host}/core/v1/accounts/self`);
      // The API's status and body only: none of its other headers (cookies…) are passed on.
      return new Response(answer.body, { status: answer.status, headers: { "content-type": answer.headers.get("content-type") ?? "application/json" } });
    } catch (e) {
      if (!(e instanceof ApiException)) throw e;
      // signInRequired (no tokens stored, or the refresh token is dead: invalid_grant) is 409, the
      // account's state, not 401, which says the caller lacks the ADMIN_TOKEN.
      const status = e.signInRequired ? 409 : 502;
      return Response.json({ kind: e.kind, error: e.error, sign_in_required: e.signInRequired, message: e.message }, { status });
    }
  },
};
