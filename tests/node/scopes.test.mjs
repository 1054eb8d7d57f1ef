// A 403 that knows its scope (issue 21): `requiredScopes` against Avito's published operations,
// and `tm.fetch` against the mock Avito on 127.0.0.1 answering 403 to a token whose grant lacks
// a path's scope: no renewal when the token's set shows the declared scope was never granted,
// the recovery of today otherwise. From the packed tarball.
import { describe, it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { loadBoth } from "../support/load.mjs";

const { esm, cjs } = await loadBoth();
// Next to the repository, as in CI; absent, this file fails (it is what the table was made from).
const reference = JSON.parse(readFileSync(new URL("../../../shared/reference/avito-api-operations.json", import.meta.url), "utf8"));

const AVITO = "https://api.avito.ru";
const SELF = "/core/v1/accounts/self"; // GET, declares user:read

describe("requiredScopes", () => {
  for (const [name, lib] of [["ESM", esm], ["CJS", cjs]]) {
    it(`${name}: every published operation on Avito's API host answers the scopes it declares`, () => {
      let checked = 0;
      for (const op of reference.operations) {
        const path = op.path.replace(/\{[^}]+\}/g, "v-1");
        const got = lib.requiredScopes(op.method, `${AVITO}${path}?limit=1`);
        if (op.server === AVITO) {
          assert.deepEqual(got, op.authorization_code ?? [], `${op.method} ${op.path}`);
          checked++;
        } else {
          assert.equal(lib.requiredScopes(op.method, `${op.server}${path}`), undefined, `${op.server}${op.path}`);
        }
      }
      assert.ok(checked >= 170, `${checked} operations`);
    });
  }

  it("templates, a trailing slash either way, any method case, a URL object", () => {
    const { requiredScopes } = esm;
    assert.deepEqual(requiredScopes("GET", `${AVITO}/core/v1/accounts/123/balance/`), ["user_balance:read"]);
    assert.deepEqual(requiredScopes("get", `${AVITO}/core/v1/accounts/123/balance`), ["user_balance:read"]);
    assert.deepEqual(requiredScopes("Get", new URL(`${AVITO}${SELF}/#x`)), ["user:read"]);
    assert.deepEqual(requiredScopes("GET", "HTTPS://API.AVITO.RU:443/core/v1/accounts/self"), ["user:read"]);
    assert.deepEqual(requiredScopes("POST", `${AVITO}/token`), [], "an operation that declares no scope");
  });

  it("undefined for an unknown operation or another host; `host` names the API's base", () => {
    const { requiredScopes } = esm;
    assert.equal(requiredScopes("DELETE", `${AVITO}${SELF}`), undefined);
    assert.equal(requiredScopes("GET", `${AVITO}/core/v1/accounts//balance/`), undefined);
    assert.equal(requiredScopes("GET", `${AVITO}/core/v1/nothing`), undefined);
    assert.equal(requiredScopes("GET", `https://api.avito.ru.example${SELF}`), undefined);
    assert.equal(requiredScopes("GET", `http://127.0.0.1:9${SELF}`), undefined);
    assert.deepEqual(requiredScopes("GET", `http://127.0.0.1:9${SELF}`, "http://127.0.0.1:9"), ["user:read"]);
    assert.deepEqual(requiredScopes("GET", `https://proxy.example/avito${SELF}`, "https://proxy.example/avito/"), ["user:read"]);
    assert.equal(requiredScopes("GET", `${AVITO}${SELF}`, "https://proxy.example/avito"), undefined);
  });

  it("bad arguments are ApiException invalid_argument, named", () => {
    for (const lib of [esm, cjs]) {
      const cases = [
        [[undefined, `${AVITO}${SELF}`], /method must be a non-empty string/],
        [["", `${AVITO}${SELF}`], /method must be a non-empty string/],
        [["GET", 42], /url must be a non-empty string/],
        [["GET", "/core/v1/accounts/self"], /url must be an absolute URL/],
        [["GET", `${AVITO}${SELF}`, "ftp://api.avito.ru"], /^host must be an absolute https:\/\/ URL/],
        [["GET", `${AVITO}${SELF}`, 7], /^host must be an absolute https:\/\/ URL/],
      ];
      for (const [args, message] of cases) {
        assert.throws(() => lib.requiredScopes(...args), (e) => e instanceof lib.ApiException && e.kind === "invalid_argument" && message.test(e.message), JSON.stringify(args));
      }
    }
  });
});

describe("tm.fetch on a 403", () => {
  let mock, other, auth;
  before(async () => {
    [mock, other] = await Promise.all([startMockAvito(), startMockAvito()]);
    auth = new esm.AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: mock.url });
  });
  after(() => Promise.all([mock.close(), other.close()]));
  beforeEach(() => { mock.reset(); other.reset(); });

  /** A seller's tokens granted `scope` and a manager for them; the token request counts from 0. */
  const seller = async (scope, edit = (t) => t) => {
    const tokens = edit(await auth.exchangeCode(mock.grantCode("demo-client", scope)));
    mock.counts.token = 0;
    return new esm.TokenManager({ auth, tokens });
  };
  const refused = async (res, scope) => {
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("x-mock-scope"), scope, "the API's own response");
    assert.deepEqual(await res.json(), { error: { code: 403, message: `Forbidden: no ${scope}` } });
  };

  it("an operation whose declared scope was not granted: handed back unchanged, no token request, no second call", async () => {
    mock.apiScopes = { [SELF]: "user:read" };
    const tm = await seller("messenger:read");
    const url = `${mock.url}${SELF}`;
    const calls = [
      () => tm.fetch(url), // the first call reads the store (general path)
      () => tm.fetch(url), // a cached token (the fast path)
      () => tm.fetch(new URL(`${url}?a=1`)),
      () => tm.fetch(url, { headers: { "x-a": "1" } }),
      () => tm.fetch(new Request(url, { method: "get" })),
    ];
    for (const [i, call] of calls.entries()) {
      await refused(await call(), "user:read");
      assert.equal(mock.apiCalls, i + 1, `call ${i}: sent once`);
    }
    assert.equal(mock.counts.token, 0, "no renewal");
    // Only `scope` (a set saved before `scopes` existed) tells the same.
    const older = await seller("messenger:read", ({ scopes, ...set }) => set);
    await refused(await older.fetch(url), "user:read");
    assert.equal(mock.counts.token, 0);
  });

  it("an operation whose declared scope was granted: one renewal and the call again, as before", async () => {
    mock.apiScopes = { [SELF]: "user:read" };
    const tm = await seller("messenger:read,user:read");
    const url = `${mock.url}${SELF}`;
    assert.equal((await tm.fetch(url)).status, 200);
    await fetch(`${mock.url}/__expire`, { method: "POST" });
    assert.equal((await tm.fetch(url)).status, 200, "renewed and sent again (fast path)");
    assert.equal(mock.counts.refresh, 1);
    const again = await seller("messenger:read,user:read");
    await fetch(`${mock.url}/__expire`, { method: "POST" });
    assert.equal((await again.fetch(url, { method: "GET", headers: { "x-a": "1" } })).status, 200, "general path");
    assert.equal(mock.counts.refresh, 2);
  });

  it("a set that names no scope, an unknown path, another host: recovered from as before", async () => {
    const unknown = "/core/v1/not-an-operation";
    mock.apiScopes = { [SELF]: "user:read", [unknown]: "user:read" };
    const cases = [
      ["no scope named", await seller("messenger:read", ({ scopes, scope, ...set }) => set), `${mock.url}${SELF}`],
      ["unknown path", await seller("messenger:read"), `${mock.url}${unknown}`],
    ];
    for (const [what, tm, url] of cases) {
      mock.counts.refresh = 0;
      const res = await tm.fetch(url);
      assert.equal(res.status, 403, what);
      assert.equal(mock.counts.refresh, 1, `${what}: one renewal`);
    }
    // Avito's operation path on a host that is not the manager's: that host knows no token.
    const tm = await seller("messenger:read");
    mock.counts.refresh = 0;
    const res = await tm.fetch(`${other.url}${SELF}`);
    assert.equal(res.status, 403);
    assert.equal(mock.counts.refresh, 1, "one renewal");
    assert.equal(other.apiCalls, 2, "sent again after it");
  });
});
