// The scenario set every runtime runs against the mock Avito (web-standard APIs only, so the
// same file runs in Node, Deno, Bun, workerd and Chromium). `lib` is what the runtime got from
// `avito-auth`; `env` = { mockUrl, deadUrl } (deadUrl: 127.0.0.1 with nothing listening).
const ID = "demo-client";
const SECRET = "demo-secret";

async function admin(env, path, body) {
  const res = await fetch(`${env.mockUrl}${path}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
  return res.json();
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function expectError(lib, promise, kind, secrets = []) {
  try {
    await promise;
  } catch (e) {
    check(e instanceof lib.ApiException, `ApiException, got ${e && e.name}: ${e && e.message}`);
    check(e instanceof Error, "instanceof Error");
    check(e.kind === kind, `kind ${kind}, got ${e.kind}: ${e.message}`);
    const text = `${e.message}\n${String(e)}\n${JSON.stringify(e)}\n${e.body ?? ""}`;
    for (const s of secrets) check(!text.includes(s), "no secret in the error");
    return e;
  }
  throw new Error(`expected an ApiException ${kind}, got success`);
}

/** A fresh mock and an AccountTokens whose accounts each get a MemoryTokenStore (`stores`). */
async function memoryAccounts(lib, env, options = {}) {
  await admin(env, "/__reset", {});
  const stores = new Map();
  const accounts = new lib.AccountTokens({
    auth: new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: env.mockUrl }),
    store: (id) => stores.get(id) ?? stores.set(id, new lib.MemoryTokenStore()).get(id),
    ...options,
  });
  return { stores, accounts };
}

export const scenarios = {
  async "exports"(lib) {
    for (const n of ["Configuration", "ApiClient", "ApplicationAccessApi", "AccessApi", "ApiException", "AvitoAuth", "TokenManager"]) {
      check(typeof lib[n] === "function", `export ${n}`);
    }
  },
  async "client_credentials"(lib, env) {
    await admin(env, "/__reset", {});
    const r = await new lib.AccessApi(new lib.ApiClient(new lib.Configuration({ host: env.mockUrl }))).getAccessToken(ID, SECRET);
    check(typeof r.access_token === "string" && r.access_token.length > 0, "access_token");
    check(r.expires_in === 86400 && r.token_type === "Bearer", "expires_in/token_type");
    check(Object.getPrototypeOf(r) === Object.prototype && JSON.stringify(r).includes("access_token"), "plain object");
    const [req] = await admin(env, "/__requests");
    check(req.url === "/token" && req.method === "POST", "POST /token");
    check(req.headers["content-type"] === "application/x-www-form-urlencoded", "content-type");
    check(JSON.stringify(req.form) === JSON.stringify({ grant_type: "client_credentials", client_id: ID, client_secret: SECRET }), "form fields");
  },
  async "authorization_code"(lib, env) {
    const { code } = await admin(env, "/__code?scope=messenger:read,items:info");
    const auth = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: env.mockUrl });
    const ts = await auth.exchangeCode(code);
    check(ts.refresh_token && ts.scope === "messenger:read,items:info" && ts.expires_at > Date.now(), "TokenSet");
    check(JSON.stringify(ts.scopes) === '["messenger:read","items:info"]', "TokenSet scopes");
    const seed = await new lib.ApplicationAccessApi(new lib.ApiClient(new lib.Configuration({ host: env.mockUrl })))
      .getAccessTokenAuthorizationCode(ID, SECRET, (await admin(env, "/__code")).code);
    check(seed.refresh_token && !("expires_at" in seed) && !("scopes" in seed), "seed result");
    const { url, state } = auth.authorizationUrl({ scope: ["messenger:read", "items:info"] });
    check(url.startsWith("https://avito.ru/oauth?response_type=code&pro_users_flow=true&client_id=demo-client&scope=messenger:read,items:info&state="), url);
    check(state.length >= 22, "random state");
  },
  async "AccountTokens: one TokenManager per account"(lib, env) {
    const { accounts } = await memoryAccounts(lib, env, { maxAccounts: 1 });
    for (const id of ["a", "b"]) {
      const { refresh_token } = await admin(env, "/__refresh");
      await accounts.signIn(id, { access_token: "old", refresh_token, expires_at: 0 });
    }
    const [a, b] = await Promise.all([accounts.manager("a").getAccessToken(), accounts.manager("b").getAccessToken()]);
    check(a !== b && a.startsWith("at_") && b.startsWith("at_"), "each account its own token");
    check(accounts.size === 1, "the cache holds maxAccounts managers");
    check(await accounts.manager("a").getAccessToken() === a, "an evicted account starts again from its store");
    const counts = await admin(env, "/__counts");
    check(counts.refresh === 2, `one refresh per account, got ${counts.refresh}`);
  },
  async "AccountTokens.renewDue: due sellers renewed, fresh ones left alone"(lib, env) {
    const { stores, accounts } = await memoryAccounts(lib, env);
    const hour = 3_600_000;
    for (const [id, expiresIn] of [["due", hour / 2], ["fresh", 3 * hour]]) {
      const { refresh_token } = await admin(env, "/__refresh");
      await accounts.signIn(id, { access_token: `old-${id}`, refresh_token, expires_at: Date.now() + expiresIn });
    }
    const results = await accounts.renewDue(["due", "fresh", "nobody"], { concurrency: 2 });
    const seen = results.map((r) => `${r.accountId}:${r.result}`).join(",");
    check(seen === "due:renewed,fresh:fresh,nobody:sign_in_required", seen);
    check((await stores.get("fresh").get()).access_token === "old-fresh", "a fresh seller is untouched");
    check((await stores.get("due").get()).access_token.startsWith("at_"), "the due seller's new set is stored");
    const counts = await admin(env, "/__counts");
    check(counts.refresh === 1, `one refresh, got ${counts.refresh}`);
    await expectError(lib, accounts.renewDue("due"), "invalid_argument", []);
  },
  // Issue 21: what a manager reports. `env.diagnostics`: node:diagnostics_channel where the runner
  // has it (then `env.channel` says the package must publish there); elsewhere onEvent alone.
  async "events: onEvent and node:diagnostics_channel, no secret in any event"(lib, env) {
    await admin(env, "/__reset", {});
    const { refresh_token } = await admin(env, "/__refresh");
    const auth = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: env.mockUrl });
    const seen = [];
    const published = [];
    const onMessage = (m) => published.push(m);
    env.diagnostics?.subscribe("avito-auth:event", onMessage);
    const secrets = [SECRET, refresh_token, "old-access-token"];
    try {
      const store = new lib.MemoryTokenStore({ access_token: "old-access-token", refresh_token, expires_at: 0 });
      const tm = new lib.TokenManager({ auth, grant: "refresh_token", store, onEvent: (e) => seen.push(e) });
      secrets.push(await tm.getAccessToken(), (await store.get()).refresh_token);
      await tm.getAccessToken();
      const refused = new lib.TokenManager({ auth, tokens: { access_token: "old-access-token", refresh_token: "rt_never_issued", expires_at: 0 }, onEvent: (e) => seen.push(e) });
      secrets.push("rt_never_issued");
      await expectError(lib, refused.getAccessToken(), "oauth", secrets);
      const kinds = seen.map((e) => e.type + (e.outcome ? `:${e.outcome}` : "") + (e.reason ? `:${e.reason}` : "") + (e.source ? `:${e.source}` : ""));
      const expected = ["renewal_started", "renewal_finished:renewed", "token_served:memory", "renewal_started", "renewal_finished:failed", "sign_in_required:refused"];
      check(JSON.stringify(kinds) === JSON.stringify(expected), `events ${JSON.stringify(kinds)}`);
      const failed = seen[4];
      check(failed.kind === "oauth" && failed.status === 400 && failed.error === "invalid_grant" && failed.presentations === 1, "renewal_finished carries the failure");
      const status = await tm.status();
      check(status.state === "ok" && status.consecutiveFailures === 0 && status.servedFromMemory === 1 && status.lastRenewalAt > 0, `status ${JSON.stringify(status)}`);
      const refusedStatus = await refused.status();
      check(refusedStatus.state === "sign_in_required" && refusedStatus.lastFailure.error === "invalid_grant", `status ${JSON.stringify(refusedStatus)}`);
      for (const e of [...seen, ...published, status, refusedStatus]) {
        const text = `${JSON.stringify(e)}\n${String(Object.values(e))}`;
        for (const secret of secrets) check(!text.includes(secret), `no secret in ${e.type ?? "status"}`);
      }
      if (env.channel) check(published.length === seen.length && published.every((e, i) => e === seen[i]), `the channel got every event (${published.length} of ${seen.length})`);
      else check(published.length === 0, "no channel here");
    } finally {
      env.diagnostics?.unsubscribe("avito-auth:event", onMessage);
    }
  },
  async "refresh_token rotation"(lib, env) {
    const { refresh_token } = await admin(env, "/__refresh");
    const app = new lib.ApplicationAccessApi(new lib.ApiClient(new lib.Configuration({ host: env.mockUrl })));
    const next = await app.refreshAccessTokenAuthorizationCode(ID, SECRET, undefined, refresh_token);
    check(next.refresh_token && next.refresh_token !== refresh_token, "rotated");
    const e = await expectError(lib, app.refreshAccessTokenAuthorizationCode(ID, SECRET, undefined, refresh_token), "oauth", [refresh_token, SECRET]);
    check(e.error === "invalid_grant" && e.status === 400, "invalid_grant");
  },
  async "oauth error"(lib, env) {
    await admin(env, "/__script", [{ status: 200, json: { error: "invalid_client", error_description: "bad secret" } }]);
    const auth = new lib.AvitoAuth({ clientId: ID, clientSecret: "s3cret-value", host: env.mockUrl });
    const e = await expectError(lib, auth.clientCredentials(), "oauth", ["s3cret-value"]);
    check(e.error === "invalid_client" && e.status === 200, "error fields");
    await admin(env, "/__script", [{ status: 503, body: "<html>down</html>" }]);
    await expectError(lib, new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: env.mockUrl, retries: false }).clientCredentials(), "http");
  },
  async "network error"(lib, env) {
    const auth = new lib.AvitoAuth({ clientId: ID, clientSecret: "s3cret-value", host: env.deadUrl, retries: false });
    await expectError(lib, auth.exchangeCode("c0de-value"), "network", ["s3cret-value", "c0de-value"]);
  },
  async "timeout"(lib, env) {
    await admin(env, "/__script", [{ hang: true }]);
    const auth = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: env.mockUrl, timeoutMs: 200, retries: false });
    await expectError(lib, auth.clientCredentials(), "timeout");
    await admin(env, "/__reset", {});
    check((await auth.clientCredentials()).access_token, "works after the timeout");
  },
  async "invalid argument and abort"(lib, env) {
    let threw;
    try { new lib.Configuration({ host: "http://example.com" }); } catch (e) { threw = e; }
    check(threw instanceof lib.ApiException && threw.kind === "invalid_argument", "bad host throws");
    const auth = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: env.mockUrl });
    await expectError(lib, auth.refresh(""), "invalid_argument");
    const ac = new AbortController();
    ac.abort();
    await expectError(lib, auth.clientCredentials({ signal: ac.signal }), "aborted");
  },
  async "sealed store"(lib, env) {
    // WebCrypto in this runtime: HKDF, AES-256-GCM and HMAC from the wasm.
    const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
    // Fixed key bytes: the scenario itself must not need a global crypto (Node 18 has none; the
    // package gets node:crypto's from its entry).
    const OLD = { id: "old", key: b64(Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1)) };
    const NEW = { id: "new", key: Uint8Array.from({ length: 32 }, (_, i) => 255 - i * 3) };
    const inner = new lib.MemoryTokenStore();
    const { refresh_token } = await admin(env, "/__refresh");
    await lib.sealedStore(inner, { keys: [OLD], context: "seller-1" }).compareAndSet(undefined, { access_token: "expired-token-value", refresh_token, expires_at: 0 });
    const raw = JSON.stringify(await inner.get());
    check(!raw.includes(refresh_token.slice(0, 8)) && !raw.includes("expired-"), "no token in the sealed record");
    check(raw.includes('"kid":"old"'), "sealed with the first key");
    // A process that seals with the new key renews through the record the old key sealed.
    const store = lib.sealedStore(inner, { keys: [NEW, OLD], context: "seller-1" });
    const tm = new lib.TokenManager({ auth: new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: env.mockUrl }), grant: "refresh_token", store });
    const token = await tm.getAccessToken();
    const stored = await store.get();
    check(stored.access_token === token && stored.refresh_token !== refresh_token, "the rotation is stored");
    const after = await inner.get();
    check(after.sealed.kid === "new" && !JSON.stringify(after).includes(token.slice(0, 8)), "resealed with the new key, no token");
    // Moved to another seller, or opened without its key: a store error, never an empty store.
    await expectError(lib, lib.sealedStore(inner, { keys: [NEW], context: "seller-2" }).get(), "store", [token]);
    const unknown = await expectError(lib, lib.sealedStore(inner, { keys: [OLD], context: "seller-1" }).get(), "store", [token]);
    check(unknown.message.includes('"new"') && unknown.message.includes("seller-1"), "names the key id and the context");
  },
};

/** Runs every scenario; never throws. */
export async function runScenarios(lib, env) {
  const results = [];
  for (const [name, fn] of Object.entries(scenarios)) {
    try {
      await fn(lib, env);
      results.push({ name, ok: true });
    } catch (e) {
      results.push({ name, ok: false, error: String(e && e.stack || e) });
    }
  }
  return results;
}
