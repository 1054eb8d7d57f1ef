// A Cloudflare Worker that calls the Avito API for your back office with a seller's token, kept in
// D1: one table for every seller, renewals serialised across isolates by a lease on SQLite's
// clock, and a rotated refresh token written only over the set its renewal started from.
//
// What it exposes — to callers holding the ADMIN_TOKEN secret only (`Authorization: Bearer …`;
// anyone else gets 401 and learns nothing):
//   POST /tokens?account=…   body: a TokenSet from auth.exchangeCode()  → stores it for the account
//   GET  /profile?account=…  → the JSON of GET {host}/core/v1/accounts/self, called with the
//                              account's token (renewed when needed, once more on 401/403)
// It never answers with a token: callers get what the API call returns, not the means to call.
//
// Its Cron Trigger (wrangler.toml [triggers]) renews, ahead of time, every seller in the table
// whose tokens expire within the hour (`scheduled` below): no seller's renewal then waits for a
// request, and a seller whose refresh token died is found by the trigger, not by a failed call.
//
// Bindings (wrangler.toml): DB (D1), secrets AVITO_CLIENT_ID, AVITO_CLIENT_SECRET and ADMIN_TOKEN
// (`wrangler secret put ADMIN_TOKEN`: a long random string, e.g. `openssl rand -base64 32`), and
// optionally AVITO_HOST (tests point it at a mock). Without ADMIN_TOKEN every request is refused.
// The table: `createTable(env.DB)` below, or the DDL from the README in a D1 migration.
// AVITO_SEAL_KEYS (a secret: `wrangler secret put AVITO_SEAL_KEYS`) seals every seller's tokens at
// rest (README "Tokens at rest"): the D1 table then holds fingerprints and ciphertext, never a token.
// `id:key` pairs, comma-separated; each key is 32 random bytes in base64 (`openssl rand -base64 32`),
// each id a name of yours ("2026-12"). The first key seals, every key opens. Rotating: add the new
// key LAST, deploy, then move it first, deploy; run `reseal()` over every seller; drop the old key.
// Without it the tokens are stored in plaintext (local development only).
import { AccountTokens, AvitoAuth, ApiException, TokenManager, sealedStore } from "avito-auth";
import { D1TokenStore, createTable } from "avito-auth/d1";

/** AVITO_SEAL_KEYS as `sealedStore`'s `keys`: "id:key,id:key" → [{ id, key }]. */
const sealKeysFrom = (text) => text.split(",").map((pair) => ({ id: pair.split(":")[0], key: pair.split(":")[1] }));

let tableReady;
const ensureTable = (db) => (tableReady ??= createTable(db).catch((e) => { tableReady = undefined; throw e; }));
const avitoAuth = (env) => new AvitoAuth({ clientId: env.AVITO_CLIENT_ID, clientSecret: env.AVITO_CLIENT_SECRET, host: env.AVITO_HOST || "https://api.avito.ru" });
const encoder = new TextEncoder();
// A key of this isolate's own, so the MACs compared below say nothing outside it (made on the
// first request: workerd allows no random values at global scope).
let macKey;

/**
 * Whether the request carries `Authorization: Bearer <ADMIN_TOKEN>`. Compared in constant time:
 * HMAC-SHA-256 of both strings (32 bytes whatever was sent), then every byte pair XORed into one
 * accumulator with no early exit, so neither the length nor a matching prefix shows in the timing.
 */
async function authorized(request, adminToken) {
  if (typeof adminToken !== "string" || adminToken.length === 0) return false;
  const sent = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1] ?? "";
  const key = await (macKey ??= crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]));
  const [a, b] = (await Promise.all([sent, adminToken].map((s) => crypto.subtle.sign("HMAC", key, encoder.encode(s))))).map((mac) => new Uint8Array(mac));
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

export default {
  async fetch(request, env) {
    if (!(await authorized(request, env.ADMIN_TOKEN))) {
      return new Response("unauthorized\n", { status: 401, headers: { "www-authenticate": "Bearer" } });
    }
    await ensureTable(env.DB);
    const url = new URL(request.url);
    const account = url.searchParams.get("account") ?? "default";
    const plain = new D1TokenStore({ db: env.DB, key: `avito:${account}` });
    // Sealed with the account id as the context: a row copied to another seller's key does not open.
    const store = env.AVITO_SEAL_KEYS ? sealedStore(plain, { keys: sealKeysFrom(env.AVITO_SEAL_KEYS), context: account }) : plain;
    if (url.pathname === "/tokens" && request.method === "POST") {
      const tokens = await request.json();
      // Over whatever is stored; another writer in between makes us read again (bounded).
      for (let i = 0; i < 8; i++) if (await store.compareAndSet(await store.get(), tokens)) return new Response("stored\n");
      return new Response("the store kept changing\n", { status: 409 });
    }
    if (url.pathname !== "/profile" || request.method !== "GET") return new Response("not found\n", { status: 404 });
    const host = env.AVITO_HOST || "https://api.avito.ru";
    const auth = avitoAuth(env);
    // A TokenManager per request is fine: D1 holds the tokens and the lease.
    const tm = new TokenManager({ auth, grant: "refresh_token", store });
    try {
      const answer = await tm.fetch(`${host}/core/v1/accounts/self`);
      // The API's status and body only: none of its other headers (cookies…) are passed on.
      return new Response(answer.body, { status: answer.status, headers: { "content-type": answer.headers.get("content-type") ?? "application/json" } });
    } catch (e) {
      if (!(e instanceof ApiException)) throw e;
      // signInRequired (no tokens stored, or the refresh token is dead) is 409, the account's
      // state, not 401, which says the caller lacks the ADMIN_TOKEN.
      const status = e.signInRequired ? 409 : 502;
      return Response.json({ kind: e.kind, error: e.error, sign_in_required: e.signInRequired, message: e.message }, { status });
    }
  },

  /**
   * The Cron Trigger: renewDue over every seller in the table (keys `avito:<sellerId>`), through
   * the same protocol as the requests above, so it is safe while they run. Sellers to ask for a
   * sign-in are logged (send them a sign-in link from here); a failed renewal fails the run, so
   * that the dashboard's Cron Events show it. Mind the plan's subrequests per invocation (one
   * token request per due seller): with more due at once, run the trigger more often.
   */
  async scheduled(controller, env) {
    await ensureTable(env.DB);
    const { results: rows } = await env.DB.prepare("SELECT key FROM avito_tokens WHERE key LIKE 'avito:%' ORDER BY key").all();
    const ids = rows.map((r) => r.key.slice("avito:".length));
    const seal = env.AVITO_SEAL_KEYS ? { keys: sealKeysFrom(env.AVITO_SEAL_KEYS) } : undefined; // as fetch() seals, the account id as context
    const accounts = new AccountTokens({ auth: avitoAuth(env), store: (id) => new D1TokenStore({ db: env.DB, key: `avito:${id}` }), maxAccounts: 100, seal });
    // What has not started after 10 minutes is left to the next run.
    const results = await accounts.renewDue(ids, { within: 3_600_000, signal: AbortSignal.timeout(600_000) });
    const counts = { renewed: 0, fresh: 0, sign_in_required: 0, failed: 0 };
    for (const r of results) {
      counts[r.result]++;
      if (r.result === "sign_in_required") console.log(`sign-in required: ${r.accountId}`);
      if (r.result === "failed") console.error(`renewal failed: ${r.accountId} (${r.kind}): ${r.error?.message}`);
    }
    console.log(`renewDue at ${new Date(controller.scheduledTime).toISOString()}: ${JSON.stringify(counts)}`);
    if (counts.failed) throw new Error(`${counts.failed} of ${ids.length} renewals failed`);
  },
};
