// The edge's own failure paths (issue 13), against the packed tarball:
//   - a caller's fetch whose results throw at every step (status, headers, headers.get, body,
//     getReader, read, closed, cancel, the chunk, text(), then) — each call rejects with an
//     ApiException, nothing throws through wasm, no unhandled rejection, and the same instance
//     keeps working afterwards; so does a setTimeout that throws;
//   - a body stream from another realm is read by the bounded reader;
//   - every option getter runs exactly once per call (counting getters); an option serde cannot
//     read is an invalid_argument naming it;
//   - a 1 MiB error body full of the secret settles fast with bounded, secret-free fields.
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import vm from "node:vm";
import { loadBoth } from "../support/load.mjs";

const { esm: lib } = await loadBoth();
const ID = "failure-paths-client";
const SECRET = "CnryCsX7q2Lm9Wv4-fp";
const CODE = "CnryCdK3p8Zt1Rb6-fp";
const unhandled = [];
const onUnhandled = (r) => unhandled.push(String(r?.stack ?? r));
process.on("unhandledRejection", onUnhandled);
after(() => process.off("unhandledRejection", onUnhandled));

const goodResponse = () => new Response(JSON.stringify({ access_token: "AT", expires_in: 3600, token_type: "Bearer" }), { status: 200, headers: { "content-type": "application/json" } });
const enc = new TextEncoder();

/** One instance whose fetch answers whatever `answer` says at the time. */
function instance() {
  const state = { answer: goodResponse };
  const auth = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: "http://127.0.0.1:9", retries: false, timeoutMs: 2000, fetch: async () => state.answer() });
  return { auth, state };
}

async function settle(promise) {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

const boom = (where) => () => { throw new Error(`trap at ${where}`); };
/** A response-like object whose `step` throws; every other step behaves. */
function responseThrowingAt(step) {
  const chunk = (bytes) => ({ get done() { if (step === "done") boom("done")(); return false; }, get value() { if (step === "value") boom("value")(); return bytes; } });
  const big = new Uint8Array(2 * 1024 * 1024).fill(0x61); // over 1 MiB: the reader cancels
  let reads = 0;
  const reader = {
    read: step === "read" ? boom("read") : step === "read-rejects" ? async () => { throw new Error("read rejected"); } : async () => (reads++ === 0 ? chunk(step === "cancel" ? big : enc.encode('{"access_token":"AT"}')) : { done: true }),
    cancel: step === "cancel" ? boom("cancel") : async () => {},
    get closed() { if (step === "closed") boom("closed")(); return new Promise(() => {}); },
  };
  const body = { getReader: step === "getReader" ? boom("getReader") : () => reader };
  const headers = { get: step === "headers.get" ? boom("headers.get") : () => null };
  return {
    get status() { if (step === "status") boom("status")(); return 200; },
    get headers() { if (step === "headers") boom("headers")(); return headers; },
    get body() { if (step === "body") boom("body")(); return body; },
    text: () => { throw new Error("text must not be called when there is a body stream"); },
  };
}

const STEPS = ["status", "headers", "headers.get", "body", "getReader", "read", "read-rejects", "closed", "cancel", "done", "value"];

describe("a caller's fetch whose results throw at every step", () => {
  const { auth, state } = instance();
  for (const step of STEPS) {
    it(`${step}: rejects with an ApiException, then the instance works`, async () => {
      state.answer = () => responseThrowingAt(step);
      const { value, error } = await settle(auth.clientCredentials());
      if (step === "closed") {
        // `closed` is only observed; a throwing getter there changes nothing.
        assert.equal(value?.access_token, "AT", String(error));
      } else if (step === "done") {
        // A `done` that throws reads as "not done"; the chunks still decide. Either way: no throw.
        assert.ok(value?.access_token === "AT" || error instanceof lib.ApiException, String(error));
      } else {
        assert.ok(error instanceof lib.ApiException, `${step}: ${error ?? JSON.stringify(value)}`);
        assert.ok(["network", "invalid_response"].includes(error.kind), `${step}: ${error.kind}: ${error.message}`);
        if (step === "cancel") assert.equal(error.kind, "invalid_response");
      }
      state.answer = goodResponse;
      assert.equal((await auth.clientCredentials()).access_token, "AT");
    });
  }

  for (const [name, make] of [
    ["a Proxy that throws on every property", () => new Proxy({}, { get: boom("proxy get"), has: boom("proxy has"), ownKeys: boom("proxy ownKeys"), getOwnPropertyDescriptor: boom("proxy gopd") })],
    ["a look-alike without a body whose text() throws", () => ({ status: 200, headers: null, text: boom("text") })],
    ["a thenable whose then throws", () => ({ then: boom("then") })],
    ["a body whose async iterator throws", () => ({ status: 200, headers: { get: () => null }, body: { [Symbol.asyncIterator]: boom("asyncIterator") } })],
    ["a Node-stream-like body whose next() throws", () => ({ status: 200, headers: { get: () => null }, body: { [Symbol.asyncIterator]: () => ({ next: boom("next"), return: boom("return") }) } })],
    ["a chunk that is a Uint8Array subclass whose length and subarray throw", () => {
      class Evil extends Uint8Array {
        get length() { throw new Error("trap at length"); }
        subarray() { throw new Error("trap at subarray"); }
        static get [Symbol.species]() { throw new Error("trap at species"); }
      }
      const bytes = enc.encode('{"access_token":"AT2"}');
      const evil = new Evil(bytes.length);
      evil.set(bytes);
      let reads = 0;
      return { status: 200, headers: { get: () => null }, body: { getReader: () => ({ read: async () => (reads++ === 0 ? { done: false, value: evil } : { done: true }), cancel: async () => {}, closed: Promise.resolve() }) } };
    }],
    ["a chunk over a detached buffer", () => {
      const bytes = new Uint8Array(8);
      structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
      return { status: 200, headers: { get: () => null }, body: { getReader: () => ({ read: async () => ({ done: false, value: bytes }), cancel: async () => {}, closed: Promise.resolve() }) } };
    }],
    ["a body of strings, not bytes", () => ({ status: 200, headers: { get: () => null }, body: { getReader: () => ({ read: async () => ({ done: false, value: "text" }), cancel: boom("cancel"), closed: Promise.resolve() }) } })],
  ]) {
    it(`${name}: rejects with an ApiException, then the instance works`, async () => {
      state.answer = make;
      const { value, error } = await settle(auth.clientCredentials());
      if (name.startsWith("a chunk that is a Uint8Array subclass")) {
        // Its bytes are read through a view of its buffer: a token.
        assert.equal(value?.access_token, "AT2", String(error));
      } else {
        assert.ok(error instanceof lib.ApiException, `${error ?? JSON.stringify(value)}`);
      }
      state.answer = goodResponse;
      assert.equal((await auth.clientCredentials()).access_token, "AT");
    });
  }

  it("a fetch that throws synchronously, and one that is not a function's result at all", async () => {
    const a = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: "http://127.0.0.1:9", retries: false, fetch: () => { throw new TypeError("sync"); } });
    const { error } = await settle(a.clientCredentials());
    assert.ok(error instanceof lib.ApiException && error.kind === "network", String(error));
  });

  it("a setTimeout that throws: the call fails as a timeout, the instance works once it is back", async () => {
    const original = globalThis.setTimeout;
    state.answer = goodResponse;
    let result;
    globalThis.setTimeout = () => { throw new Error("no timers here"); };
    try {
      result = await settle(auth.clientCredentials());
    } finally {
      globalThis.setTimeout = original;
    }
    assert.ok(result.error instanceof lib.ApiException, String(result.error ?? JSON.stringify(result.value)));
    assert.equal(result.error.kind, "timeout");
    assert.equal((await auth.clientCredentials()).access_token, "AT");
  });

  it("no unhandled rejection", async () => {
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(unhandled, []);
  });
});

describe("bodies from another realm", () => {
  const realm = vm.createContext({});
  const foreignBytes = (text) => vm.runInContext(`new Uint8Array(${JSON.stringify([...enc.encode(text)])})`, realm);
  const foreignBig = vm.runInContext("new Uint8Array(2 * 1024 * 1024).fill(0x61)", realm);
  const streamOf = (chunks) => {
    let i = 0;
    let cancelled = false;
    const body = { getReader: () => ({ read: async () => (i < chunks.length ? { done: false, value: chunks[i++] } : { done: true }), cancel: async () => { cancelled = true; }, closed: new Promise(() => {}) }) };
    return { body, cancelled: () => cancelled };
  };
  it("are read by the bounded reader (a foreign Uint8Array is bytes)", async () => {
    assert.equal(foreignBytes("x") instanceof Uint8Array, false, "the chunk must really be foreign");
    const s = streamOf([foreignBytes('{"access_token":"AT",'), foreignBytes('"expires_in":60}')]);
    const a = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: "http://127.0.0.1:9", retries: false, fetch: async () => ({ status: 200, headers: { get: () => null }, body: s.body, text: boom("text") }) });
    const t = await a.clientCredentials();
    assert.equal(t.access_token, "AT");
  });
  it("past 1 MiB the foreign stream is cancelled: invalid_response", async () => {
    const s = streamOf([foreignBig, foreignBig]);
    const a = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: "http://127.0.0.1:9", retries: false, fetch: async () => ({ status: 200, headers: { get: () => null }, body: s.body, text: boom("text") }) });
    const { error } = await settle(a.clientCredentials());
    assert.equal(error?.kind, "invalid_response", String(error));
    assert.ok(s.cancelled(), "the stream was not cancelled");
  });
  it("a look-alike with only text() is still read (the unbounded path the README names)", async () => {
    const a = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: "http://127.0.0.1:9", retries: false, fetch: async () => ({ status: 200, headers: null, text: async () => '{"access_token":"AT"}' }) });
    assert.equal((await a.clientCredentials()).access_token, "AT");
  });
});

/** An object whose own properties are getters counting their reads. */
function counting(values) {
  const counts = {};
  const object = {};
  for (const [key, value] of Object.entries(values)) {
    counts[key] = 0;
    Object.defineProperty(object, key, { enumerable: true, get() { counts[key]++; return value; } });
  }
  return { object, counts };
}
const allOnce = (counts) => Object.values(counts).every((n) => n === 1);

describe("every option getter runs exactly once per call", () => {
  const fetch = async () => goodResponse();
  it("AvitoAuth constructor (nested retries and headers included)", () => {
    const retries = counting({ maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 });
    const headers = counting({ "x-trace": "t1" });
    const o = counting({ clientId: ID, clientSecret: SECRET, host: "http://127.0.0.1:9", fetch, timeoutMs: 5000, retries: retries.object, userAgent: "app/1", headers: headers.object, authorizeUrl: "https://avito.ru/oauth" });
    new lib.AvitoAuth(o.object);
    for (const c of [o.counts, retries.counts, headers.counts]) assert.ok(allOnce(c), JSON.stringify(c));
  });
  it("Configuration", () => {
    const o = counting({ host: "http://127.0.0.1:9", fetch, timeoutMs: 5000, retries: false, userAgent: "app/1" });
    new lib.Configuration(o.object);
    assert.ok(allOnce(o.counts), JSON.stringify(o.counts));
  });
  it("call options, authorizationUrl options", async () => {
    const a = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: "http://127.0.0.1:9", fetch, retries: false });
    const call = counting({ signal: new AbortController().signal, redirectUri: "https://app.example/cb" });
    await a.exchangeCode(CODE, call.object);
    assert.ok(allOnce(call.counts), JSON.stringify(call.counts));
    const url = counting({ scope: ["messenger:read"], state: "s1", redirectUri: "https://app.example/cb" });
    a.authorizationUrl(url.object);
    assert.ok(allOnce(url.counts), JSON.stringify(url.counts));
  });
  it("an option serde cannot read is invalid_argument naming it", () => {
    for (const [options, name] of [
      [{ timeoutMs: Symbol("x") }, "timeoutMs"],
      [{ retries: { maxAttempts: Symbol("x") } }, "retries.maxAttempts"],
      [{ retries: { baseDelayMs: 10n ** 30n } }, "retries.baseDelayMs"],
    ]) {
      let error;
      try { new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, ...options }); } catch (e) { error = e; }
      assert.ok(error instanceof lib.ApiException, `${name}: ${error}`);
      assert.equal(error.kind, "invalid_argument");
      assert.ok(error.message.includes(name), `${name}: ${error.message}`);
    }
  });
});

describe("a 1 MiB error body full of the secret", () => {
  const MiB = 1 << 20;
  const SIZE = MiB - 4096; // under the 1 MiB cap, so the JSON is parsed and every field is filled
  const variants = {
    "error_description, raw, spaced": () => JSON.stringify({ error: "invalid_grant", error_description: `${CODE} `.repeat(Math.floor(SIZE / (CODE.length + 1))) }),
    "error_description, back to back": () => JSON.stringify({ error: "invalid_grant", error_description: CODE.repeat(Math.floor(SIZE / CODE.length)) }),
    "error_description, percent-encoded": () => JSON.stringify({ error: "invalid_grant", error_description: `${encodeURIComponent(CODE)}&`.repeat(Math.floor(SIZE / (CODE.length + 4))) }),
    "error code itself": () => JSON.stringify({ error: `${CODE}.`.repeat(Math.floor(SIZE / (CODE.length + 1))) }),
    "over 1 MiB, back to back (only a head is read, cut mid-secret)": () => CODE.repeat(Math.floor((2 * MiB) / CODE.length)),
    "not JSON": () => `code=${CODE}&`.repeat(Math.floor(SIZE / (CODE.length + 6))),
  };
  for (const [name, make] of Object.entries(variants)) {
    it(`${name}: bounded fields, no secret, settles fast`, async (t) => {
      const text = make();
      const a = new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: "http://127.0.0.1:9", retries: false, fetch: async () => new Response(text, { status: 400, headers: { "content-type": "application/json" } }) });
      const started = performance.now();
      const { error } = await settle(a.exchangeCode(CODE));
      const ms = performance.now() - started;
      t.diagnostic(`${name}: ${(text.length / MiB).toFixed(2)} MiB settled in ${ms.toFixed(1)} ms; message ${error?.message?.length} chars, errorDescription ${error?.errorDescription?.length ?? 0}, error ${error?.error?.length ?? 0}, body ${error?.body?.length ?? 0}`);
      assert.ok(error instanceof lib.ApiException, String(error));
      assert.ok(error.message.length <= 4096 + 512 + 16, `message of ${error.message.length}`);
      for (const field of ["errorDescription", "error", "body"]) assert.ok((error[field]?.length ?? 0) <= 2048 + 16, `${field} of ${error[field]?.length}`);
      const all = [error.message, String(error), JSON.stringify(error), inspect(error, { depth: 5, showHidden: true }), error.stack ?? ""].join("\n");
      assert.ok(!all.includes(CODE.slice(0, 8)), `the code leaked: ${all.slice(0, 300)}`);
      // Generous: the figure is reported above; only a pathological (quadratic) pass would reach this.
      assert.ok(ms < 10_000, `${ms} ms`);
    });
  }
});
