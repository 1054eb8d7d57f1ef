// Differential tests against the platform's own parsers, run on the packed tarball in both module
// systems (loadBoth), through the public API only:
// - form encoding: for seeded random Unicode strings (every plane, `&=+%`, spaces, controls,
//   U+FFFD…), the platform's URLSearchParams decodes the body we hand to `fetch` back to exactly
//   the arguments, in order, for every grant and both layers;
// - the authorization URL: `new URL(url)` leaves it as it is, and its searchParams give back
//   exactly client_id, scope, state and redirect_uri;
// - response decoding: a token whose characters are not RFC 6749 VSCHAR (%x20-7E) — controls,
//   DEL, non-ASCII, U+FFFD from invalid UTF-8 a server sent — is `invalid_response`, while any
//   Unicode in `scope`, split anywhere across body chunks, comes back exactly.
// DIFF_CASES (default 3000) sets the number of random cases per check.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadBoth } from "../support/load.mjs";
import { prng } from "../support/prng.mjs";

const mods = await loadBoth();
const CASES = Number(process.env.DIFF_CASES ?? 3000);
const TOKEN = '{"access_token":"a","expires_in":1}';


// What form and URL encoders get wrong: separators, the escape character itself, `+` vs space,
// characters some encoders leave alone, line breaks and NUL, U+FFFD (which the wasm boundary
// must not confuse with a lone surrogate), the BOM and noncharacters.
const SPECIAL = ["&", "=", "+", "%", " ", "%20", "%2B", "%%", "+=", "&=", "?", "#", "/", ":", ",", ";", "\t", "\n", "\r", "\0",
  "~", "*", "'", "(", ")", "!", "\\", '"', "<", ">", "[", "]", "@", "$", "\uFFFD", "\uFEFF", "\uFFFF", "\u00A0", "\u2028", "\u{10FFFF}", "\u{1F600}"];

function randomChar(r) {
  const k = r();
  if (k < 0.3) return SPECIAL[Math.floor(r() * SPECIAL.length)];
  if (k < 0.5) return String.fromCharCode(0x20 + Math.floor(r() * 0x5f)); // printable ASCII
  if (k < 0.55) return String.fromCharCode(Math.floor(r() * 0x20)); // C0 controls
  if (k < 0.6) return String.fromCharCode(0x7f + Math.floor(r() * 0x81)); // DEL, C1, Latin-1
  if (k < 0.8) { // the rest of the BMP, never a lone surrogate
    let c;
    do c = Math.floor(r() * 0x10000); while (c >= 0xd800 && c <= 0xdfff);
    return String.fromCharCode(c);
  }
  return String.fromCodePoint(0x10000 + Math.floor(r() * 0x100000)); // planes 1–16 (surrogate pairs)
}

/** A non-empty random string (every argument of the API must be non-empty). */
function randomString(r, max = 24) {
  const n = 1 + Math.floor(r() * max);
  let s = "";
  for (let i = 0; i < n; i++) s += randomChar(r);
  return s;
}

/** The body is only unreserved characters, `%XX`, `&` and `=`, and decodes to exactly `expected`. */
function assertForm(body, expected, label) {
  assert.equal(typeof body, "string", `${label}: body is not a string`);
  assert.match(body, /^[A-Za-z0-9._~%&=-]*$/, `${label}: body holds a character that must be escaped: ${body}`);
  assert.deepEqual([...new URLSearchParams(body)], expected, `${label}: ${body}`);
}

for (const [system, lib] of Object.entries(mods)) {
  describe(`differential (${system})`, () => {
    /** A fetch double that records (url, init) and answers with a token. */
    function capture() {
      const seen = [];
      const fetch = async (url, init) => {
        seen.push({ url, init });
        return new Response(TOKEN);
      };
      return { seen, fetch };
    }

    it("form bodies: URLSearchParams decodes exactly the arguments (seed-shaped layer)", async () => {
      const { seen, fetch } = capture();
      const client = new lib.ApiClient(new lib.Configuration({ fetch, retries: false }));
      const access = new lib.AccessApi(client);
      const app = new lib.ApplicationAccessApi(client);
      const r = prng(0x5eed0001);
      for (let i = 0; i < CASES; i++) {
        const [id, secret, code, rt] = [randomString(r), randomString(r), randomString(r), randomString(r)];
        seen.length = 0;
        await access.getAccessToken(id, secret);
        await app.getAccessTokenAuthorizationCode(id, secret, code);
        await app.refreshAccessTokenAuthorizationCode(id, secret, undefined, rt);
        assert.equal(seen.length, 3);
        const label = `case ${i} ${JSON.stringify([id, secret, code, rt])}`;
        for (const { url, init } of seen) {
          assert.equal(url, "https://api.avito.ru/token");
          assert.equal(init.method, "POST");
          assert.match(new Headers(init.headers).get("content-type") ?? "", /^application\/x-www-form-urlencoded/);
        }
        assertForm(seen[0].init.body, [["grant_type", "client_credentials"], ["client_id", id], ["client_secret", secret]], label);
        assertForm(seen[1].init.body, [["grant_type", "authorization_code"], ["client_id", id], ["client_secret", secret], ["code", code]], label);
        assertForm(seen[2].init.body, [["grant_type", "refresh_token"], ["client_id", id], ["client_secret", secret], ["refresh_token", rt]], label);
      }
    });

    it("form bodies: URLSearchParams decodes exactly the arguments (AvitoAuth, with redirect_uri)", async () => {
      const { seen, fetch } = capture();
      const r = prng(0x5eed0002);
      for (let i = 0; i < CASES; i++) {
        const [id, secret, code, rt, redirectUri] = [randomString(r), randomString(r), randomString(r), randomString(r), randomString(r, 40)];
        const auth = new lib.AvitoAuth({ clientId: id, clientSecret: secret, fetch, retries: false });
        seen.length = 0;
        await auth.exchangeCode(code, { redirectUri });
        await auth.exchangeCode(code);
        await auth.refresh(rt);
        await auth.clientCredentials();
        const label = `case ${i} ${JSON.stringify([id, secret, code, rt, redirectUri])}`;
        assertForm(seen[0].init.body, [["grant_type", "authorization_code"], ["client_id", id], ["client_secret", secret], ["code", code], ["redirect_uri", redirectUri]], label);
        assertForm(seen[1].init.body, [["grant_type", "authorization_code"], ["client_id", id], ["client_secret", secret], ["code", code]], label);
        assertForm(seen[2].init.body, [["grant_type", "refresh_token"], ["client_id", id], ["client_secret", secret], ["refresh_token", rt]], label);
        assertForm(seen[3].init.body, [["grant_type", "client_credentials"], ["client_id", id], ["client_secret", secret]], label);
      }
    });

    it("the authorization URL: new URL() keeps it as is and gives back every parameter", () => {
      const r = prng(0x5eed0003);
      for (let i = 0; i < CASES; i++) {
        const clientId = randomString(r);
        const scopes = Array.from({ length: 1 + Math.floor(r() * 4) }, () => randomString(r, 12));
        const scope = r() < 0.5 ? scopes : scopes.join(",");
        const state = randomString(r, 40);
        const redirectUri = r() < 0.7 ? randomString(r, 40) : undefined;
        const authorizeUrl = r() < 0.5 ? undefined : "https://id.example:8443/base/oauth";
        const auth = new lib.AvitoAuth({ clientId, clientSecret: "s", authorizeUrl });
        const got = auth.authorizationUrl({ scope, state, redirectUri });
        const label = `case ${i} ${JSON.stringify({ clientId, scope, state, redirectUri })}`;
        assert.equal(got.state, state, label);
        const base = authorizeUrl ?? "https://avito.ru/oauth";
        assert.ok(got.url.startsWith(`${base}?`), `${label}: ${got.url}`);
        const query = got.url.slice(base.length + 1);
        // Only unreserved characters, %XX, & and =, plus the literal , and : Avito documents.
        assert.match(query, /^[A-Za-z0-9._~%&=,:-]*$/, `${label}: ${got.url}`);
        const url = new URL(got.url);
        assert.equal(url.href, got.url, `${label}: the URL parser rewrote the URL`);
        const expected = [["response_type", "code"], ["pro_users_flow", "true"], ["client_id", clientId], ["scope", scopes.join(",")], ["state", state]];
        if (redirectUri !== undefined) expected.push(["redirect_uri", redirectUri]);
        assert.deepEqual([...url.searchParams], expected, label);
        assert.deepEqual([...new URLSearchParams(query)], expected, label);
      }
    });

    it("a generated state survives the round trip too", () => {
      const auth = new lib.AvitoAuth({ clientId: "id", clientSecret: "s" });
      for (let i = 0; i < 200; i++) {
        const { url, state } = auth.authorizationUrl({ scope: ["messenger:read", "items:info"] });
        const p = new URL(url).searchParams;
        assert.equal(p.get("state"), state);
        assert.equal(p.get("scope"), "messenger:read,items:info");
        assert.ok(url.includes("&scope=messenger:read,items:info&"), url);
      }
    });

    it("empty strings are refused wherever a string is taken, before anything is sent", async () => {
      const { seen, fetch } = capture();
      const client = new lib.ApiClient(new lib.Configuration({ fetch, retries: false }));
      const access = new lib.AccessApi(client);
      const app = new lib.ApplicationAccessApi(client);
      const auth = new lib.AvitoAuth({ clientId: "id", clientSecret: "s", fetch, retries: false });
      const refused = async (promise) => {
        const err = await promise.then(() => assert.fail("expected invalid_argument"), (e) => e);
        assert.ok(err instanceof lib.ApiException, String(err));
        assert.equal(err.kind, "invalid_argument");
      };
      const throws = (fn) => {
        let err;
        try { fn(); } catch (e) { err = e; }
        assert.ok(err instanceof lib.ApiException, String(err));
        assert.equal(err.kind, "invalid_argument");
      };
      await refused(access.getAccessToken("", "s"));
      await refused(access.getAccessToken("id", ""));
      await refused(app.getAccessTokenAuthorizationCode("id", "s", ""));
      await refused(app.refreshAccessTokenAuthorizationCode("id", "s", undefined, ""));
      await refused(auth.exchangeCode(""));
      await refused(auth.exchangeCode("c", { redirectUri: "" }));
      await refused(auth.refresh(""));
      throws(() => new lib.AvitoAuth({ clientId: "", clientSecret: "s" }));
      throws(() => new lib.AvitoAuth({ clientId: "id", clientSecret: "" }));
      throws(() => auth.authorizationUrl({ scope: "" }));
      throws(() => auth.authorizationUrl({ scope: ["a", ""] }));
      throws(() => auth.authorizationUrl({ scope: "a", state: "" }));
      throws(() => auth.authorizationUrl({ scope: "a", redirectUri: "" }));
      assert.equal(seen.length, 0);
    });

    describe("token strings that are not RFC 6749 VSCHAR are invalid_response", () => {
      const enc = new TextEncoder();
      /** A response to every request, made fresh each time. */
      const answering = (make) => async () => make();
      const bytes = (...parts) => new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...enc.encode(p)] : p)));
      const invalid = [
        ["a control character (JSON escape)", () => new Response('{"access_token":"a\\u0001b","expires_in":1}')],
        ["a tab", () => new Response('{"access_token":"a\\tb"}')],
        ["a line feed", () => new Response('{"access_token":"a\\nb"}')],
        ["NUL", () => new Response('{"access_token":"a\\u0000"}')],
        ["DEL", () => new Response('{"access_token":"a\\u007f"}')],
        ["a C1 control", () => new Response('{"access_token":"a\\u0085"}')],
        ["non-ASCII (raw UTF-8)", () => new Response('{"access_token":"é"}')],
        ["non-ASCII (escaped)", () => new Response('{"access_token":"\\u00e9"}')],
        ["an astral character", () => new Response('{"access_token":"a\u{1F600}"}')],
        ["U+FFFD sent as such", () => new Response('{"access_token":"a\uFFFD"}')],
        ["invalid UTF-8 bytes (U+FFFD once decoded)", () => new Response(bytes('{"access_token":"a', [0xc3, 0x28], 'b","expires_in":1}'))],
        ["a lone continuation byte", () => new Response(bytes('{"access_token":"', [0x80], '"}'))],
        ["a truncated 3-byte sequence", () => new Response(bytes('{"access_token":"x', [0xe2, 0x82], '"}'))],
        ["an overlong encoding", () => new Response(bytes('{"access_token":"', [0xc0, 0xaf], '"}'))],
        ["a UTF-16 surrogate encoded in UTF-8", () => new Response(bytes('{"access_token":"', [0xed, 0xa0, 0x80], '"}'))],
        ["a lone surrogate escape", () => new Response('{"access_token":"a\\ud800"}')],
        ["a refresh_token with a control character", () => new Response('{"access_token":"a","refresh_token":"r\\u001f"}')],
        ["a refresh_token with invalid UTF-8", () => new Response(bytes('{"access_token":"a","refresh_token":"r', [0xff], '"}'))],
        ["a refresh_token with non-ASCII", () => new Response('{"access_token":"a","refresh_token":"ключ"}')],
      ];
      for (const [what, make] of invalid) {
        it(what, async () => {
          const auth = new lib.AvitoAuth({ clientId: "id", clientSecret: "s", fetch: answering(make), retries: false });
          for (const call of [() => auth.clientCredentials(), () => auth.refresh("r"), () => auth.exchangeCode("c")]) {
            const err = await call().then((v) => assert.fail(`accepted: ${JSON.stringify(v)}`), (e) => e);
            assert.ok(err instanceof lib.ApiException, String(err));
            assert.equal(err.kind, "invalid_response", err.message);
            assert.equal(err.status, 200);
            assert.equal(err.retryable, false);
          }
        });
      }

      it("every printable ASCII token (VSCHAR, space included) is accepted as is", async () => {
        let vschar = "";
        for (let c = 0x20; c <= 0x7e; c++) vschar += String.fromCharCode(c);
        const body = JSON.stringify({ access_token: vschar, refresh_token: vschar.split("").reverse().join(""), expires_in: 5 });
        const auth = new lib.AvitoAuth({ clientId: "id", clientSecret: "s", fetch: answering(() => new Response(body)), retries: false });
        const ts = await auth.refresh("r");
        assert.equal(ts.access_token, vschar);
        assert.equal(ts.refresh_token, vschar.split("").reverse().join(""));
      });

      it("any Unicode in scope comes back exactly, however the body is split into chunks", async () => {
        const r = prng(0x5eed0004);
        for (let i = 0; i < Math.min(CASES, 1000); i++) {
          const scope = randomString(r, 30);
          const raw = enc.encode(JSON.stringify({ access_token: "AT", scope }));
          const cuts = [0, ...Array.from({ length: 3 }, () => Math.floor(r() * raw.length)).sort((a, b) => a - b), raw.length];
          const make = () => new Response(new ReadableStream({
            start(c) {
              for (let k = 1; k < cuts.length; k++) if (cuts[k] > cuts[k - 1]) c.enqueue(raw.slice(cuts[k - 1], cuts[k]));
              c.close();
            },
          }));
          const auth = new lib.AvitoAuth({ clientId: "id", clientSecret: "s", fetch: answering(make), retries: false });
          const ts = await auth.clientCredentials();
          assert.equal(ts.scope, scope, `case ${i} cuts ${cuts}`);
        }
      });
    });
  });
}
