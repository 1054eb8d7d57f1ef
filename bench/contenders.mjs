// The ways to get a client_credentials token (and to call an Avito API with one) that the
// benchmarks compare. Each token factory takes a `fetch` and a token URL and returns
// `() => Promise<{ access_token }>`; each API factory returns `(url) => Promise<body>`.
export const ID = "bench-client";
export const SECRET = "bench-secret";
export const ACCESS_TOKEN = "at_0123456789abcdefghijklmnopqrstuv";

/** The floor: URLSearchParams + fetch + JSON, no validation, no timeout, no retries. */
export function handWritten(fetchImpl, tokenUrl) {
  return async () => {
    const res = await fetchImpl(tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: ID, client_secret: SECRET }),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  };
}

/** The floor plus what any careful client adds: a 30 s timeout that really cancels (AbortController). */
export function handWrittenWithTimeout(fetchImpl, tokenUrl) {
  return async () => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 30_000);
    try {
      const res = await fetchImpl(tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: new URLSearchParams({ grant_type: "client_credentials", client_id: ID, client_secret: SECRET }),
        signal: controller.signal,
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return await res.json();
    } finally {
      clearTimeout(timer);
    }
  };
}

/** avito-auth (defaults: 30 s timeout per attempt, retries on). */
export function avitoAuth(lib, fetchImpl, host) {
  const auth = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host, fetch: fetchImpl });
  return () => auth.clientCredentials();
}

/** oauth4webapi: clientCredentialsGrantRequest + processClientCredentialsResponse. */
export function oauth4(oauth, fetchImpl, tokenUrl) {
  const as = { issuer: new URL(tokenUrl).origin, token_endpoint: tokenUrl };
  const client = { client_id: ID };
  const clientAuth = oauth.ClientSecretPost(SECRET);
  const options = { [oauth.customFetch]: fetchImpl, [oauth.allowInsecureRequests]: true };
  return async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, new URLSearchParams(), options);
    return oauth.processClientCredentialsResponse(as, client, response);
  };
}

// --- API calls with a token -------------------------------------------------------------------

/** The floor for API calls: the global fetch with a fixed `Authorization: Bearer …` header. */
export function rawApi(token = ACCESS_TOKEN) {
  const headers = { authorization: `Bearer ${token}` };
  return async (url) => {
    const res = await fetch(url, { headers });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  };
}

/**
 * A TokenManager (client_credentials, default in-memory store) over an AvitoAuth for `host`, its
 * token already fetched (one getAccessToken() before timing): `tm.fetch(url)` then costs no token
 * request. Resolves to the call and the manager (so a bench can also time `authorizationHeader()`).
 */
export async function tokenManagerApi(lib, host) {
  const auth = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host });
  const tm = new lib.TokenManager({ auth, grant: "client_credentials" });
  if (!(await tm.getAccessToken())) throw new Error("no token");
  const call = async (url) => {
    const res = await tm.fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  };
  return { call, tm };
}

/** The global fetch with the header from `tm.authorizationHeader()` (TokenManager's token lookup alone). */
export function headerApi(tm) {
  return async (url) => {
    const res = await fetch(url, { headers: { authorization: await tm.authorizationHeader() } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  };
}

export const TOKEN_BODY = JSON.stringify({ access_token: ACCESS_TOKEN, expires_in: 86400, token_type: "Bearer" });
export const API_BODY = JSON.stringify({ id: 1234567, name: "bench account", email: "bench@example.invalid", phone: "+70000000000" });

/** An in-memory fetch: a fresh canned Response per call, so only the client's own work counts. */
export function memoryFetch() {
  return async () => new Response(TOKEN_BODY, { status: 200, headers: { "content-type": "application/json" } });
}
