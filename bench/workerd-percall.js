// A Worker for the per-call benchmark inside workerd (bundled by wrangler, run by Miniflare):
// GET /?impl=avito-auth|floor|tm.fetch|api-floor&n=N makes N sequential calls (client_credentials,
// or an API call with a cached token) with an in-memory
// fetch and answers { n, ms } (the Worker's own clock, which workerd may hold still while code
// runs; the harness also times the request from outside and subtracts an n=0 request).
import { AvitoAuth, TokenManager } from "avito-auth";

const ID = "bench-client", SECRET = "bench-secret", URL_TOKEN = "https://api.avito.ru/token";
const BODY = JSON.stringify({ access_token: "at_0123456789abcdefghijklmnopqrstuv", expires_in: 86400, token_type: "Bearer" });
const memoryFetch = async () => new Response(BODY, { status: 200, headers: { "content-type": "application/json" } });

const auth = new AvitoAuth({ clientId: ID, clientSecret: SECRET, host: "https://api.avito.ru", fetch: memoryFetch });
// An Avito API call with a cached token: tm.fetch against the same call with a fixed Bearer.
const API_URL = "https://api.avito.ru/core/v1/accounts/self";
const API_BODY = JSON.stringify({ id: 1 });
const memoryApi = async () => new Response(API_BODY, { status: 200, headers: { "content-type": "application/json" } });
const tm = new TokenManager({ auth, fetch: memoryApi });
const BEARER = { authorization: "Bearer at_0123456789abcdefghijklmnopqrstuv" };
const CONTENDERS = {
  "avito-auth": () => auth.clientCredentials(),
  floor: async () => {
    const res = await memoryFetch(URL_TOKEN, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: ID, client_secret: SECRET }),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  },
  "api-floor": async () => {
    const res = await memoryApi(API_URL, { headers: BEARER });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  },
  "tm.fetch": async () => {
    const res = await tm.fetch(API_URL);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  },
};

export default {
  async fetch(request) {
    const u = new URL(request.url);
    const call = CONTENDERS[u.searchParams.get("impl")];
    const n = Number(u.searchParams.get("n") ?? 0);
    if (!call) return new Response("unknown impl", { status: 400 });
    const t0 = performance.now();
    let last;
    for (let i = 0; i < n; i++) last = await call();
    const ms = performance.now() - t0;
    if (n > 0 && !last?.access_token && !last?.id) return new Response("no token", { status: 500 });
    return Response.json({ n, ms });
  },
};
