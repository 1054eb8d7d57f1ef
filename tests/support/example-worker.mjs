// A Worker from this repository under workerd, against the packed avito-auth of the scratch
// project, and the renewal storm the example Workers (examples/worker-*/worker.mjs) are tested with.
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import path from "node:path";
import { ROOT, SCRATCH } from "./load.mjs";
import { bundleWithWrangler, startWorker } from "./worker.mjs";

/**
 * Copies `source` (a module Worker, relative to the repository) into the scratch project as
 * `<name>.mjs`, so that `import "avito-auth"` resolves to the tarball, bundles it with wrangler
 * into `<name>/` and runs it; `options` go to Miniflare (bindings, d1Databases, durableObjects…).
 */
export async function startRepoWorker(source, name, options = {}) {
  const entry = path.join(SCRATCH, `${name}.mjs`);
  copyFileSync(path.join(ROOT, source), entry);
  return startWorker(await bundleWithWrangler(entry, path.join(SCRATCH, name)), options);
}

/** The example Workers' ADMIN_TOKEN secret in the tests, and the header that carries it. */
export const ADMIN_TOKEN = "admin-7c1e5b2f9d4a8e63";
const credential = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** A request to an example Worker with the credential. */
export const authed = (mf, url, init = {}) => mf.dispatchFetch(url, { ...init, headers: { ...credential, ...init.headers } });

/**
 * Stores an expired TokenSet for `account` (POST /tokens; its refresh token is one the mock
 * accepts), then sends `requests` concurrent GET /profile. Every request must be answered 200 with
 * the account's JSON, the token renewed by exactly one refresh grant (one new access token: the
 * mock refuses the expired one with 403, so a request without the renewed token would either
 * fail or renew again). Resolves with the stored set's refresh token presented.
 */
export async function renewalStorm(mf, mock, { account = "42", requests = 60 } = {}) {
  const expired = { access_token: "expired", refresh_token: mock.grantRefresh(), expires_in: 86400, token_type: "Bearer", expires_at: Date.now() - 1000 };
  const stored = await authed(mf, `http://w/tokens?account=${account}`, { method: "POST", body: JSON.stringify(expired) });
  assert.equal(await stored.text(), "stored\n");
  const refreshesBefore = mock.counts.refresh;
  const responses = await Promise.all(Array.from({ length: requests }, () => authed(mf, `http://w/profile?account=${account}`)));
  const bodies = await Promise.all(responses.map((r) => r.text()));
  assert.deepEqual(responses.map((r) => r.status).filter((s) => s !== 200), [], bodies.find((b) => !b.startsWith("{\"id\"")));
  for (const body of bodies) assert.deepEqual(JSON.parse(body), { id: 1, client_id: "demo-client", name: "Mock account" });
  assert.equal(mock.counts.refresh - refreshesBefore, 1, "exactly one refresh reached the token server");
  return expired.refresh_token;
}

/** The example Workers' bindings against `mock`, sealing with AVITO_SEAL_KEYS when `sealKeys` is given. */
export const exampleBindings = (mock, sealKeys) => ({
  AVITO_CLIENT_ID: "demo-client", AVITO_CLIENT_SECRET: "demo-secret", AVITO_HOST: mock.url, ADMIN_TOKEN, ...(sealKeys ? { AVITO_SEAL_KEYS: sealKeys } : {}),
});

/**
 * A renewal storm for each of `accounts`, then Avito expires every token (403) and each account's
 * next API call renews once more: 2 refreshes per account, every call answered 200.
 */
export async function renewEach(mf, mock, accounts) {
  for (const account of accounts) await renewalStorm(mf, mock, { account, requests: 20 });
  await fetch(`${mock.url}/__expire`, { method: "POST" });
  for (const account of accounts) assert.equal((await authed(mf, `http://w/profile?account=${account}`)).status, 200, `${account}: renewed after the 403`);
  assert.equal(mock.counts.refresh, 2 * accounts.length, "one renewal per account, then one after the 403");
}

/**
 * Without the credential (none, a wrong one, one of another length, another scheme, the right
 * one with a suffix) every route answers 401 and nothing else: no token, no account data, and a
 * POST /tokens stores nothing. `account` is one with tokens stored.
 */
export async function assertLockedOut(mf, mock, account) {
  const refreshesBefore = mock.counts.refresh;
  const wrong = [{}, { authorization: "Bearer wrong" }, { authorization: `Bearer ${"x".repeat(ADMIN_TOKEN.length)}` },
    { authorization: ADMIN_TOKEN }, { authorization: `Basic ${ADMIN_TOKEN}` }, { authorization: `Bearer ${ADMIN_TOKEN}x` }, { authorization: "Bearer " }];
  const stolen = { access_token: "at_attacker", refresh_token: "rt_attacker", expires_in: 86400, expires_at: Date.now() + 86400_000 };
  for (const headers of wrong) {
    for (const [url, init] of [
      [`http://w/profile?account=${account}`, {}], [`http://w/token?account=${account}`, {}], [`http://w/self?account=${account}`, {}],
      [`http://w/tokens?account=${account}`, { method: "POST", body: JSON.stringify(stolen) }], ["http://w/", {}],
    ]) {
      const res = await mf.dispatchFetch(url, { ...init, headers });
      const body = await res.text();
      assert.equal(res.status, 401, `${JSON.stringify(headers)} ${url}: ${body}`);
      assert.equal(body, "unauthorized\n");
      const issued = [...mock.state.access.keys(), ...mock.state.refresh.keys()];
      for (const t of issued) assert.ok(!body.includes(t) && ![...res.headers.values()].some((v) => v.includes(t)), "a token in a 401");
    }
  }
  assert.equal(mock.counts.refresh, refreshesBefore, "nothing was renewed for an unauthenticated caller");
  // The stored tokens are the account's own still: the authenticated path works with them.
  const self = await authed(mf, `http://w/profile?account=${account}`);
  assert.equal(self.status, 200);
  assert.deepEqual(await self.json(), { id: 1, client_id: "demo-client", name: "Mock account" });
  // And even authenticated, no route hands out a token.
  for (const path of ["/token", "/self"]) assert.equal((await authed(mf, `http://w${path}?account=${account}`)).status, 404, path);
}
