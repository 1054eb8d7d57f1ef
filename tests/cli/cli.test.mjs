// The `avito-auth` command line from the packed tarball, installed in a scratch project, run as
// real processes against the mock Avito on 127.0.0.1: every command, exit codes, the loopback
// login clicked through in Chromium, the paste mode on stdin, profile files (mode 0600, under
// $XDG_CONFIG_HOME), no secret in any output, and two processes sharing one renewal.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import dns from "node:dns/promises";
import http from "node:http";
import net from "node:net";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, closedPort } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { launchChromium } from "../support/browser.mjs";

const SCRATCH = path.join(ROOT, "tests/.scratch/cli");
const BIN = path.join(SCRATCH, "node_modules/.bin/avito-auth");
const CLIENT = "cli-client";
const SECRET = "cli-SECRET-7f3a9c-do-not-print";
const RUN_TIMEOUT_MS = 30_000;
const PRELOAD = `--import=${pathToFileURL(path.join(ROOT, "tests/support/cli-preload.mjs")).href}`;

let mock, home, config;
const outputs = []; // every stdout and stderr, for the secret sweep at the end

function env(extra = {}) {
  const base = {
    PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: config, AVITO_HOST: mock.url,
    AVITO_AUTHORIZE_URL: `${mock.url}/oauth`, AVITO_AUTH_NO_BROWSER: "1",
    AVITO_CLIENT_ID: CLIENT, AVITO_CLIENT_SECRET: SECRET,
  };
  const out = { ...base, ...extra };
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out;
}

/** Starts the CLI; `done` resolves to { code, stdout, stderr } (killed after RUN_TIMEOUT_MS). */
function start(args, { env: extra, stdin } = {}) {
  const child = spawn(BIN, args, { cwd: SCRATCH, env: env(extra), stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  if (stdin !== undefined) child.stdin.end(stdin);
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
  const done = new Promise((resolve) => child.on("close", (code, signal) => {
    clearTimeout(timer);
    outputs.push(stdout, stderr);
    resolve({ code: signal ? `signal ${signal}` : code, stdout, stderr });
  }));
  return { child, done, stderrText: () => stderr };
}
const run = (args, opts) => start(args, { stdin: "", ...opts }).done;

/** Waits (bounded) until `predicate()` is truthy. */
async function until(predicate, what, ms = 15_000) {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 20))) {
    const v = predicate();
    if (v) return v;
  }
  assert.fail(`timed out waiting for ${what}`);
}
const urlIn = (text) => /^\s+(http\S+)$/m.exec(text)?.[1];
const profileFile = (name = "default") => path.join(config, "avito-auth", `${name}.json`);
const readProfile = (name) => JSON.parse(readFileSync(profileFile(name), "utf8"));
const oneLineError = (r) => {
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line expected:\n${r.stderr}`);
  assert.match(r.stderr, /^avito-auth: \S/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
};

/** What Avito's consent page does when the seller clicks Allow: the redirect with a code. */
async function consent(url, allow = true) {
  const u = new URL(url);
  const decide = new URL("/oauth/decide", mock.url);
  for (const k of ["client_id", "scope", "state", "redirect_uri"]) decide.searchParams.set(k, u.searchParams.get(k) ?? "");
  decide.searchParams.set("allow", allow ? "1" : "0");
  const res = await fetch(decide, { redirect: "manual" });
  return res.headers.get("location");
}

/** A server on 127.0.0.1 that records every request: /token grants client_credentials, anything else echoes the body. */
async function startRecordingServer() {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c)).on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method, url: req.url, body });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(req.url === "/token" ? { access_token: "at_recorded", expires_in: 3600, token_type: "Bearer" } : { echoed: body }));
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

/** Sends `raw` bytes to 127.0.0.1:port; resolves to what came back before the connection closed. */
function rawRequest(port, raw) {
  return new Promise((resolve, reject) => {
    let got = "";
    const socket = net.connect(port, "127.0.0.1", () => socket.write(raw));
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer to ${JSON.stringify(raw.slice(0, 30))}`)); }, 10_000);
    socket.setEncoding("latin1").on("data", (d) => (got += d));
    // The server may answer and close before reading all of a huge request: a reset is expected.
    socket.on("error", () => {}).on("close", () => { clearTimeout(timer); resolve(got); });
  });
}

/** Makes the profile's access token expired, so that the next user-token renews it. */
function expireProfile(name, saved = readProfile(name)) {
  writeFileSync(profileFile(name), JSON.stringify({ ...saved, tokens: { ...saved.tokens, expires_at: Date.now() - 1000 } }));
}

/** Signs in through the paste mode; returns the profile's JSON. */
async function pasteLogin(profile = "default", scope = "messenger:read,items:info") {
  const p = start(["login", "--scope", scope, "--redirect-uri", "https://app.example/callback", "--profile", profile]);
  const url = await until(() => urlIn(p.stderrText()), "the consent URL");
  p.child.stdin.end(`${await consent(url)}\n`);
  const r = await p.done;
  assert.equal(r.code, 0, r.stderr);
  return readProfile(profile);
}

before(async () => {
  execFileSync("bash", [path.join(ROOT, "scripts/install-scratch.sh"), SCRATCH], { cwd: ROOT, stdio: "inherit" });
  mock = await startMockAvito({ clients: { [CLIENT]: SECRET } });
  home = mkdtempSync(path.join(os.tmpdir(), "avito-cli-home-"));
  config = path.join(home, "config");
});
after(async () => {
  await mock?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe("avito-auth command line", () => {
  it("--help for the program and every command; npx avito-auth --help from the tarball", async () => {
    const main = await run(["--help"]);
    assert.equal(main.code, 0);
    for (const c of ["token", "login", "user-token", "status", "logout", "api"]) {
      assert.match(main.stdout, new RegExp(`^  ${c} `, "m"));
      for (const args of [[c, "--help"], [c, "-h"], ["help", c]]) {
        const r = await run(args);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^Usage: avito-auth ${c}`), args.join(" "));
      }
    }
    const npx = execFileSync("npx", ["--no-install", "avito-auth", "--help"], { cwd: SCRATCH, env: env(), encoding: "utf8" });
    assert.match(npx, /^avito-auth — Avito OAuth tokens from the terminal/);
    assert.match(npx, /Exit codes: 0 success, 1 API error, 2 usage, 3 sign-in required/);
  });

  it("usage errors exit 2 with one line on stderr", async () => {
    for (const [args, extra, re] of [
      [[], {}, null],
      [["frobnicate"], {}, /unknown command "frobnicate"/],
      [["token", "--bogus"], {}, /token: Unknown option '--bogus'/],
      [["token"], { AVITO_CLIENT_SECRET: undefined }, /no credentials/],
      [["login", "--redirect-uri", "http://127.0.0.1:9/cb"], {}, /--scope is required/],
      [["login", "--scope", "items:info"], {}, /--redirect-uri is required/],
      [["api", "GET"], {}, /expected METHOD PATH/],
      [["status", "--profile", "../etc"], {}, /--profile must be/],
      [["token", "--host", "http://example.com"], {}, /host must be an absolute https:\/\/ URL/],
    ]) {
      const r = await run(args, { env: extra });
      if (re === null) { assert.equal(r.code, 0); continue; } // bare `avito-auth` prints the help
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      oneLineError(r);
      assert.match(r.stderr, re);
    }
  });

  it("token: bare, --header, --json; the secret from stdin with --client-id", async () => {
    const bare = await run(["token"]);
    assert.equal(bare.code, 0, bare.stderr);
    assert.match(bare.stdout, /^at_[\w-]+\n$/);
    assert.equal(bare.stderr, "");
    assert.equal(mock.requests.at(-1).form.grant_type, "client_credentials");
    assert.ok(mock.state.access.has(bare.stdout.trim()), "a token the server issued");

    const header = await run(["token", "--header"]);
    assert.match(header.stdout, /^Authorization: Bearer at_[\w-]+\n$/);

    const json = JSON.parse((await run(["token", "--json"])).stdout);
    assert.equal(json.token_type, "Bearer");
    assert.deepEqual(json.scopes, []);
    assert.ok(json.expires_at > Date.now());

    const stdin = await run(["token", "--client-id", CLIENT], { env: { AVITO_CLIENT_ID: undefined, AVITO_CLIENT_SECRET: undefined }, stdin: `${SECRET}\n` });
    assert.equal(stdin.code, 0, stdin.stderr);
    assert.equal(mock.requests.at(-1).form.client_secret, SECRET);
    const noSecret = await run(["token", "--client-id", CLIENT], { env: { AVITO_CLIENT_SECRET: undefined } });
    assert.equal(noSecret.code, 2);
    assert.match(noSecret.stderr, /client secret \(--client-id was given\) expected on stdin/);
  });

  it("token: API errors exit 1 with one line (a stack only with --verbose), never the secret", async () => {
    const wrong = await run(["token", "--client-id", CLIENT], { env: { AVITO_CLIENT_SECRET: undefined }, stdin: "wrong-secret-value-123\n" });
    assert.equal(wrong.code, 1);
    oneLineError(wrong);
    assert.match(wrong.stderr, /invalid_client/);
    assert.ok(!wrong.stderr.includes("wrong-secret-value-123"));

    const down = await run(["token", "--host", `http://127.0.0.1:${await closedPort()}`]);
    assert.equal(down.code, 1);
    oneLineError(down);
    assert.match(down.stderr, /network|connect|refused/i);

    const verbose = await run(["token", "--verbose"], { env: { AVITO_CLIENT_SECRET: "another-wrong-secret" } });
    assert.equal(verbose.code, 1);
    assert.match(verbose.stderr, /^avito-auth: .*invalid_client.*\nApiException: .*\n\s+at /);
    assert.ok(!verbose.stderr.includes("another-wrong-secret"));
  });

  it("status and user-token before any sign-in exit 3", async () => {
    for (const args of [["status"], ["user-token"], ["api", "GET", "/core/v1/accounts/self"]]) {
      const r = await run([...args, "--profile", "nobody"]);
      assert.equal(r.code, 3, `${args.join(" ")}: ${r.stderr}`);
      oneLineError(r);
      assert.match(r.stderr, /not signed in \(profile "nobody"\): run avito-auth login/);
    }
  });

  it("login, paste mode: consent URL in Avito's form, the browser named by $BROWSER, state checked, profile saved 0600", async () => {
    const record = path.join(home, "opened-url");
    const browserEnv = path.join(home, "browser-env");
    const browser = path.join(home, "fake-browser.sh");
    writeFileSync(browser, `#!/bin/sh\nenv > '${browserEnv}'\nprintf '%s' "$1" > '${record}'\n`);
    chmodSync(browser, 0o755);
    const p = start(["login", "--scope", "messenger:read,items:info", "--redirect-uri", "https://app.example/callback"], { env: { AVITO_AUTH_NO_BROWSER: undefined, BROWSER: browser } });
    const url = await until(() => urlIn(p.stderrText()), "the consent URL");
    assert.match(url, new RegExp(`^${mock.url}/oauth\\?response_type=code&pro_users_flow=true&client_id=${CLIENT}&scope=messenger:read,items:info&state=[\\w-]{43}&redirect_uri=https:%2F%2Fapp.example%2Fcallback$`));
    assert.equal(await until(() => existsSync(record) && readFileSync(record, "utf8"), "the browser to be opened"), url);
    const seenByBrowser = readFileSync(browserEnv, "utf8");
    assert.match(seenByBrowser, new RegExp(`^AVITO_CLIENT_ID=${CLIENT}$`, "m"), "the browser got the environment");
    assert.doesNotMatch(seenByBrowser, /AVITO_CLIENT_SECRET/, "the browser got the client secret's variable");
    assert.ok(!seenByBrowser.includes(SECRET), "the browser got the client secret");
    // The prompt follows the browser's start: wait for it rather than race it.
    await until(() => /paste the address you were redirected to/.test(p.stderrText()), "the paste prompt");
    p.child.stdin.end(`${await consent(url)}\n`);
    const r = await p.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Signed in: profile "default", scopes messenger:read,items:info/);
    assert.equal(r.stdout, "");

    const saved = readProfile("default");
    assert.equal(saved.client_id, CLIENT);
    assert.equal(saved.host, mock.url);
    assert.match(saved.tokens.refresh_token, /^rt_/);
    assert.deepEqual(saved.tokens.scopes, ["messenger:read", "items:info"]);
    assert.equal(mock.requests.at(-1).form.redirect_uri, "https://app.example/callback");
    assert.equal(statSync(profileFile()).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(profileFile())).mode & 0o777, 0o700);

    // A pasted address with another state is refused before any code is exchanged.
    const codes = mock.counts.code;
    const forged = start(["login", "--scope", "items:info", "--redirect-uri", "https://app.example/callback", "--profile", "forged"]);
    await until(() => urlIn(forged.stderrText()), "the consent URL");
    forged.child.stdin.end("https://app.example/callback?code=forged-code-value&state=not-the-state\n");
    const refused = await forged.done;
    assert.equal(refused.code, 2);
    assert.match(refused.stderr.trimEnd().split("\n").at(-1), /^avito-auth: .*state/);
    assert.equal(mock.counts.code, codes);
    assert.ok(!existsSync(profileFile("forged")));

    // Declined consent: the OAuth error, exit 1.
    const denied = start(["login", "--scope", "items:info", "--redirect-uri", "https://app.example/callback", "--profile", "denied"]);
    const deniedUrl = await until(() => urlIn(denied.stderrText()), "the consent URL");
    denied.child.stdin.end(`${await consent(deniedUrl, false)}\n`);
    const d = await denied.done;
    assert.equal(d.code, 1);
    assert.match(d.stderr.trimEnd().split("\n").at(-1), /^avito-auth: .*access_denied/);
  });

  it("login, loopback: listens on the registered 127.0.0.1 address; Chromium clicks Allow on the consent page", async () => {
    const port = await closedPort();
    const redirect = `http://127.0.0.1:${port}/avito/callback`;
    const p = start(["login", "--scope", "messenger:read", "--redirect-uri", redirect, "--profile", "loopback", "--no-browser"], { env: { AVITO_AUTH_NO_BROWSER: undefined } });
    const url = await until(() => urlIn(p.stderrText()), "the consent URL");
    assert.match(p.stderrText(), new RegExp(`waiting on ${redirect}`));
    assert.doesNotMatch(p.stderrText(), /opened in your browser/);
    // Another path on the listener, and a callback with a foreign state, do not end the login.
    assert.equal((await fetch(`http://127.0.0.1:${port}/elsewhere`)).status, 404);
    assert.equal((await fetch(`${redirect}?code=forged&state=evil`)).status, 400);

    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(url);
      assert.equal(await page.textContent("#scope"), "messenger:read");
      await page.click("#allow");
      await page.waitForSelector("text=You can close this tab");
      assert.ok(page.url().startsWith(`${redirect}?code=`));
    } finally {
      await browser.close();
    }
    const r = await p.done;
    assert.equal(r.code, 0, r.stderr);
    const saved = readProfile("loopback");
    assert.deepEqual(saved.tokens.scopes, ["messenger:read"]);
    assert.equal(saved.redirect_uri, redirect);
    assert.equal(statSync(profileFile("loopback")).mode & 0o777, 0o600);
  });

  it("status: profile, scopes, expiry — never a token", async () => {
    const saved = readProfile("default");
    const r = await run(["status"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Profile: +default \(/m);
    assert.match(r.stdout, /^Scopes: +messenger:read, items:info$/m);
    assert.match(r.stdout, /^Expires: +\d{4}-\d\d-\d\dT.*\(in 2[34]h \d+m\)$/m);
    const json = JSON.parse((await run(["status", "--json"])).stdout);
    assert.deepEqual(json.scopes, ["messenger:read", "items:info"]);
    assert.equal(json.expires_at, new Date(saved.tokens.expires_at).toISOString());
    // Its health, from the library's status() over the profile (issue 21).
    assert.match(r.stdout, /^State: +ok$/m);
    assert.match(r.stdout, /^Failures: +0 in a row$/m);
    assert.deepEqual([json.state, json.consecutive_failures, json.last_failure, json.missing_scopes], ["ok", 0, null, []]);
    for (const text of [r.stdout, JSON.stringify(json)]) {
      assert.ok(!text.includes(saved.tokens.access_token) && !text.includes(saved.tokens.refresh_token) && !text.includes(SECRET));
    }
  });

  it("user-token: the cached token; renewed and the rotated refresh token saved when expired", async () => {
    const saved = readProfile("default");
    const cached = await run(["user-token"]);
    assert.equal(cached.code, 0, cached.stderr);
    assert.equal(cached.stdout, `${saved.tokens.access_token}\n`);
    assert.equal((await run(["user-token", "--header"])).stdout, `Authorization: Bearer ${saved.tokens.access_token}\n`);

    expireProfile("default", saved);
    const refreshes = mock.counts.refresh;
    const renewed = await run(["user-token", "--json"]);
    assert.equal(renewed.code, 0, renewed.stderr);
    const ts = JSON.parse(renewed.stdout);
    assert.notEqual(ts.access_token, saved.tokens.access_token);
    assert.equal(ts.refresh_token, undefined, "--json leaves the refresh token in the profile");
    assert.deepEqual(ts.scopes, ["messenger:read", "items:info"]);
    assert.equal(mock.counts.refresh, refreshes + 1);
    const after = readProfile("default");
    assert.equal(after.tokens.access_token, ts.access_token);
    assert.notEqual(after.tokens.refresh_token, saved.tokens.refresh_token, "the rotated refresh token was saved");
    assert.equal(statSync(profileFile()).mode & 0o777, 0o600);
  });

  it("two processes: the second runs user-token while the first renews, and gets the same token", async () => {
    const saved = readProfile("default");
    expireProfile("default", saved);
    const refreshes = mock.counts.refresh;
    mock.tokenDelayMs = 1500;
    try {
      const first = start(["user-token"], { stdin: "" });
      await until(() => mock.requests.some((q) => q.form.refresh_token === saved.tokens.refresh_token), "the first process's refresh");
      const second = start(["user-token"], { stdin: "" });
      const [a, b] = await Promise.all([first.done, second.done]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(a.stdout, b.stdout);
      assert.notEqual(a.stdout, `${saved.tokens.access_token}\n`);
      assert.equal(mock.counts.refresh, refreshes + 1, "one refresh for both processes");
      assert.equal(readProfile("default").tokens.access_token, a.stdout.trim());
      assert.ok(!existsSync(`${profileFile()}.lease`), "the lease was released");
    } finally {
      mock.tokenDelayMs = 0;
    }
  });

  it("api: the JSON answer on stdout; non-2xx exits 1; --app and --data", async () => {
    const self = await run(["api", "GET", "/core/v1/accounts/self"]);
    assert.equal(self.code, 0, self.stderr);
    assert.deepEqual(JSON.parse(self.stdout), { id: 1, client_id: CLIENT, name: "Mock account" });
    const app = await run(["api", "get", "/core/v1/accounts/self", "--app"]);
    assert.equal(app.code, 0, app.stderr);
    const post = await run(["api", "POST", "/core/v1/items", "--data", '{"a":1}']);
    assert.equal(post.code, 0, post.stderr);
    const missing = await run(["api", "GET", "/nowhere"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /"Not found"/);
    oneLineError(missing);
    assert.match(missing.stderr, /GET \/nowhere: HTTP 404/);
    // An expired access token (403 from Avito) is renewed once and the call retried (an operation
    // whose declared scope, items:info, the profile holds: a 403 of one it lacks goes back as is).
    await fetch(`${mock.url}/__expire`, { method: "POST" });
    const retried = await run(["api", "GET", "/core/v1/items"]);
    assert.equal(retried.code, 0, retried.stderr);
  });

  it("api on a 403 for a scope the profile lacks: the missing scope and the login to run; status shows it, then a failed renewal", async () => {
    mock.apiScopes = { "/core/v1/accounts/self": "user:read" };
    try {
      const refreshes = mock.counts.refresh;
      const refused = await run(["api", "GET", "/core/v1/accounts/self"]);
      assert.equal(refused.code, 1);
      oneLineError(refused);
      assert.match(refused.stderr, /HTTP 403: the token lacks user:read, which this operation declares; sign in again with it: avito-auth login --scope messenger:read,items:info,user:read$/m);
      assert.equal(mock.counts.refresh, refreshes, "not renewed");
      const json = JSON.parse((await run(["status", "--json"])).stdout);
      assert.deepEqual(json.missing_scopes, ["user:read"]);
      const text = (await run(["status"])).stdout;
      assert.match(text, /^Missing: +user:read \(an API refused them\): run avito-auth login --scope messenger:read,items:info,user:read$/m);
    } finally {
      mock.apiScopes = {};
    }
    // A failed renewal is on record for the next status.
    const saved = readProfile("default");
    expireProfile("default", saved);
    const unavailable = { status: 503, json: { error: "temporarily_unavailable" } };
    mock.script(unavailable, unavailable, unavailable);
    assert.equal((await run(["user-token"])).code, 1);
    const json = JSON.parse((await run(["status", "--json"])).stdout);
    assert.deepEqual([json.state, json.consecutive_failures, json.last_failure.kind, json.last_failure.status], ["failing", 1, "http", 503]);
    assert.match((await run(["status"])).stdout, /^Failures: +1 in a row; last \d{4}-.*: http 503 temporarily_unavailable$/m);
    assert.equal((await run(["user-token"])).code, 0, "renewed");
    assert.equal(JSON.parse((await run(["status", "--json"])).stdout).state, "ok");
  });

  it("a refused refresh token: user-token exits 3 (sign in again)", async () => {
    const saved = await pasteLogin("refused", "items:info");
    writeFileSync(profileFile("refused"), JSON.stringify({ ...saved, tokens: { ...saved.tokens, refresh_token: "rt_spent-or-unknown", expires_at: 0 } }));
    const r = await run(["user-token", "--profile", "refused"]);
    assert.equal(r.code, 3, r.stderr);
    oneLineError(r);
    assert.match(r.stderr, /sign in again/);
  });

  it("logout deletes the profile; status then exits 3", async () => {
    await pasteLogin("bye");
    const r = await run(["logout", "--profile", "bye"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Signed out: profile "bye" deleted/);
    assert.ok(!existsSync(profileFile("bye")));
    assert.equal((await run(["status", "--profile", "bye"])).code, 3);
    assert.equal((await run(["logout", "--profile", "bye"])).code, 0);
  });

  it("a profile is pinned to its host: another --host or $AVITO_HOST exits 2 and nothing is sent", async () => {
    const saved = await pasteLogin("pinned", "items:info");
    expireProfile("pinned", saved); // user-token would renew: it has something to send
    const before = readFileSync(profileFile("pinned"), "utf8");
    const other = await startRecordingServer();
    try {
      for (const [args, extra, source] of [
        [["user-token", "--host", other.url], {}, "--host"],
        [["user-token"], { AVITO_HOST: other.url }, "\\$AVITO_HOST"],
        [["api", "GET", "/core/v1/accounts/self"], { AVITO_HOST: `${other.url}/` }, "\\$AVITO_HOST"],
        [["api", "GET", "/core/v1/accounts/self", "--host", other.url], {}, "--host"],
        [["status", "--host", other.url], {}, "--host"],
      ]) {
        const r = await run([...args, "--profile", "pinned"], { env: extra });
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        oneLineError(r);
        assert.match(r.stderr, new RegExp(`profile "pinned" was signed in with ${mock.url}, not ${other.url}/? \\(${source}\\)`));
      }
      assert.deepEqual(other.seen, [], "nothing reached the other host");
      assert.equal(readFileSync(profileFile("pinned"), "utf8"), before, "the profile is untouched");
      // The pinned host itself, however written, is fine.
      const refreshes = mock.counts.refresh;
      const same = await run(["user-token", "--profile", "pinned", "--host", `${mock.url}/`]);
      assert.equal(same.code, 0, same.stderr);
      assert.equal(mock.counts.refresh, refreshes + 1);
    } finally {
      await other.close();
    }
  });

  it("logout is final: a user-token renewing in another process meanwhile does not bring the profile back", async () => {
    const saved = await pasteLogin("final", "items:info");
    expireProfile("final", saved);
    let release;
    mock.tokenGate = new Promise((r) => (release = r)); // the renewal's refresh is held open while logout runs
    let renewal;
    try {
      const renewing = start(["user-token", "--profile", "final"], { stdin: "" });
      await until(() => mock.requests.some((q) => q.form.refresh_token === saved.tokens.refresh_token), "the renewal's refresh request");
      const out = await run(["logout", "--profile", "final"]);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stderr, /Signed out: profile "final" deleted/);
      release(); // the token server answers the renewal with new tokens now
      renewal = await renewing.done;
    } finally {
      release();
      mock.tokenGate = undefined;
    }
    assert.ok(!existsSync(profileFile("final")), `the renewal wrote the profile back (user-token exited ${renewal.code}: ${renewal.stderr})`);
    assert.equal(renewal.code, 3, "the renewal's tokens are not handed out after the logout");
    assert.equal(renewal.stdout, "");
    // The renewal protocol itself finds the profile gone (a store emptied since it was read is
    // signed out) and discards the delivered tokens; the command's own check is the fallback.
    assert.match(renewal.stderr, /signed out/);
    assert.ok(!existsSync(`${profileFile("final")}.lease`), "a lease was left behind");
    const next = await run(["user-token", "--profile", "final"]);
    assert.equal(next.code, 3, next.stderr);
    oneLineError(next);
    assert.match(next.stderr, /not signed in \(profile "final"\): run avito-auth login/);
  });

  it("api --data -: the body is all of stdin after the client secret's line (one chunk or many)", async () => {
    const server = await startRecordingServer();
    try {
      for (const body of ['{"first":"line"}\n{"second":"line, \\u0436"}\n', JSON.stringify({ pad: "ж".repeat(200_000) })]) {
        const r = await run(["api", "POST", "/echo", "--app", "--client-id", CLIENT, "--host", server.url, "--data", "-"], {
          env: { AVITO_CLIENT_ID: undefined, AVITO_CLIENT_SECRET: undefined }, stdin: `${SECRET}\n${body}`,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(new URLSearchParams(server.seen.find((q) => q.url === "/token").body).get("client_secret"), SECRET);
        const sent = server.seen.at(-1);
        assert.equal(sent.url, "/echo");
        assert.equal(sent.body.length, body.length, "the whole body arrived");
        assert.equal(sent.body, body);
      }
    } finally {
      await server.close();
    }
  });

  it("login, loopback: a malformed request line, a bad target, huge headers get 400 and the wait goes on", async () => {
    const port = await closedPort();
    const redirect = `http://127.0.0.1:${port}/cb`;
    const p = start(["login", "--scope", "items:info", "--redirect-uri", redirect, "--profile", "sturdy"]);
    const url = await until(() => urlIn(p.stderrText()), "the consent URL");
    for (const raw of [
      "GARBAGE\r\n\r\n",
      "\x00\x01\x02 \xff\r\n\r\n",
      "GET http://a:b:c/ HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n",
      `GET /cb HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`,
      `GET /cb HTTP/1.1\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join("\r\n")}\r\n\r\n`,
    ]) assert.match(await rawRequest(port, raw), /^HTTP\/1\.1 400 /, JSON.stringify(raw.slice(0, 40)));
    assert.equal((await fetch(await consent(url))).status, 200, "still listening, and the sign-in completes");
    const r = await p.done;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readProfile("sturdy").tokens.scopes, ["items:info"]);
  });

  it("login, loopback: a port it cannot listen on fails before the consent URL is shown (exit 2)", async () => {
    const taken = http.createServer((_, res) => res.end("someone else"));
    await new Promise((r) => taken.listen(0, "127.0.0.1", r));
    const port = taken.address().port;
    try {
      const codes = mock.counts.code;
      const r = await run(["login", "--scope", "items:info", "--redirect-uri", `http://127.0.0.1:${port}/cb`, "--profile", "busy"]);
      assert.equal(r.code, 2, r.stderr);
      oneLineError(r);
      assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} for the redirect \\(the port is taken\\)`));
      assert.doesNotMatch(r.stderr, /Open this URL|\/oauth\?/);
      assert.equal(mock.counts.code, codes);
      assert.ok(!existsSync(profileFile("busy")));
    } finally {
      taken.close();
    }
  });

  it("login, loopback on localhost: listens on every address localhost resolves to (127.0.0.1 and ::1)", async () => {
    const port = await closedPort();
    // What /etc/hosts says on most systems, whatever it says here; plus an address this machine
    // cannot bind (skipped, as ::1 is in a container without IPv6).
    const resolved = ["127.0.0.1", "::1", "192.0.2.1"];
    const p = start(["login", "--scope", "items:info", "--redirect-uri", `http://localhost:${port}/cb`, "--profile", "everywhere"], {
      env: { NODE_OPTIONS: PRELOAD, AVITO_TEST_LOCALHOST: JSON.stringify(resolved) },
    });
    const url = await until(() => urlIn(p.stderrText()), "the consent URL");
    for (const host of ["127.0.0.1", "[::1]"]) assert.equal((await fetch(`http://${host}:${port}/elsewhere`)).status, 404, host);
    const location = new URL(await consent(url));
    location.hostname = "[::1]"; // the browser picked the IPv6 address
    assert.equal((await fetch(location)).status, 200);
    const r = await p.done;
    assert.equal(r.code, 0, r.stderr);
    // And with the resolver of this machine, whatever localhost is here.
    const here = [...new Set((await dns.lookup("localhost", { all: true })).map((a) => a.address))];
    const q = start(["login", "--scope", "items:info", "--redirect-uri", `http://localhost:${port}/cb`, "--profile", "everywhere"]);
    const url2 = await until(() => urlIn(q.stderrText()), "the consent URL");
    for (const a of here) assert.equal((await fetch(`http://${a.includes(":") ? `[${a}]` : a}:${port}/elsewhere`)).status, 404, a);
    assert.equal((await fetch(await consent(url2))).status, 200);
    assert.equal((await q.done).code, 0);
  });

  it("the lock file: nonce and time inside; one left by a killed process is waited out and taken over", async () => {
    const saved = await pasteLogin("crashed", "items:info");
    expireProfile("crashed", saved);
    const lock = `${profileFile("crashed")}.lock`;
    const store = pathToFileURL(path.join(SCRATCH, "node_modules/avito-auth/cli/profile-store.mjs")).href;
    // A process that dies (SIGKILL) holding the mutex: its lock file stays, with a fresh time.
    const killed = spawn(process.execPath, ["--input-type=module", "-e", `
      const { Profile } = await import(${JSON.stringify(store)});
      await new Profile("crashed", ${JSON.stringify(path.join(config, "avito-auth"))}).locked(() => process.kill(process.pid, "SIGKILL"));`], { stdio: "inherit" });
    assert.equal(await new Promise((r) => killed.on("close", (_, signal) => r(signal))), "SIGKILL");
    const left = JSON.parse(readFileSync(lock, "utf8"));
    assert.match(left.nonce, /^[0-9a-f-]{36}$/);
    assert.equal(typeof left.at, "number");
    assert.ok(Math.abs(left.at - Date.now()) < 60_000, "its own time, inside the file");
    // Not a command failing until the lock ages: the renewal waits it out.
    const r = await run(["user-token", "--profile", "crashed"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readProfile("crashed").tokens.access_token, r.stdout.trim());
    assert.ok(!existsSync(lock), "the lock was released");
  });

  it("profile writes: the file fsynced before its rename, the folder after (login, renewal, logout)", async () => {
    const trace = path.join(home, "fs-trace.json");
    const traced = { NODE_OPTIONS: PRELOAD, AVITO_TEST_FS_TRACE: trace };
    const file = profileFile("durable");
    const dir = path.dirname(file);
    const writes = () => {
      const calls = JSON.parse(readFileSync(trace, "utf8"));
      const renames = calls.filter((c) => c[0] === "rename" && c[2] === file);
      assert.ok(renames.length >= 1, JSON.stringify(calls));
      for (const [, tmp] of renames) {
        const at = calls.findIndex((c) => c[0] === "rename" && c[1] === tmp);
        assert.ok(calls.slice(0, at).some((c) => c[0] === "fsync" && c[1] === tmp), `${tmp} fsynced before its rename: ${JSON.stringify(calls)}`);
        assert.ok(calls.slice(at + 1).some((c) => c[0] === "fsync" && c[1] === dir), `the folder fsynced after the rename: ${JSON.stringify(calls)}`);
      }
      return calls;
    };
    const p = start(["login", "--scope", "items:info", "--redirect-uri", "https://app.example/callback", "--profile", "durable"], { env: traced });
    const url = await until(() => urlIn(p.stderrText()), "the consent URL");
    p.child.stdin.end(`${await consent(url)}\n`);
    assert.equal((await p.done).code, 0);
    writes();
    expireProfile("durable");
    assert.equal((await run(["user-token", "--profile", "durable"], { env: traced })).code, 0);
    writes();
    assert.equal((await run(["logout", "--profile", "durable"], { env: traced })).code, 0);
    const calls = JSON.parse(readFileSync(trace, "utf8"));
    const removed = calls.findIndex((c) => c[0] === "rm" && c[1] === file);
    assert.ok(removed >= 0 && calls.slice(removed + 1).some((c) => c[0] === "fsync" && c[1] === dir), `logout: the folder fsynced after the unlink: ${JSON.stringify(calls)}`);
  });

  it("no secret anywhere but the token store: outputs, errors, other files", () => {
    const issuedRefresh = mock.requests.flatMap((q) => [q.form.code, q.form.refresh_token]).filter(Boolean);
    const all = outputs.join("\n");
    assert.ok(!all.includes(SECRET), "the client secret was printed");
    for (const t of issuedRefresh) assert.ok(!all.includes(t), "a code or refresh token was printed");
    for (const f of readdirSync(path.join(config, "avito-auth"))) {
      const file = path.join(config, "avito-auth", f);
      const text = readFileSync(file, "utf8");
      assert.ok(!text.includes(SECRET), `${f} holds the client secret`);
      assert.match(f, /^[\w.-]+\.json$/, `only profiles are left: ${f}`);
      assert.equal(statSync(file).mode & 0o777, 0o600, f);
    }
  });
});
