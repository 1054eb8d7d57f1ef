// A Worker for the per-call benchmark inside workerd (bundled by wrangler, run by Miniflare):
// GET /?impl=avito-auth|floor&n=N makes N sequential client_credentials calls with an in-memory
// fetch and answers { n, ms } (the Worker's own clock, which workerd may hold still while code
// runs; the harness also times the request from outside and subtracts an n=0 request).
import { AvitoAuth } from "avito-auth";

const ID = "bench-client", SECRET = "bench-secret", URL_TOKEN = "https://api.avito.ru/token";
const BODY = JSON.stringify({ access_token: "at_0123456789abcdefghijklmnopqrstuv", expires_in: 86400, token_type: "Bearer" });
const memoryFetch = async () => new Response(BODY, { status: 200, headers: { "content-type": "application/json" } });

const auth = new AvitoAuth({ clientId: ID, clientSecret: SECRET, host: "https://api.avito.ru", fetch: memoryFetch });
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
    if (n > 0 && !last?.access_token) return new Response("no token", { status: 500 });
    return Response.json({ n, ms });
  },
};
