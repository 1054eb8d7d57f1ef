// The store protocol's shared rules, written once for the stores the package ships (redis.js,
// postgres.js, d1.js, durable-object.js, deno-kv.js), the command line's profile store and the
// tests' reference store: the compare step of compareAndSet, the argument checks every store
// makes, and how a lease id is made. Where the comparison must run inside the database (the Lua
// script in redis.js, the SQL in postgres.js and d1.js) it is written again in that language,
// with a comment pointing here. Not a package entry: the ESM stores import it, their CommonJS
// twins have it bundled in (so that `require()` never meets an ES module).
import { ApiException } from "./exception.js";

/** A member as the protocol compares it: the string, or null for anything else (absent, a number…). */
export const asText = (v) => (typeof v === "string" ? v : null);

/**
 * Whether the stored TokenSet is the one `expected` names: an empty store (null/undefined) matches
 * only an empty `expected`; otherwise access_token, refresh_token and renewal.id must be equal,
 * each read as "string or absent".
 */
export const tokensMatch = (stored, expected) =>
  expected == null
    ? stored == null
    : stored != null &&
      asText(stored.access_token) === asText(expected.access_token) &&
      asText(stored.refresh_token) === asText(expected.refresh_token) &&
      asText(stored.renewal?.id) === asText(expected.renewal?.id);

/** The typed error of a bad argument, as the rest of the package reports one. */
export const invalidArgument = (message) => new ApiException("invalid_argument", message);

export const MAX_KEY_LENGTH = 4096;
// An unpaired surrogate is sent to every database as U+FFFD (UTF-8 has no spelling for it), so two
// different keys would name one account; U+0000 is refused by PostgreSQL and keeps Redis's lease
// names apart from every account key (redis.js).
const UNSENDABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The account's key: a non-empty string naming exactly one stored row, else invalid_argument. */
export function checkKey(store, key) {
  if (typeof key !== "string" || !key || key.length > MAX_KEY_LENGTH || UNSENDABLE.test(key)) {
    throw invalidArgument(`${store}: key must be a non-empty string (one per Avito account) of at most ${MAX_KEY_LENGTH} characters, without U+0000 or unpaired surrogates`);
  }
  return key;
}

/** compareAndSet's `next`: a TokenSet object, else invalid_argument. */
export function checkNext(store, next) {
  if (next === null || typeof next !== "object" || Array.isArray(next)) {
    throw invalidArgument(`${store}.compareAndSet: next must be a TokenSet object`);
  }
  return next;
}

/** acquireLease's `ttlMs`: a positive finite number, rounded up to whole milliseconds; else invalid_argument. */
export function checkTtlMs(store, ttlMs) {
  if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw invalidArgument(`${store}.acquireLease: ttlMs must be a positive number of milliseconds`);
  }
  return Math.ceil(ttlMs);
}

/**
 * A new lease id: a random UUID (122 random bits, so a holder's id is never guessed or reused).
 * Web Crypto is global in every runtime the stores run in except Node 18, where the Node-only
 * stores (redis.js, postgres.js) pass `node:crypto`'s webcrypto.
 */
export const newLeaseId = (crypto = globalThis.crypto) => crypto.randomUUID();
