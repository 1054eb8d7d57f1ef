// The three ways to get a client_credentials token that the benchmarks compare.
// Each factory takes a `fetch` and a token URL and returns `() => Promise<{ access_token }>`.
export const ID = "bench-client";
export const SECRET = "bench-secret";

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

export const TOKEN_BODY = JSON.stringify({ access_token: "at_0123456789abcdefghijklmnopqrstuv", expires_in: 86400, token_type: "Bearer" });

/** An in-memory fetch: a fresh canned Response per call, so only the client's own work counts. */
export function memoryFetch() {
  return async () => new Response(TOKEN_BODY, { status: 200, headers: { "content-type": "application/json" } });
}
