// Custody of a seller's tokens in one process, from the packed tarball against the mock Avito on
// 127.0.0.1: a sign-out (TokenManager.signOut, AccountTokens.signOut) or a store the application
// emptied ends every renewal, also one whose token request is in flight (the mock holds it open
// with `tokenGate`), and its delivered tokens are never written back; delivered tokens whose store
// write failed are handed out at once and written on in the background until stored, so the next
// renewal presents the new refresh token. Every failure is swept for secrets.
import { it, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { startMockAvito } from "../support/mock-avito.mjs";
import { loadBoth } from "../support/load.mjs";
import { mapStores } from "../support/map-store.mjs";

const { esm: lib } = await loadBoth();
const CLIENT_SECRET = "demo-secret";
let mock, auth, shortMock, shortAuth;
/** Every failure a test saw: swept for secrets after each test (`afterEach`). */
let failures = [];

before(async () => {
  mock = await startMockAvito();
  auth = new lib.AvitoAuth({ clientId: "demo-client", clientSecret: CLIENT_SECRET, host: mock.url, retries: false });
  // Tokens that live 30 s are inside the 60 s default skew: every call renews.
  shortMock = await startMockAvito({ expiresIn: 30 });
  shortAuth = new lib.AvitoAuth({ clientId: "demo-client", clientSecret: CLIENT_SECRET, host: shortMock.url, retries: false });
});
after(() => Promise.all([mock.close(), shortMock.close()]));
beforeEach(() => {
  mock.reset();
  shortMock.reset();
  failures = [];
});
afterEach(() => {
  sweepSecrets(mock, failures);
  sweepSecrets(shortMock, failures);
});

/** Every secret `server` has seen or issued: codes, refresh and access tokens, the client secret. */
function secretsOf(server) {
  const secrets = new Set([CLIENT_SECRET, ...server.state.refresh.keys(), ...server.state.access.keys(), ...server.state.codes.keys()]);
  for (const { form } of server.requests) for (const k of ["code", "refresh_token", "client_secret"]) if (form[k]) secrets.add(form[k]);
  return secrets;
}

/** No failure shows a secret in its message, String(), JSON, stack or inspection. */
function sweepSecrets(server, errors) {
  const secrets = secretsOf(server);
  for (const e of errors) {
    const renderings = [e.message, String(e), JSON.stringify(e), e.stack, inspect(e, { depth: 6, showHidden: true })];
    for (const text of renderings) for (const s of secrets) assert.ok(!String(text).includes(s), `a secret in a rendering of ${e.kind}: ${e.message}`);
  }
}

/** The rejection of `promise`, kept for the sweep; fails when it resolves. */
async function rejection(promise) {
  const outcome = await promise.then((v) => ({ resolved: v }), (e) => ({ error: e }));
  assert.ok(outcome.error, "resolved (with a token) instead of rejecting");
  failures.push(outcome.error);
  return outcome.error;
}

const signInRequired = (e) => e instanceof lib.ApiException && e.signInRequired === true;

async function until(condition, what, ms = 20_000) {
  for (const end = Date.now() + ms; !(await condition()); ) {
    if (Date.now() > end) assert.fail(`still not so after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Holds the mock's token requests open until `release()` (tokenGate). */
function holdTokenRequests(server = mock) {
  let release;
  server.tokenGate = new Promise((r) => (release = r));
  return () => {
    server.tokenGate = undefined;
    release();
  };
}

/** A seller's sign-in through the consent flow, its access token already expired. */
const expiredSignIn = async (withAuth = auth, server = mock) => ({ ...(await withAuth.exchangeCode(server.grantCode())), expires_at: Date.now() - 1 });

/** A sign-out's tombstone: `{ signed_out_at }` and nothing else (no token, no mark). */
function isTombstone(set) {
  assert.deepEqual(Object.keys(set ?? {}), ["signed_out_at"], JSON.stringify(set));
  assert.equal(typeof set.signed_out_at, "number");
}

for (const who of ["this manager", "another manager on the same store (another process)"]) {
  it(`signOut() by ${who} while a renewal's token request is in flight: the waiting caller gets signInRequired, the tombstone stays, nothing more is sent`, async () => {
    const signedIn = await expiredSignIn();
    const store = new lib.MemoryTokenStore(signedIn);
    const delivered = [];
    const tm = new lib.TokenManager({ auth, grant: "refresh_token", store, onTokens: (t) => delivered.push(t) });
    const signer = who === "this manager" ? tm : new lib.TokenManager({ auth, grant: "refresh_token", store });
    const release = holdTokenRequests();
    const waiting = rejection(tm.getAccessToken());
    await until(() => mock.counts.refresh === 1, "the refresh reached the server");
    await signer.signOut();
    isTombstone(await store.get());
    release();
    assert.ok(signInRequired(await waiting), "the caller waiting for the renewal");
    // The server did rotate: its answer was delivered and discarded.
    await until(() => mock.state.refresh.size === 1 && !mock.state.refresh.has(signedIn.refresh_token), "the server rotated the presented token");
    isTombstone(await store.get());
    assert.deepEqual(delivered, [], "onTokens never saw the discarded tokens");
    for (const manager of [tm, signer, new lib.TokenManager({ auth, grant: "refresh_token", store })]) {
      assert.ok(signInRequired(await rejection(manager.getAccessToken())));
    }
    assert.equal(mock.counts.refresh, 1, "no token request after the sign-out");
    isTombstone(await store.get());
  });
}

it("signOut() of a manager holding a valid token: the token is not handed out again, and a store's rejections are typed and redacted", async () => {
  const signedIn = await auth.exchangeCode(mock.grantCode());
  const store = new lib.MemoryTokenStore(signedIn);
  const tm = new lib.TokenManager({ auth, grant: "refresh_token", store });
  assert.equal(await tm.getAccessToken(), signedIn.access_token);
  await tm.signOut();
  assert.ok(signInRequired(await rejection(tm.getAccessToken())));
  assert.equal(mock.counts.refresh, 0);

  // A store that rejects every write with what it was given in its message: the sign-out fails
  // as a retryable `store` error within 3 × leaseMs, without the stored tokens in it.
  const make = mapStores();
  const row = make("rejecting");
  assert.equal(await row.compareAndSet(undefined, signedIn), true);
  const rejecting = { ...row, compareAndSet: async (expected, next) => { throw new Error(`db refused ${JSON.stringify({ expected, next })}`); } };
  const doomed = new lib.TokenManager({ auth, grant: "refresh_token", store: rejecting, leaseMs: 100 });
  const e = await rejection(doomed.signOut());
  assert.ok(e instanceof lib.ApiException && e.kind === "store" && e.retryable, `${e.kind}: ${e.message}`);
  assert.match(e.message, /compareAndSet/);
  assert.deepEqual(await row.get(), signedIn, "the stored set is untouched");
});

it("the application deletes the stored set while a renewal is in flight: nothing is written back, the caller gets signInRequired, a new sign-in starts a new chain", async () => {
  const make = mapStores();
  const store = make("deleted");
  const signedIn = await expiredSignIn();
  assert.equal(await store.compareAndSet(undefined, signedIn), true);
  const delivered = [];
  const tm = new lib.TokenManager({ auth, grant: "refresh_token", store, onTokens: (t) => delivered.push(t) });
  const release = holdTokenRequests();
  const waiting = rejection(tm.getAccessToken());
  await until(() => mock.counts.refresh === 1, "the refresh reached the server");
  make.rows.get("deleted").json = undefined; // the application's DELETE
  release();
  assert.ok(signInRequired(await waiting));
  assert.equal(make.rows.get("deleted").json, undefined, "the delivered tokens were not written into the emptied store");
  assert.deepEqual(delivered, []);
  // The manager read a set before: an empty store is a sign-out for it, and nothing is sent.
  assert.ok(signInRequired(await rejection(tm.getAccessToken())));
  assert.equal(mock.counts.refresh, 1);
  assert.equal(make.rows.get("deleted").json, undefined);
  // A new sign-in (a new manager with `tokens`) seeds the empty store and renews from it.
  const again = await expiredSignIn();
  const fresh = new lib.TokenManager({ auth, tokens: again, store });
  const token = await fresh.getAccessToken();
  assert.equal(mock.requests.at(-1).form.refresh_token, again.refresh_token);
  assert.equal((await store.get()).access_token, token);
});

/**
 * A renewal whose store write of the delivered tokens fails: the handle `store` on the row
 * `make(key)` fails every compareAndSet (`outage`: rejects, throws, never settles) for 3 s from
 * just before the token answer arrives. Tokens from `shortMock` live 30 s, inside the 60 s skew:
 * every call renews.
 */
async function renewIntoOutage(outage) {
  const make = mapStores();
  const row = make("outage");
  const signedIn = await expiredSignIn(shortAuth, shortMock);
  assert.equal(await row.compareAndSet(undefined, signedIn), true);
  const outageState = { until: 0, failedWrites: 0, writesAfter: 0 };
  const store = {
    ...row,
    compareAndSet(expected, next) {
      if (Date.now() >= outageState.until) {
        outageState.writesAfter++;
        return row.compareAndSet(expected, next);
      }
      outageState.failedWrites++;
      const error = new Error(`connection lost while writing ${JSON.stringify(next)}`);
      if (outage === "throws") throw error;
      return outage === "rejects" ? Promise.reject(error) : new Promise(() => {});
    },
  };
  const delivered = [];
  const tm = new lib.TokenManager({ auth: shortAuth, grant: "refresh_token", store, leaseMs: 1000, onTokens: (t) => delivered.push(t) });
  const release = holdTokenRequests(shortMock);
  const renewing = tm.getAccessToken();
  await until(() => shortMock.counts.refresh === 1, "the refresh reached the server");
  outageState.until = Date.now() + 3000;
  outageState.writesAfter = 0;
  release();
  const token = await renewing;
  assert.ok(outageState.failedWrites >= 1, "the delivered tokens' write failed");
  assert.equal(delivered.length, 1, "onTokens got the delivered set at once");
  assert.equal(delivered[0].access_token, token);
  assert.notEqual(token, signedIn.access_token);
  const rotated = delivered[0].refresh_token;
  assert.ok(rotated && rotated !== signedIn.refresh_token);
  return { make, row, tm, token, rotated, outageState };
}

for (const outage of ["rejects", "throws", "never settles"]) {
  it(`a store whose compareAndSet ${outage} for 3 s as the token answer arrives: the caller and onTokens get the new set at once, the background write stores it, and the next renewal presents the new refresh token`, async () => {
    const { row, tm, token, rotated } = await renewIntoOutage(outage);
    await until(async () => (await row.get())?.refresh_token === rotated, "the background write stored the delivered set");
    const stored = await row.get();
    assert.equal(stored.access_token, token);
    assert.equal(stored.renewal, undefined, "no renewal mark is left");
    // The next renewal presents the rotated token and the server accepts it: no sign-in.
    const next = await tm.getAccessToken();
    assert.equal(shortMock.counts.refresh, 2);
    assert.equal(shortMock.requests.at(-1).form.refresh_token, rotated);
    assert.notEqual(next, token);
    assert.equal((await row.get()).access_token, next);
  });
}

// During that outage another process (another handle on the row, whose connection works) signs
// the seller out, or stores a new sign-in: the background write finds it and stops. It is given
// the outage and then its longest pause (5 s) to write anything.
for (const meanwhile of ["a sign-out", "a new sign-in"]) {
  it(`the background write of delivered tokens meets ${meanwhile} by another process: it never writes over it`, async () => {
    const { make, row, tm, outageState } = await renewIntoOutage("rejects");
    const accounts = new lib.AccountTokens({ auth: shortAuth, store: (id) => make(id) });
    const again = await expiredSignIn(shortAuth, shortMock);
    if (meanwhile === "a sign-out") await accounts.signOut("outage");
    else await accounts.signIn("outage", again);
    const written = await row.get();
    await new Promise((r) => setTimeout(r, outageState.until + 5500 - Date.now()));
    assert.equal(outageState.writesAfter, 0, "no write from the renewing process after the outage");
    assert.deepEqual(await row.get(), written);
    if (meanwhile === "a sign-out") {
      isTombstone(await row.get());
      assert.ok(signInRequired(await rejection(tm.getAccessToken())), "the delivered tokens are forgotten");
      assert.equal(shortMock.counts.refresh, 1);
    } else {
      await tm.getAccessToken();
      assert.equal(shortMock.counts.refresh, 2);
      assert.equal(shortMock.requests.at(-1).form.refresh_token, again.refresh_token, "the next renewal is the new sign-in's chain");
    }
  });
}

it("a renewal whose store rejects with the tokens in its message fails as `store` without them", async () => {
  const make = mapStores();
  const row = make("leaky");
  const signedIn = await expiredSignIn();
  assert.equal(await row.compareAndSet(undefined, signedIn), true);
  const store = { ...row, compareAndSet: async (expected, next) => { throw new Error(`write failed: ${JSON.stringify({ expected, next })}`); } };
  const tm = new lib.TokenManager({ auth, grant: "refresh_token", store, leaseMs: 200 });
  const e = await rejection(tm.getAccessToken());
  assert.equal(e.kind, "store", e.message);
  assert.equal(mock.counts.refresh, 0, "nothing is presented without a mark");
});

it("AccountTokens.signOut(id) of a cached account (also mid-renewal) and of an uncached one; a later signIn starts a new chain", async () => {
  const make = mapStores();
  const accounts = new lib.AccountTokens({ auth, store: (id) => make(id) });

  // Cached: its manager renewed once; a handle taken before the sign-out is signed out too.
  await accounts.signIn("cached", await expiredSignIn());
  const handle = accounts.manager("cached");
  const first = await handle.getAccessToken();
  assert.equal(mock.counts.refresh, 1);
  assert.equal(accounts.size, 1);
  await accounts.signOut("cached");
  isTombstone(await make("cached").get());
  assert.equal(accounts.size, 0, "the cached manager is dropped");
  assert.ok(signInRequired(await rejection(handle.getAccessToken())), "the handle does not hand out its token");
  assert.ok(signInRequired(await rejection(accounts.manager("cached").getAccessToken())));
  assert.equal(mock.counts.refresh, 1);
  const again = await expiredSignIn();
  await accounts.signIn("cached", again);
  const renewed = await accounts.manager("cached").getAccessToken();
  assert.notEqual(renewed, first);
  assert.equal(mock.counts.refresh, 2);
  assert.equal(mock.requests.at(-1).form.refresh_token, again.refresh_token, "the new sign-in's chain");

  // Cached, with its renewal in flight: the waiting caller gets signInRequired.
  await accounts.signIn("busy", await expiredSignIn());
  const release = holdTokenRequests();
  const waiting = rejection(accounts.manager("busy").getAccessToken());
  await until(() => mock.counts.refresh === 3, "the refresh reached the server");
  await accounts.signOut("busy");
  release();
  assert.ok(signInRequired(await waiting));
  isTombstone(await make("busy").get());
  assert.ok(signInRequired(await rejection(accounts.manager("busy").getAccessToken())));
  assert.equal(mock.counts.refresh, 3);

  // Uncached: a valid set this AccountTokens never used; signing out builds no manager.
  const valid = await auth.exchangeCode(mock.grantCode());
  assert.equal(await make("uncached").compareAndSet(undefined, valid), true);
  const size = accounts.size;
  await accounts.signOut("uncached");
  assert.equal(accounts.size, size);
  isTombstone(await make("uncached").get());
  assert.ok(signInRequired(await rejection(accounts.manager("uncached").getAccessToken())), "the valid access token is not handed out");
  assert.equal(mock.counts.refresh, 3);
  const back = await auth.exchangeCode(mock.grantCode());
  await accounts.signIn("uncached", back);
  assert.equal(await accounts.manager("uncached").getAccessToken(), back.access_token);

  // Bad ids are refused before any store is made.
  for (const id of ["", 42, undefined]) {
    const e = await rejection(Promise.resolve().then(() => accounts.signOut(id)));
    assert.equal(e.kind, "invalid_argument", String(id));
  }
});

it("a renewal started just before signOut() (not yet running) is discarded: the old token is not handed out after the sign-out resolves", async () => {
  const store = new lib.MemoryTokenStore(await auth.exchangeCode(mock.grantCode()));
  const tm = new lib.TokenManager({ auth, grant: "refresh_token", store });
  const early = tm.getAccessToken().catch((e) => e); // its renewal task has not run yet
  await tm.signOut();
  const first = await early;
  failures.push(first);
  assert.ok(first instanceof lib.ApiException && first.signInRequired, `the call started before the sign-out: ${first}`);
  const after = await tm.getAccessToken().catch((e) => e);
  failures.push(after);
  assert.equal(after.kind, "sign_in_required", String(after));
  assert.deepEqual(Object.keys(await store.get()), ["signed_out_at"]);
});

it("signOut() of a client_credentials manager is refused (no seller to sign out), and AccountTokens.signIn stores a set without the protocol's own members", async () => {
  const app = new lib.TokenManager({ auth, grant: "client_credentials" });
  const err = await app.signOut().catch((e) => e);
  failures.push(err);
  assert.equal(err.kind, "invalid_argument", String(err));
  const stores = new Map();
  const accounts = new lib.AccountTokens({ auth, store: (id) => stores.get(id) ?? stores.set(id, new lib.MemoryTokenStore()).get(id) });
  const ts = await auth.exchangeCode(mock.grantCode());
  await accounts.signIn("a", { ...ts, signed_out_at: 1, renewal: { id: "x", presented_at: 1, answer_by: 2 }, refresh_refused_at: 1 });
  const stored = await stores.get("a").get();
  assert.equal(stored.refresh_token, ts.refresh_token);
  for (const member of ["signed_out_at", "renewal", "refresh_refused_at"]) assert.equal(member in stored, false, member);
  assert.match(await accounts.manager("a").getAccessToken(), /^at_/);
  await assert.rejects(accounts.signIn("b", { ...ts, renewal: "not a mark" }), (e) => e.kind === "invalid_argument");
});
